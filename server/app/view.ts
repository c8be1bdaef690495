import {
  concernsBridge,
  currentAgendaItem,
  onBreak,
  itemElapsedMs,
  mayStartScreenShare,
  presenceOf,
  rollCallSummary,
  speakingTimerView,
  type BackChannelMessage,
  type ConferenceState,
} from '../core/conference/index.ts';
import { renderMaket } from '../core/maket.ts';
import type { ConferencePlan } from '../protocol/plan.ts';
import type { ConferenceView, Principal } from '../protocol/control.ts';
import { contentViewOf, mayTurn, papersViewOf } from './papers/paper-view.ts';

/** The plan with the live changes the secretary made (date, maket) applied. */
export function livePlan(plan: ConferencePlan, state: ConferenceState): ConferencePlan {
  const o = state.maketOverride;
  return {
    ...plan,
    date: state.date,
    maket: o
      ? { ...plan.maket, ...(o.lines ? { lines: o.lines } : {}), ...(o.background ? { background: o.background } : {}), ...(o.textColour ? { textColour: o.textColour } : {}) }
      : plan.maket,
  };
}

/** Back-channel messages a view carries: the staff's consoles show the latest, a hall its own. */
export const VIEW_MESSAGES = { staff: 40, hall: 12 } as const;

/** Whether a principal sees every hall's presence (roll-call staff). */
export function isStaff(p: Principal): boolean {
  return p.role === 'chair' || p.role === 'secretary' || p.role === 'technician';
}

/** What one display needs to draw the conference now. */
export function buildView(conferenceId: string, plan: ConferencePlan, state: ConferenceState, principal: Principal, now: number, onAir: string, parts?: ViewParts): ConferenceView {
  return viewBuilder(conferenceId, plan, state, now, onAir, parts)(principal);
}

type StaffParts = Pick<ConferenceView, 'presence' | 'papers'> & { byDistrict: NonNullable<ConferenceView['rollCall']['byDistrict']> };

/**
 * What every view of one state shares whatever the time: the names, the roll-call summary, each
 * hall's maket, the staff's presence table. A state of 10,000 halls takes milliseconds to
 * summarise, so the caller keeps these per state (Conference does) and a hall that connects, or
 * a push to every hall, does not summarise it again. The staff's parts and each maket are made
 * when first asked for. The state must not change while its parts are in use (the runner's never does).
 */
export interface ViewParts {
  readonly plan: ConferencePlan;
  readonly state: ConferenceState;
  readonly name: (id: string) => string;
  readonly summary: ReturnType<typeof rollCallSummary>;
  readonly designated: ReadonlySet<string>;
  maketOf(bridgeId: string): ConferenceView['maket'];
  staff(): StaffParts;
  staffMessages(): NonNullable<ConferenceView['messages']>;
  messageView(m: BackChannelMessage): NonNullable<ConferenceView['messages']>[number];
}

/** The time-free parts of the views of one state (see ViewParts). */
export function viewParts(plan: ConferencePlan, state: ConferenceState): ViewParts {
  const byId = new Map(plan.bridges.map((b) => [b.id, b]));
  const name = (id: string): string => byId.get(id)?.name ?? id;
  const summary = rollCallSummary(state);
  const live = livePlan(plan, state);
  const makets = new Map<string, ConferenceView['maket']>();
  const messageView = (m: BackChannelMessage): NonNullable<ConferenceView['messages']>[number] => ({
    id: m.id,
    at: m.at,
    fromRole: m.from.role,
    fromBridgeId: m.from.bridgeId ?? null,
    fromName: m.from.bridgeId ? name(m.from.bridgeId) : null,
    to: m.to,
    toName: m.to === 'staff' ? null : name(m.to),
    kind: m.kind,
    text: m.text,
  });
  let staff: StaffParts | undefined;
  let staffMessages: NonNullable<ConferenceView['messages']> | undefined;
  return {
    plan,
    state,
    name,
    summary,
    designated: new Set(currentAgendaItem(state)?.speakers.map((s) => s.bridgeId) ?? []),
    maketOf: (bridgeId) => {
      let maket = makets.get(bridgeId);
      if (!maket) {
        // The maket's own lookup of the bridge is a scan of the plan: give it the one bridge.
        const bridge = byId.get(bridgeId);
        maket = renderMaket(bridge ? { ...live, bridges: [bridge] } : live, bridgeId);
        makets.set(bridgeId, maket);
      }
      return maket;
    },
    staff: () =>
      (staff ??= {
        byDistrict: summary.byDistrict.map((d) => ({
          districtId: d.districtId,
          name: d.name,
          online: d.online,
          ready: d.ready,
          communesOnline: d.communes.online,
          communesReady: d.communes.ready,
          communesTotal: d.communes.total,
        })),
        presence: Object.fromEntries(
          plan.bridges.map((b) => {
            const p = presenceOf(state, b.id);
            return [b.id, { online: p.online, ready: p.ready, attendees: p.attendees }];
          }),
        ),
        papers: papersViewOf(state, name),
      }),
    staffMessages: () => (staffMessages ??= (state.messages ?? []).slice(-VIEW_MESSAGES.staff).map(messageView)),
    messageView,
  };
}

/**
 * The views of one moment for many displays: what they all share (agenda, queue, floor,
 * roll-call counts; the staff's presence table) is computed once, then each principal gets its
 * own maket and place. Pushing 212 views after a change costs one summary, not 212. `parts`, when
 * given, must be those of this plan and state.
 */
export function viewBuilder(conferenceId: string, plan: ConferencePlan, state: ConferenceState, now: number, onAir: string, parts: ViewParts = viewParts(plan, state)): (principal: Principal) => ConferenceView {
  const { name, summary, designated } = parts;
  const count = (c: { total: number; online: number; ready: number }) => ({ total: c.total, online: c.online, ready: c.ready });
  const chair = state.config.chairBridgeId;
  const floor = state.floor;
  const muted = state.mutedHalls ?? [];
  const shared: Omit<ConferenceView, 'maket'> = {
    conferenceId,
    title: plan.title,
    status: state.status,
    date: state.date,
    serverNow: now,
    seq: state.seq,
    recording: state.recording ? { recordingId: state.recording.recordingId, startedAt: state.recording.startedAt } : null,
    // On air; the wire field keeps its first name (see ConferenceView.programme).
    programme: { bridgeId: onAir, bridgeName: name(onAir) },
    content: contentViewOf(state, name),
    screen: state.screen ? { bridgeId: state.screen.bridgeId, bridgeName: name(state.screen.bridgeId), startedAt: state.screen.startedAt } : null,
    screenEnded: state.screenEnded ? { ...state.screenEnded, bridgeName: name(state.screenEnded.bridgeId) } : null,
    agenda: {
      index: state.agenda.index,
      items: state.config.agenda.map((it) => ({
        id: it.id,
        kind: it.kind,
        title: it.title,
        plannedMinutes: it.plannedMinutes,
        elapsedSec: Math.round(itemElapsedMs(state, it.id, now) / 1000),
      })),
    },
    queue: state.queue.map((r) => ({
      requestId: r.id,
      bridgeId: r.bridgeId,
      bridgeName: name(r.bridgeId),
      speakerName: r.speakerName,
      speakerTitle: r.speakerTitle,
      topic: r.topic,
      designated: designated.has(r.bridgeId),
    })),
    floor: floor
      ? {
          requestId: floor.requestId,
          bridgeId: floor.bridgeId,
          bridgeName: name(floor.bridgeId),
          speakerName: floor.speakerName,
          speakerTitle: floor.speakerTitle,
          topic: floor.topic,
          suspended: (floor.reconnectingUntil ?? null) !== null ? 'reconnecting' : onBreak(state) ? 'break' : null,
          reconnectingUntil: floor.reconnectingUntil ?? null,
          muted: muted.includes(floor.bridgeId),
          timer: (() => {
            const t = speakingTimerView(floor.timer, now);
            return {
              limitSec: Math.round(t.limitMs / 1000),
              deadline: floor.timer.deadline,
              paused: t.paused,
              remainingMs: floor.timer.pausedAt !== null ? floor.timer.deadline - floor.timer.pausedAt : t.remainingMs,
              warningMarksSec: state.config.speaking.warningMarksSeconds,
            };
          })(),
        }
      : null,
    muted: [...muted],
    rollCall: {
      province: count(summary.byTier.province),
      districts: count(summary.byTier.district),
      communes: count(summary.byTier.commune),
      attendees: summary.all.attendees,
    },
  };
  const messages = state.messages ?? [];
  return (principal) => {
    const ownBridge = principal.role === 'operator' ? principal.bridgeId : chair;
    const view: ConferenceView = { ...shared, maket: parts.maketOf(ownBridge), rollCall: { ...shared.rollCall } };
    if (isStaff(principal)) {
      const staff = parts.staff();
      view.rollCall.byDistrict = staff.byDistrict;
      view.presence = staff.presence;
      view.messages = parts.staffMessages();
      view.papers = staff.papers;
    }
    if (principal.role === 'operator') {
      const p = presenceOf(state, principal.bridgeId);
      const position = state.queue.findIndex((r) => r.bridgeId === principal.bridgeId);
      view.mine = {
        bridgeId: principal.bridgeId,
        queuePosition: position < 0 ? null : position + 1,
        ready: p.ready,
        attendees: p.attendees,
        online: p.online,
        muted: muted.includes(principal.bridgeId),
        papers: papersViewOf(state, name, principal.bridgeId).slots,
        mayTurnPages: mayTurn(state, { role: 'operator', bridgeId: principal.bridgeId }),
        mayShareScreen: mayStartScreenShare(state, { role: 'operator', bridgeId: principal.bridgeId }),
      };
      const own: BackChannelMessage[] = [];
      for (let i = messages.length - 1; i >= 0 && own.length < VIEW_MESSAGES.hall; i--) if (concernsBridge(messages[i]!, principal.bridgeId)) own.unshift(messages[i]!);
      view.messages = own.map(parts.messageView);
    }
    return view;
  };
}
