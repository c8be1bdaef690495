// Runs one conference: applies commands through the pure core, writes every change atomically to
// the store, arms the one wake-up the speaking timer needs, and tells the transport (to broadcast)
// and the media layer (who is on air, microphones) what happened. Several runners of one conference
// (one per server process) share a store: each write is announced, and the other runners reload
// and re-emit the events, so a command on one is seen by the clients of all.
import { EventEmitter } from 'node:events';
import {
  decide,
  initialState,
  nextSpeaker,
  nextWakeAt,
  report,
  SystemClock,
  SYSTEM_ACTOR,
  WakeAlarm,
  type Actor,
  type Clock,
  type Command,
  type ConferenceEvent,
  type ConferenceReport,
  type ConferenceState,
  type ContentOnScreen,
  type Decision,
  type ErrorCode,
  type EventOf,
  type LogEntry,
} from '../../core/conference/index.ts';
import type { ConferencePlan } from '../../protocol/plan.ts';
import type { ConferenceStore, StoreChange, StoredConference, StoreSubscription } from '../../store/index.ts';
import { planToCore } from './plan-to-core.ts';

/** Whether this runner applied a change ('local') or learnt of it from the store ('remote'). */
export type EventOrigin = 'local' | 'remote';

/** Where an event sits in the conference's log. */
export interface EventMeta {
  seq: number;
  at: number;
  actor: Actor;
  origin: EventOrigin;
}

/** This bridge is now on air (the core's programme_changed; media: setOnAir(bridgeId)). */
export interface OnAirChange {
  bridgeId: string;
  reason: EventOf<'programme_changed'>['reason'];
  origin: EventOrigin;
}

/** A hall's microphone must open or close. */
export interface MicChange {
  bridgeId: string;
  open: boolean;
  origin: EventOrigin;
}

/** The hall grant_next would pick has changed (media: setNext(bridgeId)); null when nobody waits online. */
export interface NextChange {
  bridgeId: string | null;
  origin: EventOrigin;
}

/**
 * What every screen shows beside the speaker changed (a paper put up, a page turned, taken
 * down). The displays draw it from their views; whatever else must show the same thing (the
 * programme output composing the page beside the speaker, a content track the SFU routes)
 * follows this event, which carries the whole content state, not a step.
 */
export interface ContentChange {
  content: ContentOnScreen | null;
  origin: EventOrigin;
}

/** The state after one change; snapshot() returns it. */
export interface StateChange {
  version: number;
  seq: number;
  origin: EventOrigin;
}

/** Events of a runner. Every conference event is emitted once per runner, in log order. */
export type ConferenceRunnerEvents = {
  event: [event: ConferenceEvent, meta: EventMeta];
  onair: [change: OnAirChange];
  mic: [change: MicChange];
  next: [change: NextChange];
  content: [change: ContentChange];
  state: [change: StateChange];
  close: [];
};

/** Codes of refused commands: the core's, plus the runner's own. */
export type RunnerErrorCode = ErrorCode | 'closed' | 'unavailable';

/** Outcome of execute(). */
export type ExecuteResult =
  | { ok: true; events: ConferenceEvent[]; seq: number }
  | { ok: false; error: { code: RunnerErrorCode; message: string } };

/** What a newly connected client needs: the state (its log is read with readLog), its version and seq, the server's time. */
export interface ConferenceSnapshot {
  conferenceId: string;
  version: number;
  seq: number;
  serverNow: number;
  state: ConferenceState;
}

/** Options of ConferenceRunner.create. */
export interface ConferenceRunnerOptions {
  conferenceId: string;
  /** Used only when the store has no state for the conference yet; a stored conference keeps its own configuration. */
  plan: ConferencePlan;
  store: ConferenceStore;
  clock?: Clock;
  /** Failures that have no caller to go to (timer ticks, reloads after a remote change). */
  onError?: (error: unknown, context: string) => void;
}

// What one attempt of execute() decided: the core's decision, or the conference missing from the store.
type Outcome = Decision | { error: { code: 'unavailable'; message: string } };

// After a tick the store could not take, the next try comes this much later.
const TICK_RETRY_MS = 1000;

/** One conference at work: commands in, state in the store, events out, the speaking timer armed. */
export class ConferenceRunner extends EventEmitter<ConferenceRunnerEvents> {
  readonly conferenceId: string;
  readonly #store: ConferenceStore;
  readonly #clock: Clock;
  readonly #alarm: WakeAlarm;
  readonly #onError: (error: unknown, context: string) => void;
  #stored!: StoredConference;
  /** Seq of the last log entry emitted (or known at start). */
  #seq = 0;
  #next: string | null = null;
  #subscription: StoreSubscription | null = null;
  /** Serialises this runner's store operations so its events go out in log order. */
  #chain: Promise<unknown> = Promise.resolve();
  #syncQueued = false;
  #closed = false;

  private constructor(options: ConferenceRunnerOptions) {
    super();
    this.conferenceId = options.conferenceId;
    this.#store = options.store;
    this.#clock = options.clock ?? new SystemClock();
    this.#onError = options.onError ?? ((error, context) => console.error(`[conference:${this.conferenceId}] ${context}`, error));
    this.#alarm = new WakeAlarm(this.#clock, () => void this.#tick());
  }

  /** Loads the conference from the store, or creates it from the plan; subscribes to changes by other runners; arms the timer. */
  static async create(options: ConferenceRunnerOptions): Promise<ConferenceRunner> {
    const runner = new ConferenceRunner(options);
    const config = planToCore(options.plan);
    try {
      // Subscribe before reading, so that no write between the read and the subscription goes unseen.
      runner.#subscription = await options.store.subscribe(options.conferenceId, (change) => runner.#onChange(change));
      await runner.#exclusive(async () => {
        const outcome = await options.store.update(options.conferenceId, (current) =>
          current ? { result: null } : { write: { state: initialState(config, { date: options.plan.date }), log: [] }, result: null },
        );
        runner.#stored = outcome.stored!;
        runner.#seq = runner.#stored.state.seq;
        runner.#next = nextSpeakerBridge(runner.#stored.state);
        // A deadline that passed while no runner was up fires at once.
        runner.#arm();
      });
    } catch (error) {
      await runner.close();
      throw error;
    }
    return runner;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The current state (do not mutate; snapshot() gives a copy). Its log is empty: see readLog. */
  get state(): Readonly<ConferenceState> {
    return this.#stored.state;
  }

  /** Version of the current state in the store. */
  get version(): number {
    return this.#stored.version;
  }

  /** Seq of the last log entry applied. */
  get seq(): number {
    return this.#seq;
  }

  /** The hall grant_next would give the floor to now (prepared at every hall), or null. */
  get nextSpeaker(): string | null {
    return this.#next;
  }

  /** The instant the timer wake-up is armed for, or null. */
  get wakeAt(): number | null {
    return this.#alarm.at;
  }

  /** Applies a command atomically (one writer at a time per conference, across processes); refusals are values. */
  async execute(command: Command): Promise<ExecuteResult> {
    if (this.#closed) return closedResult();
    return this.#exclusive(async (): Promise<ExecuteResult> => {
      if (this.#closed) return closedResult();
      let decision: Outcome;
      let own: LogEntry[] = [];
      try {
        const outcome = await this.#store.update<Outcome>(
          this.conferenceId,
          (current) => {
            if (!current) return { result: { error: { code: 'unavailable' as const, message: `conference not in store [conferenceId:${this.conferenceId}]` } } };
            const d = decide(current.state, command, this.#clock.now());
            // Refusals and changes that change nothing are not written.
            if ('error' in d || d.events.length === 0) return { result: d };
            return { write: { state: d.state, log: d.log }, result: d };
          },
          { current: this.#stored },
        );
        decision = outcome.result;
        if (outcome.written && !('error' in decision)) own = decision.log;
        await this.#adopt(outcome.stored, own);
      } catch (error) {
        this.#arm();
        return { ok: false, error: { code: 'unavailable', message: `store failed [conferenceId:${this.conferenceId}]: ${messageOf(error)}` } };
      }
      this.#arm();
      if ('error' in decision) return { ok: false, error: decision.error };
      return { ok: true, events: decision.events, seq: own.at(-1)?.seq ?? this.#seq };
    });
  }

  /** A copy of the current state for a newly connected client. */
  snapshot(): ConferenceSnapshot {
    return {
      conferenceId: this.conferenceId,
      version: this.#stored.version,
      seq: this.#seq,
      serverNow: this.#clock.now(),
      state: structuredClone(this.#stored.state),
    };
  }

  /** Log entries with seq > afterSeq (for clients catching up after a reconnect, and for the record). */
  readLog(afterSeq = 0, limit?: number): Promise<LogEntry[]> {
    return this.#store.readLog(this.conferenceId, afterSeq, limit);
  }

  /** The after-meeting report, as of now while the meeting runs. */
  report(): ConferenceReport {
    const state = this.#stored.state;
    return report(state, state.config, state.endedAt ?? this.#clock.now());
  }

  /** Resolves when every operation started so far has finished (tests, orderly shutdown). */
  async idle(): Promise<void> {
    let chain: Promise<unknown>;
    do {
      chain = this.#chain;
      await chain.catch(() => {});
    } while (chain !== this.#chain);
  }

  /** Stops the timer and the subscription; the stored conference stays. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#alarm.close();
    const subscription = this.#subscription;
    this.#subscription = null;
    try {
      await subscription?.close();
    } catch (error) {
      this.#onError(error, 'unsubscribe');
    }
    this.emit('close');
  }

  // A write by any runner (ours included): reload unless we already have that version.
  #onChange(change: StoreChange): void {
    if (this.#closed || this.#syncQueued) return;
    if (change.kind === 'write' && this.#stored && change.version <= this.#stored.version) return;
    this.#syncQueued = true;
    void this.#exclusive(async () => {
      this.#syncQueued = false;
      // Before create() has read the conference there is nothing to bring up to date.
      if (this.#closed || !this.#stored) return;
      try {
        await this.#adopt(await this.#store.load(this.conferenceId), []);
      } catch (error) {
        this.#onError(error, 'reload after a change');
      }
      this.#arm();
    });
  }

  async #tick(): Promise<void> {
    const result = await this.execute({ type: 'tick', actor: SYSTEM_ACTOR });
    if (!result.ok && result.error.code === 'unavailable' && !this.#closed) {
      this.#onError(new Error(result.error.message), 'timer tick');
      this.#alarm.set(this.#clock.now() + TICK_RETRY_MS);
    }
  }

  /**
   * Takes a newer stored state and emits the events between the last seq we emitted and its seq:
   * our own entries as 'local', the rest (written by other runners) read from the log as 'remote'.
   */
  async #adopt(stored: StoredConference | null, own: readonly LogEntry[]): Promise<void> {
    if (!stored || stored.version <= this.#stored.version) return;
    const target = stored.state.seq;
    let entries: LogEntry[] = [];
    const ownFirst = own[0]?.seq;
    if (ownFirst === this.#seq + 1 && own.at(-1)!.seq === target) {
      entries = [...own];
    } else if (target > this.#seq) {
      try {
        entries = (await this.#store.readLog(this.conferenceId, this.#seq, target - this.#seq)).filter((e) => e.seq <= target);
      } catch (error) {
        // The state is what matters; events we cannot read are reported and our own still go out.
        this.#onError(error, 'read log');
        entries = [...own];
      }
    }
    const ownSeqs = new Set(own.map((e) => e.seq));
    const before = this.#next;
    const contentBefore = this.#stored.state.content ?? null;
    this.#stored = stored;
    this.#seq = Math.max(this.#seq, target);
    this.#next = nextSpeakerBridge(stored.state);
    if (this.#closed) return;
    let origin: EventOrigin = 'remote';
    for (const entry of entries) {
      const meta: EventMeta = { seq: entry.seq, at: entry.at, actor: entry.actor, origin: ownSeqs.has(entry.seq) ? 'local' : 'remote' };
      if (meta.origin === 'local') origin = 'local';
      this.#emitEvent({ type: entry.type, ...entry.data } as ConferenceEvent, meta);
    }
    if (this.#next !== before) this.#safeEmit(() => this.emit('next', { bridgeId: this.#next, origin }));
    const content = stored.state.content ?? null;
    if (JSON.stringify(content) !== JSON.stringify(contentBefore)) this.#safeEmit(() => this.emit('content', { content: content && structuredClone(content), origin }));
    this.#safeEmit(() => this.emit('state', { version: stored.version, seq: this.#seq, origin }));
  }

  #emitEvent(event: ConferenceEvent, meta: EventMeta): void {
    this.#safeEmit(() => this.emit('event', event, meta));
    const origin = meta.origin;
    if (event.type === 'programme_changed') this.#safeEmit(() => this.emit('onair', { bridgeId: event.bridgeId, reason: event.reason, origin }));
    else if (event.type === 'mic_opened') this.#safeEmit(() => this.emit('mic', { bridgeId: event.bridgeId, open: true, origin }));
    else if (event.type === 'mic_closed') this.#safeEmit(() => this.emit('mic', { bridgeId: event.bridgeId, open: false, origin }));
  }

  // A throwing listener must not undo a write that already happened.
  #safeEmit(emit: () => void): void {
    try {
      emit();
    } catch (error) {
      this.#onError(error, 'listener');
    }
  }

  #arm(): void {
    if (this.#closed || !this.#stored) return;
    this.#alarm.set(nextWakeAt(this.#stored.state));
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(fn);
    this.#chain = run.catch(() => {});
    return run;
  }
}

/** The hall grant_next would give the floor to (the core's rule), or null. */
function nextSpeakerBridge(state: ConferenceState): string | null {
  return nextSpeaker(state)?.bridgeId ?? null;
}

function closedResult(): ExecuteResult {
  return { ok: false, error: { code: 'closed', message: 'conference runner closed' } };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
