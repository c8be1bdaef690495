import { io, type Socket } from 'socket.io-client';
import type { ClientCommand, ConferenceView } from '../../server/protocol/control.ts';
import type { Ack } from '../../server/protocol/media.ts';

type Listener = (detail: unknown) => void;

/**
 * The browser side of the control plane: receives the conference view and events, sends
 * commands, and keeps an estimate of the server's clock so that every display shows the same
 * countdown (the deadline lives on the server).
 */
export class ControlClient {
  readonly socket: Socket;
  view: ConferenceView | null = null;
  /** serverClock ≈ Date.now() + offsetMs. */
  offsetMs = 0;
  /** Round trip of the best clock sample. */
  rttMs = Infinity;
  connected = false;
  readonly #listeners = new Map<string, Set<Listener>>();
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
    this.socket.on('connect_error', (err) => this.#emit('error', { message: err.message }));
    this.socket.on('control:view', (view: ConferenceView) => {
      this.view = view;
      this.#emit('view', view);
    });
    this.socket.on('control:event', (event: { type: string }) => this.#emit('event', event));
    this.#syncTimer = setInterval(() => void this.syncClock(), 30_000);
  }

  /** Subscribes to 'view', 'event', 'connection', 'error', 'clock'. */
  on(event: string, fn: Listener): void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(fn);
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
      const reply = (await this.socket.timeout(5000).emitWithAck('time:sync', { clientNow: t0 }).catch(() => null)) as Ack<{ serverNow: number }> | null;
      const t1 = Date.now();
      if (!reply?.ok) continue;
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
  async command(command: ClientCommand): Promise<Ack<{ seq: number; events: string[] }>> {
    try {
      return (await this.socket.timeout(10_000).emitWithAck('control:command', command)) as Ack<{ seq: number; events: string[] }>;
    } catch {
      return { ok: false, error: { code: 'internal', message: 'Không nhận được trả lời từ máy chủ' } };
    }
  }

  close(): void {
    clearInterval(this.#syncTimer);
    this.socket.close();
  }

  #emit(event: string, detail: unknown): void {
    for (const fn of this.#listeners.get(event) ?? []) fn(detail);
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
