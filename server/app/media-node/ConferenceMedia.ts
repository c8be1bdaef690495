// One conference's media on one media node: the MediaSession (routers on the node's workers, the
// halls' peers), the routing that follows the conference's state, and, where this node runs them,
// the feed (press feed and recordings) and the hardware (RTP) halls. On a node of several (redis)
// it also writes its halls' tracks in the registry and reads the others' (TrackSync) and pipes
// tracks to and from other nodes (the session's Cascade, over the node channel); on redis it
// publishes its halls' link samples for the control plane.
import { MediaSession, type CascadeChannel, type WorkerPool } from '../../../sfu/index.ts';
import type { Clock } from '../../core/conference/index.ts';
import { rtpEndpointOf, type ConferencePlan } from '../../protocol/plan.ts';
import type { LinkChannel, TrackRegistry } from '../../store/index.ts';
import type { ConferenceStateSource } from '../conference/ConferenceFollower.ts';
import { planToCore } from '../conference/plan-to-core.ts';
import { FeedDesk } from '../feed/FeedDesk.ts';
import type { PressFeedTarget } from '../feed/FeedOutput.ts';
import { RtpHallGateway } from '../rtp-halls/RtpHallGateway.ts';
import { publishLinkSamples } from './link-samples.ts';
import { RoutingFollower } from './RoutingFollower.ts';
import { TrackSync } from './TrackSync.ts';

/** Where the media reports what went wrong with no caller to tell (pino's signature). */
export interface MediaLog {
  warn(data: object, message: string): void;
  error(data: object, message: string): void;
}

/** What a node of several gives each of its conferences. */
export interface ConferenceCluster {
  nodeId: string;
  tracks: TrackRegistry;
  /** The node channel, as this conference uses it. */
  channel: CascadeChannel;
  isLive: (nodeId: string) => boolean;
  /** How long an unused incoming pipe stays (10 s). */
  pipeLingerMs?: number;
}

/** Options of ConferenceMedia.create. */
export interface ConferenceMediaOptions {
  conferenceId: string;
  plan: ConferencePlan;
  pool: WorkerPool;
  /** The conference's state (the runner in the `both` role, a follower of the store on a media node). */
  state: ConferenceStateSource;
  log: MediaLog;
  clock: Clock;
  /** Absent on a node alone (the embedded default). */
  cluster?: ConferenceCluster;
  /** Where the node publishes its halls' link samples for the control plane (any deployment on redis). */
  links?: { nodeId: string; channel: LinkChannel; intervalMs?: number };
  /** The press feed and the recordings, on the node that runs them. */
  feed?: { pressFeed?: PressFeedTarget; recordingsDir: string; preset?: string; dataDir?: string };
  /** The hardware halls of the plan, on the node that runs them (the `both` role). */
  rtpHalls?: {
    listenIp: string;
    announcedIp?: string;
    portRange?: { min: number; max: number };
    /** Roll-call: a device's media started (true) or stopped arriving. */
    presence: (bridgeId: string, online: boolean) => Promise<void> | void;
  };
  /** Called once the conference's media is closed. */
  onClosed?: () => void;
}

/** One conference on this media node. */
export class ConferenceMedia {
  readonly conferenceId: string;
  readonly session: MediaSession;
  readonly feed: FeedDesk | undefined;
  readonly rtpHalls: RtpHallGateway | undefined;
  readonly #sync: TrackSync | undefined;
  readonly #undo: (() => unknown)[];
  #closing: Promise<void> | undefined;

  private constructor(conferenceId: string, session: MediaSession, parts: { feed?: FeedDesk; rtpHalls?: RtpHallGateway; sync?: TrackSync }, undo: (() => unknown)[]) {
    this.conferenceId = conferenceId;
    this.session = session;
    this.feed = parts.feed;
    this.rtpHalls = parts.rtpHalls;
    this.#sync = parts.sync;
    this.#undo = undo;
  }

  /** Opens the session and every part; a part that fails closes the ones already made. */
  static async create(o: ConferenceMediaOptions): Promise<ConferenceMedia> {
    const { conferenceId, plan, log } = o;
    const problem = (message: string, error: unknown): void => log.warn({ err: error === undefined ? undefined : String((error as Error)?.message ?? error) }, message);
    const undo: (() => unknown)[] = [];
    try {
      const chairBridgeId = planToCore(plan).chairBridgeId;
      const session = await MediaSession.create(o.pool, {
        conferenceId,
        chairBridgeId,
        bridgeIds: plan.bridges.map((b) => b.id),
        offerH264: plan.bridges.some((b) => rtpEndpointOf(b)?.videoCodec === 'H264'),
        cascade: o.cluster ? { channel: o.cluster.channel, lingerMs: o.cluster.pipeLingerMs, isLive: o.cluster.isLive } : undefined,
      });
      undo.push(() => session.close());
      session.on('warning', (w) => log.warn(w, 'media warning'));
      session.on('medialost', (e) => log.error(e, 'bridges lost their media (worker died)'));
      session.on('mediarebuilt', (e) => log.warn(e, 'media rebuilt on replaced worker'));

      let sync: TrackSync | undefined;
      if (o.cluster) {
        const c = o.cluster;
        const started = await TrackSync.start({ conferenceId, nodeId: c.nodeId, session, tracks: c.tracks, isLive: c.isLive, problem });
        undo.push(() => started.close());
        sync = started;
      }
      if (o.links) {
        const l = o.links;
        undo.push(publishLinkSamples({ conferenceId, nodeId: l.nodeId, session, bridgeIds: plan.bridges.map((b) => b.id), links: l.channel, clock: o.clock, intervalMs: l.intervalMs, problem }));
      }

      let rtpHalls: RtpHallGateway | undefined;
      if (o.rtpHalls) {
        const r = o.rtpHalls;
        rtpHalls = await RtpHallGateway.create({ media: session, plan, listenIp: r.listenIp, announcedIp: r.announcedIp, portRange: r.portRange, presence: r.presence, clock: o.clock });
        undo.push(() => rtpHalls!.close());
        rtpHalls.on('problem', problem);
      }

      const routing = await RoutingFollower.start(o.state, session, problem);
      undo.push(() => routing.close());

      let feed: FeedDesk | undefined;
      if (o.feed) {
        feed = new FeedDesk({ conferenceId, plan, chairBridgeId, runner: o.state, media: session }, { ...o.feed, clock: o.clock });
        feed.on('problem', problem);
        const desk = feed;
        undo.push(() => desk.close());
      }
      if (o.onClosed) undo.unshift(o.onClosed);
      return new ConferenceMedia(conferenceId, session, { feed, rtpHalls, sync }, undo);
    } catch (error) {
      for (const fn of undo.reverse()) await fn();
      throw error;
    }
  }

  /** The set of live nodes changed: the tracks of the others are read again. */
  nodesChanged(): void {
    void this.#sync?.reload();
  }

  /**
   * Takes every part down in reverse order: the feed (a recording in progress is finished), the
   * routing, the hardware halls, the link samples, the registry's tracks, the session. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const fn of [...this.#undo].reverse()) await fn();
    })();
    return this.#closing;
  }
}
