// Checks conference plans off the main thread. Parsing and validating a plan file is the one
// thing a request does that can take long (a 1.9 MB YAML plan took 2.6 s, and 23.5 s under
// load, during which every socket missed its pings). Here a worker thread does it, one plan at
// a time, with a size limit (enforced where the body is read), a time limit (the thread is
// killed, and a new one started for the next plan) and a memory limit; a few plans may wait,
// more are refused. The thread is started on first use and stopped when idle.
import { Worker } from 'node:worker_threads';
import type { Clock, ClockTimer } from '../../core/conference/index.ts';
import type { ConferencePlan, PlanIssue } from '../../protocol/plan.ts';

/**
 * Largest plan text: the Lạng Sơn plan (212 bridges) is 27 kB of JSON, 29 kB of YAML, 41 kB of
 * indented JSON; the largest province of the country (Thanh Hóa, 27 districts and 559 communes in
 * 2021: 587 bridges) would be about 115 kB indented. 256 kB is twice that.
 */
export const PLAN_MAX_BYTES = 256 * 1024;
/** A plan is checked in well under a second; one that takes longer than this is refused. */
export const PLAN_CHECK_TIMEOUT_MS = 5_000;
/** Heap of the checker's thread: a plan under PLAN_MAX_BYTES needs a few MB. */
export const PLAN_CHECK_HEAP_MB = 64;
/** Plans that may wait for the checker; more at once are refused as busy. */
export const PLAN_CHECK_QUEUE = 4;
/** The thread stops after this long without a plan to check (a new one starts in about a second). */
export const PLAN_CHECK_IDLE_MS = 5 * 60_000;

/** One plan to check. */
export interface PlanJob {
  id: number;
  text: string;
  format: 'json' | 'yaml';
}

/** What the checker found: the plan, or why not (its wrong fields, bad syntax, too complex, or no room). */
export type PlanVerdict =
  | { ok: true; plan: ConferencePlan }
  | { ok: false; code: 'invalid_plan'; errors: PlanIssue[] }
  | { ok: false; code: 'malformed_json' | 'plan_too_complex' | 'busy'; message: string };

interface Pending {
  job: PlanJob;
  resolve: (verdict: PlanVerdict) => void;
}

/** Checks plans in a worker thread, one at a time, within time and memory limits. */
export class PlanChecker {
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  #worker: Worker | null = null;
  #running: (Pending & { timer: ClockTimer }) | null = null;
  readonly #waiting: Pending[] = [];
  #idle: ClockTimer | undefined;
  #nextId = 1;
  #closed = false;

  constructor(options: { clock: Clock; timeoutMs?: number }) {
    this.#clock = options.clock;
    this.#timeoutMs = options.timeoutMs ?? PLAN_CHECK_TIMEOUT_MS;
  }

  /** Parses and validates a plan text; never throws. */
  check(text: string, format: 'json' | 'yaml'): Promise<PlanVerdict> {
    if (this.#closed) return Promise.resolve({ ok: false, code: 'busy', message: 'the server is shutting down' });
    if (this.#waiting.length >= PLAN_CHECK_QUEUE) return Promise.resolve({ ok: false, code: 'busy', message: `${PLAN_CHECK_QUEUE} plans are already waiting to be checked` });
    return new Promise((resolve) => {
      this.#waiting.push({ job: { id: this.#nextId++, text, format }, resolve });
      this.#next();
    });
  }

  /** Stops the thread; plans waiting are answered busy. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#idle);
    const stopped = this.#finish({ ok: false, code: 'busy', message: 'the server is shutting down' });
    for (const p of this.#waiting.splice(0)) p.resolve({ ok: false, code: 'busy', message: 'the server is shutting down' });
    await stopped;
  }

  #next(): void {
    if (this.#running || this.#closed) return;
    const pending = this.#waiting.shift();
    if (!pending) {
      this.#idle = this.#clock.setTimeout(() => void this.#stopWorker(), PLAN_CHECK_IDLE_MS, { background: true });
      return;
    }
    this.#clock.clearTimeout(this.#idle);
    const worker = this.#workerNow();
    const timer = this.#clock.setTimeout(() => {
      void this.#finish({ ok: false, code: 'plan_too_complex', message: `the plan took more than ${this.#timeoutMs / 1000} s to check` }, true);
    }, this.#timeoutMs);
    this.#running = { ...pending, timer };
    worker.postMessage(pending.job);
  }

  /** Answers the running plan; with `kill`, the thread goes too (a new one checks the next plan). */
  async #finish(verdict: PlanVerdict, kill = false): Promise<void> {
    const running = this.#running;
    this.#running = null;
    if (running) {
      this.#clock.clearTimeout(running.timer);
      running.resolve(verdict);
    }
    if (kill || this.#closed) await this.#stopWorker();
    this.#next();
  }

  #workerNow(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL('../thread-boot.mjs', import.meta.url), {
      workerData: { entry: new URL('./worker.ts', import.meta.url).href },
      resourceLimits: { maxOldGenerationSizeMb: PLAN_CHECK_HEAP_MB, maxYoungGenerationSizeMb: 16, stackSizeMb: 4 },
      stdout: false,
      stderr: false,
    });
    worker.on('message', (m: { id: number; verdict: PlanVerdict }) => {
      if (this.#running?.job.id === m.id) void this.#finish(m.verdict);
    });
    // Out of memory, or crashed: the plan it was checking is refused, the next gets a new thread.
    const lost = (why: string): void => {
      if (this.#worker !== worker) return;
      this.#worker = null;
      if (this.#running) void this.#finish({ ok: false, code: 'plan_too_complex', message: `the plan could not be checked (${why})` });
    };
    worker.on('error', (error) => lost(error.message.slice(0, 100)));
    worker.on('exit', (code) => lost(`checker exited with code ${code}`));
    worker.unref();
    this.#worker = worker;
    return worker;
  }

  async #stopWorker(): Promise<void> {
    const worker = this.#worker;
    this.#worker = null;
    if (worker) await worker.terminate().catch(() => undefined);
  }
}
