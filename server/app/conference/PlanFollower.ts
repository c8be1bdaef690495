// The plan loaded by REST, taken up by every process of a deployment: the loader keeps it in the
// store with a version (PlanStore); every other control instance and every media node hears of it
// (the store's announcement), reads it, checks it again as a plan from outside is checked (the
// PlanChecker: a store may hold anything), and replaces its conference with it. A process that
// starts later starts from the stored plan, not from its plan file. A plan that does not pass, or
// that a process fails to apply, is logged there and changes nothing: the process goes on with the
// plan it runs.
import type { ConferencePlan } from '../../protocol/plan.ts';
import type { PlanStore, StoreSubscription } from '../../store/index.ts';
import { coalescing } from '../coalesce.ts';
import type { PlanChecker, PlanVerdict } from '../plan-check/PlanChecker.ts';

/** Where the follower says what it did (pino's signature). */
export interface PlanLog {
  debug(data: object, message: string): void;
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
  error(data: object, message: string): void;
}

/** What a process runs: a plan, the stored version it is (0 for a plan file), and where it came from. */
export interface RunningPlan {
  plan: ConferencePlan;
  version: number;
  source: 'store' | 'file';
}

/** Why a verdict refused a plan, in one line for the log. */
function refusalOf(verdict: Exclude<PlanVerdict, { ok: true }>): { code: string; errors: string } {
  if (verdict.code === 'invalid_plan') return { code: verdict.code, errors: verdict.errors.slice(0, 5).map((e) => `${e.path || '(plan)'}: ${e.message}`).join('; ') };
  return { code: verdict.code, errors: verdict.message };
}

/**
 * The plan a process starts from: the one stored for its conference when there is one and it
 * passes the check, else its plan file's. Logs which one it took (and why not the stored one);
 * the plan file with nothing stored at `fileLevel` (debug for `npm start`, which speaks in words).
 */
export async function startingPlan(o: { conferenceId: string; plans: PlanStore; checker: PlanChecker; filePlan: ConferencePlan; log: PlanLog; fileLevel: 'debug' | 'info' }): Promise<RunningPlan> {
  const stored = await o.plans.storedPlan(o.conferenceId);
  if (!stored) {
    o.log[o.fileLevel]({ conferenceId: o.conferenceId, source: 'file', title: o.filePlan.title }, 'conference plan: the plan file (none loaded by REST in the store)');
    return { plan: o.filePlan, version: 0, source: 'file' };
  }
  const verdict = await o.checker.check(stored.text, 'json');
  if (!verdict.ok) {
    o.log.error({ conferenceId: o.conferenceId, version: stored.version, ...refusalOf(verdict) }, 'conference plan: the stored plan is refused, the plan file is used');
    return { plan: o.filePlan, version: 0, source: 'file' };
  }
  // Said at warn: the plan file the process was given is not the one it runs.
  o.log.warn({ conferenceId: o.conferenceId, source: 'store', version: stored.version, title: verdict.plan.title, storedAt: new Date(stored.storedAt).toISOString() }, 'conference plan: the one loaded by REST (stored), not the plan file');
  return { plan: verdict.plan, version: stored.version, source: 'store' };
}

/** Options of PlanFollower.start. */
export interface PlanFollowerOptions {
  conferenceId: string;
  plans: PlanStore;
  checker: PlanChecker;
  /** The stored version this process runs (0: its plan file). */
  version: number;
  /** Replaces the process's conference with the plan (without dropping the stores: the loader did); throws when it could not. */
  apply: (plan: ConferencePlan, version: number) => Promise<void>;
  log: PlanLog;
}

/** Follows the conference's stored plan: a newer version that passes the check is applied, one at a time. */
export class PlanFollower {
  readonly #o: PlanFollowerOptions;
  #version: number;
  /** The last version refused (checked or applied in vain): logged once, not at every resync. */
  #refused = 0;
  #subscription: StoreSubscription | null = null;
  #chain: Promise<unknown> = Promise.resolve();
  readonly #reload = coalescing(() => this.#exclusive(() => this.#takeUp()));
  #closed = false;

  private constructor(o: PlanFollowerOptions) {
    this.#o = o;
    this.#version = o.version;
  }

  /** Watches the store, then reads it once (a plan stored before the watch began is not missed). */
  static async start(o: PlanFollowerOptions): Promise<PlanFollower> {
    const follower = new PlanFollower(o);
    follower.#subscription = await o.plans.watchPlans(o.conferenceId, (a) => {
      if (a.kind === 'stored' && a.version <= follower.#version) return;
      void follower.#reload();
    });
    void follower.#reload();
    return follower;
  }

  /** The stored version this process runs (0: its plan file). */
  get version(): number {
    return this.#version;
  }

  /**
   * Runs fn with no stored plan applied meanwhile (the loader: it replaces the conference and
   * stores the plan); fn returns the version it stored, which this process now runs.
   */
  load(fn: () => Promise<number>): Promise<void> {
    return this.#exclusive(async () => {
      const version = await fn();
      this.#version = Math.max(this.#version, version);
    });
  }

  /** Resolves when the plans heard of so far have been taken up or refused (tests). */
  settled(): Promise<void> {
    return this.#reload();
  }

  /** Stops following; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const subscription = this.#subscription;
    this.#subscription = null;
    await subscription?.close().catch(() => undefined);
    await this.#chain.catch(() => undefined);
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn, fn);
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #takeUp(): Promise<void> {
    if (this.#closed) return;
    const { conferenceId, log } = this.#o;
    let stored;
    try {
      stored = await this.#o.plans.storedPlan(conferenceId);
    } catch (error) {
      log.error({ conferenceId, err: String((error as Error)?.message ?? error) }, 'stored plan: could not be read');
      return;
    }
    if (!stored || stored.version <= this.#version || stored.version === this.#refused || this.#closed) return;
    const verdict = await this.#o.checker.check(stored.text, 'json');
    if (!verdict.ok) {
      this.#refused = stored.version;
      log.error({ conferenceId, version: stored.version, running: this.#version, ...refusalOf(verdict) }, 'stored plan refused: this process goes on with the plan it runs');
      return;
    }
    if (this.#closed) return;
    try {
      await this.#o.apply(verdict.plan, stored.version);
    } catch (error) {
      this.#refused = stored.version;
      log.error({ conferenceId, version: stored.version, running: this.#version, err: String((error as Error)?.message ?? error) }, 'stored plan could not be applied: this process goes on with the plan it runs');
      return;
    }
    const from = this.#version;
    this.#version = stored.version;
    log.warn({ conferenceId, version: stored.version, from, title: verdict.plan.title, bridges: verdict.plan.bridges.length }, 'conference plan replaced by the one loaded on another process');
  }
}
