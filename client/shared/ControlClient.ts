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
  MediaPlacementMessage,
} from '../../server/protocol/control.ts';
import type { AudioOnlyState } from '../../server/protocol/media.ts';
import { replaceAudioOnly } from './audioOnlyMap.ts';
import { ControlEndpoints, retryDelayMs } from './controlUrls.ts';
import { TypedEvents } from './events.ts';
import type { MediaTarget, MediaTargetSource } from './MediaClient.ts';
import { refusalOfError, type TokenRefusal } from './refusal.ts';

/** What a ControlClient tells the page, by event. */
export type ControlClientEventMap = {
  view: ConferenceView;
  /** A conference event (staff consoles only). */
  event: ControlEventMessage;
  /** Connected (to `url`) or not. */
  connection: { connected: boolean; url: string };
  error: { message: string };
  clock: { offsetMs: number; rttMs: number };
  /** The server refused this page's link (revoked, re-issued or invalid): it stopped for good. */
  refused: { code: TokenRefusal };
  /** A hall's link stopped or started carrying video (wherever its media is): its state now. */
  audioonly: AudioOnlyState;
};

/** Server events the page listens to through onServer (kept across control instances). */
type ServerListener = (...args: never[]) => void;

/**
 * The browser side of the control plane: receives the conference view and events, sends
 * commands, and keeps an estimate of the server's clock so that every display shows the same
 * countdown (the deadline lives on the server). When the control instance it talks to goes
 * away it goes on with the next one of the deployment's list, by itself.
 */
export class ControlClient {
  /** The socket to the control instance in use (a new one after a move to another instance). */
  socket!: Socket<ControlServerEvents, ControlClientEvents>;
  /** The control instance in use. */
  url = '';
  readonly endpoints: ControlEndpoints;
  view: ConferenceView | null = null;
  /** The halls whose links carry no video now, by bridge id (the control instance's whole list). */
  readonly audioOnly = new Map<string, AudioOnlyState>();
  /** serverClock ≈ Date.now() + offsetMs. */
  offsetMs = 0;
  /** Round trip of the best clock sample. */
  rttMs = Infinity;
  connected = false;
  readonly #token: string;
  /** Why the server refused this page's link, once it did (the client stopped then). */
  refused: TokenRefusal | null = null;
  readonly #events = new TypedEvents<ControlClientEventMap>();
  readonly #serverListeners = new Map<keyof ControlServerEvents, Set<ServerListener>>();
  readonly #targetListeners = new Set<(target: MediaTarget) => void>();
  readonly #waiting = new Set<() => void>();
  /** A MediaClient follows this page's placement: ask again after each reconnection. */
  #mediaWanted = false;
  #attempt = 0;
  #retryTimer?: ReturnType<typeof setTimeout>;
  #syncTimer?: ReturnType<typeof setInterval>;
  #closed = false;

  /** `target`: the deployment's control instances (or one origin). */
  constructor(target: ControlEndpoints | string, token: string) {
    this.endpoints = typeof target === 'string' ? new ControlEndpoints(target) : target;
    this.#token = token;
    this.#open(this.endpoints.current);
    this.#syncTimer = setInterval(() => void this.syncClock(), 30_000);
  }

  /** Subscribes to 'view', 'event', 'connection', 'error', 'clock', 'refused', 'audioonly'. */
  on<K extends keyof ControlClientEventMap>(event: K, fn: (detail: ControlClientEventMap[K]) => void): void {
    this.#events.on(event, fn);
  }

  /** Listens to a server event on every socket this client opens (it moves between control instances). */
  onServer<K extends keyof ControlServerEvents>(event: K, fn: ControlServerEvents[K]): void {
    let set = this.#serverListeners.get(event);
    if (!set) this.#serverListeners.set(event, (set = new Set()));
    set.add(fn as ServerListener);
    (this.socket.on as (ev: string, fn: ServerListener) => void)(event, fn as ServerListener);
  }

  /** Stops listening to a server event. */
  offServer<K extends keyof ControlServerEvents>(event: K, fn: ControlServerEvents[K]): void {
    this.#serverListeners.get(event)?.delete(fn as ServerListener);
    (this.socket.off as (ev: string, fn: ServerListener) => void)(event, fn as ServerListener);
  }

  /**
   * Sends a request and resolves with the server's acknowledgement; no answer within `timeoutMs`
   * is an `internal` refusal carrying `noAnswer`, never a throw.
   */
  async request<N extends ControlRequestName>(name: N, payload: ControlRequest<N>, timeoutMs = 10_000, noAnswer = 'Không nhận được trả lời từ máy chủ'): Promise<ControlAck<ControlReplies[N]>> {
    // socket.io's typing of a generic event name does not resolve: the payload and reply types come from the protocol's map.
    const socket = this.socket;
    const emit = socket.timeout(timeoutMs).emitWithAck as unknown as (ev: N, payload: ControlRequest<N>) => Promise<ControlAck<ControlReplies[N]>>;
    try {
      return await emit.call(socket.timeout(timeoutMs), name, payload);
    } catch {
      return { ok: false, error: { code: 'internal', message: noAnswer } };
    }
  }

  /** How many media clients follow this page's placement now (each open one, once). */
  get placementFollowers(): number {
    return this.#targetListeners.size;
  }

  /** Where this page's media goes, as the control plane says (the MediaClient's source). */
  mediaTargets(): MediaTargetSource {
    return {
      where: () => this.#where(),
      onMoved: (fn) => {
        this.#targetListeners.add(fn);
        return () => void this.#targetListeners.delete(fn);
      },
    };
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
    this.#closed = true;
    clearInterval(this.#syncTimer);
    clearTimeout(this.#retryTimer);
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

  /** Takes the whole list; tells each hall whose state changed. */
  #setAudioOnly(halls: readonly AudioOnlyState[]): void {
    for (const state of replaceAudioOnly(this.audioOnly, halls)) this.#emit('audioonly', state);
  }

  #emit<K extends keyof ControlClientEventMap>(event: K, detail: ControlClientEventMap[K]): void {
    this.#events.emit(event, detail);
  }

  /** A socket to one control instance; when it fails or goes away, the next instance is tried (ours, not socket.io's, reconnection). */
  #open(url: string): void {
    const socket: Socket<ControlServerEvents, ControlClientEvents> = io(`${url}/control`, {
      auth: { token: this.#token },
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      timeout: 5000,
    });
    this.socket = socket;
    this.url = url;
    socket.on('connect', () => {
      this.#attempt = 0;
      this.endpoints.use(url);
      this.connected = true;
      this.#emit('connection', { connected: true, url });
      for (const fn of [...this.#waiting]) fn();
      void this.syncClock();
      // After a reconnection (maybe to another instance) the media may go elsewhere: ask again.
      if (this.#mediaWanted) void this.#where().then((t) => t && this.#tellTarget(t));
    });
    socket.on('disconnect', () => {
      this.connected = false;
      this.#emit('connection', { connected: false, url });
      this.#retry(socket, url);
    });
    socket.on('connect_error', (err) => {
      // A link revoked or never valid: no instance will take it; the page says so and stops.
      const code = refusalOfError(err);
      if (code) return this.#refuse(code);
      this.#emit('error', { message: err.message });
      this.#retry(socket, url);
    });
    socket.on('session:refused', ({ code }) => this.#refuse(code === 'token_revoked' ? code : 'token_invalid'));
    socket.on('control:view', (view) => {
      this.view = view;
      this.#emit('view', view);
    });
    socket.on('control:event', (event) => this.#emit('event', event));
    socket.on('link:audioOnly', ({ halls }) => this.#setAudioOnly(halls));
    socket.on('media:placement', (placement) => this.#tellTarget(this.#resolve(placement)));
    for (const [event, fns] of this.#serverListeners) for (const fn of fns) (socket.on as (ev: string, fn: ServerListener) => void)(event, fn);
  }

  #retry(socket: Socket, failed: string): void {
    if (this.#closed || this.#retryTimer !== undefined || socket !== this.socket) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#closed) return;
      socket.removeAllListeners();
      socket.close();
      this.#open(this.endpoints.next(failed));
    }, retryDelayMs(this.#attempt++));
  }

  /** Resolves when connected (at once if connected now). */
  #whenConnected(): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.#waiting.delete(done);
        resolve();
      };
      this.#waiting.add(done);
    });
  }

  async #where(): Promise<MediaTarget | null> {
    this.#mediaWanted = true;
    await this.#whenConnected();
    const reply = await this.request('media:where', {}, 5000);
    return reply.ok && reply.data.placement ? this.#resolve(reply.data.placement) : null;
  }

  /** The URL a placement sends the media to: the node's, or (null) the control instance in use. */
  #resolve(placement: MediaPlacementMessage): MediaTarget {
    return { url: placement.mediaUrl ?? this.url, nodeId: placement.nodeId, epoch: placement.epoch, reason: placement.reason };
  }

  #tellTarget(target: MediaTarget): void {
    for (const fn of this.#targetListeners) fn(target);
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
