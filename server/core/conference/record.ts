// Bounds of the record: what repeats is merged so that the state (rewritten on every command)
// stays small whatever a flapping link or a hostile client does, and the report keeps its
// meaning. A bridge keeps its last connection periods one by one and the older ones summed up
// (how many, and the time offline between them, so its online time stays exact); drop-outs of
// a bridge that follow each other within a few minutes are one incident with a count, and a
// bridge's oldest drop-outs are summed up past a cap.
import type { BridgePresence, ConferenceState, Incident } from './types.ts';

/** Connection periods kept one by one per bridge; older ones are summed into the first. */
export const MAX_SESSIONS_PER_BRIDGE = 8;
/** Incidents kept per bridge; past it, its two oldest drop-outs are summed into one. */
export const MAX_INCIDENTS_PER_BRIDGE = 8;
/** A drop-out this soon after the bridge's previous one (its last repeat) counts as a repeat of it. */
export const DROP_OUT_MERGE_MS = 10 * 60_000;

/** Opens a connection period at now; past the cap, the two oldest become one summary. */
export function openSession(p: BridgePresence, now: number): void {
  p.sessions.push({ joinedAt: now, leftAt: null });
  while (p.sessions.length > MAX_SESSIONS_PER_BRIDGE) {
    const [a, b] = p.sessions as [BridgePresence['sessions'][number], BridgePresence['sessions'][number]];
    // Only the last period can be open, so both have ended.
    const gap = Math.max(0, b.joinedAt - (a.leftAt ?? b.joinedAt));
    p.sessions.splice(0, 2, {
      joinedAt: a.joinedAt,
      leftAt: b.leftAt,
      periods: periodsOf(a) + periodsOf(b),
      offlineMs: (a.offlineMs ?? 0) + (b.offlineMs ?? 0) + gap,
    });
  }
}

/** Closes the open connection period, if any. */
export function closeSessions(p: BridgePresence, now: number): void {
  for (const s of p.sessions) if (s.leftAt === null) s.leftAt = now;
}

/** Connection periods a (possibly summarised) session stands for. */
export function periodsOf(s: { periods?: number }): number {
  return s.periods ?? 1;
}

/** Repeats an incident stands for. */
export function countOf(i: Pick<Incident, 'count'>): number {
  return i.count ?? 1;
}

/** Records a drop-out: a repeat of the bridge's previous one when it follows soon after, else a new incident (then capped). */
export function recordDropOut(d: ConferenceState, bridgeId: string, now: number, holdingFloor: boolean): void {
  const detail = holdingFloor ? 'dropped while holding the floor' : 'dropped';
  const previous = lastIncident(d, bridgeId);
  // A drop-out that cost the floor stays its own line: the chair looks for it in the record.
  if (previous && previous.kind === 'drop_out' && previous.detail === 'dropped' && !holdingFloor && now - (previous.lastAt ?? previous.at) <= DROP_OUT_MERGE_MS) {
    previous.count = countOf(previous) + 1;
    previous.lastAt = now;
    return;
  }
  d.incidents.push({ at: now, kind: 'drop_out', bridgeId, detail });
  capIncidents(d, bridgeId);
}

/** Past the cap, the bridge's two oldest drop-outs become one summary (the floor lost in either is said). */
function capIncidents(d: ConferenceState, bridgeId: string): void {
  for (;;) {
    const mine = d.incidents.filter((i) => i.bridgeId === bridgeId);
    if (mine.length <= MAX_INCIDENTS_PER_BRIDGE) return;
    const [a, b] = mine.filter((i) => i.kind === 'drop_out');
    if (!a || !b) return;
    const lostFloor = a.detail !== 'dropped' || b.detail !== 'dropped';
    Object.assign(a, {
      count: countOf(a) + countOf(b),
      lastAt: b.lastAt ?? b.at,
      detail: lostFloor ? 'dropped, once or more while holding the floor' : 'dropped',
    });
    d.incidents.splice(d.incidents.indexOf(b), 1);
  }
}

function lastIncident(d: ConferenceState, bridgeId: string): Incident | undefined {
  for (let i = d.incidents.length - 1; i >= 0; i--) if (d.incidents[i]!.bridgeId === bridgeId) return d.incidents[i];
  return undefined;
}
