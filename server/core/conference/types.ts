// Types of the conference core: the plain configuration it runs, the serialisable state it keeps,
// the commands it accepts and the events it emits. Everything here is plain JSON. (Over 400
// lines because it is the one place a reader finds every shape the core deals in.)
import type { ContentClearReason, ContentOnScreen, ContentShowing, PaperRules, PaperVersion } from './papers.ts';
import type { ScreenShare, ScreenShareEnded, ScreenStopReason } from './screen.ts';

import type { BackChannelMessage, MessageKind, MessageSenderRole } from './messages.ts';

// ---------------------------------------------------------------------------------------------
// Configuration (a later wiring maps the zod conference plan onto this)

/** Tier of a bridge (điểm cầu). */
export type Tier = 'province' | 'district' | 'commune';

/** One connected hall; communes have a district parent, districts the province, the province none. */
export interface Bridge {
  id: string;
  tier: Tier;
  parentId: string | null;
  name: string;
}

/** Kinds of agenda items (khai mạc, báo cáo, tham luận, giải lao, kết luận, ...). */
export type AgendaItemKind =
  | 'opening'
  | 'report'
  | 'directive'
  | 'designated_paper'
  | 'discussion'
  | 'break'
  | 'conclusion'
  | 'other';

/** A speaker named by the plan for an item: the hall, optionally the topic, the person, the limit. */
export interface DesignatedSpeaker {
  bridgeId: string;
  topic?: string;
  speakerName?: string;
  limitMinutes?: number;
}

/** One item of the agenda (chương trình); limitMinutes is the item's speaking limit (else the default). */
export interface AgendaItem {
  id: string;
  kind: AgendaItemKind;
  title: string;
  plannedMinutes: number;
  limitMinutes?: number;
  speakers: DesignatedSpeaker[];
}

/** What happens when a speech reaches zero: tell the chair, or close the mic after a grace period. */
export type ExpiryPolicy = 'notify_chair' | 'close_mic';

/** "Phát biểu không quá 10 phút": limit, warning marks before zero, policy at zero. */
export interface SpeakingRules {
  defaultLimitMinutes: number;
  warningMarksSeconds: number[];
  expiryPolicy: ExpiryPolicy;
  graceSeconds: number;
  /**
   * How long a floor holder whose link dropped keeps the floor while it reconnects (its clock
   * stands still meanwhile); 0 ends the floor at once. Absent in configurations stored before it
   * existed: DEFAULT_HOLDER_GRACE_SECONDS then.
   */
  holderGraceSeconds?: number;
}

/** A floor holder whose link blips keeps the floor this long by default. */
export const DEFAULT_HOLDER_GRACE_SECONDS = 30;

/** Everything the core needs to know about a conference. */
export interface ConferenceConfig {
  chairBridgeId: string;
  bridges: Bridge[];
  /**
   * The agenda items in order. Stored configurations written before the rename carry them as
   * `programme`; the stores' codec reads that too.
   */
  agenda: AgendaItem[];
  speaking: SpeakingRules;
  /** Deadline and limits of the designated papers; absent in configurations stored before papers existed (defaults apply). */
  papers?: PaperRules;
}

/** The plan's defaults: 10 minutes, warnings at 2 min, 1 min, 30 s, tell the chair at zero. */
export const DEFAULT_SPEAKING_RULES: Readonly<SpeakingRules> = Object.freeze({
  defaultLimitMinutes: 10,
  warningMarksSeconds: [120, 60, 30],
  expiryPolicy: 'notify_chair',
  graceSeconds: 30,
  holderGraceSeconds: DEFAULT_HOLDER_GRACE_SECONDS,
});

// ---------------------------------------------------------------------------------------------
// Actors

/** Roles a person can hold; operators are bound to one bridge. */
export type Role = 'chair' | 'secretary' | 'operator' | 'technician' | 'viewer';

/**
 * Who issues a command. 'system' is the application itself (connection events, timer ticks);
 * the transport layer must never build a 'system' actor from a client's token.
 */
export type ActorRole = Role | 'system';

/** The issuer of a command; bridgeId is required for operators and is their only bridge. */
export interface Actor {
  role: ActorRole;
  bridgeId?: string;
}

// ---------------------------------------------------------------------------------------------
// State

/** Meeting status: before the start, running, in a break (break item or explicit), ended. */
export type MeetingStatus = 'waiting' | 'running' | 'break' | 'ended';

/** One entry of the FloorQueue: a hall asking to speak (xin phát biểu). */
export interface FloorRequest {
  id: string;
  bridgeId: string;
  speakerName: string;
  speakerTitle: string;
  topic: string | null;
  requestedAt: number;
}

/**
 * SpeakingTimer: the deadline lives in the state. While paused, remaining = deadline - pausedAt;
 * resuming shifts the deadline by the paused time. `warned` holds marks (seconds) already emitted.
 */
export interface SpeakingTimer {
  limitMs: number;
  startedAt: number;
  deadline: number;
  pausedAt: number | null;
  pausedMs: number;
  extendedMs: number;
  warned: number[];
  expired: boolean;
}

/**
 * Why the holder's clock stands still: the chair paused it, the meeting is in a break, or the
 * holder's link dropped and it has a grace to come back. The clock runs when there is none.
 */
export type PauseReason = 'chair' | 'break' | 'reconnecting';

/** The hall that holds the floor, and its timer. */
export interface FloorHolder {
  requestId: string;
  bridgeId: string;
  speakerName: string;
  speakerTitle: string;
  topic: string | null;
  itemId: string | null;
  grantedAt: number;
  timer: SpeakingTimer;
  /** Why the clock stands still (absent in states stored before: ['chair'] when paused, else none). */
  pauses?: PauseReason[];
  /** While the holder's link is down: the end of its grace (then the floor returns to the chair). */
  reconnectingUntil?: number | null;
}

/** Why a hall's turn ended. */
export type FloorEndReason = 'revoked' | 'yielded' | 'offline' | 'timeout' | 'superseded' | 'meeting_ended';

/** One finished speech, for the report. */
export interface SpeechRecord {
  requestId: string;
  bridgeId: string;
  speakerName: string;
  speakerTitle: string;
  topic: string | null;
  itemId: string | null;
  startedAt: number;
  endedAt: number;
  spokenMs: number;
  limitMs: number;
  overrunMs: number;
  endReason: FloorEndReason;
}

/**
 * One connection period of a bridge, or a summary of several (the oldest, merged past a cap:
 * record.ts): how many periods it stands for and the time offline between them.
 */
export interface PresenceSession {
  joinedAt: number;
  leftAt: number | null;
  /** Periods summed up here (absent: 1). */
  periods?: number;
  /** Time offline between the periods summed up here (absent: 0). */
  offlineMs?: number;
}

/** Roll-call entry of one bridge. */
export interface BridgePresence {
  online: boolean;
  ready: boolean;
  attendees: number | null;
  sessions: PresenceSession[];
  lateJoin: boolean;
  dropOuts: number;
}

/** Things that went wrong during the meeting. */
export type IncidentKind = 'drop_out' | 'late_join' | 'timeout';

/** One incident for the report; repeats that followed each other (a flapping link) are one incident with a count. */
export interface Incident {
  at: number;
  kind: IncidentKind;
  bridgeId: string;
  detail: string;
  /** How many times it happened (absent: once). */
  count?: number;
  /** When it last happened, if more than once. */
  lastAt?: number;
}

/** Where the agenda stands; itemStartedAt is non-null exactly while the item's clock runs. */
export interface AgendaState {
  index: number;
  itemStartedAt: number | null;
  elapsedMs: Record<string, number>;
}

/** Secretary's live edit of the maket (banner); unset fields keep the plan's template. */
export interface MaketOverride {
  lines?: string[];
  background?: string;
  textColour?: string;
}

/** The archive recording in progress (started and stopped by the secretary or the chair). */
export interface RecordingState {
  recordingId: string;
  startedAt: number;
}

/** One entry of the event log: who did what, when. */
export interface LogEntry {
  seq: number;
  at: number;
  actor: Actor;
  type: ConferenceEventType;
  data: Record<string, unknown>;
}

/** The whole conference, plain JSON: store it, restore it, hand it back to decide. */
export interface ConferenceState {
  schema: 1;
  config: ConferenceConfig;
  status: MeetingStatus;
  startedAt: number | null;
  endedAt: number | null;
  explicitBreakSince: number | null;
  agenda: AgendaState;
  queue: FloorRequest[];
  floor: FloorHolder | null;
  presence: Record<string, BridgePresence>;
  speeches: SpeechRecord[];
  incidents: Incident[];
  maketOverride: MaketOverride | null;
  date: string | null;
  /** The recording in progress; absent in states stored before recordings existed. */
  recording?: RecordingState | null;
  /** The back-channel's last messages (messages.ts); absent in states stored before it existed. */
  messages?: BackChannelMessage[];
  /** Paper versions received per submission slot (papers.ts); absent in states stored before papers existed. */
  papers?: Record<string, PaperVersion[]>;
  /** What every hall display shows beside the speaker, or null. */
  content?: ContentOnScreen | null;
  /** Every period a paper was on screen (the report, the recording's chapters). */
  showings?: ContentShowing[];
  /** The hall whose screen every hall receives as the content track (screen.ts), or null. */
  screen?: ScreenShare | null;
  /** The last share that ended, and why (cleared when a share starts); absent in states stored before it. */
  screenEnded?: ScreenShareEnded | null;
  /**
   * Halls whose operator closed their microphone for a moment ("Tắt micrô tạm thời"): closed
   * whatever the floor says, until the operator opens it again or the hall's turn ends.
   */
  mutedHalls?: string[];
  nextRequestNo: number;
  seq: number;
  log: LogEntry[];
}

// ---------------------------------------------------------------------------------------------
// Commands

/** One hall's connection in a presence_update: online (its first socket) or offline (its last gone). */
export interface PresenceChange {
  bridgeId: string;
  online: boolean;
}

/** Arguments of each command, by type. */
export interface CommandMap {
  start_meeting: {};
  end_meeting: {};
  request_floor: { bridgeId: string; speakerName: string; speakerTitle: string; topic?: string | null };
  cancel_request: { requestId: string };
  move_request: { requestId: string; toIndex: number };
  grant_floor: { requestId: string };
  grant_next: {};
  revoke_floor: {};
  yield_floor: {};
  timer_pause: {};
  timer_resume: {};
  timer_extend: { seconds: number };
  agenda_next: {};
  agenda_prev: {};
  agenda_goto: { index: number };
  break_start: {};
  break_end: {};
  bridge_connected: { bridgeId: string };
  bridge_disconnected: { bridgeId: string };
  /**
   * Several halls' connections at once, applied in order as bridge_connected / bridge_disconnected
   * would be (the app batches a join storm into one command: one state write, not one per hall).
   */
  presence_update: { changes: readonly PresenceChange[] };
  report_ready: { bridgeId: string; attendees: number; ready?: boolean };
  mute_hall: { bridgeId: string; muted: boolean };
  set_maket: { maket: MaketOverride | null };
  set_date: { date: string | null };
  recording_start: {};
  recording_stop: {};
  /** The back-channel (messages.ts): kind is a MessageKind, to is 'staff' or a bridge id. */
  send_message: { to: string; kind: MessageKind; text?: string | null };
  /** Issued by the server after it checked the file; the actor is the uploader. */
  paper_submit: { slotId: string; paperId: string; pages: number; bytes: number; sha256: string; fileName?: string | null };
  content_show: { paperId: string; page?: number };
  content_page: { page: number };
  content_clear: {};
  screen_share_start: {};
  screen_share_stop: {};
  /** Issued by the server: the share of this hall (started at startedAt, if given) has had no picture for longer than its grace. */
  screen_source_lost: { bridgeId: string; startedAt?: number };
  tick: {};
}

/** Name of a command. */
export type CommandType = keyof CommandMap;

/** A command: its type, who issues it, its arguments. */
export type Command = { [K in CommandType]: { type: K; actor: Actor } & CommandMap[K] }[CommandType];

/** The command of one type. */
export type CommandOf<K extends CommandType> = Extract<Command, { type: K }>;

/** Every command type, in a stable order (for authorisation matrices and protocol tables). */
export const COMMAND_TYPES = [
  'start_meeting',
  'end_meeting',
  'request_floor',
  'cancel_request',
  'move_request',
  'grant_floor',
  'grant_next',
  'revoke_floor',
  'yield_floor',
  'timer_pause',
  'timer_resume',
  'timer_extend',
  'agenda_next',
  'agenda_prev',
  'agenda_goto',
  'break_start',
  'break_end',
  'bridge_connected',
  'bridge_disconnected',
  'presence_update',
  'report_ready',
  'mute_hall',
  'set_maket',
  'set_date',
  'recording_start',
  'recording_stop',
  'send_message',
  'paper_submit',
  'content_show',
  'content_page',
  'content_clear',
  'screen_share_start',
  'screen_share_stop',
  'screen_source_lost',
  'tick',
] as const satisfies readonly CommandType[];

// ---------------------------------------------------------------------------------------------
// Events

/** Payload of each event, by type. */
export interface ConferenceEventMap {
  meeting_started: { itemId: string | null };
  meeting_ended: { cancelledRequests: number };
  status_changed: { from: MeetingStatus; to: MeetingStatus };
  agenda_changed: { index: number; itemId: string; title: string; kind: AgendaItemKind; fromItemId: string | null };
  floor_requested: {
    requestId: string;
    bridgeId: string;
    speakerName: string;
    speakerTitle: string;
    topic: string | null;
    position: number;
    designated: boolean;
  };
  request_cancelled: { requestId: string; bridgeId: string };
  queue_reordered: { order: string[] };
  floor_granted: {
    requestId: string;
    bridgeId: string;
    speakerName: string;
    speakerTitle: string;
    topic: string | null;
    itemId: string | null;
    limitSec: number;
    deadline: number;
  };
  floor_ended: { requestId: string; bridgeId: string; reason: FloorEndReason; spokenSec: number; overrunSec: number };
  /**
   * This bridge is now on air: what every hall sees and hears (the chair's when the floor
   * returns). The type keeps its first name: it is stored in every conference's log.
   */
  programme_changed: { bridgeId: string; reason: 'granted' | FloorEndReason };
  mic_opened: { bridgeId: string };
  mic_closed: { bridgeId: string };
  /** The clock stopped; reason absent in logs written before reasons existed (the chair's). */
  timer_paused: { bridgeId: string; remainingMs: number; reason?: PauseReason };
  timer_resumed: { bridgeId: string; deadline: number; reason?: PauseReason };
  /** The holder's link dropped: it keeps the floor until `until` (its clock stands still). */
  holder_reconnecting: { bridgeId: string; until: number };
  /** The holder came back within its grace: the speech goes on. */
  holder_returned: { bridgeId: string; awayMs: number };
  /** A hall's operator closed (or opened again) its microphone for a moment. */
  hall_muted: { bridgeId: string; muted: boolean };
  timer_extended: { bridgeId: string; seconds: number; deadline: number };
  timer_warning: { bridgeId: string; remainingSec: number; deadline: number };
  timer_expired: { bridgeId: string; deadline: number; policy: ExpiryPolicy };
  bridge_online: { bridgeId: string; late: boolean; rejoin: boolean };
  bridge_offline: { bridgeId: string; dropOut: boolean };
  bridge_ready: { bridgeId: string; ready: boolean; attendees: number };
  maket_changed: { maket: MaketOverride | null };
  date_changed: { date: string | null };
  recording_started: { recordingId: string };
  recording_stopped: { recordingId: string; startedAt: number; durationSec: number };
  message_sent: { messageId: string; fromRole: MessageSenderRole; fromBridgeId: string | null; to: string; kind: MessageKind; text: string };
  paper_received: { paperId: string; slotId: string; itemId: string; bridgeId: string; version: number; pages: number; bytes: number; late: boolean };
  content_shown: { kind: ContentOnScreen['kind']; paperId: string; slotId: string; bridgeId: string; page: number; pages: number; speechRequestId: string | null };
  content_page_changed: { paperId: string; page: number; pages: number };
  content_cleared: { paperId: string; reason: ContentClearReason };
  screen_shared: { bridgeId: string; speechRequestId: string | null };
  screen_share_stopped: { bridgeId: string; reason: ScreenStopReason; sharedSec: number };
}

/** Name of an event. */
export type ConferenceEventType = keyof ConferenceEventMap;

/** An event: its type and payload, flat. */
export type ConferenceEvent = {
  [K in ConferenceEventType]: { type: K } & ConferenceEventMap[K];
}[ConferenceEventType];

/** The event of one type. */
export type EventOf<K extends ConferenceEventType> = Extract<ConferenceEvent, { type: K }>;

// ---------------------------------------------------------------------------------------------
// Errors and results

/** Stable codes of refused commands; the transport layer maps them to acks or HTTP statuses. */
export const ERROR_CODES = [
  'forbidden',
  'unknown_command',
  'invalid_argument',
  /** Text that breaks the text rule (validate.ts): control, invisible or bidi characters, piled-up marks. */
  'invalid_text',
  'invalid_state',
  'unknown_bridge',
  'not_in_queue',
  'already_requested',
  'queue_empty',
  'floor_not_held',
  'bridge_offline',
  'unknown_slot',
  'unknown_paper',
  /** One content at a time: another hall shares its screen, or a document the actor may not take down is on screen. */
  'content_busy',
] as const;

/** A stable error code. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A refused command: a value, never a throw. */
export interface ConferenceError {
  code: ErrorCode;
  message: string;
}

/** Accepted: the next state, the events to broadcast and the log entries appended. */
export interface Accepted {
  state: ConferenceState;
  events: ConferenceEvent[];
  log: LogEntry[];
}

/** Refused: nothing changed. */
export interface Refused {
  error: ConferenceError;
}

/** Outcome of decide. */
export type Decision = Accepted | Refused;
