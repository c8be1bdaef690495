import type { types as ms } from 'mediasoup';

/**
 * Holds consumers that are ready on their clients and resumes them together, so that the
 * keyframe requests they trigger coalesce into one at the producer (a switch of 211 halls then
 * rides on a single keyframe). Consumers that become ready after the deadline are resumed at once.
 */
export class ResumeBatch {
  readonly #deadlineMs: number;
  #held: ms.Consumer[] = [];
  #open = true;
  /** When the held consumers were resumed, how many, and whether the deadline cut the wait. */
  readonly timings: { flushedAt?: number; resumed: number; deadlineHit: boolean } = { resumed: 0, deadlineHit: false };

  constructor(deadlineMs: number) {
    this.#deadlineMs = deadlineMs;
  }

  /** Adds a consumer whose client is ready. */
  add(consumer: ms.Consumer): void {
    if (this.#open) this.#held.push(consumer);
    else void consumer.resume().catch(() => undefined);
  }

  /** Waits for the work or the deadline, whichever is first, then resumes all held consumers. */
  async run(work: Promise<unknown>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.timings.deadlineHit = true;
        resolve();
      }, this.#deadlineMs);
    });
    await Promise.race([work, deadline]);
    clearTimeout(timer);
    await this.flush();
  }

  /** Resumes everything held and resumes later arrivals immediately. */
  async flush(): Promise<void> {
    this.#open = false;
    const held = this.#held;
    this.#held = [];
    this.timings.flushedAt = Date.now();
    this.timings.resumed = held.length;
    await Promise.all(held.filter((c) => !c.closed).map((c) => c.resume().catch(() => undefined)));
  }
}
