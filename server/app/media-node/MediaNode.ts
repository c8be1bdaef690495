// A media node (an "SFU node", issue 13): the worker pool's conferences (one ConferenceMedia
// each), and when it is one of several (redis, a node secret) its lease in the registry, its view
// of the other live nodes, the node channel to them (signed HTTP) and the node API they call.
// What it never does: take instructions from a hall beyond the media signaling, or from a control
// instance at all: it follows the conference's state in the store.
import { randomBytes } from 'node:crypto';
import type { Response } from 'express';
import { z } from 'zod';
import { NodeStats, PipeReply, type Labels, type MediaNodeRecord, type PipeRequest, type UnpipeRequest } from '../../protocol/cluster.ts';
import { SfuError, type CascadeChannel, type WorkerPool } from '../../../sfu/index.ts';
import type { types as ms } from 'mediasoup';
import type { Clock } from '../../core/conference/index.ts';
import type { Principal } from '../../protocol/control.ts';
import type { NodeWatch, Stores } from '../../store/index.ts';
import { peerKeyOf } from '../placement/MediaPlacement.ts';
import { ConferenceMedia, type ConferenceMediaOptions, type MediaLog } from './ConferenceMedia.ts';
import { NodeApiError } from './node-auth.ts';
import { nodeApiRouter, type NodeApiHost } from './node-api.ts';
import { NodeClient } from './NodeClient.ts';
import { NodeLease } from './NodeLease.ts';
import { LIFELINE_HEARTBEAT_MS } from '../../core/node-death.ts';

/** How a node of several announces itself and signs what it sends. */
export interface MediaNodeCluster {
  secret: string;
  /** Where browsers open this node's /media. */
  mediaUrl: string;
  /** Where other nodes reach this node's API. */
  nodeApiUrl: string;
  /** The address other nodes send pipe RTP to. */
  announcedIp: string;
  labels: Labels;
  /** Peers the node takes at most. */
  capacity: number;
  leaseMs?: number;
  renewMs?: number;
  pipeLingerMs?: number;
  linkIntervalMs?: number;
}

/** Options of MediaNode.create. */
export interface MediaNodeOptions {
  nodeId: string;
  pool: WorkerPool;
  stores: Stores;
  log: MediaLog & { info(data: object, message: string): void };
  clock: Clock;
  /** Absent: this node is alone (the embedded default); no lease, no node API, no pipes to other nodes. */
  cluster?: MediaNodeCluster;
}

/** Where a refused peer should go instead. */
export interface WrongNode {
  code: 'wrong_node';
  nodeId: string;
  /** The node's /media URL, or null when it is not live. */
  mediaUrl: string | null;
}

/** Lifelines a node holds at most (one per control instance; past it a lifeline gets its first line and is closed). */
export const MAX_LIFELINES = 64;

/** A media node at work. */
export class MediaNode implements NodeApiHost {
  readonly nodeId: string;
  /** This run of the node (its lease record carries it; a restart is another incarnation). */
  readonly incarnation = randomBytes(12).toString('base64url');
  readonly pool: WorkerPool;
  readonly #o: MediaNodeOptions;
  /** The control instances' lifelines held open (GET /node/v1/alive). */
  readonly #lifelines = new Set<Response>();
  #heartbeat: NodeJS.Timeout | undefined;
  readonly #conferences = new Map<string, ConferenceMedia>();
  /** The live nodes, this one included, as the registry last said. */
  #live = new Map<string, MediaNodeRecord>();
  #refreshedAt = 0;
  #refreshing: Promise<void> | undefined;
  #watch: NodeWatch | undefined;
  #lease: NodeLease | undefined;
  readonly #client: NodeClient | undefined;
  #closing: Promise<void> | undefined;
  /** The lifelines were ended (endLifelines): none is held again. */
  #lifelinesEnded = false;

  private constructor(options: MediaNodeOptions) {
    this.nodeId = options.nodeId;
    this.pool = options.pool;
    this.#o = options;
    const cluster = options.cluster;
    this.#client = cluster && new NodeClient({ nodeId: options.nodeId, secret: cluster.secret, locate: (id) => this.#live.get(id), now: () => options.clock.now() });
  }

  /** Starts the node: with a cluster, watches the registry and announces its lease. */
  static async create(options: MediaNodeOptions): Promise<MediaNode> {
    const node = new MediaNode(options);
    const cluster = options.cluster;
    if (!cluster) return node;
    try {
      node.#watch = await options.stores.nodes.watchNodes((change) => {
        if (change.kind === 'up') {
          const isNew = !node.#live.has(change.node.nodeId);
          node.#live.set(change.node.nodeId, change.node);
          if (isNew) for (const c of node.#conferences.values()) c.nodesChanged();
        } else if (node.#live.delete(change.nodeId)) node.#nodeDown(change.nodeId);
      });
      await node.#refresh();
      node.#lease = await NodeLease.start({
        registry: options.stores.nodes,
        record: { nodeId: options.nodeId, incarnation: node.incarnation, mediaUrl: cluster.mediaUrl, nodeApiUrl: cluster.nodeApiUrl, announcedIp: cluster.announcedIp, capacity: cluster.capacity, labels: cluster.labels, draining: false },
        pool: options.pool,
        counts: () => node.#counts(),
        clock: options.clock,
        leaseMs: cluster.leaseMs,
        renewMs: cluster.renewMs,
        problem: (message, error) => options.log.warn({ err: String((error as Error)?.message ?? error) }, message),
      });
      await node.#refresh();
    } catch (error) {
      await node.close();
      throw error;
    }
    options.log.info({ nodeId: options.nodeId, mediaUrl: cluster.mediaUrl, nodeApiUrl: cluster.nodeApiUrl, labels: cluster.labels }, 'media node announced');
    return node;
  }

  /** Whether this node is one of several. */
  get clustered(): boolean {
    return this.#o.cluster !== undefined;
  }

  /** The node's labels (empty when alone). */
  get labels(): Labels {
    return this.#o.cluster?.labels ?? {};
  }

  /** The live nodes as this node sees them. */
  liveNodes(): MediaNodeRecord[] {
    return [...this.#live.values()];
  }

  /** The media of a conference on this node, if open. */
  conference(conferenceId: string): ConferenceMedia | undefined {
    return this.#conferences.get(conferenceId);
  }

  /** Opens a conference's media on this node (closed with close(), or by the node's close). */
  async openConference(options: Omit<ConferenceMediaOptions, 'pool' | 'log' | 'clock' | 'cluster' | 'links' | 'onClosed'>): Promise<ConferenceMedia> {
    if (this.#closing) throw new SfuError('session_closed', 'media node closed');
    if (this.#conferences.has(options.conferenceId)) throw new SfuError('already_exists', `conference already open [conferenceId:${options.conferenceId}]`);
    const cluster = this.#o.cluster;
    const media = await ConferenceMedia.create({
      ...options,
      pool: this.pool,
      log: this.#o.log,
      clock: this.#o.clock,
      cluster: cluster && {
        nodeId: this.nodeId,
        tracks: this.#o.stores.tracks,
        channel: this.#channel(options.conferenceId),
        isLive: (id) => this.#live.has(id),
        pipeLingerMs: cluster.pipeLingerMs,
      },
      // On redis the control plane reads link health from the samples, whether or not this node is one of several.
      links: this.#o.stores.kind === 'redis' ? { nodeId: this.nodeId, channel: this.#o.stores.links, intervalMs: cluster?.linkIntervalMs } : undefined,
      onClosed: () => this.#conferences.get(options.conferenceId) === media && this.#conferences.delete(options.conferenceId),
    });
    this.#conferences.set(options.conferenceId, media);
    return media;
  }

  /**
   * Whether a peer may use this node's media: null when it may, or where it is placed instead
   * (a hall's browser is told where its media goes by the control plane; it never guesses).
   */
  async admit(conferenceId: string, principal: Principal): Promise<WrongNode | null> {
    // A node alone takes every peer; a node of several, those the control plane did not place elsewhere.
    if (!this.#o.cluster) return null;
    const placed = (await this.#o.stores.placements.placements(conferenceId)).get(peerKeyOf(principal));
    if (!placed || placed.nodeId === this.nodeId) return null;
    return { code: 'wrong_node', nodeId: placed.nodeId, mediaUrl: this.#live.get(placed.nodeId)?.mediaUrl ?? null };
  }

  /** The node API's router (mount at /node/v1); only on a node of several. */
  apiRouter(): ReturnType<typeof nodeApiRouter> {
    const cluster = this.#o.cluster;
    if (!cluster) throw new SfuError('invalid_state', 'a node alone has no node API');
    return nodeApiRouter(this, { secret: cluster.secret, now: () => this.#o.clock.now(), log: this.#o.log });
  }

  // ---- NodeApiHost: what other nodes ask of this one ----

  async knowsNode(nodeId: string): Promise<boolean> {
    if (nodeId === this.nodeId) return false;
    if (this.#live.has(nodeId)) return true;
    // A node that has just started may not be in our view yet: read the registry (a read at a time,
    // at most twice a second; requests that miss meanwhile wait for the read in flight).
    if (!this.#refreshing && this.#o.clock.now() - this.#refreshedAt > 500) {
      this.#refreshing = this.#refresh().finally(() => (this.#refreshing = undefined));
    }
    await this.#refreshing;
    return this.#live.has(nodeId);
  }

  async pipe(requester: string, request: PipeRequest): Promise<PipeReply> {
    const session = this.#session(request.conferenceId);
    try {
      const answer = await session.servePipe(requester, { trackId: request.trackId, end: { ...request.end, srtpParameters: request.end.srtpParameters as ms.SrtpParameters } });
      return PipeReply.parse(answer);
    } catch (error) {
      if (error instanceof SfuError && error.code === 'unknown_track') throw new NodeApiError('unknown_track', 404, error.message);
      throw new NodeApiError('pipe_failed', 500, (error as Error).message);
    }
  }

  unpipe(requester: string, request: UnpipeRequest): void {
    this.#session(request.conferenceId).releasePipe(requester, request);
  }

  async stats(): Promise<NodeStats> {
    const conferences: NodeStats['conferences'] = {};
    for (const [id, c] of this.#conferences) conferences[id] = { peers: c.session.peerIds().length, pipes: await c.session.pipeStats() };
    return { nodeId: this.nodeId, conferences };
  }

  identity(): { nodeId: string; incarnation: string } | null {
    return this.#closing || this.#lifelinesEnded ? null : { nodeId: this.nodeId, incarnation: this.incarnation };
  }

  holdLifeline(res: Response): void {
    if (this.#closing || this.#lifelinesEnded || this.#lifelines.size >= MAX_LIFELINES) return void res.end();
    this.#lifelines.add(res);
    res.once('close', () => this.#lifelines.delete(res));
    this.#heartbeat ??= setInterval(() => {
      for (const r of this.#lifelines) r.write('\n');
    }, LIFELINE_HEARTBEAT_MS).unref();
  }

  /** Another node's view of its pipes (GET /node/v1/stats, signed). */
  async statsOf(nodeId: string): Promise<NodeStats> {
    if (!this.#client) throw new SfuError('invalid_state', 'a node alone has no node channel');
    return this.#client.get(nodeId, '/node/v1/stats', NodeStats);
  }

  /**
   * Ends the lifelines held open and holds no more (the probes of the control plane hear
   * 'closing'): the first step of an orderly end, before the HTTP server closes, which waits for
   * every open response (socket.io's close closes it too). Idempotent.
   */
  endLifelines(): void {
    this.#lifelinesEnded = true;
    clearInterval(this.#heartbeat);
    for (const r of this.#lifelines) r.end();
    this.#lifelines.clear();
  }

  /** Closes the conferences, withdraws the lease, stops watching; the pool stays the caller's. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      // An orderly end: the lifelines close (the lease is withdrawn below; the control plane's probe meanwhile hears 'closing').
      this.endLifelines();
      await Promise.all([...this.#conferences.values()].map((c) => c.close()));
      await this.#lease?.close();
      await this.#watch?.close();
    })();
    return this.#closing;
  }

  #session(conferenceId: string): ConferenceMedia['session'] {
    const media = this.#conferences.get(conferenceId);
    if (!media || media.session.closed) throw new NodeApiError('unknown_conference', 404, `no such conference on this node [conferenceId:${conferenceId}]`);
    return media.session;
  }

  /** The node channel as a conference's cascade uses it. */
  #channel(conferenceId: string): CascadeChannel {
    const client = this.#client!;
    return {
      pipe: async (node, request) => {
        const reply = await client.post(node, '/node/v1/pipe', { conferenceId, trackId: request.trackId, end: request.end }, PipeReply);
        return { end: { ...reply.end, srtpParameters: reply.end.srtpParameters as ms.SrtpParameters }, kind: reply.kind, rtpParameters: reply.rtpParameters as ms.RtpParameters };
      },
      unpipe: async (node, request) => {
        await client.post(node, '/node/v1/unpipe', { conferenceId, ...request }, z.object({}));
      },
    };
  }

  /** A node's lease ended (it is already out of the live view): its pipes close, its tracks are cleaned from the registry, routing follows. */
  #nodeDown(nodeId: string): void {
    this.#o.log.warn({ nodeId }, 'media node gone');
    for (const c of this.#conferences.values()) {
      c.session.forgetNode(nodeId);
      c.nodesChanged();
      void this.#o.stores.tracks.dropNodeTracks(c.conferenceId, nodeId).catch(() => undefined);
    }
  }

  async #refresh(): Promise<void> {
    this.#refreshedAt = this.#o.clock.now();
    const live = await this.#o.stores.nodes.liveNodes();
    const known = new Set(this.#live.keys());
    this.#live = new Map(live.map((n) => [n.nodeId, n]));
    if (live.some((n) => !known.has(n.nodeId))) for (const c of this.#conferences.values()) c.nodesChanged();
    for (const id of known) if (!this.#live.has(id)) this.#nodeDown(id);
  }

  #counts(): { peers: number; consumers: number; pipes: NonNullable<MediaNodeRecord['pipes']> } {
    let peers = 0;
    let consumers = 0;
    const pipes = { in: 0, out: 0, tracks: { in: 0, out: 0 } };
    for (const c of this.#conferences.values()) {
      const n = c.session.counts();
      peers += n.peers;
      consumers += n.consumers;
      const p = c.session.pipeCounts();
      pipes.in += p.in;
      pipes.out += p.out;
      pipes.tracks.in += p.tracks.in;
      pipes.tracks.out += p.tracks.out;
    }
    return { peers, consumers, pipes };
  }
}
