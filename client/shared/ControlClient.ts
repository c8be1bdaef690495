import { io, type Socket } from 'socket.io-client';
import type {
  ClientCommand,
  ConferenceView,
  ControlAck,
  ControlClientEvents,
  ControlEventMessage,
  ControlReplies,
  ControlRequest,
  ControlRequestName,
  ControlServerEvents,
} from '../../server/protocol/control.ts';
import { TypedEvents } from './events.ts';
import { refusalOfError, type TokenRefusal } from './refusal.ts';

/** What a ControlClient tells the page, by event. */
export type ControlClientEventMap = {
  view: ConferenceView;
  /** A conference event (staff consoles only). */
  event: ControlEventMessage;
  connection: { connected: boolean };
  error: { message: string };
  clock: { offsetMs: number; rttMs: number };
  /** The server refused this page's link (revoked, re-issued or invalid): it stopped for good. */
  refused: { code: TokenRefusal };
};

/**
 * The browser side of the control plane: receives the conference view and events, sends
 * commands, and keeps an estimate of the server's clock so that every display shows the same
 * countdown (the deadline lives on the server).
 */
export class ControlClient {
  readonly socket: Socket<ControlServerEvents, ControlClientEvents>;
  view: ConferenceView | null = null;
  /** serverClock ≈ Date.now() + offsetMs. */
  offsetMs = 0;
  /** Round trip of the best clock sample. */
  rttMs = Infinity;
  connected = false;
  /** Why the server refused this page's link, once it did (the client stopped then). */
  refused: TokenRefusal | null = null;
  readonly #events = new TypedEvents<ControlClientEventMap>();
  #syncTimer?: ReturnType<typeof setInterval>;

  constructor(url: string, token: string) {
    this.socket = io(`${url}/control`, { auth: { token }, transports: ['websocket'], reconnectionDelay: 500, reconnectionDelayMax: 3000 });
    this.socket.on('connect', () => {
      this.connected = true;
      this.#emit('connection', { connected: true });
      void this.syncClock();
    });
    this.socket.on('disconnect', () => {
      this.connected = false;
      this.#emit('connection', { connected: false });
    });
    this.socket.on('connect_error', (err) => {
      const code = refusalOfError(err);
      if (code) this.#refuse(code);
      else this.#emit('error', { message: err.message });
    });
    this.socket.on('session:refused', ({ code }) => this.#refuse(code === 'token_revoked' ? code : 'token_invalid'));
    this.socket.on('control:view', (view) => {
      this.view = view;
      this.#emit('view', view);
    });
    this.socket.on('control:event', (event) => this.#emit('event', event));
    this.#syncTimer = setInterval(() => void this.syncClock(), 30_000);
  }

  /** Subscribes to 'view', 'event', 'connection', 'error', 'clock'. */
  on<K extends keyof ControlClientEventMap>(event: K, fn: (detail: ControlClientEventMap[K]) => void): void {
    this.#events.on(event, fn);
  }

  /**
   * Sends a request and resolves with the server's acknowledgement; no answer within `timeoutMs`
   * is an `internal` refusal carrying `noAnswer`, never a throw.
   */
  async request<N extends ControlRequestName>(name: N, payload: ControlRequest<N>, timeoutMs = 10_000, noAnswer = 'Không nhận được trả lời từ máy chủ'): Promise<ControlAck<ControlReplies[N]>> {
    // socket.io's typing of a generic event name does not resolve: the payload and reply types come from the protocol's map.
    const emit = this.socket.timeout(timeoutMs).emitWithAck as unknown as (ev: N, payload: ControlRequest<N>) => Promise<ControlAck<ControlReplies[N]>>;
    try {
      return await emit.call(this.socket.timeout(timeoutMs), name, payload);
    } catch {
      return { ok: false, error: { code: 'internal', message: noAnswer } };
    }
  }

  /** The server's clock now, as estimated here. */
  serverNow(): number {
    return Date.now() + this.offsetMs;
  }

  /** Estimates the clock offset from a few round trips, keeping the one with the shortest trip. */
  async syncClock(samples = 6): Promise<void> {
    let best: { offset: number; rtt: number } | null = null;
    for (let i = 0; i < samples && this.socket.connected; i++) {
      const t0 = Date.now();
      const reply = await this.request('time:sync', { clientNow: t0 }, 5000);
      const t1 = Date.now();
      if (!reply.ok) continue;
      const rtt = t1 - t0;
      const offset = reply.data.serverNow - (t0 + rtt / 2);
      if (!best || rtt < best.rtt) best = { offset, rtt };
    }
    if (best) {
      this.offsetMs = best.offset;
      this.rttMs = best.rtt;
      this.#emit('clock', { offsetMs: this.offsetMs, rttMs: this.rttMs });
    }
  }

  /** Sends a command; resolves with the server's answer (ok, or an error code and message). */
  command(command: ClientCommand): Promise<ControlAck<ControlReplies['control:command']>> {
    return this.request('control:command', command);
  }

  close(): void {
    clearInterval(this.#syncTimer);
    this.socket.close();
  }

  // Not a network loss: nothing to wait for. Forget the view (a revoked panel must not keep
  // showing the floor and its countdown) and stop retrying.
  #refuse(code: TokenRefusal): void {
    if (this.refused) return;
    this.refused = code;
    this.view = null;
    this.connected = false;
    this.close();
    this.#emit('refused', { code });
  }

  #emit<K extends keyof ControlClientEventMap>(event: K, detail: ControlClientEventMap[K]): void {
    this.#events.emit(event, detail);
  }
}

/** Remaining speaking time (ms, negative in overtime) on the server's clock. */
export function remainingMs(view: ConferenceView, serverNow: number): number | null {
  const t = view.floor?.timer;
  if (!t) return null;
  return t.paused ? t.remainingMs : t.deadline - serverNow;
}

/** m:ss, with a leading minus in overtime. */
export function formatCountdown(ms: number): string {
  const neg = ms < 0;
  const total = Math.floor(Math.abs(ms) / 1000);
  const s = String(total % 60).padStart(2, '0');
  return `${neg ? '−' : ''}${Math.floor(total / 60)}:${s}`;
}
