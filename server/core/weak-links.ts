// What the media nodes of a deployment tell the control plane about their halls (issues 13 and
// 17): which halls' links carry no video (each node decides for its own halls, sfu/audio-only.ts
// is the rule, and tells its whole list; AudioOnlyBook keeps every node's latest list and merges
// them) and who is heard how loud (mergeLevels, kept per node in a NodeBook too). Pure: no clock, no I/O (the control plane's
// LinkSampleFeed feeds it what the nodes publish, and tells it when a node is gone).
// Unit-tested in test/unit/app/weak-links.test.ts.

/** A hall whose link carries no video: `up` its camera does not reach its SFU, `down` no video reaches it. */
export interface AudioOnlyHall {
  bridgeId: string;
  up: boolean;
  down: boolean;
}

/**
 * The halls audio only on any node: a hall carried by two nodes at once (moving from one to the
 * other, a page on each for a moment) is audio only one way when either says so. Sorted by hall.
 */
export function mergeAudioOnly(lists: Iterable<readonly AudioOnlyHall[]>): AudioOnlyHall[] {
  const merged = new Map<string, AudioOnlyHall>();
  for (const list of lists) {
    for (const { bridgeId, up, down } of list) {
      if (!up && !down) continue;
      const held = merged.get(bridgeId);
      merged.set(bridgeId, { bridgeId, up: up || (held?.up ?? false), down: down || (held?.down ?? false) });
    }
  }
  return [...merged.values()].sort((a, b) => (a.bridgeId < b.bridgeId ? -1 : a.bridgeId > b.bridgeId ? 1 : 0));
}

/** Whether two merged lists say the same. */
export function sameAudioOnly(a: readonly AudioOnlyHall[], b: readonly AudioOnlyHall[]): boolean {
  return a.length === b.length && a.every((x, i) => x.bridgeId === b[i]!.bridgeId && x.up === b[i]!.up && x.down === b[i]!.down);
}

/**
 * The latest word of every media node on one matter (its audio-only list, its levels) and the
 * merge of them all. Each method that changes it returns the new merge when the merge changed
 * (null otherwise): the caller tells the pages.
 */
export class NodeBook<T, M> {
  readonly #byNode = new Map<string, { value: T; at: number }>();
  readonly #merge: (values: T[]) => M;
  readonly #same: (a: M, b: M) => boolean;
  #merged: M;

  constructor(merge: (values: T[]) => M, same: (a: M, b: M) => boolean) {
    this.#merge = merge;
    this.#same = same;
    this.#merged = merge([]);
  }

  /** A node's word, received at `at` (it replaces the node's last one). */
  take(nodeId: string, value: T, at: number): M | null {
    this.#byNode.set(nodeId, { value, at });
    return this.#remerge();
  }

  /** A node that is gone (its lease ended, or it left): its word goes with it. */
  drop(nodeId: string): M | null {
    if (!this.#byNode.delete(nodeId)) return null;
    return this.#remerge();
  }

  /** Drops the word of nodes not heard from since `now - staleMs` (a node that died unseen, or stopped telling). */
  expire(now: number, staleMs: number): M | null {
    let dropped = false;
    for (const [nodeId, entry] of this.#byNode) {
      if (now - entry.at > staleMs) dropped = this.#byNode.delete(nodeId) || dropped;
    }
    return dropped ? this.#remerge() : null;
  }

  /** The merge now. */
  get merged(): M {
    return this.#merged;
  }

  /** The nodes whose word it holds. */
  nodes(): string[] {
    return [...this.#byNode.keys()];
  }

  #remerge(): M | null {
    const merged = this.#merge([...this.#byNode.values()].map((e) => e.value));
    if (this.#same(merged, this.#merged)) return null;
    this.#merged = merged;
    return merged;
  }
}

/** The latest audio-only list of every media node and their merge (a node's word about a hall not in the plan is dropped). */
export class AudioOnlyBook {
  readonly #known: (bridgeId: string) => boolean;
  readonly #book = new NodeBook<AudioOnlyHall[], AudioOnlyHall[]>(mergeAudioOnly, sameAudioOnly);

  /** `known`: the halls of the plan (a node's word about any other is dropped). */
  constructor(known: (bridgeId: string) => boolean) {
    this.#known = known;
  }

  /** A node's whole list, received at `at` (it replaces the node's last one). */
  take(nodeId: string, halls: readonly AudioOnlyHall[], at: number): AudioOnlyHall[] | null {
    return copy(this.#book.take(nodeId, halls.filter((h) => (h.up || h.down) && this.#known(h.bridgeId)).map((h) => ({ ...h })), at));
  }

  /** A node that is gone (its lease ended, or it left): its halls are no longer audio only because of it. */
  drop(nodeId: string): AudioOnlyHall[] | null {
    return copy(this.#book.drop(nodeId));
  }

  /** Drops the lists of nodes not heard from since `now - staleMs` (a node that died unseen, or stopped telling). */
  expire(now: number, staleMs: number): AudioOnlyHall[] | null {
    return copy(this.#book.expire(now, staleMs));
  }

  /** The halls audio only now (merged over the nodes). */
  list(): AudioOnlyHall[] {
    return copy(this.#book.merged);
  }

  /** One hall's state (both false: video, or not known to be otherwise). */
  of(bridgeId: string): AudioOnlyHall {
    const hall = this.#book.merged.find((h) => h.bridgeId === bridgeId);
    return hall ? { ...hall } : { bridgeId, up: false, down: false };
  }

  /** The nodes whose lists it holds. */
  nodes(): string[] {
    return this.#book.nodes();
  }
}

function copy(halls: AudioOnlyHall[]): AudioOnlyHall[];
function copy(halls: AudioOnlyHall[] | null): AudioOnlyHall[] | null;
function copy(halls: AudioOnlyHall[] | null): AudioOnlyHall[] | null {
  return halls && halls.map((h) => ({ ...h }));
}

/** A hall heard now and how loud (dBov, whole decibels). */
export interface HallLevel {
  bridgeId: string;
  dBov: number;
}

/** The halls heard on every node, loudest first (a hall heard on two nodes at once: its louder level). */
export function mergeLevels(lists: Iterable<readonly HallLevel[]>): HallLevel[] {
  const loudest = new Map<string, number>();
  for (const list of lists) for (const { bridgeId, dBov } of list) loudest.set(bridgeId, Math.max(dBov, loudest.get(bridgeId) ?? -Infinity));
  return [...loudest].map(([bridgeId, dBov]) => ({ bridgeId, dBov })).sort((a, b) => b.dBov - a.dBov || (a.bridgeId < b.bridgeId ? -1 : 1));
}

/** Whether two merged level lists say the same. */
export function sameLevels(a: readonly HallLevel[], b: readonly HallLevel[]): boolean {
  return a.length === b.length && a.every((x, i) => x.bridgeId === b[i]!.bridgeId && x.dBov === b[i]!.dBov);
}
