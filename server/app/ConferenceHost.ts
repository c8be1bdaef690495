import { EventEmitter } from 'node:events';
import type { MediaSession } from '../../sfu/index.ts';
import { SYSTEM_ACTOR, type Clock, type ConferenceEvent } from '../core/conference/index.ts';
import type { Stores } from '../store/index.ts';
import { randomUUID } from 'node:crypto';
import { ConferenceRunner, nextSpeakerBridge, type EventMeta, type ExecuteResult } from './conference/ConferenceRunner.ts';
import { AccessTokens, type InvitePaths } from './conference/tokens.ts';
import type { ConferencePlan } from '../protocol/plan.ts';
import type { ClientCommand, ConferenceView, Principal } from '../protocol/control.ts';
import { buildView, viewBuilder } from './view.ts';
import { HealthMonitor } from './HealthMonitor.ts';
import { presenceOf } from '../core/conference/index.ts';
import { RtpHallGateway } from './rtp-halls/RtpHallGateway.ts';

/** A bridge may ask for the floor this many times per window (a stuck button must not flood the queue). */
export const FLOOR_REQUESTS_PER_WINDOW = 5;
export const FLOOR_REQUEST_WINDOW_MS = 60_000;

/**
 * Pages each role's invite link opens. An operator's link opens the operator panel; the panel
 * opens the hall's display (hall.html, on the projector), which is the hall's one media page.
 */
export const INVITE_PATHS: InvitePaths = {
  chair: '/chair.html',
  secretary: '/chair.html',
  technician: '/technician.html',
  viewer: '/hall.html',
  operator: '/operator.html',
};

export type ConferenceHostEvents = {
  /** The conference changed: displays need a new view. */
  changed: [];
  /** A conference event, to push to the displays that care. */
  event: [event: ConferenceEvent, meta: EventMeta];
  /** Something went wrong with no caller to tell (logged). */
  problem: [message: string, error: unknown];
};

/** Options of ConferenceHost.create. */
export interface ConferenceHostOptions {
  conferenceId: string;
  plan: ConferencePlan;
  stores: Stores;
  media: MediaSession;
  clock?: Clock;
  /** How often every link is sampled (2 s). */
  healthIntervalMs?: number;
  /** After a (re)start, halls marked online have this long to reconnect before they count as dropped. */
  presenceGraceMs?: number;
  /** Where hardware (RTP) halls' ports bind and what address they are told (the workers' listen info). */
  rtpListenInfo?: { ip: string; announcedIp?: string; portRange?: { min: number; max: number } };
}

/** How long this instance's roll-call lease lives without renewal, and how often it is renewed. */
const PRESENCE_LEASE_MS = 15_000;
const PRESENCE_RENEW_MS = 5_000;

/**
 * One conference at work in this process: the runner (rules and durable state), the access
 * tokens, and the media session it drives (the floor holder is the programme; the hall at the
 * head of the queue is prepared at every hall).
 */
export class ConferenceHost extends EventEmitter<ConferenceHostEvents> {
  readonly conferenceId: string;
  readonly plan: ConferencePlan;
  readonly runner: ConferenceRunner;
  readonly tokens: AccessTokens;
  readonly media: MediaSession;
  readonly chairBridgeId: string;
  /** The link health of every bridge, for the technicians. */
  readonly health: HealthMonitor;
  readonly #clock: Clock | undefined;
  /** Recent floor requests per bridge (rate limit). */
  readonly #requestTimes = new Map<string, number[]>();
  /** Sockets per bridge in this process: a bridge is online while it has one. */
  readonly #connections = new Map<string, number>();
  #closed = false;
  #quiet = false;
  readonly #stores: Stores;
  /** This server instance, in the shared roll-call leases. */
  readonly instanceId = randomUUID();
  readonly #timers: NodeJS.Timeout[] = [];
  /** Hardware halls: their presence is their device's media, not sockets. */
  readonly #deviceBridges: ReadonlySet<string>;
  /** The hardware (RTP) halls of the plan. */
  rtpHalls!: RtpHallGateway;

  private constructor(options: ConferenceHostOptions, runner: ConferenceRunner, tokens: AccessTokens) {
    super();
    this.conferenceId = options.conferenceId;
    this.plan = options.plan;
    this.runner = runner;
    this.tokens = tokens;
    this.media = options.media;
    this.#clock = options.clock;
    this.#stores = options.stores;
    this.chairBridgeId = runner.state.config.chairBridgeId;
    this.#deviceBridges = new Set(options.plan.bridges.filter((b) => b.kind === 'rtp').map((b) => b.id));
    this.health = new HealthMonitor({
      bridgeIds: options.plan.bridges.map((b) => b.id),
      media: () => this.media,
      online: (bridgeId) => presenceOf(this.runner.state, bridgeId).online,
      presenceFromMedia: (bridgeId) => !this.#deviceBridges.has(bridgeId),
      intervalMs: options.healthIntervalMs,
    });
  }

  /** Loads (or creates) the conference, issues missing tokens, and puts the media where the state says. */
  static async create(options: ConferenceHostOptions): Promise<ConferenceHost> {
    const runner = await ConferenceRunner.create({
      conferenceId: options.conferenceId,
      plan: options.plan,
      store: options.stores.conferences,
      clock: options.clock,
    });
    let tokens: AccessTokens;
    try {
      tokens = await AccessTokens.create({ conferenceId: options.conferenceId, bridges: options.plan.bridges, store: options.stores.tokens });
    } catch (error) {
      await runner.close();
      throw error;
    }
    const host = new ConferenceHost(options, runner, tokens);
    try {
      const listen = options.rtpListenInfo ?? { ip: '127.0.0.1' };
      host.rtpHalls = await RtpHallGateway.create({
        media: options.media,
        plan: options.plan,
        listenIp: listen.ip,
        announcedIp: listen.announcedIp,
        portRange: listen.portRange,
        presence: (bridgeId, online) => (online ? host.bridgeConnected(bridgeId, 'device') : host.bridgeDisconnected(bridgeId, 'device')),
      });
    } catch (error) {
      await runner.close();
      throw error;
    }
    host.rtpHalls.on('problem', (message, error) => host.emit('problem', message, error));
    // The technician must enter the new values on the device (the programme keys change on a rebuild).
    host.rtpHalls.on('sheet', (sheet) => host.health.event(sheet.bridgeId, { at: Date.now(), type: 'device_sheet', detail: `phiên bản ${sheet.version}` }));
    host.#wire();
    // After a restart the floor holder is back on the programme as soon as it publishes again,
    // and the hall waiting first is prepared.
    const holder = runner.state.floor?.bridgeId;
    if (holder) await options.media.setProgram(holder);
    await options.media.setNext(nextSpeakerBridge(runner.state));
    host.#startPresence(options.presenceGraceMs ?? 20_000);
    return host;
  }

  #wire(): void {
    const runner = this.runner;
    runner.on('programme', ({ bridgeId }) => {
      this.media.setProgram(bridgeId).catch((e: unknown) => this.emit('problem', 'setProgram failed', e));
    });
    runner.on('next', ({ bridgeId }) => {
      this.media.setNext(bridgeId).catch((e: unknown) => this.emit('problem', 'setNext failed', e));
    });
    runner.on('event', (event, meta) => {
      this.emit('event', event, meta);
      if (event.type === 'bridge_online') this.health.event(event.bridgeId, { at: meta.at, type: event.rejoin ? 'reconnected' : 'joined', detail: event.late ? 'vào muộn' : undefined });
      if (event.type === 'bridge_offline') this.health.event(event.bridgeId, { at: meta.at, type: 'dropped' });
    });
    this.media.on('medialost', ({ bridgeIds }) => {
      for (const bridgeId of bridgeIds) this.health.event(bridgeId, { at: Date.now(), type: 'media_lost', detail: 'mediasoup worker' });
    });
    this.health.start();
    runner.on('state', () => this.emit('changed'));
  }

  /** Who holds this token, or null. */
  async authenticate(token: unknown): Promise<Principal | null> {
    if (this.#closed) return null;
    return (await this.tokens.resolve(token)) as Principal | null;
  }

  /** Runs a person's command with the actor taken from their token. Floor requests are rate-limited per bridge. */
  async execute(principal: Principal, command: ClientCommand): Promise<ExecuteResult | { ok: false; error: { code: 'rate_limited'; message: string } }> {
    if (command.type === 'request_floor') {
      const now = this.#clock?.now() ?? Date.now();
      // Keyed by who asks, so that a refused request for someone else's hall cannot use up its budget.
      const key = principal.role === 'operator' ? principal.bridgeId : `${principal.role}:${command.bridgeId}`;
      const recent = (this.#requestTimes.get(key) ?? []).filter((t) => now - t < FLOOR_REQUEST_WINDOW_MS);
      if (recent.length >= FLOOR_REQUESTS_PER_WINDOW) {
        return { ok: false, error: { code: 'rate_limited', message: `at most ${FLOOR_REQUESTS_PER_WINDOW} floor requests per ${FLOOR_REQUEST_WINDOW_MS / 1000} s per bridge` } };
      }
      recent.push(now);
      this.#requestTimes.set(key, recent);
    }
    const actor = principal.role === 'operator' ? { role: principal.role, bridgeId: principal.bridgeId } : { role: principal.role };
    return this.runner.execute({ ...command, actor } as Parameters<ConferenceRunner['execute']>[0]);
  }

  /** The conference as this principal's display shows it. */
  view(principal: Principal): ConferenceView {
    const now = this.#clock?.now() ?? Date.now();
    return buildView(this.conferenceId, this.plan, this.runner.state, principal, now, this.media.program);
  }

  /** The views of this moment for many displays at once (what they share is computed once). */
  views(): (principal: Principal) => ConferenceView {
    const now = this.#clock?.now() ?? Date.now();
    return viewBuilder(this.conferenceId, this.plan, this.runner.state, now, this.media.program);
  }

  /**
   * Stops roll-call updates from this process: an orderly shutdown disconnects every socket, and
   * that is not the halls dropping off (the speaker keeps the floor through a restart).
   */
  quiesce(): void {
    this.#quiet = true;
    for (const t of this.#timers) clearTimeout(t);
  }

  /**
   * A socket of this bridge connected (roll-call: online from its first socket on any instance).
   * A hardware hall is online while its device's media arrives (`via: 'device'`); its operator
   * panel's sockets do not count.
   */
  async bridgeConnected(bridgeId: string, via: 'socket' | 'device' = 'socket'): Promise<void> {
    if (this.#quiet) return;
    if ((via === 'device') !== this.#deviceBridges.has(bridgeId)) return;
    const n = (this.#connections.get(bridgeId) ?? 0) + 1;
    this.#connections.set(bridgeId, n);
    if (n === 1) {
      await this.#leasePresence();
      await this.#system('bridge_connected', bridgeId);
    }
  }

  /** A socket of this bridge went away: offline when its last socket on every instance has gone. */
  async bridgeDisconnected(bridgeId: string, via: 'socket' | 'device' = 'socket'): Promise<void> {
    if (this.#quiet) return;
    if ((via === 'device') !== this.#deviceBridges.has(bridgeId)) return;
    const n = (this.#connections.get(bridgeId) ?? 0) - 1;
    if (n > 0) {
      this.#connections.set(bridgeId, n);
      return;
    }
    this.#connections.delete(bridgeId);
    await this.#leasePresence();
    if ((await this.#elsewhere()).has(bridgeId)) return;
    await this.#system('bridge_disconnected', bridgeId);
  }

  /** Renews this instance's roll-call lease: the bridges with a socket here. */
  async #leasePresence(): Promise<void> {
    if (this.#closed) return;
    await this.#stores.presence.setPresence(this.conferenceId, this.instanceId, [...this.#connections.keys()], PRESENCE_LEASE_MS).catch((e: unknown) => this.emit('problem', 'presence lease failed', e));
  }

  async #elsewhere(): Promise<Set<string>> {
    return this.#stores.presence.presentElsewhere(this.conferenceId, this.instanceId).catch(() => new Set<string>());
  }

  /**
   * Keeps the lease alive, and after a grace period takes offline the halls the stored state
   * says are online but that no instance has (they were on a server that crashed and never came
   * back); a hall that held the floor then returns it to the chair.
   */
  #startPresence(graceMs: number): void {
    void this.#leasePresence();
    const renew = setInterval(() => void this.#leasePresence(), PRESENCE_RENEW_MS);
    const sweep = setTimeout(async () => {
      if (this.#quiet || this.#closed) return;
      const elsewhere = await this.#elsewhere();
      for (const [bridgeId, p] of Object.entries(this.runner.state.presence)) {
        if (p.online && !this.#connections.has(bridgeId) && !elsewhere.has(bridgeId)) await this.#system('bridge_disconnected', bridgeId);
      }
    }, graceMs);
    renew.unref();
    sweep.unref();
    this.#timers.push(renew, sweep);
  }

  async #system(type: 'bridge_connected' | 'bridge_disconnected', bridgeId: string): Promise<void> {
    if (this.#closed) return;
    const result = await this.runner.execute({ type, actor: SYSTEM_ACTOR, bridgeId });
    if (!result.ok && result.error.code !== 'closed') this.emit('problem', `${type} refused`, result.error);
  }

  /** Stops the runner; idempotent. The media session and the store belong to the caller. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.rtpHalls?.close();
    this.health.close();
    await this.runner.close();
    this.removeAllListeners();
  }
}
