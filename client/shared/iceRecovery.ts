/**
 * A hall's media after its network changed (Wi-Fi to 4G, a new address) or dropped for a few
 * seconds: it comes back by an ICE restart on the transports it has, not by a rejoin.
 *
 *   detect    a transport's ICE going `disconnected` or `failed`; the browser's `online` and
 *             `navigator.connection` change events; the send transport hearing nothing from the
 *             SFU (its transport-cc feedback comes ten times a second while the hall sends) for
 *             a second; the signalling socket lost (MediaClient calls `restart` once resumed)
 *   debounce  one restart at a time, after a short pause that gathers simultaneous signs
 *   restart   new ICE credentials from the server for each transport (`media:restartIce`, with
 *             fresh TURN credentials), `transport.restartIce()`; the DTLS session, the producers
 *             and the consumers stay
 *   confirm   every transport `connected` again within a few seconds
 *   fallback  a signalling request that gets no answer means the socket died with the network:
 *             it is dropped and opened again (the server keeps the peer for its client to take
 *             back); a restart that does not connect is tried again, and after the deadline the
 *             hall rejoins from scratch
 *
 * The browser glue lives in MediaClient; this module only needs the `IceRecoveryHost` below, so
 * that the reconnection to another media node (issue 13) can share it.
 */
import type { types as msc } from 'mediasoup-client';
import type { Socket } from 'socket.io-client';
import type { IceConfig } from '../../server/protocol/media.ts';

/** What the recovery needs from the media client. */
export interface IceRecoveryHost {
  /** The live transports (send first). */
  transports(): msc.Transport[];
  /** Whether the hall sends media now (then the SFU's feedback must keep arriving on the send transport). */
  sending(): boolean;
  /** Whether signalling is up and the peer joined on it. */
  signallingUp(): boolean;
  /**
   * New ICE parameters (and TURN servers) of a transport from the server; rejects with the
   * server's code on a refusal, with code `no_answer` when none came within `timeoutMs`.
   */
  restartIce(transportId: string, timeoutMs: number): Promise<{ iceParameters: unknown } & Partial<IceConfig>>;
  /** The signalling socket looks dead: drop it and connect again (the peer is taken back there, then `restart` runs). */
  reconnectSignalling(): void;
  /** The last resort: rebuild everything (new transports, producers, consumers). */
  rejoin(reason: string): void;
  /** What happened, for the page and the tests. */
  report(event: RecoveryEvent): void;
}

/** A step of a recovery, as the page may log it. */
export type RecoveryEvent =
  | { type: 'suspect'; reason: string; at: number }
  | { type: 'restarting'; reason: string; at: number }
  | { type: 'restarted'; reason: string; at: number; tookMs: number }
  | { type: 'signalling-lost'; reason: string; at: number }
  | { type: 'failed'; reason: string; at: number; error: string };

/** Timings of the recovery (defaults in RECOVERY_TIMING). */
export interface RecoveryTiming {
  /** Signs within this long make one restart. */
  debounceMs: number;
  /** How often the send transport's received bytes are read. */
  pollMs: number;
  /** Nothing received on the send transport for this long, while sending: the path is broken. */
  stallMs: number;
  /** A `media:restartIce` without an answer after this long: the socket is dead. */
  requestTimeoutMs: number;
  /** A restarted transport must be connected again within this long. */
  connectTimeoutMs: number;
  /** After this long without success, rejoin from scratch. */
  deadlineMs: number;
}

export const RECOVERY_TIMING: RecoveryTiming = {
  debounceMs: 200,
  pollMs: 250,
  stallMs: 800,
  requestTimeoutMs: 1000,
  connectTimeoutMs: 5000,
  deadlineMs: 20_000,
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Drops a socket.io socket's connection without telling the server (no disconnect packet: the
 * server sees its transport close and keeps what the client had) and connects again at once.
 */
export function reconnectNow(socket: Socket): void {
  const manager = socket.io;
  const delay = manager.reconnectionDelay();
  manager.reconnectionDelay(50);
  socket.once('connect', () => manager.reconnectionDelay(delay));
  if (manager.engine) manager.engine.close();
  else socket.connect();
}

/** Watches a hall's transports and brings its media back with ICE restarts (see the file's comment). */
export class IceRecovery {
  readonly #host: IceRecoveryHost;
  readonly #t: RecoveryTiming;
  readonly #watched = new WeakSet<msc.Transport>();
  #debounce?: ReturnType<typeof setTimeout>;
  #poll?: ReturnType<typeof setInterval>;
  #running: Promise<void> | null = null;
  /** Since when the current trouble lasts (null: none). */
  #troubleSince: number | null = null;
  /** Bytes the send transport had received, and when that count last grew. */
  #received = { bytes: -1, at: 0 };
  #closed = false;
  readonly #onOnline = (): void => this.suspect('online');
  readonly #onNetwork = (): void => this.suspect('network-change');

  constructor(host: IceRecoveryHost, timing: Partial<RecoveryTiming> = {}) {
    this.#host = host;
    this.#t = { ...RECOVERY_TIMING, ...timing };
    addEventListener('online', this.#onOnline);
    (navigator as { connection?: EventTarget }).connection?.addEventListener('change', this.#onNetwork);
    this.#poll = setInterval(() => void this.#checkStall(), this.#t.pollMs);
  }

  /** Follows a new transport's connection state. */
  watch(transport: msc.Transport): void {
    if (this.#watched.has(transport)) return;
    this.#watched.add(transport);
    transport.on('connectionstatechange', (state) => {
      if (state === 'disconnected' || state === 'failed') this.suspect(`ice-${state}`);
    });
  }

  /** A sign that the path may be broken: restart ICE soon (one restart at a time). */
  suspect(reason: string): void {
    if (this.#closed) return;
    this.#troubleSince ??= Date.now();
    this.#host.report({ type: 'suspect', reason, at: Date.now() });
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => void this.restart(reason), this.#t.debounceMs);
  }

  /** Restarts ICE on every transport now (MediaClient calls it after taking its peer back on a new socket). */
  restart(reason: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    clearTimeout(this.#debounce);
    this.#troubleSince ??= Date.now();
    this.#running ??= this.#restart(reason).finally(() => (this.#running = null));
    return this.#running;
  }

  /** Stops watching; idempotent. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearInterval(this.#poll);
    removeEventListener('online', this.#onOnline);
    (navigator as { connection?: EventTarget }).connection?.removeEventListener('change', this.#onNetwork);
  }

  async #restart(reason: string): Promise<void> {
    const host = this.#host;
    const started = Date.now();
    let attempt = 0;
    while (!this.#closed) {
      // Without signalling there is nothing to restart with: the socket's reconnection resumes
      // the peer and calls restart again.
      if (!host.signallingUp()) return;
      const transports = host.transports();
      if (!transports.length) {
        this.#troubleSince = null;
        return;
      }
      host.report({ type: 'restarting', reason, at: Date.now() });
      try {
        for (const transport of transports) {
          const params = await host.restartIce(transport.id, this.#t.requestTimeoutMs);
          if (params.iceServers) await transport.updateIceServers({ iceServers: params.iceServers as RTCIceServer[] });
          await transport.restartIce({ iceParameters: params.iceParameters as msc.IceParameters });
        }
      } catch (error) {
        if ((error as { code?: string }).code === 'no_answer') {
          // No answer: the socket went with the network. A new one takes the peer back, then restarts.
          host.report({ type: 'signalling-lost', reason, at: Date.now() });
          host.reconnectSignalling();
          return;
        }
        host.report({ type: 'failed', reason, at: Date.now(), error: (error as Error).message });
        host.rejoin(`ice restart refused: ${(error as Error).message}`);
        this.#troubleSince = null;
        return;
      }
      if (await this.#connected(transports)) {
        const since = this.#troubleSince ?? started;
        this.#troubleSince = null;
        this.#received = { bytes: -1, at: 0 };
        host.report({ type: 'restarted', reason, at: Date.now(), tookMs: Date.now() - since });
        return;
      }
      if (Date.now() - (this.#troubleSince ?? started) > this.#t.deadlineMs) {
        host.report({ type: 'failed', reason, at: Date.now(), error: 'not connected after ICE restarts' });
        this.#troubleSince = null;
        host.rejoin('ice restart did not connect');
        return;
      }
      // The link may still be down: try again a little later.
      await sleep(Math.min(3000, 500 * 2 ** attempt++));
    }
  }

  /** Whether every transport is connected within the timeout. */
  async #connected(transports: msc.Transport[]): Promise<boolean> {
    const until = Date.now() + this.#t.connectTimeoutMs;
    while (Date.now() < until && !this.#closed) {
      if (transports.every((t) => t.closed || t.connectionState === 'connected')) return !transports.every((t) => t.closed);
      await sleep(50);
    }
    return false;
  }

  /** A send transport that hears nothing from the SFU while the hall sends is a broken path. */
  async #checkStall(): Promise<void> {
    const host = this.#host;
    if (this.#closed || this.#running || !host.sending()) return;
    const send = host.transports().find((t) => t.direction === 'send' && !t.closed);
    if (!send || send.connectionState !== 'connected') return;
    const report = await send.getStats().catch(() => null);
    let bytes = 0;
    report?.forEach((s: Record<string, unknown>) => {
      if (s.type === 'transport') bytes += Number(s.bytesReceived ?? 0);
    });
    const now = Date.now();
    if (bytes !== this.#received.bytes) {
      this.#received = { bytes, at: now };
      return;
    }
    if (now - this.#received.at >= this.#t.stallMs) {
      this.#received.at = now;
      this.suspect('no-feedback');
    }
  }
}
