// One conference at work in this process: the aggregate the server creates and closes in one
// place. It owns the runner (rules and durable state), the access tokens, the link health, and the
// small pieces that tie them together: the halls' presence across instances, the floor-request
// rate limit, the link events, where each page's media goes (placement on media nodes), and the
// watch that ends a screen share whose picture is gone. In the `both` role it also opens the
// conference's media on this process's media node (the session, the routing that follows the
// state, the hardware halls and the feed: see media-node/ConferenceMedia.ts); a control-only
// instance has none (issue 13).
// Transport handlers see only this object.
import { EventEmitter } from 'node:events';
import { SfuError, type MediaSession } from '../../sfu/index.ts';
import { onAirOf, presenceOf, SYSTEM_ACTOR, SystemClock, type Clock, type ConferenceEvent, type ConferenceState, type PresenceChange } from '../core/conference/index.ts';
import type { ClientCommand, ConferenceView, Principal } from '../protocol/control.ts';
import type { ConferencePlan } from '../protocol/plan.ts';
import type { NodeRegistry, Stores } from '../store/index.ts';
import { ConferenceRunner, type EventMeta, type ExecuteResult } from './conference/ConferenceRunner.ts';
import { HallPresence, type PresenceVia } from './conference/presence.ts';
import { RegistryScreenTracks, ScreenSourceWatch, sessionScreenTracks, type ScreenTracks } from './conference/ScreenSourceWatch.ts';
import { AccessTokens } from './conference/tokens.ts';
import type { FeedDesk } from './feed/FeedDesk.ts';
import { PaperDesk } from './papers/PaperDesk.ts';
import type { PdfCheckLimits } from './papers/PdfChecker.ts';
import type { PressFeedTarget } from './feed/FeedOutput.ts';
import { HealthMonitor } from './HealthMonitor.ts';
import { ClusterPlacement } from './placement/ClusterPlacement.ts';
import { LocalPlacement, type MediaPlacement } from './placement/MediaPlacement.ts';
import { recordLinkEvents } from './link-events.ts';
import { LinkSampleFeed, SessionSignals, type LinkCounterSource, type HallSignals } from './LinkSampleFeed.ts';
import type { ConferenceMedia } from './media-node/ConferenceMedia.ts';
import type { MediaNode } from './media-node/MediaNode.ts';
import { principalKey, RequestLimits, type RateRefusal } from './rate-limit.ts';
import type { RtpHallGateway } from './rtp-halls/RtpHallGateway.ts';
import { buildView, viewBuilder, viewParts, type ViewParts } from './view.ts';

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
  /** This process's media node (the `both` role): the conference's media opens on it. Absent on a control-only instance. */
  mediaNode?: MediaNode;
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
  /** The press feed and the recordings (run with this process's media). */
  feed: { pressFeed?: PressFeedTarget; recordingsDir: string; preset?: string; dataDir?: string };
  /**
   * The registry of media nodes the deployment shares: pages' media is placed on its live nodes.
   * Absent: this process's own media is the only node (every page opens it where it reached us).
   */
  nodes?: NodeRegistry;
  /** The papers (tham luận): where their files are kept, the checker's limits. */
  papers: { dataDir: string; checkLimits?: Partial<PdfCheckLimits> };
}

/** The parts a conference is made of, each built by create(). */
interface ConferenceParts {
  local: ConferenceMedia | undefined;
  runner: ConferenceRunner;
  tokens: AccessTokens;
  health: HealthMonitor;
  presence: HallPresence;
  stopLinkEvents: () => void;
  /** The weak links and levels, and the link counters where they come from the nodes (closed with the conference). */
  signals: HallSignals & { close(): unknown };
  placement: MediaPlacement;
  papers: PaperDesk;
  screenWatch: ScreenSourceWatch | undefined;
}

/** One conference at work: create() builds every part, close() takes them down in reverse. */
export class Conference extends EventEmitter<ConferenceEvents> {
  readonly conferenceId: string;
  readonly plan: ConferencePlan;
  readonly chairBridgeId: string;
  readonly clock: Clock;
  /** The conference's media in this process (the `both` role), or undefined on a control-only instance. */
  readonly local: ConferenceMedia | undefined;
  /** Rules and durable state. */
  readonly runner: ConferenceRunner;
  readonly tokens: AccessTokens;
  /** The link health of every bridge, for the technicians. */
  readonly health: HealthMonitor;
  /** Where each page's media goes. */
  readonly placement: MediaPlacement;
  /** Every principal's request budgets (rate-limit.ts), on the conference's clock. */
  readonly limits: RequestLimits;
  /** The papers (tham luận): uploads, checks, files. */
  readonly papers: PaperDesk;
  readonly #presence: HallPresence;
  readonly #stopLinkEvents: () => void;
  readonly #signals: HallSignals & { close(): unknown };
  /** Which halls' links carry no video and who is heard, wherever their media is (the pages are told from it). */
  get signals(): HallSignals {
    return this.#signals;
  }
  /** Ends a share whose picture is gone (undefined where this process cannot see every node's screen tracks). */
  readonly screenWatch: ScreenSourceWatch | undefined;
  #parts: ViewParts | undefined;
  #closing: Promise<void> | undefined;

  private constructor(options: ConferenceOptions, clock: Clock, parts: ConferenceParts) {
    super();
    this.conferenceId = options.conferenceId;
    this.plan = options.plan;
    this.clock = clock;
    this.local = parts.local;
    this.runner = parts.runner;
    this.chairBridgeId = parts.runner.state.config.chairBridgeId;
    this.tokens = parts.tokens;
    this.health = parts.health;
    this.placement = parts.placement;
    this.papers = parts.papers;
    this.#presence = parts.presence;
    this.#stopLinkEvents = parts.stopLinkEvents;
    this.#signals = parts.signals;
    this.screenWatch = parts.screenWatch;
    this.limits = new RequestLimits(clock);
    this.runner.on('event', (event, meta) => this.emit('event', event, meta));
    this.runner.on('state', () => this.emit('changed'));
  }

  /**
   * Loads (or creates) the conference, issues missing tokens, opens its media on this process's
   * media node (where the state says, with the hardware halls and the feed), and starts the link
   * health. A part that fails closes the ones already made.
   */
  static async create(options: ConferenceOptions): Promise<Conference> {
    const clock = options.clock ?? new SystemClock();
    const { conferenceId, plan, stores, log } = options;
    const problem = (message: string, error: unknown): void => log.warn({ err: error === undefined ? undefined : String((error as Error)?.message ?? error) }, message);
    const undo: (() => unknown)[] = [];
    try {
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
        knownInState: (bridgeId) => bridgeIdsOf(runner.state).has(bridgeId),
        report: (changes) => reportPresence(runner, changes, problem),
        problem,
        graceMs: options.presenceGraceMs,
      });
      undo.push(() => presence.close());

      // The media follows the state the runner keeps (the process's own view of the store).
      const listen = options.rtpListenInfo ?? { ip: '127.0.0.1' };
      const local = await options.mediaNode?.openConference({
        conferenceId,
        plan,
        state: runner,
        feed: options.feed,
        rtpHalls: { listenIp: listen.ip, announcedIp: listen.announcedIp, portRange: listen.portRange, presence: (bridgeId, online) => (online ? presence.connected(bridgeId, 'device') : presence.disconnected(bridgeId, 'device')) },
      });
      if (local) undo.push(() => local.close());

      // Link counters, weak links and levels: this process's session when it carries every hall (memory),
      // else what the media nodes publish on redis (this process's own media among them).
      let links: LinkCounterSource;
      let signals: HallSignals & { close(): unknown };
      if (local && stores.kind === 'memory') {
        links = local.session;
        const own = new SessionSignals(local.session);
        undo.push(() => own.close());
        signals = own;
      } else {
        const feed = await LinkSampleFeed.start(stores.links, conferenceId, { clock, bridgeIds: plan.bridges.map((b) => b.id), nodes: options.nodes, problem });
        undo.push(() => feed.close());
        links = feed;
        signals = feed;
      }

      // Staff and press consoles count as connected (they are few; their moves are paced like a hall's).
      const halls = new Set(plan.bridges.map((b) => b.id));
      const placement: MediaPlacement = options.nodes
        ? await ClusterPlacement.start({
            conferenceId,
            plan,
            nodes: options.nodes,
            store: stores.placements,
            clock,
            online: (peerKey) => !halls.has(peerKey) || presenceOf(runner.state, peerKey).online,
            problem,
          })
        : new LocalPlacement(() => {
            const pool = options.mediaNode?.pool;
            const peers = local?.session.peerIds().length ?? 0;
            const placedOnWorkers = pool ? pool.slots.reduce((sum, s) => sum + s.load, 0) : 0;
            return { peers, consumers: Math.max(0, placedOnWorkers - peers), workers: pool?.size ?? 0 };
          });
      undo.push(() => placement.close());

      const health = new HealthMonitor({
        bridgeIds: plan.bridges.map((b) => b.id),
        links: () => links,
        audioOnlyOf: (bridgeId) => signals.audioOnlyOf(bridgeId),
        online: (bridgeId) => presenceOf(runner.state, bridgeId).online,
        joined: (bridgeId) => presenceOf(runner.state, bridgeId).sessions.length > 0,
        // A device's picture that reaches nobody (the hardware halls run with this process's media).
        problem: (bridgeId) => (deviceBridges.has(bridgeId) && local?.rtpHalls ? local.rtpHalls.status(bridgeId).videoProblem : null),
        presenceFromMedia: (bridgeId) => !deviceBridges.has(bridgeId),
        intervalMs: options.healthIntervalMs,
        clock,
      });
      undo.push(() => health.close());
      const stopLinkEvents = recordLinkEvents({ runner, media: local?.session, rtpHalls: local?.rtpHalls, health, clock });
      undo.push(stopLinkEvents);
      health.start();
      // The shared screen's picture: the media nodes' track registry where pages' media is placed on
      // nodes, else this process's own media when it is the only one (not several processes on one
      // redis without nodes: each one's media is its own, and another's share would look lost here).
      let screens: ScreenTracks | undefined;
      if (options.nodes) {
        screens = await RegistryScreenTracks.start({ conferenceId, tracks: stores.tracks, nodes: options.nodes, problem });
      } else if (local && stores.kind !== 'redis') {
        screens = sessionScreenTracks(local.session);
      }
      // The watch owns the tracks it reads (its close closes them).
      const screenWatch = screens && ScreenSourceWatch.start({ runner, tracks: screens, clock, problem });
      if (screenWatch) undo.push(() => screenWatch.close());
      const papers = new PaperDesk({ conferenceId, dataDir: options.papers.dataDir, runner, checkLimits: options.papers.checkLimits, clock });
      return new Conference(options, clock, { local, runner, tokens, health, presence, stopLinkEvents, signals, placement, papers, screenWatch });
    } catch (error) {
      for (const fn of undo.reverse()) await fn();
      throw error;
    }
  }

  /** The conference's media session in this process; throws `invalid_state` on a control-only instance. */
  get media(): MediaSession {
    return this.#local('media').session;
  }

  /** The hardware (RTP) halls of the plan (they run with this process's media). */
  get rtpHalls(): RtpHallGateway {
    return this.#local('hardware halls').rtpHalls!;
  }

  /** The press feed and the archive recordings (they run with this process's media). */
  get feed(): FeedDesk {
    return this.#local('feed').feed!;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** This server instance, in the shared roll-call leases. */
  get instanceId(): string {
    return this.#presence.instanceId;
  }

  /** The bridge on air now, by the state (the floor holder, or the chair). */
  get onAir(): string {
    return onAirOf(this.runner.state);
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
   * of a budget per hall, messages of a budget per sender (the transport has taken the command from the principal's budget).
   */
  async execute(principal: Principal, command: ClientCommand): Promise<ExecuteResult | RateRefusal> {
    if (command.type === 'request_floor') {
      // Keyed by who asks, so that a refused request for someone else's hall cannot use up its budget.
      const refusal = this.limits.take('floor_request', principal.role === 'operator' ? principalKey(principal) : `${principal.role}:${command.bridgeId}`);
      if (refusal) return refusal;
    }
    if (command.type === 'send_message') {
      const refusal = this.limits.take('message', principalKey(principal));
      if (refusal) return refusal;
    }
    const actor = principal.role === 'operator' ? { role: principal.role, bridgeId: principal.bridgeId } : { role: principal.role };
    return this.runner.execute({ ...command, actor } as Parameters<ConferenceRunner['execute']>[0]);
  }

  /** The conference as this principal's display shows it. */
  view(principal: Principal): ConferenceView {
    return buildView(this.conferenceId, this.plan, this.runner.state, principal, this.clock.now(), this.onAir, this.#viewParts());
  }

  /** The views of this moment for many displays at once (what they share is computed once). */
  views(): (principal: Principal) => ConferenceView {
    return viewBuilder(this.conferenceId, this.plan, this.runner.state, this.clock.now(), this.onAir, this.#viewParts());
  }

  // The time-free parts of the views, once per state: in a join storm every hall's first view
  // would otherwise summarise the roll-call of every hall again (O(halls) per connect).
  #viewParts(): ViewParts {
    const state = this.runner.state as ConferenceState;
    if (this.#parts?.state !== state) this.#parts = viewParts(this.plan, state);
    return this.#parts;
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
   * Takes every part down in reverse order of create(): the screen watch, presence, the papers,
   * placement, the link events, the health monitor, this process's media of the conference (the
   * feed first: a recording in progress is finished), the runner. The stores, the media node and the workers
   * belong to the caller.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    await this.screenWatch?.close();
    this.#presence.close();
    this.papers.close();
    await this.placement.close();
    this.#stopLinkEvents();
    this.health.close();
    await this.#signals.close();
    await this.local?.close();
    await this.runner.close();
    await this.tokens.close();
    this.removeAllListeners();
  }

  #local(what: string): ConferenceMedia {
    if (!this.local) throw new SfuError('invalid_state', `no ${what} on a control-only instance`);
    return this.local;
  }
}

/**
 * Tells the state that halls came online or went offline, in one command however many they are
 * (a join storm: one state write per flush, not one per hall). Halls the stored conference does
 * not have (its configuration predates the plan) are left out and logged; a refusal other than a
 * closed runner is a problem to log.
 */
async function reportPresence(runner: ConferenceRunner, changes: readonly PresenceChange[], problem: (message: string, error: unknown) => void): Promise<void> {
  const known = bridgeIdsOf(runner.state);
  const unknown = changes.filter((c) => !known.has(c.bridgeId));
  if (unknown.length > 0) problem('presence of bridges the conference does not have', `[bridgeIds:${unknown.slice(0, 5).map((c) => c.bridgeId).join(',')}${unknown.length > 5 ? ',…' : ''}]`);
  const kept = unknown.length > 0 ? changes.filter((c) => known.has(c.bridgeId)) : changes;
  if (kept.length === 0) return;
  const result = await runner.execute({ type: 'presence_update', actor: SYSTEM_ACTOR, changes: kept });
  if (!result.ok && result.error.code !== 'closed') problem('presence_update refused', result.error);
}

// The halls of a state's configuration, once per configuration (states share it until a reload).
const bridgeIds = new WeakMap<object, ReadonlySet<string>>();
function bridgeIdsOf(state: Readonly<ConferenceState>): ReadonlySet<string> {
  let ids = bridgeIds.get(state.config);
  if (!ids) bridgeIds.set(state.config, (ids = new Set(state.config.bridges.map((b) => b.id))));
  return ids;
}
