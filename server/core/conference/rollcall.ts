// RollCall (điểm danh): which halls are online, which reported ready and with how many people.
import type { BridgePresence, ConferenceConfig, ConferenceState, Tier } from './types.ts';

/** Roll-call entry of a bridge that has never connected. */
export function absentPresence(): BridgePresence {
  return { online: false, ready: false, attendees: null, sessions: [], lateJoin: false, dropOuts: 0 };
}

/** Presence of a bridge in the state (absent when the state has no entry for it). */
export function presenceOf(state: Pick<ConferenceState, 'presence'>, bridgeId: string): BridgePresence {
  return Object.hasOwn(state.presence, bridgeId) ? state.presence[bridgeId]! : absentPresence();
}

/** A join is late when the meeting has started and the bridge was not connected at any time since the start. */
export function isLateJoin(presence: BridgePresence, startedAt: number | null, endedAt: number | null): boolean {
  if (startedAt === null || endedAt !== null) return false;
  return !presence.sessions.some((s) => s.leftAt === null || s.leftAt >= startedAt);
}

/** Counts for a group of bridges. */
export interface RollCallCount {
  total: number;
  online: number;
  offline: number;
  ready: number;
  /** Sum of the last headcounts reported by the bridges that are online. */
  attendees: number;
}

/** One district with its own hall and its communes. */
export interface DistrictRollCall {
  districtId: string;
  name: string;
  online: boolean;
  ready: boolean;
  attendees: number | null;
  communes: RollCallCount;
}

/** Roll-call of the whole conference: e.g. districts 11/11 online, communes 197/200. */
export interface RollCallSummary {
  all: RollCallCount;
  byTier: Record<Tier, RollCallCount>;
  byDistrict: DistrictRollCall[];
  /** Offline bridge ids, in plan order. */
  offline: string[];
}

/** Summaries per tier and per district, from the state's presence and the plan's bridges. */
export function rollCallSummary(state: ConferenceState, config: ConferenceConfig = state.config): RollCallSummary {
  const all = emptyCount();
  const byTier: Record<Tier, RollCallCount> = { province: emptyCount(), district: emptyCount(), commune: emptyCount() };
  const districts = new Map<string, DistrictRollCall>();
  const offline: string[] = [];
  for (const b of config.bridges) {
    if (b.tier !== 'district') continue;
    const p = presenceOf(state, b.id);
    districts.set(b.id, {
      districtId: b.id,
      name: b.name,
      online: p.online,
      ready: p.online && p.ready,
      attendees: p.attendees,
      communes: emptyCount(),
    });
  }
  for (const b of config.bridges) {
    const p = presenceOf(state, b.id);
    add(all, p);
    add(byTier[b.tier], p);
    if (!p.online) offline.push(b.id);
    if (b.tier === 'commune' && b.parentId !== null) {
      const district = districts.get(b.parentId);
      if (district) add(district.communes, p);
    }
  }
  return { all, byTier, byDistrict: [...districts.values()], offline };
}

function emptyCount(): RollCallCount {
  return { total: 0, online: 0, offline: 0, ready: 0, attendees: 0 };
}

function add(count: RollCallCount, p: BridgePresence): void {
  count.total++;
  if (!p.online) {
    count.offline++;
    return;
  }
  count.online++;
  if (p.ready) count.ready++;
  count.attendees += p.attendees ?? 0;
}
