import { EventEmitter } from 'node:events';
import type { types as ms } from 'mediasoup';
import type { WorkerPool } from './WorkerPool.ts';
import { SfuError } from './errors.ts';
import { mediaCodecs, h264Codec, KEYFRAME_REQUEST_DELAY_MS } from './codecs.ts';
import { ResumeBatch } from './ResumeBatch.ts';
import { RouterSet } from './RouterSet.ts';
import { MediaPeer, type Publication } from './MediaPeer.ts';
import { ConsumerReconciler } from './ConsumerReconciler.ts';
import { AudioLevels } from './AudioLevels.ts';
import { AudioOnlyWatch } from './AudioOnlyWatch.ts';
import { DownlinkHold } from './DownlinkHold.ts';
import { Cascade, type CascadeLinkStats, type CascadePipeCounts, type PipeAnswer, type PipeEnd } from './Cascade.ts';
import { desiredConsumers, inProgramme, maxSpatialLayer, microphoneOpen, programmeTracksToPipe, receivesFrom, type BridgeTracks, type DownlinkState, type MediaSource, type RoutingState, type TrackLookup } from './routing/index.ts';
import * as stats from './stats.ts';
import type { LinkCounters, MicReportEntry, SessionSnapshot } from './stats.ts';
import type { AudioOnlyState, JoinOptions, MediaPeerSink, MediaSessionEvents, MediaSessionOptions, PeerOptions, RemoteTrack, RoutedTrack, SendMode, TransportDirection } from './types.ts';
import type { PlainTransportInfo, PlainTransportOptions, WebRtcTransportInfo } from './types.ts';

/**
 * The media of one conference, as the server calls it: peers join and leave, create transports,
 * publish; the control plane says what is on air, who is prepared next and whose microphones are
 * open; the tracks of other nodes are given (setRemoteTracks) and piped in when consumed. Knows
 * nothing of floors or agendas. The parts it wires together:
 *   routing/               who hears and sees whom (pure)
 *   MediaPeer              one participant's transports, producers and consumers
 *   ConsumerReconciler     makes each peer's consumers follow routing
 *   RouterSet              routers per worker, pipes between them, placement, worker loss
 *   Cascade                pipes to and from other media nodes
 *   AudioLevels            who is heard and how loud (an AudioLevelObserver per router)
 *   stats                  link counters, microphone report, snapshot
 *   AudioOnlyWatch         which halls' links carry no video (audio-only.ts: the rule)
 *   DownlinkHold           pauses a hall's video at the SFU when its downlink carries none (routing/downlink-video.ts)
 * It is the SFU's one facade, which is why it is a little over 400 lines: every method is a short
 * delegation to one of these parts.
 */
export class MediaSession extends EventEmitter<MediaSessionEvents> {
  readonly conferenceId: string;
  readonly chairBridgeId: string;
  readonly #routers: RouterSet;
  readonly #bridgeIds: Set<string>;
  readonly #peers = new Map<string, MediaPeer>();
  /** The publishing peer of each bridge (the newest join wins). */
  readonly #bridgePeers = new Map<string, MediaPeer>();
  /** The screen-only peer of each bridge (a page that shares a window for the hall; the newest join wins). */
  readonly #screenPeers = new Map<string, MediaPeer>();
  readonly #switchBatchMs: number;
  readonly #reconciler: ConsumerReconciler;
  readonly #audioOnly: AudioOnlyWatch;
  readonly #downlink: DownlinkHold;
  readonly #levels: AudioLevels;
  /** What routing reads: what is on air, who is next, whose microphones are open. */
  #routing: RoutingState;
  /** Tracks published on other nodes, by bridge (from the track registry). */
  #remote = new Map<string, BridgeTracks<RemoteTrack>>();
  /** What a bridge publishes, here or on another node: the newest publication of each source wins. */
  readonly #published: TrackLookup<RoutedTrack> = {
    get: (bridgeId) => newest(newest(this.#bridgePeers.get(bridgeId)?.tracks(), this.#screenPeers.get(bridgeId)?.tracks()), this.#remote.get(bridgeId)),
  };
  readonly #cascade: Cascade | undefined;
  /** Peers whose last reconciliation failed (a pipe from another node, say): the next try and its delay. */
  readonly #retries = new Map<MediaPeer, { timer: NodeJS.Timeout | undefined; delayMs: number }>();
  /** Serialises microphone pause/resume runs. */
  #micChain: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(routers: RouterSet, options: MediaSessionOptions, bridgeIds: Set<string>) {
    super();
    this.#routers = routers;
    this.conferenceId = options.conferenceId;
    this.chairBridgeId = options.chairBridgeId;
    this.#bridgeIds = bridgeIds;
    // Until the control plane says otherwise: the chair on air, and its microphone alone open
    // (what the core's rule gives while nobody has the floor).
    this.#routing = { chairBridgeId: options.chairBridgeId, onAir: options.chairBridgeId, next: undefined, openMicrophones: new Set([options.chairBridgeId]) };
    this.#switchBatchMs = options.switchBatchMs ?? 400;
    this.#reconciler = new ConsumerReconciler({
      routers,
      desired: (peer) => desiredConsumers(this.#routing, peer, this.#published),
      videoHeld: (peer) => this.#downlink.held(peer),
      consumeTimeoutMs: options.consumeTimeoutMs ?? 5000,
      closed: () => this.#closed,
      failed: (peer, error) => {
        this.emit('warning', { message: `reconcile failed: ${error.message}`, peerId: peer.id });
        this.#retryLater(peer);
      },
      succeeded: (peer) => {
        const retry = this.#retries.get(peer);
        if (retry) retry.delayMs = 500;
      },
    });
    this.#downlink = new DownlinkHold(() => this.#bridgePeers.values());
    this.#downlink.on('change', (change) => {
      this.emit('downlink', change);
      this.#audioOnly.tick();
    });
    this.#audioOnly = new AudioOnlyWatch(() => this.#bridgePeers.values(), 500, (peer) => this.#downlink.holdsVideo(peer));
    this.#audioOnly.on('change', (state) => this.emit('audioonly', state));
    if (options.cascade) {
      this.#cascade = new Cascade({
        routers,
        channel: options.cascade.channel,
        localHome: (trackId) => this.#localTrack(trackId)?.home.worker,
        needed: () => this.#consumedTracks(),
        lingerMs: options.cascade.lingerMs,
        isLive: options.cascade.isLive,
      });
      routers.remote = this.#cascade;
    }
    this.#levels = new AudioLevels(routers, { intervalMs: options.audioLevelIntervalMs });
    this.#levels.on('levels', (levels) => this.emit('audiolevels', { levels }));
    routers.on('workerlost', ({ index }) => this.#onWorkerLost(index));
    routers.on('routerrebuilt', ({ index }) => this.emit('mediarebuilt', { workerIndex: index }));
  }

  /** Creates the session with a router on every worker of the pool. */
  static async create(pool: WorkerPool, options: MediaSessionOptions): Promise<MediaSession> {
    const bridgeIds = new Set(options.bridgeIds);
    if (!bridgeIds.has(options.chairBridgeId)) {
      throw new SfuError('unknown_bridge', `chair bridge not in conference [bridgeId:${options.chairBridgeId}]`);
    }
    const routers = await RouterSet.create(pool, {
      conferenceId: options.conferenceId,
      codecs: options.offerH264 ? [...mediaCodecs, h264Codec] : mediaCodecs,
    });
    return new MediaSession(routers, options, bridgeIds);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The bridge whose video and audio every hall receives. */
  get onAir(): string {
    return this.#routing.onAir;
  }

  /** The bridge prepared as next speaker, if any. */
  get next(): string | undefined {
    return this.#routing.next;
  }

  /** The bridge whose shared screen every hall receives, if any. */
  get content(): string | undefined {
    return this.#routing.content;
  }

  /** The bridges whose microphones are open at the server. */
  get openMicrophones(): string[] {
    return [...this.#routing.openMicrophones];
  }

  /** The router capabilities a client loads its device with. */
  get rtpCapabilities(): ms.RtpCapabilities {
    return this.#routers.rtpCapabilities;
  }

  /** Whether a bridge belongs to this conference. */
  hasBridge(bridgeId: string): boolean {
    return this.#bridgeIds.has(bridgeId);
  }

  /**
   * Adds a peer, placed on the least loaded worker. A hall that joins again replaces its old peer:
   * at once when it is the same page coming back (same clientId, or none known), and only when
   * asked (`takeOver`) when another page (another PC) publishes the hall now: `bridge_in_use`.
   */
  join(peerId: string, options: PeerOptions, sink: MediaPeerSink, how: JoinOptions = {}): { rtpCapabilities: ms.RtpCapabilities } {
    this.#assertOpen();
    if (this.#peers.has(peerId)) throw new SfuError('already_exists', `peer already joined [peerId:${peerId}]`);
    if (options.bridgeId !== undefined) this.#assertBridge(options.bridgeId);
    if (options.publish && options.bridgeId === undefined) throw new SfuError('not_allowed', 'only a bridge may publish');
    if (options.screenOnly && (!options.publish || options.bridgeId === undefined)) throw new SfuError('not_allowed', 'a screen is shared for a bridge');
    if (options.publish && options.bridgeId !== undefined && !options.screenOnly && !how.takeOver) {
      const current = this.#bridgePeers.get(options.bridgeId);
      const other = current && !current.closed && current.options.clientId !== undefined && options.clientId !== undefined && current.options.clientId !== options.clientId;
      if (other) throw new SfuError('bridge_in_use', `the hall is open on another page [bridgeId:${options.bridgeId}]`);
    }
    const peer = new MediaPeer(peerId, options, sink, this.#routers.place());
    // A peer counts as one unit of load at once, so that a burst of joins spreads over workers.
    this.#routers.addLoad(peer.worker, 1);
    this.#peers.set(peerId, peer);
    peer.on('unpublished', ({ bridgeId, source, trackId, kind, epoch }) => {
      if (!this.#closed) this.emit('publishing', { bridgeId, source, on: false, trackId, kind, epoch });
    });
    peer.once('close', () => {
      this.#peers.delete(peerId);
      this.#routers.addLoad(peer.worker, -1);
      if (peer.bridgeId !== undefined && this.#bridgePeers.get(peer.bridgeId) === peer) this.#bridgePeers.delete(peer.bridgeId);
      if (peer.bridgeId !== undefined && this.#screenPeers.get(peer.bridgeId) === peer) this.#screenPeers.delete(peer.bridgeId);
    });
    if (options.bridgeId !== undefined && options.publish) {
      const peers = options.screenOnly ? this.#screenPeers : this.#bridgePeers;
      const previous = peers.get(options.bridgeId);
      peers.set(options.bridgeId, peer);
      if (previous) {
        previous.close();
        previous.sink.replaced();
      }
    }
    return { rtpCapabilities: this.rtpCapabilities };
  }

  /** Removes a peer and everything it has (transports, producers, consumers); nothing if it is gone. */
  leave(peerId: string): void {
    this.#peers.get(peerId)?.close();
  }

  /** Records what the peer's browser can receive; consumers follow. */
  setRtpCapabilities(peerId: string, rtpCapabilities: ms.RtpCapabilities): void {
    const peer = this.#peer(peerId);
    peer.rtpCapabilities = rtpCapabilities;
    void this.#reconciler.reconcile(peer, undefined);
  }

  /** Creates the peer's send or receive WebRTC transport on its worker. */
  async createTransport(peerId: string, direction: TransportDirection): Promise<WebRtcTransportInfo> {
    const peer = this.#peer(peerId);
    if (direction === 'send' && !peer.options.publish) throw new SfuError('not_allowed', 'peer may not publish');
    const router = this.#routerOf(peer);
    const transport = await peer.openWebRtcTransport(direction, router, this.#routers.webRtcServer(peer.worker));
    if (direction === 'recv') void this.#reconciler.reconcile(peer, undefined);
    return { id: transport.id, iceParameters: transport.iceParameters, iceCandidates: transport.iceCandidates, dtlsParameters: transport.dtlsParameters };
  }

  /**
   * Creates a plain RTP transport for a peer that is not a browser: a hardware codec, an encoder
   * box, ffmpeg, or a load generator. `both` carries what the peer sends and what it receives on
   * one port pair (rtcp-mux); separate `send`/`recv` transports suit devices that receive on a
   * port of their own. The remote end is given by `connectPlainTransport` or learnt (comedia).
   */
  async createPlainTransport(peerId: string, direction: TransportDirection | 'both', options: PlainTransportOptions): Promise<PlainTransportInfo> {
    const peer = this.#peer(peerId);
    if (direction !== 'recv' && !peer.options.publish) throw new SfuError('not_allowed', 'peer may not publish');
    const directions: TransportDirection[] = direction === 'both' ? ['send', 'recv'] : [direction];
    const listen = this.#routers.listenInfo;
    const transport = await peer.openPlainTransport(directions, this.#routerOf(peer), listen, options);
    if (directions.includes('recv')) void this.#reconciler.reconcile(peer, undefined);
    return { id: transport.id, ip: listen.announcedIp ?? transport.tuple.localIp, port: transport.tuple.localPort, srtpParameters: transport.srtpParameters };
  }

  /**
   * Gives a plain transport its remote end: where to send (omitted with comedia) and the SRTP
   * key the remote encrypts with (required when the transport uses SRTP).
   */
  async connectPlainTransport(peerId: string, transportId: string, remote: { ip?: string; port?: number; srtpParameters?: ms.SrtpParameters }): Promise<void> {
    const transport = this.#peer(peerId).transportById(transportId);
    if (transport.appData.kind !== 'plain') throw new SfuError('invalid_state', 'not a plain transport');
    await connect(transportId, () => (transport as ms.PlainTransport).connect(remote));
  }

  /** Completes DTLS for one of the peer's transports. */
  async connectTransport(peerId: string, transportId: string, dtlsParameters: ms.DtlsParameters): Promise<void> {
    const transport = this.#peer(peerId).transportById(transportId);
    if (transport.appData.kind !== 'webrtc') throw new SfuError('invalid_state', 'not a WebRTC transport');
    await connect(transportId, () => (transport as ms.WebRtcTransport).connect({ dtlsParameters }));
  }

  /** Publishes the hall's microphone, camera or shared screen (a video track); routing follows at once. */
  async produce(peerId: string, transportId: string, kind: ms.MediaKind, rtpParameters: ms.RtpParameters, source: MediaSource): Promise<{ id: string }> {
    const peer = this.#peer(peerId);
    const bridgeId = peer.bridgeId;
    if (!peer.options.publish || bridgeId === undefined) throw new SfuError('not_allowed', 'peer may not publish');
    if (peer.options.screenOnly && source !== 'screen') throw new SfuError('not_allowed', `a screen peer publishes its screen only [source:${source}]`);
    if ((source === 'mic') !== (kind === 'audio')) {
      throw new SfuError('invalid_rtp_parameters', `kind does not match source [kind:${kind}, source:${source}]`);
    }
    const transport = peer.transportById(transportId);
    if (transport.appData.direction === 'recv') throw new SfuError('invalid_state', 'not a send transport');
    const { producer, epoch } = await peer.produce(transport, source, {
      kind,
      rtpParameters,
      paused: source === 'mic' && !microphoneOpen(this.#routing, bridgeId),
      keyFrameRequestDelay: kind === 'video' ? KEYFRAME_REQUEST_DELAY_MS : 0,
      appData: { bridgeId, source },
    });
    if (source === 'mic') {
      peer.sink.micState(!producer.paused);
      void this.#levels.add(producer, peer.worker, bridgeId);
    } else if (source === 'cam') {
      peer.sink.sendLayers(maxSpatialLayer(this.#routing, bridgeId));
      // A new camera starts with video (its browser's rule starts anew and tells when it stops).
      if (peer.sendMode !== 'video') {
        peer.sendMode = 'video';
        this.#audioOnly.tick();
      }
    }
    this.emit('publishing', { bridgeId, source, on: true, trackId: producer.id, kind, epoch });
    this.#reconcileReceiversOf([bridgeId]);
    return { id: producer.id };
  }

  /** New ICE credentials for one of the peer's WebRTC transports (its network changed); everything on it stays. */
  async restartIce(peerId: string, transportId: string): Promise<ms.IceParameters> {
    const peer = this.#peer(peerId);
    const iceParameters = await peer.restartIce(transportId);
    const direction = String(peer.transportById(transportId).appData.direction);
    this.emit('icerestart', { peerId, bridgeId: peer.bridgeId, transportId, direction, at: Date.now() });
    return iceParameters;
  }

  /**
   * The peer's client is back on a new signaling socket with its transports and producers: its
   * consumers (which the client dropped with the old socket) are made anew, and it is told its
   * microphone state and the layers to send again.
   */
  resumePeer(peerId: string): void {
    const peer = this.#peer(peerId);
    peer.away = false;
    peer.dropConsumers();
    if (peer.bridgeId !== undefined && peer.publication('mic')) peer.sink.micState(peer.micOpen);
    if (peer.bridgeId !== undefined && peer.publication('cam')) peer.sink.sendLayers(maxSpatialLayer(this.#routing, peer.bridgeId));
    this.emit('resumed', { peerId, bridgeId: peer.bridgeId, at: Date.now() });
    void this.#reconciler.reconcile(peer, undefined);
  }

  /**
   * Records how the hall's browser says it sends its video (audio only on a weak uplink); the
   * watch tells at once. In audio only its camera producer is paused here (MediaPeer.holdCamera):
   * otherwise mediasoup keeps asking for the video lost while the link filled up, and the browser
   * keeps resending it, for 10–15 s on a 64 kbit/s link (docs/benchmarks.md, the weak-link trace).
   */
  async setSendMode(peerId: string, mode: SendMode): Promise<void> {
    const peer = this.#peer(peerId);
    if (!peer.options.publish) throw new SfuError('not_allowed', 'peer may not publish');
    if (peer.sendMode === mode) return;
    peer.sendMode = mode;
    // Its downlink follows at once (a weak link is most often weak both ways), then the flags.
    this.#downlink.tick();
    this.#audioOnly.tick();
    await peer.holdCamera(mode === 'audio-only');
  }

  /** The halls whose links carry no video now. */
  audioOnly(): AudioOnlyState[] {
    return this.#audioOnly.audioOnly();
  }

  /** One hall's video state (both false: its link carries video, or it is not here). */
  audioOnlyOf(bridgeId: string): AudioOnlyState {
    return this.#audioOnly.of(bridgeId);
  }

  /** Whether the SFU holds a hall's video now (`held`, or `trial` while it tries the lowest layer), or sends it (`video`, also when it is not here). */
  downlinkOf(bridgeId: string): DownlinkState {
    const peer = this.#bridgePeers.get(bridgeId);
    return peer && !peer.closed ? this.#downlink.state(peer) : 'video';
  }

  /** Chooses the set of halls a console sees as thumbnails (lowest simulcast layer). */
  setThumbnails(peerId: string, bridgeIds: string[]): void {
    const peer = this.#peer(peerId);
    if (!peer.options.thumbnails) throw new SfuError('not_allowed', 'peer may not view thumbnails');
    for (const id of bridgeIds) this.#assertBridge(id);
    peer.thumbnailChoice = bridgeIds;
    void this.#reconciler.reconcile(peer, undefined);
  }

  /**
   * Puts a bridge on air: every hall receives its video and audio (and the chair's audio), the
   * new speaker sends all simulcast layers and the old one only its low layer. Resolves when
   * all halls but a few stragglers (ResumeBatch) were handed their new consumers, which are
   * resumed together so that they ride on one keyframe, and microphone changes asked for
   * meanwhile are applied; a straggler's consumers resume as soon as its browser is ready.
   */
  async setOnAir(bridgeId: string): Promise<void> {
    this.#assertOpen();
    this.#assertBridge(bridgeId);
    const startedAt = Date.now();
    const previous = this.#routing.onAir;
    this.#routing = { ...this.#routing, onAir: bridgeId, next: this.#routing.next === bridgeId ? undefined : this.#routing.next };
    this.#tellLayers([previous, bridgeId]);
    const batch = new ResumeBatch(this.#switchBatchMs);
    await this.#reconciler.reconcileAll(this.#peers.values(), batch);
    await this.#micChain;
    this.emit('onair', { bridgeId, at: Date.now(), timings: { startedAt, ...batch.timings } });
  }

  /**
   * Prepares the bridge expected to speak next (e.g. the head of the floor queue): it starts
   * sending all simulcast layers and every hall gets paused consumers of it, so that a later
   * `setOnAir` of that bridge only resumes them. `null` clears it.
   */
  async setNext(bridgeId: string | null): Promise<void> {
    this.#assertOpen();
    if (bridgeId !== null) this.#assertBridge(bridgeId);
    const previous = this.#routing.next;
    this.#routing = { ...this.#routing, next: bridgeId === null || bridgeId === this.#routing.onAir ? undefined : bridgeId };
    this.#tellLayers([previous, this.#routing.next]);
    await this.#reconciler.reconcileAll(this.#peers.values(), new ResumeBatch(0));
  }

  /**
   * Routes this bridge's shared screen (its `screen` track, once published) to every peer that
   * receives the programme, except the bridge itself; `null` routes none. One at a time: the
   * conference core decides who shares (`sharingBridgeOf`).
   */
  async setContent(bridgeId: string | null): Promise<void> {
    this.#assertOpen();
    if (bridgeId !== null) this.#assertBridge(bridgeId);
    if ((bridgeId ?? undefined) === this.#routing.content) return;
    this.#routing = { ...this.#routing, content: bridgeId ?? undefined };
    await this.#reconciler.reconcileAll(this.#peers.values(), new ResumeBatch(0));
  }

  /**
   * Opens these bridges' microphones at the server and closes all others (the set comes from the
   * conference core's `openMicrophones`). Serialised: a producer's `paused` only changes when its
   * worker answers, so overlapping runs would read stale states and leave a microphone open.
   */
  async setOpenMicrophones(bridgeIds: Iterable<string>): Promise<void> {
    this.#assertOpen();
    const open = new Set(bridgeIds);
    for (const id of open) this.#assertBridge(id);
    this.#routing = { ...this.#routing, openMicrophones: open };
    // Each peer is read when the run starts, against the set then in force.
    const run = async (): Promise<void> => {
      await Promise.all([...this.#bridgePeers.values()].map((peer) => peer.setMicOpen(microphoneOpen(this.#routing, peer.bridgeId!)).catch(() => undefined)));
    };
    this.#micChain = this.#micChain.then(run);
    await this.#micChain;
  }

  /**
   * The tracks published on other nodes now (the track registry's, without this node's and those
   * of dead nodes). Pipes of tracks that went away close; every peer's consumers follow.
   */
  setRemoteTracks(tracks: readonly RemoteTrack[]): void {
    this.#assertOpen();
    const next = new Map<string, BridgeTracks<RemoteTrack>>();
    for (const t of tracks) {
      if (!this.#bridgeIds.has(t.bridgeId)) continue;
      const held = next.get(t.bridgeId) ?? {};
      if (!held[t.source] || held[t.source]!.epoch < t.epoch) held[t.source] = t;
      next.set(t.bridgeId, held);
    }
    const all = (b: BridgeTracks<RemoteTrack> | undefined): (RemoteTrack | undefined)[] => (b ? [b.mic, b.cam, b.screen] : []);
    const key = (b: BridgeTracks<RemoteTrack> | undefined): string => all(b).map((t) => t && `${t.trackId}@${t.home.node}`).join(' ');
    const changed = [...new Set([...next.keys(), ...this.#remote.keys()])].filter((id) => key(next.get(id)) !== key(this.#remote.get(id)));
    if (changed.length === 0) return;
    const kept = new Set([...next.values()].flatMap((b) => all(b).map((t) => t?.trackId)));
    for (const b of this.#remote.values()) for (const t of all(b)) if (t && !kept.has(t.trackId)) this.#cascade?.drop(t.trackId);
    this.#remote = next;
    if (changed.some((id) => inProgramme(this.#routing, id))) this.#pipeProgrammeAhead();
    this.#reconcileReceiversOf(changed);
  }

  /**
   * Reconciles the peers whose consumers can hold a track of these bridges (routing's
   * receivesFrom), after a change of what they publish here or elsewhere: a hall off the
   * programme concerns only the consoles that chose it as a thumbnail, not every peer of the node.
   */
  #reconcileReceiversOf(bridgeIds: readonly string[]): void {
    const peers = [...this.#peers.values()].filter((peer) => bridgeIds.some((b) => receivesFrom(this.#routing, peer, b)));
    if (peers.length > 0) void this.#reconciler.reconcileAll(peers, new ResumeBatch(this.#switchBatchMs));
  }

  /**
   * Asks the home nodes at once for the programme's tracks some peer here should receive and that
   * come from elsewhere (routing/pipe-ahead.ts says why): the peers' runs then find the pipes made
   * or on their way. A failure is the runs' to see (they ask again).
   */
  #pipeProgrammeAhead(): void {
    const cascade = this.#cascade;
    if (!cascade) return;
    for (const track of programmeTracksToPipe(this.#routing, this.#peers.values(), this.#published)) {
      void cascade.ensure(track.trackId, track.home.node).catch(() => undefined);
    }
  }

  /** Another node asks for a track published here: our end of the pipe and the pipe consumer's parameters. */
  servePipe(requester: string, request: { trackId: string; end: PipeEnd }): Promise<PipeAnswer> {
    this.#assertOpen();
    return this.#cascadeOrThrow().serve(requester, request);
  }

  /** Another node no longer needs a track of ours. */
  releasePipe(requester: string, request: { trackId: string; transportId: string }): void {
    this.#cascade?.release(requester, request);
  }

  /** Another node is gone: every pipe to and from it closes. */
  forgetNode(node: string): void {
    this.#cascade?.forgetNode(node);
  }

  /** The pipes between this node and every other, and what crosses them. */
  pipeStats(): Promise<Record<string, CascadeLinkStats>> {
    return this.#cascade?.stats() ?? Promise.resolve({});
  }

  /** Pipe transports to and from other nodes and the tracks crossing them, now (zero on a node alone). */
  pipeCounts(): CascadePipeCounts {
    return this.#cascade?.counts() ?? { in: 0, out: 0, tracks: { in: 0, out: 0 } };
  }

  /** The session's router on each worker (monitoring and tests). */
  routers(): readonly (ms.Router | undefined)[] {
    return this.#routers.routers;
  }

  /** Whether a bridge publishes a source on this node now (a live producer; a screen from its screen peer). */
  publishes(bridgeId: string, source: MediaSource): boolean {
    const peer = source === 'screen' ? this.#screenPeers.get(bridgeId) : this.#bridgePeers.get(bridgeId);
    return !!peer && !peer.closed && peer.tracks()[source] !== undefined;
  }

  /** Whether a peer is in the session. */
  hasPeer(peerId: string): boolean {
    return this.#peers.has(peerId);
  }

  /** Peers and the consumers they hold now (a node's load in the registry). */
  counts(): { peers: number; consumers: number } {
    let consumers = 0;
    for (const peer of this.#peers.values()) consumers += peer.consumers.size;
    return { peers: this.#peers.size, consumers };
  }

  /** Ids of the peers that are in the session. */
  peerIds(): string[] {
    return [...this.#peers.keys()];
  }

  /** A snapshot for monitoring and tests: placement, producers and consumers per peer. */
  snapshot(): SessionSnapshot {
    return stats.snapshot(this.#routing.onAir, this.#routers.workers(), this.#peers.values());
  }

  /** Server-side proof that closed microphones reach no one (see stats.micReport). */
  micReport(): Promise<MicReportEntry[]> {
    return stats.micReport([...this.#peers.values()]);
  }

  /** Cumulative counters of a bridge's link as the server sees it; null when the bridge has no publishing peer. */
  async linkCounters(bridgeId: string): Promise<LinkCounters | null> {
    const peer = this.#bridgePeers.get(bridgeId);
    // A hall whose client is away (waiting to be taken back) is not on line, whatever still flows.
    return peer && !peer.closed && !peer.away ? stats.linkCounters(peer) : null;
  }

  /** Marks a peer whose client's socket was lost (true) while it waits to be taken back. */
  setAway(peerId: string, away: boolean): void {
    const peer = this.#peers.get(peerId);
    if (peer) peer.away = away;
  }

  /** Keyframe requests (PLI + FIR) the server has sent to a producer, over all its layers. */
  producerKeyframeRequests(producerId: string): Promise<number> {
    return stats.producerKeyframeRequests(this.#peers.values(), producerId);
  }

  /**
   * Calls `fn` at every keyframe the SFU recognises from a peer's producer of this source
   * (mediasoup's keyframe trace; one message per keyframe). For a producer made after this call
   * (a republish), call it again. Nothing when the peer does not publish that source.
   */
  async traceKeyframes(peerId: string, source: MediaSource, fn: () => void): Promise<void> {
    const producer = this.#peer(peerId).publication(source)?.producer;
    if (!producer || producer.closed) return;
    await producer.enableTraceEvent(['keyframe']);
    producer.on('trace', (trace) => {
      if (trace.type === 'keyframe') fn();
    });
  }

  /**
   * Asks the producers behind a peer's live on-air video consumers for a keyframe (a peer that
   * decodes from a keyframe only, such as a re-encoder after a switch).
   */
  async requestKeyFrame(peerId: string): Promise<void> {
    const live = [...this.#peer(peerId).consumers.values()].filter((c) => c.slot === 'onair' && c.consumer.kind === 'video' && !c.consumer.closed);
    await Promise.all(live.map((c) => c.consumer.requestKeyFrame().catch(() => undefined)));
  }

  /** Closes the session: every peer (and its media), then the routers; emits `close` once; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#audioOnly.close();
    this.#downlink.close();
    for (const retry of this.#retries.values()) clearTimeout(retry.timer);
    for (const peer of [...this.#peers.values()]) peer.close();
    this.#cascade?.close();
    this.#levels.close();
    this.#routers.close();
    this.emit('close');
    this.removeAllListeners();
  }

  /** Tells these bridges' publishing peers which layers to send now. */
  #tellLayers(bridgeIds: (string | undefined)[]): void {
    for (const id of new Set(bridgeIds)) {
      if (id !== undefined) this.#bridgePeers.get(id)?.sink.sendLayers(maxSpatialLayer(this.#routing, id));
    }
  }

  /** The worker's router went with its worker: its peers forget their media, move, and are told to publish again. */
  #onWorkerLost(index: number): void {
    if (this.#closed) return;
    const lost = [...this.#peers.values()].filter((p) => p.worker === index);
    for (const peer of lost) {
      peer.workerClosed();
      peer.worker = this.#routers.rehome(peer.worker);
      peer.sink.restartMedia('worker_died');
    }
    // The halls whose own media went (a page that only shares a screen is not its hall).
    const halls = lost.filter((p) => !p.options.screenOnly).map((p) => p.bridgeId);
    this.emit('medialost', { workerIndex: index, bridgeIds: halls.filter((b): b is string => b !== undefined) });
  }

  /** The peer's router, moving the peer first if its worker is gone. */
  #routerOf(peer: MediaPeer): ms.Router {
    if (!this.#routers.router(peer.worker)) peer.worker = this.#routers.rehome(peer.worker);
    const router = this.#routers.router(peer.worker);
    if (!router) throw new SfuError('invalid_state', 'no live router');
    return router;
  }

  /** A track published on this node, by its producer id. */
  #localTrack(trackId: string): Publication | undefined {
    for (const peer of [...this.#bridgePeers.values(), ...this.#screenPeers.values()]) {
      for (const p of peer.publications()) if (p.trackId === trackId && !p.producer.closed) return p;
    }
    return undefined;
  }

  /** The tracks some peer of this node holds a consumer of. */
  #consumedTracks(): Set<string> {
    const out = new Set<string>();
    for (const peer of this.#peers.values()) for (const held of peer.consumers.values()) if (!held.consumer.closed) out.add(held.consumer.producerId);
    return out;
  }

  /** Reconciles a peer again after a failure: 0.5 s, then twice as long each time up to 10 s, until one succeeds. */
  #retryLater(peer: MediaPeer): void {
    if (this.#closed || peer.closed) return;
    let retry = this.#retries.get(peer);
    if (!retry) {
      retry = { timer: undefined, delayMs: 500 };
      this.#retries.set(peer, retry);
      peer.once('close', () => {
        clearTimeout(this.#retries.get(peer)?.timer);
        this.#retries.delete(peer);
      });
    }
    if (retry.timer) return;
    const entry = retry;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (!this.#closed && !peer.closed) void this.#reconciler.reconcile(peer, undefined);
    }, entry.delayMs);
    entry.timer.unref();
    entry.delayMs = Math.min(10_000, entry.delayMs * 2);
  }

  #cascadeOrThrow(): Cascade {
    if (!this.#cascade) throw new SfuError('invalid_state', 'this session has no cascade');
    return this.#cascade;
  }

  #assertOpen(): void {
    if (this.#closed) throw new SfuError('session_closed', `session closed [conferenceId:${this.conferenceId}]`);
  }

  #assertBridge(bridgeId: string): void {
    if (!this.#bridgeIds.has(bridgeId)) throw new SfuError('unknown_bridge', `bridge not in conference [bridgeId:${bridgeId}]`);
  }

  #peer(peerId: string): MediaPeer {
    this.#assertOpen();
    const peer = this.#peers.get(peerId);
    if (!peer) throw new SfuError('unknown_peer', `no such peer [peerId:${peerId}]`);
    return peer;
  }
}

/** Connects a transport, turning mediasoup's refusal into `invalid_state`. */
async function connect(transportId: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    throw new SfuError('invalid_state', `connect failed [transportId:${transportId}]: ${(error as Error).message}`);
  }
}

/** A bridge's tracks from two publishers (its peers here, this node and another), each source from the newest publication. */
function newest(local: BridgeTracks<RoutedTrack> | undefined, remote: BridgeTracks<RoutedTrack> | undefined): BridgeTracks<RoutedTrack> | undefined {
  if (!remote) return local;
  if (!local) return remote;
  const out: BridgeTracks<RoutedTrack> = { ...local };
  for (const source of ['mic', 'cam', 'screen'] as const) {
    const r = remote[source];
    if (r && (!out[source] || out[source]!.epoch < r.epoch)) out[source] = r;
  }
  return out;
}
