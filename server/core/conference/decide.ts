// decide(state, command, now): the conference rules in one pure function. It never mutates its
// input, never reads the wall clock and never throws for a bad command: a refusal is a value.
// (Over 400 lines: one handler per command, side by side, each a few lines over the rules of
// floor.ts, timer.ts, agenda.ts and rollcall.ts.)
import { actsFor, COMMAND_ROLES, roleMayIssue } from './access.ts';
import { currentAgendaItem, deriveStatus, onBreak, startItemClock, stopItemClock } from './agenda.ts';
import { refuse } from './errors.ts';
import {
  designatedRanks,
  designatedSpeaker,
  enqueueRequest,
  moveRequest,
  nextSpeaker,
  orderQueueForItem,
  sameOrder,
  speakingLimitMs,
} from './floor.ts';
import { holdClock, holderGraceMs, pausesOf, releaseClock } from './hold.ts';
import { appendLog } from './log.ts';
import { sendMessage } from './messages.ts';
import { announcedMicrophones, microphoneChanges, openMicrophones } from './microphones.ts';
import { clearContent, clearContentCommand, mayTurnPages, onSpeechEnded, showContent, submitPaper, turnPage } from './papers.ts';
import { onSpeechEndedScreen, screenSourceLost, startScreenShare, stopScreenShare, stopScreenShareCommand } from './screen.ts';
import { closeSessions, openSession, recordDropOut } from './record.ts';
import { absentPresence, isLateJoin } from './rollcall.ts';
import {
  dueTimerSignals,
  extendSpeakingTimer,
  overtimeMs,
  spokenMs,
  startSpeakingTimer,
  timerWakeAt,
} from './timer.ts';
import {
  isActor,
  isId,
  isIsoDate,
  isRecord,
  maketOf,
  show,
  MAX_ATTENDEES,
  MAX_EXTEND_SECONDS,
  MAX_SPEAKER_NAME,
  MAX_SPEAKER_TITLE,
  MAX_TOPIC,
  checkText,
  describeTextFault,
  isCharacterFault,
  type TextCheck,
} from './validate.ts';
import type {
  Bridge,
  BridgePresence,
  CommandOf,
  CommandType,
  ConferenceEvent,
  ConferenceState,
  Decision,
  FloorEndReason,
  FloorRequest,
  MaketOverride,
  Refused,
} from './types.ts';

type Out = ConferenceEvent[];
type Handler<K extends CommandType> = (d: ConferenceState, c: CommandOf<K>, now: number, out: Out) => Refused | void;

/** Applies one command at instant now: the next state with its events and log entries, or a refusal. */
export function decide(state: ConferenceState, command: unknown, now: number): Decision {
  if (!isRecord(command) || typeof command.type !== 'string' || !Object.hasOwn(COMMAND_ROLES, command.type)) {
    return refuse('unknown_command', `unknown command [type:${isRecord(command) ? show(command.type) : typeof command}]`);
  }
  const type = command.type as CommandType;
  const actor = command.actor;
  if (!isActor(actor)) return refuse('forbidden', `missing or bad actor [command:${type}]`);
  if (!roleMayIssue(actor, type)) return refuse('forbidden', `role may not issue command [role:${actor.role}, command:${type}]`);
  if (actor.role === 'operator' && typeof actor.bridgeId !== 'string') return refuse('forbidden', 'operator without a bridge');
  if (!Number.isFinite(now)) return refuse('invalid_argument', 'now must be epoch milliseconds');
  // Most ticks find nothing due; answer them without copying the state.
  if (type === 'tick' && !tickDue(state, now)) return { state, events: [], log: [] };

  const draft = draftOf(state);
  const out: Out = [];
  const handler = HANDLERS[type] as Handler<CommandType>;
  const refusal = handler(draft, command as CommandOf<CommandType>, now, out);
  if (refusal) return refusal;
  // The rules every command is followed by: a break holds the speaker's clock, and the
  // microphones are where openMicrophones says (events for what the handler did not announce).
  holdForBreak(draft, now, out);
  out.push(...microphoneChanges(announcedMicrophones(openMicrophones(state), out), openMicrophones(draft)));
  const status = deriveStatus(draft);
  if (status !== draft.status) {
    out.push({ type: 'status_changed', from: draft.status, to: status });
    draft.status = status;
  }
  if (out.length === 0) return { state, events: [], log: [] };
  const log = appendLog(draft, out, actor, now);
  return { state: draft, events: out, log };
}

/** The next instant the app must send a tick (warning mark, expiry, end of a grace), or null. */
export function nextWakeAt(state: ConferenceState): number | null {
  const floor = state.floor;
  if (!floor) return null;
  const timer = timerWakeAt(floor.timer, state.config.speaking);
  const back = floor.reconnectingUntil ?? null;
  if (back === null) return timer;
  return timer === null ? back : Math.min(timer, back);
}

function tickDue(state: ConferenceState, now: number): boolean {
  const wake = nextWakeAt(state);
  return wake !== null && wake <= now;
}

// The config is never changed by decide, so states share it. The halls' presence entries are
// shared too until a handler changes one (presence() copies it first): a national meeting's
// 10,000 entries are not cloned for every command. Everything else is copied. The draft keeps
// the state's order of fields.
function draftOf(state: ConferenceState): ConferenceState {
  const { config, log, presence: entries, ...rest } = state;
  const copy = structuredClone(rest) as Record<string, unknown>;
  const draft: Record<string, unknown> = {};
  for (const key of Object.keys(state)) draft[key] = key === 'config' ? config : key === 'log' ? [...log] : key === 'presence' ? { ...entries } : copy[key];
  return draft as unknown as ConferenceState;
}

/** The presence entries a draft's map owns (copied or made in this decide); the others are the given state's. */
const ownEntries = new WeakMap<Record<string, BridgePresence>, Set<string>>();

const HANDLERS: { [K in CommandType]: Handler<K> } = {
  start_meeting(d, _c, now, out) {
    if (d.startedAt !== null) return refuse('invalid_state', 'meeting already started');
    d.startedAt = now;
    startItemClock(d, now);
    out.push({ type: 'meeting_started', itemId: currentAgendaItem(d)?.id ?? null });
  },

  end_meeting(d, _c, now, out) {
    if (d.startedAt === null || d.endedAt !== null) return refuse('invalid_state', `meeting is not in progress [status:${d.status}]`);
    if (d.floor) endFloor(d, now, 'meeting_ended', out);
    stopItemClock(d, now);
    const cancelled = d.queue.length;
    d.queue = [];
    d.explicitBreakSince = null;
    d.endedAt = now;
    out.push({ type: 'meeting_ended', cancelledRequests: cancelled });
    if (cancelled > 0) out.push({ type: 'queue_reordered', order: [] });
    clearContent(d, now, 'meeting_ended', out);
    stopScreenShare(d, now, 'meeting_ended', out);
    stopRecording(d, now, out);
  },

  request_floor(d, c, now, out) {
    // Who may act comes before what state the meeting is in: a refusal never tells a hall more than "forbidden".
    if (!isId(c.bridgeId)) return refuse('invalid_argument', 'bridgeId must be a string');
    if (!actsFor(c.actor, c.bridgeId)) return refuse('forbidden', `operator acts only for its bridge [bridgeId:${c.bridgeId}]`);
    if (d.endedAt !== null) return refuse('invalid_state', 'meeting has ended');
    if (!bridgeOf(d, c.bridgeId)) return refuse('unknown_bridge', `bridge not found [bridgeId:${c.bridgeId}]`);
    const speakerName = checkText(c.speakerName, MAX_SPEAKER_NAME);
    if (!speakerName.ok) return refuseText('speakerName', speakerName, `1..${MAX_SPEAKER_NAME} characters`);
    const speakerTitle = checkText(c.speakerTitle, MAX_SPEAKER_TITLE);
    if (!speakerTitle.ok) return refuseText('speakerTitle', speakerTitle, `1..${MAX_SPEAKER_TITLE} characters`);
    let topic: string | null = null;
    if (c.topic !== undefined && c.topic !== null) {
      const checked = checkText(c.topic, MAX_TOPIC, { allowEmpty: true });
      if (!checked.ok) return refuseText('topic', checked, `a string of at most ${MAX_TOPIC} characters`);
      topic = checked.text === '' ? null : checked.text;
    }
    if (!presence(d, c.bridgeId).online) return refuse('bridge_offline', `bridge is offline [bridgeId:${c.bridgeId}]`);
    if (d.floor?.bridgeId === c.bridgeId) return refuse('already_requested', `bridge holds the floor [bridgeId:${c.bridgeId}]`);
    if (d.queue.some((r) => r.bridgeId === c.bridgeId)) return refuse('already_requested', `bridge is already in the queue [bridgeId:${c.bridgeId}]`);
    const request: FloorRequest = { id: `r${d.nextRequestNo++}`, bridgeId: c.bridgeId, speakerName: speakerName.text, speakerTitle: speakerTitle.text, topic, requestedAt: now };
    const ranks = designatedRanks(d.config, d.agenda.index);
    const { queue, position } = enqueueRequest(d.queue, request, ranks);
    d.queue = queue;
    out.push({
      type: 'floor_requested',
      requestId: request.id,
      bridgeId: request.bridgeId,
      speakerName: request.speakerName,
      speakerTitle: request.speakerTitle,
      topic,
      position,
      designated: ranks(request.bridgeId) >= 0,
    });
  },

  cancel_request(d, c, _now, out) {
    const entry = d.queue.find((r) => r.id === c.requestId);
    if (!entry) return refuse('not_in_queue', `request not in queue [requestId:${show(c.requestId)}]`);
    if (!actsFor(c.actor, entry.bridgeId)) return refuse('forbidden', `operator acts only for its bridge [bridgeId:${entry.bridgeId}]`);
    d.queue = d.queue.filter((r) => r !== entry);
    out.push({ type: 'request_cancelled', requestId: entry.id, bridgeId: entry.bridgeId });
  },

  move_request(d, c, _now, out) {
    if (!Number.isInteger(c.toIndex) || c.toIndex < 0) return refuse('invalid_argument', 'toIndex must be a whole number >= 0');
    if (!d.queue.some((r) => r.id === c.requestId)) return refuse('not_in_queue', `request not in queue [requestId:${show(c.requestId)}]`);
    const queue = moveRequest(d.queue, c.requestId, c.toIndex);
    if (sameOrder(queue, d.queue)) return;
    d.queue = queue;
    out.push({ type: 'queue_reordered', order: queue.map((r) => r.id) });
  },

  grant_floor(d, c, now, out) {
    const notRunning = requireInProgress(d);
    if (notRunning) return notRunning;
    const entry = d.queue.find((r) => r.id === c.requestId);
    if (!entry) return refuse('not_in_queue', `request not in queue [requestId:${show(c.requestId)}]`);
    if (!presence(d, entry.bridgeId).online) return refuse('bridge_offline', `bridge is offline [bridgeId:${entry.bridgeId}]`);
    grant(d, entry, now, out);
  },

  grant_next(d, _c, now, out) {
    const notRunning = requireInProgress(d);
    if (notRunning) return notRunning;
    if (d.queue.length === 0) return refuse('queue_empty', 'no request in the queue');
    const entry = nextSpeaker(d);
    if (!entry) return refuse('bridge_offline', 'every hall in the queue is offline');
    grant(d, entry, now, out);
  },

  revoke_floor(d, _c, now, out) {
    if (!d.floor) return refuse('floor_not_held', 'no hall holds the floor');
    endFloor(d, now, 'revoked', out);
  },

  yield_floor(d, c, now, out) {
    if (!d.floor || d.floor.bridgeId !== c.actor.bridgeId) {
      return refuse('floor_not_held', `bridge does not hold the floor [bridgeId:${show(c.actor.bridgeId)}]`);
    }
    endFloor(d, now, 'yielded', out);
  },

  timer_pause(d, _c, now, out) {
    if (!d.floor) return refuse('floor_not_held', 'no hall holds the floor');
    const pauses = pausesOf(d.floor);
    if (pauses.length > 0) return refuse('invalid_state', `timer already paused [reason:${pauses.join(',')}]`);
    holdClock(d.floor, 'chair', now, out);
  },

  timer_resume(d, _c, now, out) {
    if (!d.floor) return refuse('floor_not_held', 'no hall holds the floor');
    const pauses = pausesOf(d.floor);
    // A break or a reconnection holds the clock by itself: it runs again when they end.
    const others = pauses.filter((p) => p !== 'chair');
    if (others.length > 0) return refuse('invalid_state', `the clock stands still until this ends [reason:${others.join(',')}]`);
    if (!pauses.includes('chair')) return refuse('invalid_state', 'timer is not paused');
    releaseClock(d.floor, 'chair', now, out);
  },

  timer_extend(d, c, now, out) {
    if (!Number.isInteger(c.seconds) || c.seconds < 1 || c.seconds > MAX_EXTEND_SECONDS) {
      return refuse('invalid_argument', `seconds must be a whole number in 1..${MAX_EXTEND_SECONDS}`);
    }
    if (!d.floor) return refuse('floor_not_held', 'no hall holds the floor');
    d.floor.timer = extendSpeakingTimer(d.floor.timer, c.seconds * 1000, now);
    out.push({ type: 'timer_extended', bridgeId: d.floor.bridgeId, seconds: c.seconds, deadline: d.floor.timer.deadline });
  },

  agenda_next(d, _c, now, out) {
    return moveAgenda(d, d.agenda.index + 1, now, out, 'invalid_state');
  },

  agenda_prev(d, _c, now, out) {
    return moveAgenda(d, d.agenda.index - 1, now, out, 'invalid_state');
  },

  agenda_goto(d, c, now, out) {
    if (!Number.isInteger(c.index)) return refuse('invalid_argument', 'index must be a whole number');
    if (c.index === d.agenda.index && d.endedAt === null) return;
    return moveAgenda(d, c.index, now, out, 'invalid_argument');
  },

  break_start(d, _c, now) {
    if (d.status !== 'running') return refuse('invalid_state', `a break starts only while running [status:${d.status}]`);
    stopItemClock(d, now);
    d.explicitBreakSince = now;
  },

  break_end(d, _c, now) {
    if (d.explicitBreakSince === null) {
      const onBreakItem = currentAgendaItem(d)?.kind === 'break' && d.status === 'break';
      return refuse('invalid_state', onBreakItem ? 'current item is a break; move to the next item' : 'no break in progress');
    }
    d.explicitBreakSince = null;
    startItemClock(d, now);
  },

  bridge_connected(d, c, now, out) {
    if (!isId(c.bridgeId) || !bridgeOf(d, c.bridgeId)) return refuse('unknown_bridge', `bridge not found [bridgeId:${show(c.bridgeId)}]`);
    connectBridge(d, c.bridgeId, now, out);
  },

  bridge_disconnected(d, c, now, out) {
    if (!isId(c.bridgeId) || !bridgeOf(d, c.bridgeId)) return refuse('unknown_bridge', `bridge not found [bridgeId:${show(c.bridgeId)}]`);
    disconnectBridge(d, c.bridgeId, now, out);
  },

  presence_update(d, c, now, out) {
    if (!Array.isArray(c.changes)) return refuse('invalid_argument', 'changes must be a list');
    // Checked all before any is applied: a batch with one bad change changes nothing.
    const known = new Set(d.config.bridges.map((b) => b.id));
    for (const change of c.changes as unknown[]) {
      if (!isRecord(change) || typeof change.online !== 'boolean') return refuse('invalid_argument', 'each change is { bridgeId, online: boolean }');
      if (!isId(change.bridgeId) || !known.has(change.bridgeId)) return refuse('unknown_bridge', `bridge not found [bridgeId:${show(change.bridgeId)}]`);
    }
    for (const { bridgeId, online } of c.changes) {
      if (online) connectBridge(d, bridgeId, now, out);
      else disconnectBridge(d, bridgeId, now, out);
    }
  },

  report_ready(d, c, _now, out) {
    if (!isId(c.bridgeId)) return refuse('invalid_argument', 'bridgeId must be a string');
    if (!actsFor(c.actor, c.bridgeId)) return refuse('forbidden', `operator acts only for its bridge [bridgeId:${c.bridgeId}]`);
    if (!bridgeOf(d, c.bridgeId)) return refuse('unknown_bridge', `bridge not found [bridgeId:${c.bridgeId}]`);
    if (!Number.isInteger(c.attendees) || c.attendees < 0 || c.attendees > MAX_ATTENDEES) {
      return refuse('invalid_argument', `attendees must be a whole number in 0..${MAX_ATTENDEES}`);
    }
    if (c.ready !== undefined && typeof c.ready !== 'boolean') return refuse('invalid_argument', 'ready must be a boolean');
    const p = presence(d, c.bridgeId);
    if (!p.online) return refuse('bridge_offline', `bridge is offline [bridgeId:${c.bridgeId}]`);
    const ready = c.ready ?? true;
    if (p.ready === ready && p.attendees === c.attendees) return;
    p.ready = ready;
    p.attendees = c.attendees;
    out.push({ type: 'bridge_ready', bridgeId: c.bridgeId, ready: p.ready, attendees: c.attendees });
  },

  mute_hall(d, c, _now, out) {
    if (!isId(c.bridgeId)) return refuse('invalid_argument', 'bridgeId must be a string');
    if (!actsFor(c.actor, c.bridgeId)) return refuse('forbidden', `operator acts only for its bridge [bridgeId:${c.bridgeId}]`);
    if (!bridgeOf(d, c.bridgeId)) return refuse('unknown_bridge', `bridge not found [bridgeId:${c.bridgeId}]`);
    if (typeof c.muted !== 'boolean') return refuse('invalid_argument', 'muted must be a boolean');
    const muted = d.mutedHalls ?? [];
    if (muted.includes(c.bridgeId) === c.muted) return;
    d.mutedHalls = c.muted ? [...muted, c.bridgeId] : muted.filter((b) => b !== c.bridgeId);
    out.push({ type: 'hall_muted', bridgeId: c.bridgeId, muted: c.muted });
  },

  set_maket(d, c, _now, out) {
    const checked = maketOf(c.maket);
    if (!checked.ok) return refuse(checked.code, checked.message);
    const maket = checked.maket;
    // The same maket again changes nothing and is not recorded (a repeated click, a replayed command).
    if (sameMaket(d.maketOverride, maket)) return;
    d.maketOverride = maket;
    out.push({ type: 'maket_changed', maket: maket === null ? null : structuredClone(maket) });
  },

  set_date(d, c, _now, out) {
    if (c.date !== null && !isIsoDate(c.date)) return refuse('invalid_argument', 'date must be YYYY-MM-DD or null');
    if (c.date === d.date) return;
    d.date = c.date;
    out.push({ type: 'date_changed', date: c.date });
  },

  recording_start(d, _c, now, out) {
    if (d.recording) return refuse('invalid_state', `already recording [recordingId:${d.recording.recordingId}]`);
    // Named by the log position: unique within the conference and the same on every instance.
    const recordingId = `rec-${String(d.seq + 1).padStart(5, '0')}`;
    d.recording = { recordingId, startedAt: now };
    out.push({ type: 'recording_started', recordingId });
  },

  recording_stop(d, _c, now, out) {
    if (!d.recording) return refuse('invalid_state', 'not recording');
    stopRecording(d, now, out);
  },

  send_message: sendMessage,
  paper_submit: submitPaper,
  content_show: showContent,
  content_page: turnPage,
  content_clear: clearContentCommand,
  screen_share_start(d, c, now, out) {
    return startScreenShare(d, c, now, out, { mayClear: (actor) => mayTurnPages(d, actor), clear: () => clearContent(d, now, 'replaced', out) });
  },
  screen_share_stop: stopScreenShareCommand,
  screen_source_lost: screenSourceLost,

  tick(d, _c, now, out) {
    const floor = d.floor;
    if (!floor) return;
    // The holder did not come back within its grace: the floor returns to the chair.
    const back = floor.reconnectingUntil ?? null;
    if (back !== null && now >= back) return endFloor(d, now, 'offline', out);
    const signals = dueTimerSignals(floor.timer, now, d.config.speaking);
    floor.timer = signals.timer;
    for (const mark of signals.warnings) {
      out.push({ type: 'timer_warning', bridgeId: floor.bridgeId, remainingSec: mark, deadline: floor.timer.deadline });
    }
    if (signals.expired) {
      out.push({ type: 'timer_expired', bridgeId: floor.bridgeId, deadline: floor.timer.deadline, policy: d.config.speaking.expiryPolicy });
    }
    if (signals.graceOver) {
      d.incidents.push({
        at: now,
        kind: 'timeout',
        bridgeId: floor.bridgeId,
        detail: `microphone closed ${d.config.speaking.graceSeconds}s after the limit`,
      });
      endFloor(d, now, 'timeout', out);
    }
  },
};

// Ends the recording in progress, if any (a stop, or the end of the meeting).
function stopRecording(d: ConferenceState, now: number, out: Out): void {
  const r = d.recording;
  if (!r) return;
  d.recording = null;
  out.push({ type: 'recording_stopped', recordingId: r.recordingId, startedAt: r.startedAt, durationSec: Math.round((now - r.startedAt) / 1000) });
}

// Puts a hall on the floor; a current holder's turn ends first and is recorded.
function grant(d: ConferenceState, entry: FloorRequest, now: number, out: Out): void {
  if (d.floor) endFloor(d, now, 'superseded', out);
  const micsBefore = openMicrophones(d);
  d.queue = d.queue.filter((r) => r.id !== entry.id);
  const limitMs = speakingLimitMs(d.config, d.agenda.index, entry.bridgeId);
  const timer = startSpeakingTimer(limitMs, now, d.config.speaking);
  const topic = entry.topic ?? designatedSpeaker(d.config, d.agenda.index, entry.bridgeId)?.topic ?? null;
  d.floor = {
    requestId: entry.id,
    bridgeId: entry.bridgeId,
    speakerName: entry.speakerName,
    speakerTitle: entry.speakerTitle,
    topic,
    itemId: currentAgendaItem(d)?.id ?? null,
    grantedAt: now,
    timer,
  };
  out.push({
    type: 'floor_granted',
    requestId: entry.id,
    bridgeId: entry.bridgeId,
    speakerName: entry.speakerName,
    speakerTitle: entry.speakerTitle,
    topic,
    itemId: d.floor.itemId,
    limitSec: Math.round(limitMs / 1000),
    deadline: timer.deadline,
  });
  out.push({ type: 'programme_changed', bridgeId: entry.bridgeId, reason: 'granted' });
  out.push(...microphoneChanges(micsBefore, openMicrophones(d)));
}

// Ends the holder's turn, records the speech; unless another hall takes over, the chair is on air again.
function endFloor(d: ConferenceState, now: number, reason: FloorEndReason, out: Out): void {
  const f = d.floor;
  if (!f) return;
  const micsBefore = openMicrophones(d);
  const spoken = spokenMs(f.timer, now);
  const overrun = overtimeMs(f.timer, now);
  d.speeches.push({
    requestId: f.requestId,
    bridgeId: f.bridgeId,
    speakerName: f.speakerName,
    speakerTitle: f.speakerTitle,
    topic: f.topic,
    itemId: f.itemId,
    startedAt: f.grantedAt,
    endedAt: now,
    spokenMs: spoken,
    limitMs: f.timer.limitMs + f.timer.extendedMs,
    overrunMs: overrun,
    endReason: reason,
  });
  d.floor = null;
  out.push({
    type: 'floor_ended',
    requestId: f.requestId,
    bridgeId: f.bridgeId,
    reason,
    spokenSec: Math.round(spoken / 1000),
    overrunSec: Math.round(overrun / 1000),
  });
  // A hall's moment of silence ends with its turn: granted again, it starts heard.
  if (f.bridgeId !== d.config.chairBridgeId && d.mutedHalls?.includes(f.bridgeId)) {
    d.mutedHalls = d.mutedHalls.filter((b) => b !== f.bridgeId);
    out.push({ type: 'hall_muted', bridgeId: f.bridgeId, muted: false });
  }
  out.push(...microphoneChanges(micsBefore, openMicrophones(d)));
  onSpeechEnded(d, f, now, out);
  onSpeechEndedScreen(d, f, now, out);
  if (reason !== 'superseded') out.push({ type: 'programme_changed', bridgeId: d.config.chairBridgeId, reason });
}

function moveAgenda(d: ConferenceState, index: number, now: number, out: Out, outside: 'invalid_state' | 'invalid_argument'): Refused | void {
  if (d.endedAt !== null) return refuse('invalid_state', 'meeting has ended');
  if (index < 0 || index >= d.config.agenda.length) {
    return refuse(outside, `no agenda item there [index:${index}, items:${d.config.agenda.length}]`);
  }
  const from = currentAgendaItem(d);
  stopItemClock(d, now);
  d.agenda.index = index;
  startItemClock(d, now);
  const item = currentAgendaItem(d)!;
  out.push({ type: 'agenda_changed', index, itemId: item.id, title: item.title, kind: item.kind, fromItemId: from?.id ?? null });
  const queue = orderQueueForItem(d.queue, designatedRanks(d.config, index));
  if (!sameOrder(queue, d.queue)) {
    d.queue = queue;
    out.push({ type: 'queue_reordered', order: queue.map((r) => r.id) });
  }
}

function sameMaket(a: MaketOverride | null, b: MaketOverride | null): boolean {
  if (a === null || b === null) return a === b;
  const lines = (m: MaketOverride) => (m.lines === undefined ? null : m.lines.join('\u0000'));
  return lines(a) === lines(b) && a.background === b.background && a.textColour === b.textColour;
}

// A refused text: invalid_text when its characters break the text rule, invalid_argument for its type or length.
function refuseText(field: string, check: Extract<TextCheck, { ok: false }>, expected: string): Refused {
  if (isCharacterFault(check.fault)) return refuse('invalid_text', `${field}: ${describeTextFault(check)}`);
  return refuse('invalid_argument', `${field} must be ${expected}`);
}

// During a break the holder keeps the floor with its clock stopped; after it the clock runs on.
function holdForBreak(d: ConferenceState, now: number, out: Out): void {
  const f = d.floor;
  if (!f) return;
  if (onBreak(d)) holdClock(f, 'break', now, out);
  else releaseClock(f, 'break', now, out);
}

function requireInProgress(d: ConferenceState): Refused | void {
  if (d.startedAt === null || d.endedAt !== null) return refuse('invalid_state', `the floor is given only during the meeting [status:${d.status}]`);
}

// A known bridge's first socket (on any instance): online, a session opened; the holder back within its grace goes on.
function connectBridge(d: ConferenceState, bridgeId: string, now: number, out: Out): void {
  const p = presence(d, bridgeId);
  // A second socket of a hall that is already online changes nothing.
  if (p.online) return;
  const late = isLateJoin(p, d.startedAt, d.endedAt);
  const rejoin = d.startedAt !== null && d.endedAt === null && !late;
  const awayMs = now - Math.max(0, ...p.sessions.map((s) => s.leftAt ?? 0));
  p.online = true;
  openSession(p, now);
  if (late) {
    p.lateJoin = true;
    d.incidents.push({ at: now, kind: 'late_join', bridgeId, detail: 'connected after the start' });
  }
  out.push({ type: 'bridge_online', bridgeId, late, rejoin });
  // The holder is back within its grace: the speech goes on from where it stopped.
  const f = d.floor;
  if (f?.bridgeId === bridgeId && (f.reconnectingUntil ?? null) !== null) {
    f.reconnectingUntil = null;
    out.push({ type: 'holder_returned', bridgeId, awayMs });
    releaseClock(f, 'reconnecting', now, out);
  }
}

// A known bridge's last socket gone everywhere: offline; the holder keeps the floor for a grace during the meeting.
function disconnectBridge(d: ConferenceState, bridgeId: string, now: number, out: Out): void {
  const p = presence(d, bridgeId);
  if (!p.online) return;
  p.online = false;
  // The hall confirms again when it is back; its last headcount stays for the report.
  p.ready = false;
  closeSessions(p, now);
  const dropOut = d.startedAt !== null && d.endedAt === null;
  const holding = d.floor?.bridgeId === bridgeId;
  if (dropOut) {
    p.dropOuts++;
    recordDropOut(d, bridgeId, now, holding);
  }
  out.push({ type: 'bridge_offline', bridgeId, dropOut });
  if (!holding) return;
  // A link that blips must not cost the speaker the floor: it keeps it for a grace, its clock
  // standing still; the chair may end it meanwhile, and past the grace it ends (tick).
  const grace = holderGraceMs(d.config.speaking);
  const f = d.floor!;
  if (grace === 0 || !dropOut) return endFloor(d, now, 'offline', out);
  f.reconnectingUntil = now + grace;
  out.push({ type: 'holder_reconnecting', bridgeId, until: f.reconnectingUntil });
  holdClock(f, 'reconnecting', now, out);
}

function bridgeOf(d: ConferenceState, bridgeId: string): Bridge | undefined {
  return d.config.bridges.find((b) => b.id === bridgeId);
}

// A bridge's presence in the draft, its own copy (the given state's entry is never changed).
// Only called for ids of configured bridges, which checkConfig keeps away from '__proto__'.
function presence(d: ConferenceState, bridgeId: string): BridgePresence {
  let own = ownEntries.get(d.presence);
  if (!own) ownEntries.set(d.presence, (own = new Set()));
  if (!own.has(bridgeId)) {
    d.presence[bridgeId] = Object.hasOwn(d.presence, bridgeId) ? structuredClone(d.presence[bridgeId]!) : absentPresence();
    own.add(bridgeId);
  }
  return d.presence[bridgeId]!;
}
