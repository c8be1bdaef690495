import { EventEmitter } from 'node:events';
import type { types as ms } from 'mediasoup';
import type { WorkerPool } from './WorkerPool.ts';
import { SfuError } from './errors.ts';
import { mediaCodecs, h264Codec, KEYFRAME_REQUEST_DELAY_MS, TOP_SPATIAL_LAYER } from './codecs.ts';
import { ResumeBatch } from './ResumeBatch.ts';

/** What a hall publishes: its microphone and its camera. */
export type MediaSource = 'mic' | 'cam';
/**
 * Why a peer receives a consumer: the programme video, programme audio, a thumbnail, or
 * `next`: prepared (paused) for the bridge that is expected to get the floor, so that the
 * switch only has to resume it.
 */
export type ConsumerSlot = 'program' | 'audio' | 'thumb' | 'next';
export type TransportDirection = 'send' | 'recv';

/** How a plain RTP transport (a hardware hall, an encoder, a load generator) is set up. */
export interface PlainTransportOptions {
  /** Encrypt with SRTP using this suite; plain RTP when absent. */
  srtpCryptoSuite?: ms.SrtpCryptoSuite;
  /** Learn the remote address from the first packet received (devices whose source port is unknown). */
  comedia: boolean;
}

/** What the remote end of a plain transport needs: where to send, and the keys we encrypt with. */
export interface PlainTransportInfo {
  id: string;
  ip: string;
  port: number;
  /** The suite and key this side encrypts with (the remote decrypts with them). */
  srtpParameters?: ms.SrtpParameters;
}

/** Sent to a peer when the server wants it to receive a new consumer. */
export interface ConsumeRequest {
  consumerId: string;
  producerId: string;
  kind: ms.MediaKind;
  rtpParameters: ms.RtpParameters;
  bridgeId: string;
  source: MediaSource;
  slot: ConsumerSlot;
}

/**
 * How the session talks to one peer's client. The signaling layer implements it (socket.io);
 * tests implement it in-process.
 */
export interface MediaPeerSink {
  /** Hands a (paused) consumer to the client; resolves once the client can receive it. */
  consume(request: ConsumeRequest): Promise<void>;
  consumerClosed(consumerId: string): void;
  /** A consumer changed role (a prepared `next` consumer became the programme). */
  consumerSlot(consumerId: string, slot: ConsumerSlot): void;
  /** The highest simulcast layer this hall should send (0 = low only). */
  sendLayers(maxSpatialLayer: number): void;
  /** Whether this hall's microphone is open at the server. */
  micState(open: boolean): void;
  /** The peer's transports were lost (worker died): create them and publish again. */
  restartMedia(reason: string): void;
  /** The same hall joined again from elsewhere; this peer is out. */
  replaced(): void;
}

/** How a peer takes part. */
export interface PeerOptions {
  /** The hall this peer is (publishes and receives the programme as that bridge). */
  bridgeId?: string;
  /** May publish microphone and camera (only halls). */
  publish: boolean;
  /** Receives the programme (halls; the chair's console preview). */
  receiveProgram: boolean;
  /** May ask for thumbnails of any set of halls (chair, technicians). */
  thumbnails: boolean;
  /**
   * Receives one audio stream only (a hardware hall that plays a single stream): the speaker's,
   * or the chair's when the chair or this hall has the floor. Without it a hall hears the speaker
   * and the chair as two streams.
   */
  singleAudio?: boolean;
}

/** Options of a conference's media. */
export interface MediaSessionOptions {
  conferenceId: string;
  /** The chair's (province) bridge: its audio is heard everywhere at all times. */
  chairBridgeId: string;
  /** All bridges of the conference; peers may only join as one of these. */
  bridgeIds: Iterable<string>;
  /** How long a switch waits for every hall to be ready before resuming all consumers together. */
  switchBatchMs?: number;
  /** How long a consumer waits for its client before it is resumed anyway. */
  consumeTimeoutMs?: number;
  /** Offer H264 after VP8 (a hardware hall sends H264); VP8 and Opus only by default. */
  offerH264?: boolean;
}

export type MediaSessionEvents = {
  /** The programme changed (after every hall was handed its consumers, or the batch deadline). */
  program: [{ bridgeId: string; at: number; timings: { startedAt: number; flushedAt?: number; resumed: number; deadlineHit: boolean } }];
  /** A worker carrying part of this conference died; these bridges lost their media. */
  medialost: [{ workerIndex: number; bridgeIds: string[] }];
  /** The conference has a router again on the replaced worker. */
  mediarebuilt: [{ workerIndex: number }];
  /** A bridge started or stopped publishing. */
  publishing: [{ bridgeId: string; source: MediaSource; on: boolean }];
  /** Something failed that the session worked around (logged by the app). */
  warning: [{ message: string; peerId?: string }];
  close: [];
};

interface PublishedProducer {
  producer: ms.Producer;
  workerIndex: number;
  bridgeId: string;
  source: MediaSource;
}

interface DesiredConsumer {
  key: string;
  published: PublishedProducer;
  slot: ConsumerSlot;
}

interface PeerConsumer {
  consumer: ms.Consumer;
  workerIndex: number;
  slot: ConsumerSlot;
  /** The client has set it up (acked). */
  ready: boolean;
}

/** One participant's media: a hall or a receive-only console. */
class MediaPeer {
  readonly id: string;
  readonly options: PeerOptions;
  readonly sink: MediaPeerSink;
  workerIndex: number;
  rtpCapabilities?: ms.RtpCapabilities;
  readonly transports = new Map<TransportDirection, ms.Transport>();
  readonly producers = new Map<MediaSource, PublishedProducer>();
  readonly consumers = new Map<string, PeerConsumer>();
  thumbnails: string[] = [];
  /** Serialises reconciliations of this peer's consumers. */
  chain: Promise<void> = Promise.resolve();
  closed = false;

  constructor(id: string, options: PeerOptions, sink: MediaPeerSink, workerIndex: number) {
    this.id = id;
    this.options = options;
    this.sink = sink;
    this.workerIndex = workerIndex;
  }
}

/**
 * The media of one conference: a router on every worker, the halls' transports, producers and
 * consumers, and the routing by role. Knows nothing of floors or agendas: the control plane calls
 * `setProgram(bridgeId)`.
 */
export class MediaSession extends EventEmitter<MediaSessionEvents> {
  readonly conferenceId: string;
  readonly chairBridgeId: string;
  readonly #pool: WorkerPool;
  readonly #bridgeIds: Set<string>;
  readonly #routers: (ms.Router | undefined)[] = [];
  readonly #peers = new Map<string, MediaPeer>();
  /** The publishing peer of each bridge (the newest join wins). */
  readonly #bridgePeers = new Map<string, MediaPeer>();
  /** Pipes in progress or done, keyed by producer and target worker. */
  readonly #pipes = new Map<string, Promise<void>>();
  readonly #switchBatchMs: number;
  readonly #consumeTimeoutMs: number;
  readonly #codecs: ms.RtpCodecCapability[];
  #program: string;
  /** Serialises microphone pause/resume runs. */
  #micChain: Promise<void> = Promise.resolve();
  /** The bridge expected to get the floor next, prepared at every hall. */
  #next: string | undefined;
  #closed = false;
  readonly #poolListeners: { [K in 'workerdied' | 'workerreplaced']: (e: { index: number }) => void };

  private constructor(pool: WorkerPool, options: MediaSessionOptions) {
    super();
    this.#pool = pool;
    this.conferenceId = options.conferenceId;
    this.chairBridgeId = options.chairBridgeId;
    this.#bridgeIds = new Set(options.bridgeIds);
    if (!this.#bridgeIds.has(this.chairBridgeId)) {
      throw new SfuError('unknown_bridge', `chair bridge not in conference [bridgeId:${this.chairBridgeId}]`);
    }
    this.#program = this.chairBridgeId;
    this.#switchBatchMs = options.switchBatchMs ?? 400;
    this.#consumeTimeoutMs = options.consumeTimeoutMs ?? 5000;
    this.#codecs = options.offerH264 ? [...mediaCodecs, h264Codec] : mediaCodecs;
    this.#poolListeners = {
      workerdied: ({ index }) => this.#onWorkerDied(index),
      workerreplaced: ({ index }) => void this.#onWorkerReplaced(index),
    };
  }

  /** Creates the session with a router on every worker of the pool. */
  static async create(pool: WorkerPool, options: MediaSessionOptions): Promise<MediaSession> {
    const session = new MediaSession(pool, options);
    try {
      for (const slot of pool.slots) {
        session.#routers[slot.index] = await session.#createRouter(slot.index);
      }
    } catch (error) {
      session.close();
      throw error;
    }
    pool.on('workerdied', session.#poolListeners.workerdied);
    pool.on('workerreplaced', session.#poolListeners.workerreplaced);
    return session;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The bridge whose video and audio every hall receives. */
  get program(): string {
    return this.#program;
  }

  /** The router capabilities a client loads its device with. */
  get rtpCapabilities(): ms.RtpCapabilities {
    const router = this.#routers.find((r) => r && !r.closed);
    if (!router) throw new SfuError('invalid_state', 'no live router');
    return router.rtpCapabilities;
  }

  /** Whether a bridge belongs to this conference. */
  hasBridge(bridgeId: string): boolean {
    return this.#bridgeIds.has(bridgeId);
  }

  /** Adds a peer, placed on the least loaded worker. A hall that joins again replaces its old peer. */
  join(peerId: string, options: PeerOptions, sink: MediaPeerSink): { rtpCapabilities: ms.RtpCapabilities } {
    this.#assertOpen();
    if (this.#peers.has(peerId)) throw new SfuError('already_exists', `peer already joined [peerId:${peerId}]`);
    if (options.bridgeId !== undefined && !this.#bridgeIds.has(options.bridgeId)) {
      throw new SfuError('unknown_bridge', `bridge not in conference [bridgeId:${options.bridgeId}]`);
    }
    if (options.publish && options.bridgeId === undefined) {
      throw new SfuError('not_allowed', 'only a bridge may publish');
    }
    const peer = new MediaPeer(peerId, options, sink, this.#liveWorkerIndex());
    // A peer counts as one unit of load at once, so that a burst of joins spreads over workers.
    this.#pool.addLoad(peer.workerIndex, 1);
    this.#peers.set(peerId, peer);
    if (options.bridgeId !== undefined && options.publish) {
      const previous = this.#bridgePeers.get(options.bridgeId);
      this.#bridgePeers.set(options.bridgeId, peer);
      if (previous) {
        this.leave(previous.id);
        previous.sink.replaced();
      }
    }
    return { rtpCapabilities: this.rtpCapabilities };
  }

  /** Records what the peer's browser can receive; consumers follow. */
  setRtpCapabilities(peerId: string, rtpCapabilities: ms.RtpCapabilities): void {
    const peer = this.#peer(peerId);
    peer.rtpCapabilities = rtpCapabilities;
    void this.#reconcile(peer, undefined);
  }

  /** Creates the peer's send or receive WebRTC transport on its worker. */
  async createTransport(
    peerId: string,
    direction: TransportDirection,
  ): Promise<{
    id: string;
    iceParameters: ms.IceParameters;
    iceCandidates: ms.IceCandidate[];
    dtlsParameters: ms.DtlsParameters;
  }> {
    const peer = this.#peer(peerId);
    if (direction === 'send' && !peer.options.publish) throw new SfuError('not_allowed', 'peer may not publish');
    peer.transports.get(direction)?.close();
    if (!this.#routers[peer.workerIndex]) this.#rehome(peer);
    const index = peer.workerIndex;
    const router = this.#routers[index]!;
    const transport = await router.createWebRtcTransport({
      webRtcServer: this.#pool.slot(index).webRtcServer,
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 2_500_000,
      appData: { peerId, direction, kind: 'webrtc' },
    });
    if (peer.closed) {
      transport.close();
      throw new SfuError('unknown_peer', `peer left [peerId:${peerId}]`);
    }
    peer.transports.set(direction, transport);
    transport.observer.once('close', () => {
      if (peer.transports.get(direction) === transport) peer.transports.delete(direction);
    });
    if (direction === 'recv') void this.#reconcile(peer, undefined);
    return {
      id: transport.id,
      iceParameters: transport.iceParameters,
      iceCandidates: transport.iceCandidates,
      dtlsParameters: transport.dtlsParameters,
    };
  }

  /**
   * Creates a plain RTP transport for a peer that is not a browser: a hardware codec, an encoder
   * box, ffmpeg, or a load generator. `both` carries what the peer sends and what it receives on
   * one port pair (rtcp-mux); separate `send`/`recv` transports suit devices that receive on a
   * port of their own. The remote end is given by `connectPlainTransport` or learnt (comedia).
   */
  async createPlainTransport(
    peerId: string,
    direction: TransportDirection | 'both',
    options: PlainTransportOptions,
  ): Promise<PlainTransportInfo> {
    const peer = this.#peer(peerId);
    if (direction !== 'recv' && !peer.options.publish) throw new SfuError('not_allowed', 'peer may not publish');
    const directions: TransportDirection[] = direction === 'both' ? ['send', 'recv'] : [direction];
    for (const d of directions) peer.transports.get(d)?.close();
    if (!this.#routers[peer.workerIndex]) this.#rehome(peer);
    const router = this.#routers[peer.workerIndex];
    if (!router) throw new SfuError('invalid_state', 'no live router');
    const { ip, announcedIp } = this.#pool.listenInfo;
    const transport = await router.createPlainTransport({
      listenIp: { ip, announcedIp },
      rtcpMux: true,
      comedia: options.comedia,
      enableSrtp: options.srtpCryptoSuite !== undefined,
      srtpCryptoSuite: options.srtpCryptoSuite,
      appData: { peerId, direction, kind: 'plain' },
    });
    if (peer.closed) {
      transport.close();
      throw new SfuError('unknown_peer', `peer left [peerId:${peerId}]`);
    }
    for (const d of directions) {
      peer.transports.set(d, transport);
      transport.observer.once('close', () => {
        if (peer.transports.get(d) === transport) peer.transports.delete(d);
      });
    }
    if (directions.includes('recv')) void this.#reconcile(peer, undefined);
    return {
      id: transport.id,
      ip: this.#pool.listenInfo.announcedIp ?? transport.tuple.localIp,
      port: transport.tuple.localPort,
      srtpParameters: transport.srtpParameters,
    };
  }

  /**
   * Gives a plain transport its remote end: where to send (omitted with comedia) and the SRTP
   * key the remote encrypts with (required when the transport uses SRTP).
   */
  async connectPlainTransport(
    peerId: string,
    transportId: string,
    remote: { ip?: string; port?: number; srtpParameters?: ms.SrtpParameters },
  ): Promise<void> {
    const transport = this.#transport(this.#peer(peerId), transportId);
    if (transport.appData.kind !== 'plain') throw new SfuError('invalid_state', 'not a plain transport');
    try {
      await (transport as ms.PlainTransport).connect(remote);
    } catch (error) {
      throw new SfuError('invalid_state', `connect failed [transportId:${transportId}]: ${(error as Error).message}`);
    }
  }

  /** Completes DTLS for one of the peer's transports. */
  async connectTransport(peerId: string, transportId: string, dtlsParameters: ms.DtlsParameters): Promise<void> {
    const transport = this.#transport(this.#peer(peerId), transportId);
    if (transport.appData.kind !== 'webrtc') throw new SfuError('invalid_state', 'not a WebRTC transport');
    try {
      await (transport as ms.WebRtcTransport).connect({ dtlsParameters });
    } catch (error) {
      throw new SfuError('invalid_state', `connect failed [transportId:${transportId}]: ${(error as Error).message}`);
    }
  }

  /** Publishes the hall's microphone or camera; routing follows at once. */
  async produce(
    peerId: string,
    transportId: string,
    kind: ms.MediaKind,
    rtpParameters: ms.RtpParameters,
    source: MediaSource,
  ): Promise<{ id: string }> {
    const peer = this.#peer(peerId);
    const bridgeId = peer.options.bridgeId;
    if (!peer.options.publish || bridgeId === undefined) throw new SfuError('not_allowed', 'peer may not publish');
    if ((source === 'mic') !== (kind === 'audio')) {
      throw new SfuError('invalid_rtp_parameters', `kind does not match source [kind:${kind}, source:${source}]`);
    }
    const transport = this.#transport(peer, transportId);
    if (transport.appData.direction === 'recv') throw new SfuError('invalid_state', 'not a send transport');
    const options: ms.ProducerOptions = {
      kind,
      rtpParameters,
      paused: source === 'mic' && !this.#micOpen(bridgeId),
      keyFrameRequestDelay: kind === 'video' ? KEYFRAME_REQUEST_DELAY_MS : 0,
      appData: { bridgeId, source },
    };
    // The working producer is replaced only by one that mediasoup accepts: a rejected republish
    // must not take the hall's camera away from everyone.
    const old = peer.producers.get(source);
    let producer: ms.Producer;
    try {
      producer = await transport.produce(options);
    } catch (error) {
      const message = (error as Error).message;
      // A clash with the old producer (same MID, RID or SSRC) means the new one replaces it.
      const clash = /already exists in RTP listener/.test(message);
      if (!old || old.producer.closed || !clash) throw new SfuError('invalid_rtp_parameters', `produce failed: ${message}`);
      old.producer.close();
      try {
        producer = await transport.produce(options);
      } catch (again) {
        throw new SfuError('invalid_rtp_parameters', `produce failed: ${(again as Error).message}`);
      }
    }
    if (old && !old.producer.closed) old.producer.close();
    const published: PublishedProducer = { producer, workerIndex: peer.workerIndex, bridgeId, source };
    peer.producers.set(source, published);
    producer.observer.once('close', () => {
      if (peer.producers.get(source) === published) peer.producers.delete(source);
      if (!this.#closed) this.emit('publishing', { bridgeId, source, on: false });
    });
    if (source === 'mic') peer.sink.micState(!producer.paused);
    else peer.sink.sendLayers(this.#maxLayerFor(bridgeId));
    this.emit('publishing', { bridgeId, source, on: true });
    void this.#reconcileAll(new ResumeBatch(this.#switchBatchMs));
    return { id: producer.id };
  }

  /** Chooses the set of halls a console sees as thumbnails (lowest simulcast layer). */
  setThumbnails(peerId: string, bridgeIds: string[]): void {
    const peer = this.#peer(peerId);
    if (!peer.options.thumbnails) throw new SfuError('not_allowed', 'peer may not view thumbnails');
    for (const id of bridgeIds) {
      if (!this.#bridgeIds.has(id)) throw new SfuError('unknown_bridge', `bridge not in conference [bridgeId:${id}]`);
    }
    peer.thumbnails = [...new Set(bridgeIds)];
    void this.#reconcile(peer, undefined);
  }

  /**
   * Puts a bridge on the programme: every hall receives its video and audio (and the chair's
   * audio), all other microphones are closed at the server, the new speaker sends all simulcast
   * layers and the old one only its low layer. Resolves when every hall was handed its new
   * consumers, which are resumed together so that they ride on one keyframe.
   */
  async setProgram(bridgeId: string): Promise<void> {
    this.#assertOpen();
    if (!this.#bridgeIds.has(bridgeId)) throw new SfuError('unknown_bridge', `bridge not in conference [bridgeId:${bridgeId}]`);
    const startedAt = Date.now();
    const previous = this.#program;
    this.#program = bridgeId;
    if (this.#next === bridgeId) this.#next = undefined;
    for (const id of new Set([previous, bridgeId])) {
      this.#bridgePeers.get(id)?.sink.sendLayers(this.#maxLayerFor(id));
    }
    const mics = this.#applyMicStates();
    const batch = new ResumeBatch(this.#switchBatchMs);
    await this.#reconcileAll(batch);
    await mics;
    this.emit('program', { bridgeId, at: Date.now(), timings: { startedAt, ...batch.timings } });
  }

  /** The bridge prepared as next speaker, if any. */
  get next(): string | undefined {
    return this.#next;
  }

  /**
   * Prepares the bridge expected to speak next (e.g. the head of the floor queue): it starts
   * sending all simulcast layers and every hall gets paused consumers of it, so that a later
   * `setProgram` of that bridge only resumes them. `null` clears it.
   */
  async setNext(bridgeId: string | null): Promise<void> {
    this.#assertOpen();
    if (bridgeId !== null && !this.#bridgeIds.has(bridgeId)) {
      throw new SfuError('unknown_bridge', `bridge not in conference [bridgeId:${bridgeId}]`);
    }
    const previous = this.#next;
    this.#next = bridgeId === null || bridgeId === this.#program ? undefined : bridgeId;
    for (const id of new Set([previous, this.#next])) {
      if (id !== undefined) this.#bridgePeers.get(id)?.sink.sendLayers(this.#maxLayerFor(id));
    }
    await this.#reconcileAll(new ResumeBatch(0));
  }

  /** Removes a peer and everything it has (transports, producers, consumers). */
  leave(peerId: string): void {
    const peer = this.#peers.get(peerId);
    if (!peer) return;
    peer.closed = true;
    this.#peers.delete(peerId);
    this.#pool.addLoad(peer.workerIndex, -1);
    const bridgeId = peer.options.bridgeId;
    if (bridgeId !== undefined && this.#bridgePeers.get(bridgeId) === peer) this.#bridgePeers.delete(bridgeId);
    for (const transport of peer.transports.values()) transport.close();
  }

  /** The session's router on each worker (monitoring and tests). */
  routers(): readonly (ms.Router | undefined)[] {
    return this.#routers;
  }

  /** Ids of the peers that are in the session. */
  peerIds(): string[] {
    return [...this.#peers.keys()];
  }

  /** A snapshot for monitoring and tests: placement, producers and consumers per peer. */
  snapshot(): SessionSnapshot {
    return {
      program: this.#program,
      workers: this.#pool.slots.map((s) => ({ index: s.index, pid: s.worker.pid, load: s.load, hasRouter: !!this.#routers[s.index] })),
      peers: [...this.#peers.values()].map((p) => ({
        peerId: p.id,
        bridgeId: p.options.bridgeId,
        workerIndex: p.workerIndex,
        producers: [...p.producers.values()].map((x) => ({
          id: x.producer.id,
          source: x.source,
          paused: x.producer.paused,
          workerIndex: x.workerIndex,
        })),
        consumers: [...p.consumers.values()].map((c) => ({
          id: c.consumer.id,
          slot: c.slot,
          producerId: c.consumer.producerId,
          bridgeId: String(c.consumer.appData.bridgeId),
          source: c.consumer.appData.source as MediaSource,
          kind: c.consumer.kind,
          paused: c.consumer.paused,
          workerIndex: c.workerIndex,
          preferredSpatialLayer: c.consumer.preferredLayers?.spatialLayer,
        })),
      })),
    };
  }

  /**
   * Server-side proof that closed microphones reach no one: for each published microphone, the
   * packets the server received from it and the packets it sent to anyone (over all consumers
   * of it on every worker).
   */
  async micReport(): Promise<MicReportEntry[]> {
    const entries: MicReportEntry[] = [];
    for (const peer of this.#peers.values()) {
      const mic = peer.producers.get('mic');
      if (!mic) continue;
      const received = (await mic.producer.getStats()).reduce((n, s) => n + (s.packetCount ?? 0), 0);
      let forwarded = 0;
      let consumers = 0;
      for (const other of this.#peers.values()) {
        for (const { consumer } of other.consumers.values()) {
          if (consumer.producerId !== mic.producer.id || consumer.closed) continue;
          consumers++;
          const stats = await consumer.getStats().catch(() => []);
          for (const s of stats) if (s.type === 'outbound-rtp') forwarded += s.packetCount ?? 0;
        }
      }
      entries.push({ bridgeId: mic.bridgeId, open: !mic.producer.paused, packetsReceived: received, packetsForwarded: forwarded, consumers });
    }
    return entries;
  }

  /**
   * Cumulative counters of a bridge's link as the server sees it: its publishing peer's
   * transports (ICE, bitrates), what it sends us (its producers: packets, losses, jitter, NACKs,
   * keyframe requests, scores) and what we send it (its consumers, with the losses and round
   * trip its receiver reports tell). null when the bridge has no publishing peer.
   */
  async linkCounters(bridgeId: string): Promise<LinkCounters | null> {
    const peer = this.#bridgePeers.get(bridgeId);
    if (!peer || peer.closed) return null;
    const counters: LinkCounters = {
      at: Date.now(),
      iceState: undefined,
      up: { packets: 0, lost: 0, nacks: 0, keyframeRequests: 0, bitrate: 0, jitterMax: 0, scoreMin: undefined, rttMsMax: undefined },
      down: { packets: 0, lost: 0, nacks: 0, keyframeRequests: 0, bitrate: 0, jitterMax: 0, scoreMin: undefined, rttMsMax: undefined },
    };
    const states: string[] = [];
    for (const t of peer.transports.values()) {
      if (t.closed) continue;
      if (t.appData.kind === 'plain') {
        // No ICE on plain RTP: connected once the remote end is known (given or learnt).
        states.push((t as ms.PlainTransport).tuple.remoteIp ? 'connected' : 'new');
      } else {
        states.push((t as ms.WebRtcTransport).iceState);
      }
    }
    // The worst state tells: a transport that is not connected is the news.
    counters.iceState = states.find((s) => s !== 'connected' && s !== 'completed') ?? states[0];
    const add = (side: LinkCounters['up'], s: { packetCount?: number; packetsLost?: number; nackCount?: number; pliCount?: number; firCount?: number; bitrate?: number; jitter?: number; score?: number; roundTripTime?: number }, clockRate: number): void => {
      side.packets += s.packetCount ?? 0;
      side.lost += Math.max(0, s.packetsLost ?? 0);
      side.nacks += s.nackCount ?? 0;
      side.keyframeRequests += (s.pliCount ?? 0) + (s.firCount ?? 0);
      side.bitrate += s.bitrate ?? 0;
      if (s.jitter !== undefined && clockRate > 0) side.jitterMax = Math.max(side.jitterMax, (s.jitter / clockRate) * 1000);
      if (s.score !== undefined) side.scoreMin = Math.min(side.scoreMin ?? 10, s.score);
      if (s.roundTripTime !== undefined && s.roundTripTime > 0) side.rttMsMax = Math.max(side.rttMsMax ?? 0, s.roundTripTime);
    };
    const producers = [...peer.producers.values()].map((p) => p.producer).filter((p) => !p.closed);
    const consumers = [...peer.consumers.values()].map((c) => c.consumer).filter((c) => !c.closed && !c.paused);
    const [up, down] = await Promise.all([
      Promise.all(producers.map((p) => p.getStats().catch(() => []))),
      Promise.all(consumers.map((c) => c.getStats().catch(() => []))),
    ]);
    up.forEach((stats, i) => {
      const clockRate = producers[i]!.kind === 'audio' ? 48000 : 90000;
      for (const s of stats) add(counters.up, s, clockRate);
    });
    for (const stats of down) for (const s of stats) if (s.type === 'outbound-rtp') add(counters.down, s, 0);
    return counters;
  }

  /**
   * Asks the producers behind a peer's live programme video consumers for a keyframe (a peer
   * that decodes from a keyframe only, such as a re-encoder after a switch).
   */
  async requestKeyFrame(peerId: string): Promise<void> {
    const peer = this.#peer(peerId);
    const live = [...peer.consumers.values()].filter((c) => c.slot === 'program' && c.consumer.kind === 'video' && !c.consumer.closed);
    await Promise.all(live.map((c) => c.consumer.requestKeyFrame().catch(() => undefined)));
  }

  /** Keyframe requests (PLI + FIR) the server has sent to a producer, over all its layers. */
  async producerKeyframeRequests(producerId: string): Promise<number> {
    for (const peer of this.#peers.values()) {
      for (const { producer } of peer.producers.values()) {
        if (producer.id !== producerId) continue;
        const stats = await producer.getStats();
        return stats.reduce((n, s) => n + (s.pliCount ?? 0) + (s.firCount ?? 0), 0);
      }
    }
    return 0;
  }

  /** Closes the session: every peer's transports and the routers; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.off('workerdied', this.#poolListeners.workerdied);
    this.#pool.off('workerreplaced', this.#poolListeners.workerreplaced);
    for (const peerId of [...this.#peers.keys()]) this.leave(peerId);
    for (const router of this.#routers) router?.close();
    this.#routers.length = 0;
    this.emit('close');
    this.removeAllListeners();
  }

  // --- routing -----------------------------------------------------------------------------

  #micOpen(bridgeId: string): boolean {
    return bridgeId === this.#program || bridgeId === this.chairBridgeId;
  }

  #maxLayerFor(bridgeId: string): number {
    return bridgeId === this.#program || bridgeId === this.chairBridgeId || bridgeId === this.#next ? TOP_SPATIAL_LAYER : 0;
  }

  /**
   * Opens the programme's and the chair's microphones and closes all others. Serialised: a
   * producer's `paused` only changes when its worker answers, so overlapping runs would read
   * stale states and leave a former speaker's microphone open.
   */
  #applyMicStates(): Promise<void> {
    this.#micChain = this.#micChain.then(() => this.#applyMicStatesNow());
    return this.#micChain;
  }

  async #applyMicStatesNow(): Promise<void> {
    const work: Promise<void>[] = [];
    for (const peer of this.#bridgePeers.values()) {
      const mic = peer.producers.get('mic');
      if (!mic || mic.producer.closed) continue;
      const open = this.#micOpen(mic.bridgeId);
      if (open === !mic.producer.paused) continue;
      work.push(
        (open ? mic.producer.resume() : mic.producer.pause())
          .then(() => peer.sink.micState(open))
          .catch(() => undefined),
      );
    }
    await Promise.all(work);
  }

  /** The programme producers a peer receives when `program` has the floor (video, then audio). */
  #programFor(peer: MediaPeer, program: string): { slot: 'program' | 'audio'; published: PublishedProducer }[] {
    const out: { slot: 'program' | 'audio'; published: PublishedProducer }[] = [];
    const add = (slot: 'program' | 'audio', bridgeId: string | undefined, source: MediaSource): void => {
      if (bridgeId === undefined) return;
      const published = this.#bridgePeers.get(bridgeId)?.producers.get(source);
      if (published && !published.producer.closed) out.push({ slot, published });
    };
    const self = peer.options.bridgeId;
    const chair = this.chairBridgeId;
    // The speaking hall sees the chair instead of itself; the chair's hall sees itself locally.
    add('program', self === program ? (program === chair ? undefined : chair) : program, 'cam');
    if (self !== program) add('audio', program, 'mic');
    if (self !== chair && program !== chair && (!peer.options.singleAudio || self === program)) add('audio', chair, 'mic');
    return out;
  }

  /** The consumers a peer should hold now, keyed by producer (thumbnails apart). */
  #desiredFor(peer: MediaPeer): DesiredConsumer[] {
    const desired: DesiredConsumer[] = [];
    if (peer.options.receiveProgram) {
      const now = this.#programFor(peer, this.#program);
      for (const { slot, published } of now) desired.push({ key: `main:${published.producer.id}`, published, slot });
      if (this.#next !== undefined) {
        const have = new Set(now.map((x) => x.published.producer.id));
        for (const { published } of this.#programFor(peer, this.#next)) {
          if (!have.has(published.producer.id)) desired.push({ key: `main:${published.producer.id}`, published, slot: 'next' });
        }
      }
    }
    if (peer.options.thumbnails) {
      for (const id of peer.thumbnails) {
        const published = this.#bridgePeers.get(id)?.producers.get('cam');
        if (published && !published.producer.closed) desired.push({ key: `thumb:${published.producer.id}`, published, slot: 'thumb' });
      }
    }
    return desired;
  }

  #reconcileAll(batch: ResumeBatch): Promise<void> {
    const work = [...this.#peers.values()].map((peer) => this.#reconcile(peer, batch));
    return batch.run(Promise.allSettled(work));
  }

  /** Brings the peer's consumers in line with what it should receive now (serialised per peer). */
  #reconcile(peer: MediaPeer, batch: ResumeBatch | undefined): Promise<void> {
    const run = async (): Promise<void> => {
      if (peer.closed || this.#closed) return;
      const transport = peer.transports.get('recv');
      if (!transport || transport.closed || !peer.rtpCapabilities) return;
      const desired = this.#desiredFor(peer);
      const byKey = new Map(desired.map((d) => [d.key, d]));
      const obsolete: ms.Consumer[] = [];
      for (const [key, held] of peer.consumers) {
        const want = byKey.get(key);
        if (!want) {
          obsolete.push(held.consumer);
        } else if (want.slot !== held.slot) {
          // A prepared consumer goes live (or back to waiting) without a new negotiation.
          held.slot = want.slot;
          peer.sink.consumerSlot(held.consumer.id, want.slot);
          if (want.slot === 'next') await held.consumer.pause().catch(() => undefined);
          else if (held.ready) this.#resume(held.consumer, batch);
        }
      }
      const missing = desired.filter((d) => !peer.consumers.has(d.key));
      // New consumers first: the client negotiates them before the old ones are torn down, and
      // the hall keeps showing the previous speaker until the new one is ready.
      await Promise.all(missing.map((d) => this.#createConsumer(peer, transport, d, batch)));
      for (const consumer of obsolete) consumer.close();
    };
    const guarded = (): Promise<void> =>
      run().catch((error: Error) => {
        if (!this.#closed) this.emit('warning', { message: `reconcile failed: ${error.message}`, peerId: peer.id });
      });
    peer.chain = peer.chain.then(guarded);
    return peer.chain;
  }

  async #createConsumer(
    peer: MediaPeer,
    transport: ms.Transport,
    d: DesiredConsumer,
    batch: ResumeBatch | undefined,
  ): Promise<void> {
    const { producer, bridgeId, source } = d.published;
    const index = peer.workerIndex;
    await this.#ensureOnWorker(d.published, index);
    const router = this.#routers[index];
    if (!router || transport.closed || producer.closed || peer.closed) return;
    if (!router.canConsume({ producerId: producer.id, rtpCapabilities: peer.rtpCapabilities! })) return;
    const consumer = await transport.consume({
      producerId: producer.id,
      rtpCapabilities: peer.rtpCapabilities!,
      paused: true,
      preferredLayers: d.slot === 'thumb' ? { spatialLayer: 0 } : undefined,
      appData: { bridgeId, source, slot: d.slot },
    });
    const held: PeerConsumer = { consumer, workerIndex: index, slot: d.slot, ready: false };
    peer.consumers.set(d.key, held);
    this.#pool.addLoad(index, 1);
    consumer.observer.once('close', () => {
      this.#pool.addLoad(index, -1);
      if (peer.consumers.get(d.key)?.consumer === consumer) peer.consumers.delete(d.key);
      if (!peer.closed) peer.sink.consumerClosed(consumer.id);
    });
    try {
      await withTimeout(
        peer.sink.consume({
          consumerId: consumer.id,
          producerId: producer.id,
          kind: consumer.kind,
          rtpParameters: consumer.rtpParameters,
          bridgeId,
          source,
          slot: d.slot,
        }),
        this.#consumeTimeoutMs,
      );
    } catch {
      // A client that refused the consumer (or never answered) is not sent its media.
      consumer.close();
      return;
    }
    if (consumer.closed) return;
    held.ready = true;
    // A prepared consumer stays paused until its bridge gets the floor.
    if (held.slot !== 'next') this.#resume(consumer, batch);
  }

  #resume(consumer: ms.Consumer, batch: ResumeBatch | undefined): void {
    if (batch) batch.add(consumer);
    else void consumer.resume().catch(() => undefined);
  }

  /** Makes a producer available on a worker, piping it there once when consumers need it. */
  async #ensureOnWorker(published: PublishedProducer, index: number): Promise<void> {
    if (published.workerIndex === index) return;
    const key = `${published.producer.id}:${index}`;
    let pipe = this.#pipes.get(key);
    if (!pipe) {
      const from = this.#routers[published.workerIndex];
      const to = this.#routers[index];
      if (!from || !to) return;
      pipe = from.pipeToRouter({ producerId: published.producer.id, router: to }).then(
        ({ pipeProducer }) => {
          pipeProducer!.observer.once('close', () => this.#pipes.delete(key));
        },
        (error: Error) => {
          this.#pipes.delete(key);
          throw error;
        },
      );
      this.#pipes.set(key, pipe);
    }
    await pipe;
  }

  // --- workers -----------------------------------------------------------------------------

  async #createRouter(index: number): Promise<ms.Router> {
    const router = await this.#pool.slot(index).worker.createRouter({ mediaCodecs: this.#codecs, appData: { conferenceId: this.conferenceId } });
    router.observer.once('close', () => {
      if (this.#routers[index] === router) this.#routers[index] = undefined;
    });
    return router;
  }

  #onWorkerDied(index: number): void {
    if (this.#closed) return;
    this.#routers[index] = undefined;
    for (const key of [...this.#pipes.keys()]) if (key.endsWith(`:${index}`)) this.#pipes.delete(key);
    const lost = [...this.#peers.values()].filter((p) => p.workerIndex === index);
    for (const peer of lost) {
      for (const transport of peer.transports.values()) transport.close();
      peer.transports.clear();
      peer.consumers.clear();
      peer.producers.clear();
      this.#rehome(peer);
      peer.sink.restartMedia('worker_died');
    }
    this.emit('medialost', {
      workerIndex: index,
      bridgeIds: lost.map((p) => p.options.bridgeId).filter((b): b is string => b !== undefined),
    });
  }

  async #onWorkerReplaced(index: number): Promise<void> {
    if (this.#closed) return;
    try {
      const router = await this.#createRouter(index);
      if (this.#closed) {
        router.close();
        return;
      }
      this.#routers[index] = router;
      this.emit('mediarebuilt', { workerIndex: index });
    } catch {
      // The pool will report the worker again if it dies; nothing to rebuild here.
    }
  }

  #liveWorkerIndex(): number {
    try {
      return this.#pool.leastLoaded((index) => this.#routers[index] !== undefined);
    } catch {
      throw new SfuError('invalid_state', 'no live router');
    }
  }

  /** Moves a peer whose worker is gone to the least loaded live one (if any is live now). */
  #rehome(peer: MediaPeer): void {
    let index: number;
    try {
      index = this.#liveWorkerIndex();
    } catch {
      return; // no live router yet; createTransport will try again
    }
    this.#pool.addLoad(peer.workerIndex, -1);
    peer.workerIndex = index;
    this.#pool.addLoad(index, 1);
  }

  // --- lookups -----------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw new SfuError('session_closed', `session closed [conferenceId:${this.conferenceId}]`);
  }

  #peer(peerId: string): MediaPeer {
    this.#assertOpen();
    const peer = this.#peers.get(peerId);
    if (!peer) throw new SfuError('unknown_peer', `no such peer [peerId:${peerId}]`);
    return peer;
  }

  #transport(peer: MediaPeer, transportId: string): ms.Transport {
    for (const t of peer.transports.values()) if (t.id === transportId && !t.closed) return t;
    throw new SfuError('unknown_transport', `no such transport [transportId:${transportId}]`);
  }
}

/** One direction of a bridge's link, cumulative since its peer joined (bitrate, jitter, score, rtt: now). */
export interface LinkSide {
  packets: number;
  lost: number;
  nacks: number;
  keyframeRequests: number;
  bitrate: number;
  jitterMax: number;
  scoreMin: number | undefined;
  rttMsMax: number | undefined;
}

/** See MediaSession.linkCounters. */
export interface LinkCounters {
  at: number;
  iceState: string | undefined;
  /** What the hall sends us. */
  up: LinkSide;
  /** What we send the hall. */
  down: LinkSide;
}

export interface MicReportEntry {
  bridgeId: string;
  open: boolean;
  packetsReceived: number;
  packetsForwarded: number;
  consumers: number;
}

export interface SessionSnapshot {
  program: string;
  workers: { index: number; pid: number; load: number; hasRouter: boolean }[];
  peers: {
    peerId: string;
    bridgeId?: string;
    workerIndex: number;
    producers: { id: string; source: MediaSource; paused: boolean; workerIndex: number }[];
    consumers: {
      id: string;
      slot: ConsumerSlot;
      producerId: string;
      bridgeId: string;
      source: MediaSource;
      kind: ms.MediaKind;
      paused: boolean;
      workerIndex: number;
      preferredSpatialLayer?: number;
    }[];
  }[];
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
