// One conference at work in this process: the aggregate the server creates and closes in one
// place. It owns the media session (the conference's routers on the worker pool), the runner
// (rules and durable state), the access tokens, the link health, the hardware halls and the feed
// (press feed and recordings), and the small pieces that tie them together: the halls' presence
// across instances, the floor-request rate limit, the floor driving the media, the link events.
// Transport handlers see only this object.
import { EventEmitter } from 'node:events';
import { MediaSession, type WorkerPool } from '../../sfu/index.ts';
import { presenceOf, SYSTEM_ACTOR, SystemClock, type Clock, type ConferenceEvent } from '../core/conference/index.ts';
import type { ClientCommand, ConferenceView, Principal } from '../protocol/control.ts';
import { rtpEndpointOf, type ConferencePlan } from '../protocol/plan.ts';
import type { Stores } from '../store/index.ts';
import { ConferenceRunner, type EventMeta, type ExecuteResult } from './conference/ConferenceRunner.ts';
import { planToCore } from './conference/plan-to-core.ts';
import { HallPresence, type PresenceVia } from './conference/presence.ts';
import { AccessTokens } from './conference/tokens.ts';
import { FeedDesk } from './feed/FeedDesk.ts';
import { PaperDesk } from './papers/PaperDesk.ts';
import type { PdfCheckLimits } from './papers/PdfChecker.ts';
import type { PressFeedTarget } from './feed/FeedOutput.ts';
import { FloorMedia } from './floor-media.ts';
import { HealthMonitor } from './HealthMonitor.ts';
import { recordLinkEvents } from './link-events.ts';
import { principalKey, RequestLimits, type RateRefusal } from './rate-limit.ts';
import { RtpHallGateway } from './rtp-halls/RtpHallGateway.ts';
import { buildView, viewBuilder } from './view.ts';

export type ConferenceEvents = {
  /** The conference changed: displays need a new view. */
  changed: [];
  /** A conference event, to push to the displays that care. */
  event: [event: ConferenceEvent, meta: EventMeta];
};

/** Where the conference reports what went wrong with no caller to tell (pino's signature). */
export interface ConferenceLog {
  warn(data: object, message: string): void;
  error(data: object, message: string): void;
}

/** Options of Conference.create. */
export interface ConferenceOptions {
  conferenceId: string;
  /** Used when the store has no state for the conference yet (a stored conference keeps its own configuration). */
  plan: ConferencePlan;
  /** The mediasoup workers the conference's media session puts a router on. */
  pool: WorkerPool;
  stores: Stores;
  log: ConferenceLog;
  /** The one source of time and timers (the system clock by default). */
  clock?: Clock;
  /** How often every link is sampled (2 s). */
  healthIntervalMs?: number;
  /** After a (re)start, halls marked online have this long to reconnect before they count as dropped. */
  presenceGraceMs?: number;
  /** Where hardware (RTP) halls' ports bind and what address they are told (the workers' listen info). */
  rtpListenInfo?: { ip: string; announcedIp?: string; portRange?: { min: number; max: number } };
  /** The press feed and the recordings. */
  feed: { pressFeed?: PressFeedTarget; recordingsDir: string; preset?: string };
  /** The papers (tham luận): where their files are kept, the checker's limits. */
  papers: { dataDir: string; checkLimits?: Partial<PdfCheckLimits> };
}

/** The parts a conference is made of, each built by create(). */
interface ConferenceParts {
  media: MediaSession;
  runner: ConferenceRunner;
  tokens: AccessTokens;
  health: HealthMonitor;
  presence: HallPresence;
  rtpHalls: RtpHallGateway;
  floorMedia: FloorMedia;
  stopLinkEvents: () => void;
  feed: FeedDesk;
  papers: PaperDesk;
}

/** One conference at work: create() builds every part, close() takes them down in reverse. */
export class Conference extends EventEmitter<ConferenceEvents> {
  readonly conferenceId: string;
  readonly plan: ConferencePlan;
  readonly chairBridgeId: string;
  readonly clock: Clock;
  /** The conference's media: routers on every worker, the halls' peers. */
  readonly media: MediaSession;
  /** Rules and durable state. */
  readonly runner: ConferenceRunner;
  readonly tokens: AccessTokens;
  /** The link health of every bridge, for the technicians. */
  readonly health: HealthMonitor;
  /** The hardware (RTP) halls of the plan. */
  readonly rtpHalls: RtpHallGateway;
  /** The press feed and the archive recordings. */
  readonly feed: FeedDesk;
  /** Every principal's request budgets (rate-limit.ts), on the conference's clock. */
  readonly limits: RequestLimits;
  /** The papers (tham luận): uploads, checks, files. */
  readonly papers: PaperDesk;
  readonly #presence: HallPresence;
  readonly #floorMedia: FloorMedia;
  readonly #stopLinkEvents: () => void;
  #closing: Promise<void> | undefined;

  private constructor(options: ConferenceOptions, clock: Clock, parts: ConferenceParts) {
    super();
    this.conferenceId = options.conferenceId;
    this.plan = options.plan;
    this.clock = clock;
    this.media = parts.media;
    this.runner = parts.runner;
    this.chairBridgeId = parts.runner.state.config.chairBridgeId;
    this.tokens = parts.tokens;
    this.health = parts.health;
    this.rtpHalls = parts.rtpHalls;
    this.feed = parts.feed;
    this.papers = parts.papers;
    this.#presence = parts.presence;
    this.#floorMedia = parts.floorMedia;
    this.#stopLinkEvents = parts.stopLinkEvents;
    this.limits = new RequestLimits(clock);
    this.runner.on('event', (event, meta) => this.emit('event', event, meta));
    this.runner.on('state', () => this.emit('changed'));
  }

  /**
   * Opens the media session, loads (or creates) the conference, issues missing tokens, sets up
   * the hardware halls, puts the media where the state says, and starts the feed. A part that
   * fails closes the ones already made.
   */
  static async create(options: ConferenceOptions): Promise<Conference> {
    const clock = options.clock ?? new SystemClock();
    const { conferenceId, plan, stores, log } = options;
    const problem = (message: string, error: unknown): void => log.warn({ err: error === undefined ? undefined : String((error as Error)?.message ?? error) }, message);
    const undo: (() => unknown)[] = [];
    try {
      const media = await MediaSession.create(options.pool, {
        conferenceId,
        chairBridgeId: planToCore(plan).chairBridgeId,
        bridgeIds: plan.bridges.map((b) => b.id),
        offerH264: plan.bridges.some((b) => rtpEndpointOf(b)?.videoCodec === 'H264'),
      });
      undo.push(() => media.close());
      media.on('warning', (w) => log.warn(w, 'media warning'));
      media.on('medialost', (e) => log.error(e, 'bridges lost their media (worker died)'));
      media.on('mediarebuilt', (e) => log.warn(e, 'media rebuilt on replaced worker'));

      const runner = await ConferenceRunner.create({ conferenceId, plan, store: stores.conferences, clock });
      undo.push(() => runner.close());
      const tokens = await AccessTokens.create({ conferenceId, bridges: plan.bridges, store: stores.tokens, now: () => clock.now() });

      const deviceBridges = new Set(plan.bridges.filter((b) => b.kind === 'rtp').map((b) => b.id));
      const presence = HallPresence.start({
        conferenceId,
        store: stores.presence,
        clock,
        deviceBridges,
        onlineInState: () => Object.entries(runner.state.presence).flatMap(([id, p]) => (p.online ? [id] : [])),
        report: (bridgeId, online) => systemCommand(runner, online ? 'bridge_connected' : 'bridge_disconnected', bridgeId, problem),
        problem,
        graceMs: options.presenceGraceMs,
      });
      undo.push(() => presence.close());

      const health = new HealthMonitor({
        bridgeIds: plan.bridges.map((b) => b.id),
        media: () => media,
        online: (bridgeId) => presenceOf(runner.state, bridgeId).online,
        presenceFromMedia: (bridgeId) => !deviceBridges.has(bridgeId),
        intervalMs: options.healthIntervalMs,
        clock,
      });
      undo.push(() => health.close());

      const listen = options.rtpListenInfo ?? { ip: '127.0.0.1' };
      const rtpHalls = await RtpHallGateway.create({
        media,
        plan,
        listenIp: listen.ip,
        announcedIp: listen.announcedIp,
        portRange: listen.portRange,
        presence: (bridgeId, online) => (online ? presence.connected(bridgeId, 'device') : presence.disconnected(bridgeId, 'device')),
        clock,
      });
      undo.push(() => rtpHalls.close());
      rtpHalls.on('problem', problem);

      const stopLinkEvents = recordLinkEvents({ runner, media, rtpHalls, health, clock });
      undo.push(stopLinkEvents);
      health.start();
      const floorMedia = await FloorMedia.start(runner, media, problem);
      undo.push(() => floorMedia.close());

      const chairBridgeId = runner.state.config.chairBridgeId;
      const feed = new FeedDesk({ conferenceId, plan, chairBridgeId, runner, media }, { ...options.feed, clock });
      feed.on('problem', problem);
      undo.push(() => feed.close());
      const papers = new PaperDesk({ conferenceId, dataDir: options.papers.dataDir, runner, checkLimits: options.papers.checkLimits, clock });
      return new Conference(options, clock, { media, runner, tokens, health, presence, rtpHalls, floorMedia, stopLinkEvents, feed, papers });
    } catch (error) {
      for (const fn of undo.reverse()) await fn();
      throw error;
    }
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** This server instance, in the shared roll-call leases. */
  get instanceId(): string {
    return this.#presence.instanceId;
  }

  /** The bridge on air now. */
  get onAir(): string {
    return this.#floorMedia.onAir;
  }

  /** Who holds this token, or null. */
  async authenticate(token: unknown): Promise<Principal | null> {
    if (this.closed) return null;
    return (await this.tokens.resolve(token)) as Principal | null;
  }

  /** Why a token is refused (revoked or invalid), for a page to say so. */
  refusal(token: unknown): Promise<'token_revoked' | 'token_invalid'> {
    return this.tokens.refusal(token);
  }

    /**
   * Runs a person's command with the actor taken from their token. Floor requests also come out
   * of a budget per hall (the transport has taken the command from the principal's budget).
   */
  async execute(principal: Principal, command: ClientCommand): Promise<ExecuteResult | RateRefusal> {
    if (command.type === 'request_floor') {
      // Keyed by who asks, so that a refused request for someone else's hall cannot use up its budget.
      const refusal = this.limits.take('floor_request', principal.role === 'operator' ? principalKey(principal) : `${principal.role}:${command.bridgeId}`);
      if (refusal) return refusal;
    }
    const actor = principal.role === 'operator' ? { role: principal.role, bridgeId: principal.bridgeId } : { role: principal.role };
    return this.runner.execute({ ...command, actor } as Parameters<ConferenceRunner['execute']>[0]);
  }

  /** The conference as this principal's display shows it. */
  view(principal: Principal): ConferenceView {
    return buildView(this.conferenceId, this.plan, this.runner.state, principal, this.clock.now(), this.onAir);
  }

  /** The views of this moment for many displays at once (what they share is computed once). */
  views(): (principal: Principal) => ConferenceView {
    return viewBuilder(this.conferenceId, this.plan, this.runner.state, this.clock.now(), this.onAir);
  }

  /**
   * A socket of this bridge connected (roll-call: online from its first socket on any instance).
   * A hardware hall is online while its device's media arrives; its operator panel's sockets do not count.
   */
  bridgeConnected(bridgeId: string, via: PresenceVia = 'socket'): Promise<void> {
    return this.#presence.connected(bridgeId, via);
  }

  /** A socket of this bridge went away: offline when its last socket on every instance has gone. */
  bridgeDisconnected(bridgeId: string, via: PresenceVia = 'socket'): Promise<void> {
    return this.#presence.disconnected(bridgeId, via);
  }

  /**
   * Stops roll-call updates from this process: an orderly shutdown disconnects every socket, and
   * that is not the halls dropping off (the speaker keeps the floor through a restart).
   */
  quiesce(): void {
    this.#presence.quiesce();
  }

  /**
   * Takes every part down in reverse order of create(): presence, the papers, the feed (a recording in
   * progress is finished), the floor's hold on the media, the hardware halls, the health
   * monitor, the runner, the media session. The stores and the workers belong to the caller.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#presence.close();
    this.papers.close();
    await this.feed.close();
    this.#floorMedia.close();
    this.#stopLinkEvents();
    this.rtpHalls.close();
    this.health.close();
    await this.runner.close();
    await this.tokens.close();
    this.media.close();
    this.removeAllListeners();
  }
}

/** Runs a command of the application itself (roll-call); a refusal other than a closed runner is a problem to log. */
async function systemCommand(runner: ConferenceRunner, type: 'bridge_connected' | 'bridge_disconnected', bridgeId: string, problem: (message: string, error: unknown) => void): Promise<void> {
  const result = await runner.execute({ type, actor: SYSTEM_ACTOR, bridgeId });
  if (!result.ok && result.error.code !== 'closed') problem(`${type} refused`, result.error);
}
