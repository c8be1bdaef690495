// The embedded default's registry of media nodes, published tracks and placements: one process,
// one node (the `both` role without redis), so these only keep what that process announced. They
// follow the same contracts as the redis implementations (leases expire on the injected clock),
// which lets the placement and routing code run unchanged on one host and be tested without redis.
import { SystemClock, type Clock } from '../../core/conference/index.ts';
import type { LinkSampleMessage, MediaNodeRecord, PlacementRecord, TrackRecord } from '../../protocol/cluster.ts';
import { checkNodeId, checkPlacements } from '../errors.ts';
import type { LinkChannel, LinkWatch } from '../LinkChannel.ts';
import { ConferenceWatchers } from './ConferenceWatchers.ts';
import type { NodeChange, NodeRegistry, NodeWatch } from '../NodeRegistry.ts';
import type { PlacementStore, PlacementWatch } from '../PlacementStore.ts';
import type { TrackRegistry, TrackWatch } from '../TrackRegistry.ts';
import { OpenGuard } from './OpenGuard.ts';

/** How often watchers look for leases that ran out. */
const EXPIRY_POLL_MS = 250;

/** Media nodes' leases in this process. */
export class MemoryNodeRegistry implements NodeRegistry {
  readonly #nodes = new Map<string, { record: MediaNodeRecord; until: number }>();
  readonly #watchers = new Set<(change: NodeChange) => void>();
  readonly #clock: Clock;
  readonly #open = new OpenGuard();
  #poll: ReturnType<Clock['setInterval']> | undefined;

  constructor(clock: Clock = new SystemClock()) {
    this.#clock = clock;
  }

  get closed(): boolean {
    return this.#open.closed;
  }

  async announce(record: MediaNodeRecord, ttlMs: number): Promise<void> {
    this.#open.assert();
    this.#expire();
    const before = this.#nodes.get(record.nodeId);
    this.#nodes.set(record.nodeId, { record: structuredClone(record), until: this.#clock.now() + ttlMs });
    if (!before || JSON.stringify({ ...before.record, renewedAt: 0 }) !== JSON.stringify({ ...record, renewedAt: 0 })) {
      this.#tell({ kind: 'up', node: structuredClone(record) });
    }
  }

  async withdraw(nodeId: string): Promise<void> {
    this.#open.assert();
    if (this.#nodes.delete(nodeId)) this.#tell({ kind: 'down', nodeId });
  }

  async endLease(nodeId: string, incarnation: string): Promise<boolean> {
    this.#open.assert();
    const held = this.#nodes.get(nodeId);
    if (!held || held.record.incarnation !== incarnation) return false;
    this.#nodes.delete(nodeId);
    this.#tell({ kind: 'down', nodeId });
    return true;
  }

  async liveNodes(): Promise<MediaNodeRecord[]> {
    this.#open.assert();
    this.#expire();
    return [...this.#nodes.values()].map((n) => structuredClone(n.record));
  }

  async watchNodes(listener: (change: NodeChange) => void): Promise<NodeWatch> {
    this.#open.assert();
    this.#watchers.add(listener);
    this.#poll ??= this.#clock.setInterval(() => this.#expire(), EXPIRY_POLL_MS, { background: true });
    return {
      close: async () => {
        this.#watchers.delete(listener);
        if (this.#watchers.size === 0) {
          this.#clock.clearInterval(this.#poll);
          this.#poll = undefined;
        }
      },
    };
  }

  async close(): Promise<void> {
    if (!this.#open.close()) return;
    this.#clock.clearInterval(this.#poll);
    this.#watchers.clear();
    this.#nodes.clear();
  }

  #expire(): void {
    const now = this.#clock.now();
    for (const [nodeId, n] of this.#nodes) {
      if (n.until >= now) continue;
      this.#nodes.delete(nodeId);
      this.#tell({ kind: 'down', nodeId });
    }
  }

  #tell(change: NodeChange): void {
    for (const fn of [...this.#watchers]) fn(change);
  }
}

/** Published tracks in this process. */
export class MemoryTrackRegistry implements TrackRegistry {
  readonly #tracks = new Map<string, Map<string, TrackRecord>>();
  readonly #watchers = new ConferenceWatchers<void>();
  readonly #open = new OpenGuard();

  get closed(): boolean {
    return this.#open.closed;
  }

  async publishTrack(conferenceId: string, record: TrackRecord): Promise<void> {
    this.#open.assert(conferenceId);
    const key = `${record.bridgeId}:${record.source}`;
    const conference = this.#conference(conferenceId);
    const held = conference.get(key);
    if (held && held.epoch > record.epoch) return;
    conference.set(key, { ...record });
    this.#tell(conferenceId);
  }

  async unpublishTrack(conferenceId: string, bridgeId: string, source: TrackRecord['source'], producerId: string): Promise<void> {
    this.#open.assert(conferenceId);
    const conference = this.#conference(conferenceId);
    const key = `${bridgeId}:${source}`;
    if (conference.get(key)?.producerId !== producerId) return;
    conference.delete(key);
    this.#tell(conferenceId);
  }

  async tracks(conferenceId: string): Promise<TrackRecord[]> {
    this.#open.assert(conferenceId);
    return [...this.#conference(conferenceId).values()].map((t) => ({ ...t }));
  }

  async dropNodeTracks(conferenceId: string, nodeId: string): Promise<void> {
    this.#open.assert(conferenceId);
    const conference = this.#conference(conferenceId);
    let changed = false;
    for (const [key, t] of conference) {
      if (t.nodeId !== nodeId) continue;
      conference.delete(key);
      changed = true;
    }
    if (changed) this.#tell(conferenceId);
  }

  async watchTracks(conferenceId: string, listener: () => void): Promise<TrackWatch> {
    this.#open.assert(conferenceId);
    return this.#watchers.watch(conferenceId, listener);
  }

  async dropTracks(conferenceId: string): Promise<void> {
    this.#open.assert(conferenceId);
    this.#tracks.delete(conferenceId);
    this.#tell(conferenceId);
  }

  async close(): Promise<void> {
    if (!this.#open.close()) return;
    this.#tracks.clear();
    this.#watchers.clear();
  }

  #conference(conferenceId: string): Map<string, TrackRecord> {
    let conference = this.#tracks.get(conferenceId);
    if (!conference) this.#tracks.set(conferenceId, (conference = new Map()));
    return conference;
  }

  #tell(conferenceId: string): void {
    this.#watchers.tell(conferenceId, undefined);
  }
}

/** Placements in this process. */
export class MemoryPlacementStore implements PlacementStore {
  readonly #placements = new Map<string, Map<string, PlacementRecord>>();
  readonly #watchers = new Map<string, Set<(record: PlacementRecord) => void>>();
  readonly #draining = new Map<string, Set<string>>();
  readonly #open = new OpenGuard();

  get closed(): boolean {
    return this.#open.closed;
  }

  async placements(conferenceId: string): Promise<Map<string, PlacementRecord>> {
    this.#open.assert(conferenceId);
    return new Map([...(this.#placements.get(conferenceId) ?? [])].map(([k, v]) => [k, { ...v }]));
  }

  async place(conferenceId: string, record: Omit<PlacementRecord, 'epoch'>, expectedEpoch: number): Promise<PlacementRecord | null> {
    return (await this.placeAll(conferenceId, [{ record, expectedEpoch }]))?.[0] ?? null;
  }

  async placeAll(conferenceId: string, moves: readonly { record: Omit<PlacementRecord, 'epoch'>; expectedEpoch: number }[]): Promise<PlacementRecord[] | null> {
    this.#open.assert(conferenceId);
    checkPlacements(moves);
    let conference = this.#placements.get(conferenceId);
    if (!conference) this.#placements.set(conferenceId, (conference = new Map()));
    const held = conference;
    if (moves.some((m) => (held.get(m.record.peerKey)?.epoch ?? 0) !== m.expectedEpoch)) return null;
    const stored = moves.map((m): PlacementRecord => ({ ...m.record, epoch: m.expectedEpoch + 1 }));
    for (const r of stored) held.set(r.peerKey, r);
    for (const r of stored) for (const fn of [...(this.#watchers.get(conferenceId) ?? [])]) fn({ ...r });
    return stored.map((r) => ({ ...r }));
  }

  async watchPlacements(conferenceId: string, listener: (record: PlacementRecord) => void): Promise<PlacementWatch> {
    this.#open.assert(conferenceId);
    let set = this.#watchers.get(conferenceId);
    if (!set) this.#watchers.set(conferenceId, (set = new Set()));
    set.add(listener);
    return { close: async () => void set.delete(listener) };
  }

  async setDraining(conferenceId: string, nodeId: string, draining: boolean): Promise<void> {
    this.#open.assert(conferenceId);
    checkNodeId(nodeId);
    let set = this.#draining.get(conferenceId);
    if (!set) this.#draining.set(conferenceId, (set = new Set()));
    if (draining) set.add(nodeId);
    else set.delete(nodeId);
  }

  async drainingNodes(conferenceId: string): Promise<Set<string>> {
    this.#open.assert(conferenceId);
    return new Set(this.#draining.get(conferenceId));
  }

  async dropPlacements(conferenceId: string): Promise<void> {
    this.#open.assert(conferenceId);
    this.#placements.delete(conferenceId);
    this.#draining.delete(conferenceId);
  }

  async close(): Promise<void> {
    if (!this.#open.close()) return;
    this.#placements.clear();
    this.#watchers.clear();
    this.#draining.clear();
  }
}

/** Link samples in this process (the embedded default's one node and its own control plane). */
export class MemoryLinkChannel implements LinkChannel {
  readonly #watchers = new ConferenceWatchers<LinkSampleMessage>();
  readonly #open = new OpenGuard();

  get closed(): boolean {
    return this.#open.closed;
  }

  async publishLinks(conferenceId: string, message: LinkSampleMessage): Promise<void> {
    this.#open.assert(conferenceId);
    // As over redis: a copy, after the publisher's call returns.
    this.#watchers.tell(conferenceId, structuredClone(message), true);
  }

  async watchLinks(conferenceId: string, listener: (message: LinkSampleMessage) => void): Promise<LinkWatch> {
    this.#open.assert(conferenceId);
    return this.#watchers.watch(conferenceId, listener);
  }

  async close(): Promise<void> {
    if (!this.#open.close()) return;
    this.#watchers.clear();
  }
}
