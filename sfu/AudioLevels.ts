import { EventEmitter } from 'node:events';
import type { types as ms } from 'mediasoup';
import type { RouterSet } from './RouterSet.ts';

/** One hall's level as the SFU hears it: average volume over the last interval, dBov (-127 … 0). */
export interface AudioLevel {
  bridgeId: string;
  dBov: number;
}

export type AudioLevelsEvents = {
  /** The levels of the halls heard now, loudest first (empty: silence); emitted when they change. */
  levels: [levels: AudioLevel[]];
};

/** Options of AudioLevels. */
export interface AudioLevelsOptions {
  /** How often each router's observer reports (ms). */
  intervalMs?: number;
  /** Quieter than this is silence (dBov). */
  thresholdDb?: number;
}

/**
 * Who is heard, and how loud: one mediasoup AudioLevelObserver on each of the conference's
 * routers, fed every microphone producer on its home router. It measures what the SFU forwards:
 * a microphone the server closed (paused producer) reports nothing, so the chair's tiles show the
 * halls really heard (hardware halls included), not what a hall's browser picks up. The session
 * adds producers; observers of a lost worker go with it and come back with its rebuilt router.
 */
export class AudioLevels extends EventEmitter<AudioLevelsEvents> {
  readonly #routers: RouterSet;
  readonly #intervalMs: number;
  readonly #thresholdDb: number;
  /** Observer per worker index, with the router it belongs to. */
  readonly #observers = new Map<number, { router: ms.Router; observer: Promise<ms.AudioLevelObserver> }>();
  /** The last levels reported by each worker's observer. */
  readonly #byWorker = new Map<number, AudioLevel[]>();
  #last = '';
  #closed = false;

  constructor(routers: RouterSet, options: AudioLevelsOptions = {}) {
    super();
    this.#routers = routers;
    this.#intervalMs = options.intervalMs ?? 400;
    this.#thresholdDb = options.thresholdDb ?? -70;
  }

  /** Observes a microphone producer on its home router (worker index). */
  async add(producer: ms.Producer, worker: number, bridgeId: string): Promise<void> {
    if (this.#closed || producer.kind !== 'audio') return;
    const observer = await this.#observer(worker);
    if (!observer || observer.closed || producer.closed) return;
    producer.appData.levelBridgeId = bridgeId;
    await observer.addProducer({ producerId: producer.id }).catch(() => undefined);
  }

  /** Closes every observer; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { observer } of this.#observers.values()) void observer.then((o) => o.close(), () => undefined);
    this.#observers.clear();
    this.removeAllListeners();
  }

  /** The observer on a worker's router, made on first use (and again when the router was rebuilt). */
  async #observer(worker: number): Promise<ms.AudioLevelObserver | undefined> {
    const router = this.#routers.router(worker);
    if (!router || router.closed) return undefined;
    let entry = this.#observers.get(worker);
    if (!entry || entry.router !== router) {
      const observer = router.createAudioLevelObserver({ maxEntries: 16, threshold: this.#thresholdDb, interval: this.#intervalMs });
      entry = { router, observer };
      this.#observers.set(worker, entry);
      observer.then(
        (o) => {
          o.on('volumes', (volumes) => this.#report(worker, volumes.map((v) => ({ bridgeId: String(v.producer.appData.levelBridgeId ?? ''), dBov: v.volume }))));
          o.on('silence', () => this.#report(worker, []));
          o.observer.once('close', () => {
            if (this.#observers.get(worker)?.observer === observer) this.#observers.delete(worker);
            this.#report(worker, []);
          });
        },
        () => {
          if (this.#observers.get(worker)?.observer === observer) this.#observers.delete(worker);
        },
      );
    }
    return entry.observer.catch(() => undefined);
  }

  #report(worker: number, levels: AudioLevel[]): void {
    if (this.#closed) return;
    this.#byWorker.set(worker, levels.filter((l) => l.bridgeId !== ''));
    const all = [...this.#byWorker.values()].flat().sort((a, b) => b.dBov - a.dBov);
    // Whole decibels are enough for a meter; unchanged levels are not sent again.
    const rounded = all.map((l) => ({ bridgeId: l.bridgeId, dBov: Math.round(l.dBov) }));
    const key = JSON.stringify(rounded);
    if (key === this.#last) return;
    this.#last = key;
    this.emit('levels', rounded);
  }
}
