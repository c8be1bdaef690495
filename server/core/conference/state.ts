// The state a conference starts from, and the checks its configuration must pass.
import { absentPresence } from './rollcall.ts';
import { checkPaperRules } from './papers.ts';
import type { BridgePresence, ConferenceConfig, ConferenceState } from './types.ts';

/** Problems in a configuration, as short messages; empty when the core can run it. */
export function checkConfig(config: ConferenceConfig): string[] {
  const problems: string[] = [];
  const byId = new Map<string, ConferenceConfig['bridges'][number]>();
  for (const b of config.bridges) {
    if (typeof b.id !== 'string' || b.id === '' || b.id === '__proto__') problems.push(`bad bridge id [id:${String(b.id)}]`);
    else if (byId.has(b.id)) problems.push(`duplicate bridge [id:${b.id}]`);
    byId.set(b.id, b);
  }
  const expectedParent = { province: null, district: 'province', commune: 'district' } as const;
  for (const b of config.bridges) {
    const want = expectedParent[b.tier];
    if (want === undefined) problems.push(`bad tier [id:${b.id}, tier:${String(b.tier)}]`);
    else if (want === null ? b.parentId !== null : byId.get(b.parentId ?? '')?.tier !== want) {
      problems.push(`bad parent [id:${b.id}, parentId:${String(b.parentId)}]`);
    }
  }
  if (byId.get(config.chairBridgeId)?.tier !== 'province') problems.push(`chair bridge must be the province [id:${config.chairBridgeId}]`);
  const items = new Set<string>();
  for (const item of config.agenda) {
    if (items.has(item.id)) problems.push(`duplicate agenda item [id:${item.id}]`);
    items.add(item.id);
    for (const s of item.speakers) {
      if (!byId.has(s.bridgeId)) problems.push(`unknown speaker bridge [item:${item.id}, bridgeId:${s.bridgeId}]`);
      if (s.limitMinutes !== undefined && !(s.limitMinutes > 0)) problems.push(`bad speaker limit [item:${item.id}]`);
    }
    if (item.limitMinutes !== undefined && !(item.limitMinutes > 0)) problems.push(`bad item limit [item:${item.id}]`);
  }
  const s = config.speaking;
  if (!(s.defaultLimitMinutes > 0)) problems.push('speaking.defaultLimitMinutes must be positive');
  if (!s.warningMarksSeconds.every((m) => Number.isFinite(m) && m > 0)) problems.push('speaking.warningMarksSeconds must be positive');
  if (!(s.graceSeconds >= 0)) problems.push('speaking.graceSeconds must not be negative');
  if (s.expiryPolicy !== 'notify_chair' && s.expiryPolicy !== 'close_mic') problems.push('speaking.expiryPolicy is unknown');
  if (config.papers) problems.push(...checkPaperRules(config.papers));
  return problems;
}

/** A conference before its start: every bridge offline, first agenda item, empty queue and log. Throws on a bad config. */
export function initialState(config: ConferenceConfig, options: { date?: string | null } = {}): ConferenceState {
  const problems = checkConfig(config);
  if (problems.length > 0) throw new Error(`invalid conference config: ${problems.join('; ')}`);
  const presence: Record<string, BridgePresence> = {};
  for (const b of config.bridges) presence[b.id] = absentPresence();
  return {
    schema: 1,
    config: structuredClone(config),
    status: 'waiting',
    startedAt: null,
    endedAt: null,
    explicitBreakSince: null,
    agenda: { index: 0, itemStartedAt: null, elapsedMs: {} },
    queue: [],
    floor: null,
    presence,
    speeches: [],
    incidents: [],
    maketOverride: null,
    date: options.date ?? null,
    recording: null,
    papers: {},
    content: null,
    showings: [],
    nextRequestNo: 1,
    seq: 0,
    log: [],
  };
}
