import { EventEmitter } from 'node:events';
import type { types as ms } from 'mediasoup';
import { SfuError } from './errors.ts';
import type { LocalHome } from './RouterSet.ts';
import type { BridgeTracks, ConsumerSlot, MediaSource, RoutedPeer } from './routing/index.ts';
import type { MediaPeerSink, PeerOptions, PlainTransportOptions, RoutedTrack, SendMode, TransportDirection } from './types.ts';

/** A track this peer publishes: its producer and the router it lives on. */
export interface Publication extends RoutedTrack {
  readonly producer: ms.Producer;
  readonly home: LocalHome;
}

/** A consumer the peer holds. */
export interface HeldConsumer {
  readonly consumer: ms.Consumer;
  /** The worker whose router it is on (the peer's at the time). */
  readonly worker: number;
  slot: ConsumerSlot;
  /** The client has set it up (acked). */
  ready: boolean;
}

export type MediaPeerEvents = {
  /** One of its producers closed (replaced, its transport closed, or the peer left). */
  unpublished: [Publication];
  /** The peer closed (emitted once, after its transports, producers and consumers). */
  close: [];
};

/**
 * One participant's media: a hall or a receive-only console. Owns its transports, and through
 * them its producers and consumers. `close()` closes all of them (mediasoup closes a transport's
 * producers and consumers with it) and emits `close` once; `workerClosed()` is the path for a
 * close that comes from below: the worker carrying its media died, everything on it is gone, and
 * the peer stays to be placed elsewhere and publish again.
 */
export class MediaPeer extends EventEmitter<MediaPeerEvents> implements RoutedPeer {
  readonly id: string;
  readonly options: PeerOptions;
  readonly sink: MediaPeerSink;
  /** The worker its transports are (to be) created on. */
  worker: number;
  rtpCapabilities?: ms.RtpCapabilities;
  /** How its browser says it sends its video (a hall drops to audio only when its uplink fits no layer). */
  sendMode: SendMode = 'video';
  /** Its client's signalling socket was lost and it waits to be taken back (its media may still flow). */
  away = false;
  #thumbnailChoice: readonly string[] = [];
  readonly #transports = new Map<TransportDirection, ms.Transport>();
  readonly #publications = new Map<MediaSource, Publication>();
  readonly #consumers = new Map<string, HeldConsumer>();
  #closed = false;

  constructor(id: string, options: PeerOptions, sink: MediaPeerSink, worker: number) {
    super();
    this.id = id;
    this.options = options;
    this.sink = sink;
    this.worker = worker;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get bridgeId(): string | undefined {
    return this.options.bridgeId;
  }

  get receiveOnAir(): boolean {
    return this.options.receiveOnAir;
  }

  get thumbnails(): boolean {
    return this.options.thumbnails;
  }

  get singleAudio(): boolean | undefined {
    return this.options.singleAudio;
  }

  /** The halls it chose to see as thumbnails. */
  get thumbnailChoice(): readonly string[] {
    return this.#thumbnailChoice;
  }

  set thumbnailChoice(bridgeIds: readonly string[]) {
    this.#thumbnailChoice = [...new Set(bridgeIds)];
  }

  /** The transport of one direction (a plain `both` transport serves both). */
  transport(direction: TransportDirection): ms.Transport | undefined {
    return this.#transports.get(direction);
  }

  /** Its live transports, each once. */
  transports(): ms.Transport[] {
    return [...new Set(this.#transports.values())].filter((t) => !t.closed);
  }

  /** One of its transports by id; throws `unknown_transport`. */
  transportById(transportId: string): ms.Transport {
    for (const t of this.#transports.values()) if (t.id === transportId && !t.closed) return t;
    throw new SfuError('unknown_transport', `no such transport [transportId:${transportId}]`);
  }

  /** What it publishes, as routing reads it (closed producers left out). */
  tracks(): BridgeTracks<Publication> {
    const out: BridgeTracks<Publication> = {};
    for (const [source, p] of this.#publications) if (!p.producer.closed) out[source] = p;
    return out;
  }

  publication(source: MediaSource): Publication | undefined {
    return this.#publications.get(source);
  }

  publications(): Publication[] {
    return [...this.#publications.values()];
  }

  /** The consumers it holds, by routing key. */
  get consumers(): ReadonlyMap<string, HeldConsumer> {
    return this.#consumers;
  }

  /** Creates its WebRTC transport of one direction on a router, replacing the previous one. */
  async openWebRtcTransport(direction: TransportDirection, router: ms.Router, webRtcServer: ms.WebRtcServer): Promise<ms.WebRtcTransport> {
    this.#transports.get(direction)?.close();
    const transport = await router.createWebRtcTransport({
      webRtcServer,
      enableUdp: true,
      enableTcp: true,
      preferUdp: true,
      initialAvailableOutgoingBitrate: 2_500_000,
      appData: { peerId: this.id, direction, kind: 'webrtc' },
    });
    this.#attach([direction], transport);
    return transport;
  }

  /** Creates a plain RTP transport serving the given directions, replacing the previous ones. */
  async openPlainTransport(
    directions: TransportDirection[],
    router: ms.Router,
    listen: { ip: string; announcedIp?: string },
    options: PlainTransportOptions,
  ): Promise<ms.PlainTransport> {
    for (const d of directions) this.#transports.get(d)?.close();
    const transport = await router.createPlainTransport({
      listenIp: { ip: listen.ip, announcedIp: listen.announcedIp },
      rtcpMux: true,
      comedia: options.comedia,
      enableSrtp: options.srtpCryptoSuite !== undefined,
      srtpCryptoSuite: options.srtpCryptoSuite,
      appData: { peerId: this.id, direction: directions.length > 1 ? 'both' : directions[0], kind: 'plain' },
    });
    this.#attach(directions, transport);
    return transport;
  }

  /**
   * Publishes a source on one of its send transports. The working producer is replaced only by
   * one that mediasoup accepts: a rejected republish must not take the hall's camera away.
   */
  async produce(transport: ms.Transport, source: MediaSource, options: ms.ProducerOptions): Promise<Publication> {
    const bridgeId = this.options.bridgeId;
    if (bridgeId === undefined) throw new SfuError('not_allowed', 'peer may not publish');
    const old = this.#publications.get(source);
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
    // The transport closed while the worker made the producer (a send transport replaced, the
    // peer gone, its worker lost): mediasoup closed the transport's producers then, but hands this
    // one out open, on a transport the worker no longer has. Recorded, it would stand as the hall's
    // publication with no media ever forwarded; the client is told and publishes again.
    if (transport.closed || this.#closed) {
      producer.close();
      if (this.#closed) throw new SfuError('unknown_peer', `peer left while producing [peerId:${this.id}, source:${source}]`);
      throw new SfuError('unknown_transport', `transport closed while producing [transportId:${transport.id}, source:${source}]`);
    }
    if (old && !old.producer.closed) old.producer.close();
    const publication: Publication = { bridgeId, source, trackId: producer.id, kind: producer.kind, epoch: Date.now(), producer, home: { worker: this.worker } };
    this.#publications.set(source, publication);
    producer.observer.once('close', () => {
      if (this.#publications.get(source) === publication) this.#publications.delete(source);
      this.emit('unpublished', publication);
    });
    return publication;
  }

  /**
   * New ICE credentials for one of its WebRTC transports, for a browser whose network changed:
   * the transport, its DTLS session and its producers and consumers stay; the browser restarts
   * ICE with them and its media takes the new path.
   */
  async restartIce(transportId: string): Promise<ms.IceParameters> {
    const transport = this.transportById(transportId);
    if (transport.appData.kind !== 'webrtc') throw new SfuError('invalid_state', 'not a WebRTC transport');
    try {
      return await (transport as ms.WebRtcTransport).restartIce();
    } catch (error) {
      throw new SfuError('invalid_state', `ICE restart failed [transportId:${transportId}]: ${(error as Error).message}`);
    }
  }

  /** Closes every consumer it holds (its client lost them with its socket; routing makes them again). */
  dropConsumers(): void {
    for (const held of [...this.#consumers.values()]) held.consumer.close();
  }

  /** Whether its microphone runs at the server (published and not paused). */
  get micOpen(): boolean {
    const mic = this.#publications.get('mic');
    return !!mic && !mic.producer.closed && !mic.producer.paused;
  }

  /** Opens or closes its microphone at the server and tells the client; nothing if already so. */
  async setMicOpen(open: boolean): Promise<void> {
    const mic = this.#publications.get('mic');
    if (!mic || mic.producer.closed || open === !mic.producer.paused) return;
    await (open ? mic.producer.resume() : mic.producer.pause());
    this.sink.micState(open);
  }

  /**
   * Pauses its camera producer at the SFU while its browser sends no video (audio only), and
   * resumes it when the video comes back; nothing if already so. A paused producer's streams drop
   * their lists of packets to ask again (NACK): the video lost on the way while the link filled up
   * is not asked for, and so not resent, over a link that carries only the audio now.
   */
  async holdCamera(hold: boolean): Promise<void> {
    const cam = this.#publications.get('cam');
    if (!cam || cam.producer.closed || hold === cam.producer.paused) return;
    await (hold ? cam.producer.pause() : cam.producer.resume());
  }

  /** Holds a new consumer under a routing key; it is forgotten (and the client told) when it closes. */
  holdConsumer(key: string, held: HeldConsumer): void {
    this.#consumers.set(key, held);
    held.consumer.observer.once('close', () => {
      if (this.#consumers.get(key) === held) this.#consumers.delete(key);
      if (!this.#closed) this.sink.consumerClosed(held.consumer.id);
    });
  }

  /** Closes its transports, and with them its producers and consumers; emits `close` once. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const transport of this.transports()) transport.close();
    this.emit('close');
    this.removeAllListeners();
  }

  /**
   * Its worker died: its transports, producers and consumers are gone with it. Forgets them; the
   * peer stays open (the session places it on another worker and tells the client to restart).
   */
  workerClosed(): void {
    for (const transport of this.transports()) transport.close();
    this.#transports.clear();
    this.#consumers.clear();
    this.#publications.clear();
  }

  #attach(directions: TransportDirection[], transport: ms.Transport): void {
    if (this.#closed) {
      transport.close();
      throw new SfuError('unknown_peer', `peer left [peerId:${this.id}]`);
    }
    for (const d of directions) {
      this.#transports.set(d, transport);
      transport.observer.once('close', () => {
        if (this.#transports.get(d) === transport) this.#transports.delete(d);
      });
    }
  }
}
