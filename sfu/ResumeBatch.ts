import type { types as ms } from 'mediasoup';

/**
 * Halls a switch may leave behind: up to this share of them (rounded down), so a switch of the
 * 211 halls waits for 201 and not for the slowest few; with 19 halls or fewer it waits for all.
 */
export const SWITCH_STRAGGLER_SHARE = 0.05;

/** How many of `peers` runs a switch waits for before resuming everyone ready. */
export function switchQuorum(peers: number): number {
  return peers - Math.floor(peers * SWITCH_STRAGGLER_SHARE);
}

/**
 * Holds consumers that are ready on their clients and resumes them together, so that the
 * keyframe requests they trigger coalesce into one at the producer (a switch of 211 halls then
 * rides on a single keyframe). It waits until all but a few stragglers are ready
 * (`switchQuorum`), or the deadline, whichever is first: a hall whose browser is slow to answer
 * (a starved CPU, a weak link) no longer holds the picture of every other hall for the whole
 * deadline. Consumers that become ready after the flush are resumed at once (their keyframe
 * request reaches the producer after its `keyFrameRequestDelay`).
 */
export class ResumeBatch {
  readonly #deadlineMs: number;
  #held: ms.Consumer[] = [];
  #open = true;
  /** When the held consumers were resumed, how many, whether the deadline cut the wait, and how many runs were left behind. */
  readonly timings: { flushedAt?: number; resumedAt?: number; resumed: number; deadlineHit: boolean; stragglers: number } = { resumed: 0, deadlineHit: false, stragglers: 0 };

  constructor(deadlineMs: number) {
    this.#deadlineMs = deadlineMs;
  }

  /** Adds a consumer whose client is ready. */
  add(consumer: ms.Consumer): void {
    if (this.#open) this.#held.push(consumer);
    else void consumer.resume().catch(() => undefined);
  }

  /** Waits for the quorum of the runs (one per peer) or the deadline, whichever is first, then resumes all held consumers. */
  async run(runs: readonly Promise<unknown>[]): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const need = switchQuorum(runs.length);
    let settled = 0;
    const quorum = new Promise<void>((resolve) => {
      if (need === 0) resolve();
      for (const r of runs) void r.finally(() => ++settled >= need && resolve()).catch(() => undefined);
    });
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.timings.deadlineHit = true;
        resolve();
      }, this.#deadlineMs);
    });
    await Promise.race([quorum, deadline]);
    clearTimeout(timer);
    this.timings.stragglers = runs.length - settled;
    await this.flush();
  }

  /**
   * Resumes everything held and resumes later arrivals immediately. Video first: the first video
   * resume asks the speaker for a keyframe, and a consumer resumed after that keyframe went by
   * waits for the next one (the producer's `keyFrameRequestDelay`, 350 ms); the worker takes the
   * requests in order, so the audio's resumes must not stand between the video's.
   */
  async flush(): Promise<void> {
    this.#open = false;
    const held = this.#held.filter((c) => !c.closed);
    this.#held = [];
    this.timings.flushedAt = Date.now();
    this.timings.resumed = held.length;
    const ordered = [...held.filter((c) => c.kind === 'video'), ...held.filter((c) => c.kind !== 'video')];
    await Promise.all(ordered.map((c) => c.resume().catch(() => undefined)));
    this.timings.resumedAt = Date.now();
  }
}
