// The stable-stream stage of the feed, between the SFU and the re-encoder. mediasoup sends the on-air
// consumers (speaker video, speaker audio, chair audio) to one UDP socket; every speaker switch
// brings new consumers with new SSRCs and new sequence and timestamp bases. The relay rewrites
// them into three streams that never change (see StableStream), starts the video only on a
// keyframe of the new speaker (asking for one), and fills what is missing: a slate picture when
// no speaker video arrives, silent Opus frames for a microphone that is absent. The re-encoder
// reads three ordinary RTP streams that never break, whatever happens upstream.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { Clock, ClockTimer } from '../../core/conference/index.ts';
import { isRtcp, isVp8Keyframe, OPUS_SILENCE, packetizeVp8, parseRtp, senderReport, writeRtp, type RtpPacket } from './rtp.ts';
import { StableStream } from './StableStream.ts';

/** The three streams the re-encoder reads. */
export type FeedTrack = 'video' | 'speaker' | 'chair';

/** What the relay knows of a consumer mediasoup sends it. */
export interface RelaySource {
  consumerId: string;
  kind: 'audio' | 'video';
  bridgeId: string;
  slot: string;
  ssrc: number;
}

export interface FeedRelayOptions {
  /** The chair's bridge: its microphone goes to the `chair` track, other microphones to `speaker`. */
  chairBridgeId: string;
  /** Where the re-encoder listens: RTP on each port, RTCP on port + 1. */
  ports: Record<FeedTrack, number>;
  /** A VP8 keyframe shown when no speaker video arrives. */
  slate: Buffer;
  /** Asks the SFU for a keyframe of the on-air video. */
  requestKeyFrame: () => void;
  host?: string;
  /** Time of the streams and of the fillers' ticks. */
  clock: Clock;
}

export type FeedRelayEvents = {
  /** The feed's video went to a new source (after its first keyframe) or to the slate. */
  video: [{ source: 'speaker' | 'slate'; bridgeId?: string; at: number }];
  close: [];
};

/** Video is considered gone (slate shown) after this long without a forwarded packet. */
const VIDEO_GAP_MS = 700;
/** Slate frames per second while it is shown. */
const SLATE_INTERVAL_MS = 200;
/** A microphone is considered gone (silence sent) after this long. */
const AUDIO_GAP_MS = 120;
/** Unanswered keyframe requests are repeated this often. */
const KEYFRAME_RETRY_MS = 600;

/** Relays what is on air from mediasoup's plain transport to the re-encoder as three stable streams. */
export class FeedRelay extends EventEmitter<FeedRelayEvents> {
  readonly #options: FeedRelayOptions;
  readonly #in = dgram.createSocket('udp4');
  readonly #out = dgram.createSocket('udp4');
  readonly #host: string;
  readonly #streams: Record<FeedTrack, StableStream>;
  readonly #bySsrc = new Map<number, RelaySource>();
  readonly #byConsumer = new Map<string, RelaySource>();
  /** The consumer chosen for each track (the newest that qualifies). */
  readonly #chosen: Partial<Record<FeedTrack, string>> = {};
  #needKeyframe = true;
  #keyframeAskedAt = -Infinity;
  #slateAt = -Infinity;
  #showing: 'speaker' | 'slate' | undefined;
  readonly #clock: Clock;
  #ticker: ClockTimer | undefined;
  #reports: ClockTimer | undefined;
  #closed = false;
  /** Datagrams received from the SFU and forwarded to the re-encoder (for the benchmark and tests). */
  readonly counters = { received: 0, forwarded: 0, dropped: 0, slateFrames: 0, silenceFrames: 0, busyMs: 0 };

  private constructor(options: FeedRelayOptions) {
    super();
    this.#options = options;
    this.#host = options.host ?? '127.0.0.1';
    this.#clock = options.clock;
    const t0 = this.#clock.now();
    this.#streams = {
      video: new StableStream({ payloadType: 96, clockRate: 90000, minStep: 3000, t0 }),
      speaker: new StableStream({ payloadType: 111, clockRate: 48000, minStep: 960, t0 }),
      chair: new StableStream({ payloadType: 111, clockRate: 48000, minStep: 960, t0 }),
    };
  }

  /** Binds the socket mediasoup sends to (an ephemeral loopback port) and starts the fillers. */
  static async create(options: FeedRelayOptions): Promise<FeedRelay> {
    const relay = new FeedRelay(options);
    await Promise.all([
      new Promise<void>((resolve) => relay.#in.bind(0, relay.#host, resolve)),
      new Promise<void>((resolve) => relay.#out.bind(0, relay.#host, resolve)),
    ]);
    // Large receive buffer: a keyframe arrives as a burst of packets.
    relay.#in.setRecvBufferSize(4 * 1024 * 1024);
    // The relay runs on the server's event loop: its own time is counted (busyMs) for the benchmark.
    relay.#in.on('message', (m) => relay.#timed(() => relay.#onDatagram(m)));
    relay.#sendReports();
    relay.#ticker = relay.#clock.setInterval(() => relay.#timed(() => relay.#tick()), 20);
    // Often: ffmpeg lines the streams up only from its first report of each, and a stream whose
    // first packets came before it jumps in time when it arrives (heard as a glitch in the audio).
    relay.#reports = relay.#clock.setInterval(() => relay.#sendReports(), 200);
    return relay;
  }

  /** Where mediasoup must send what is on air. */
  get address(): { ip: string; port: number } {
    const a = this.#in.address();
    return { ip: a.address, port: a.port };
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the video track shows a speaker or the slate now. */
  get showing(): 'speaker' | 'slate' | undefined {
    return this.#showing;
  }

  /** A consumer mediasoup will send (its first SSRC is in its RTP parameters). */
  addSource(source: RelaySource): void {
    this.#bySsrc.set(source.ssrc, source);
    this.#byConsumer.set(source.consumerId, source);
    this.#choose(source);
  }

  /** A consumer changed slot (a prepared `next` consumer went live). */
  setSlot(consumerId: string, slot: string): void {
    const source = this.#byConsumer.get(consumerId);
    if (!source) return;
    source.slot = slot;
    this.#choose(source);
  }

  /** A consumer was closed. */
  removeSource(consumerId: string): void {
    const source = this.#byConsumer.get(consumerId);
    if (!source) return;
    this.#byConsumer.delete(consumerId);
    this.#bySsrc.delete(source.ssrc);
    for (const track of ['video', 'speaker', 'chair'] as const) {
      if (this.#chosen[track] === consumerId) delete this.#chosen[track];
    }
  }

  /** The track a live consumer feeds, if any. */
  #trackOf(source: RelaySource): FeedTrack | undefined {
    if (source.kind === 'video') return source.slot === 'onair' ? 'video' : undefined;
    if (source.slot !== 'audio') return undefined;
    return source.bridgeId === this.#options.chairBridgeId ? 'chair' : 'speaker';
  }

  #choose(source: RelaySource): void {
    const track = this.#trackOf(source);
    if (track === undefined) {
      for (const t of ['video', 'speaker', 'chair'] as const) if (this.#chosen[t] === source.consumerId) delete this.#chosen[t];
      return;
    }
    if (this.#chosen[track] === source.consumerId) return;
    this.#chosen[track] = source.consumerId;
    if (track === 'video') {
      // The new speaker's stream can only start on its keyframe: the re-encoder's decoder has
      // none of its reference frames.
      this.#needKeyframe = true;
      this.#askKeyframe(this.#clock.now(), true);
    }
  }

  #timed(work: () => void): void {
    const t = performance.now();
    work();
    this.counters.busyMs += performance.now() - t;
  }

  #onDatagram(m: Buffer): void {
    if (this.#closed || isRtcp(m)) return;
    const p = parseRtp(m);
    if (!p) return;
    this.counters.received++;
    const source = this.#bySsrc.get(p.ssrc);
    const track = source ? this.#trackOf(source) : undefined;
    if (!source || !track || this.#chosen[track] !== source.consumerId) {
      this.counters.dropped++;
      return;
    }
    const now = this.#clock.now();
    if (track === 'video') {
      const stream = this.#streams.video;
      if (this.#needKeyframe || stream.source !== p.ssrc) {
        if (!isVp8Keyframe(p.payload)) {
          this.counters.dropped++;
          this.#askKeyframe(now, false);
          return;
        }
        this.#needKeyframe = false;
        if (this.#showing !== 'speaker' || stream.source !== p.ssrc) this.emit('video', { source: 'speaker', bridgeId: source.bridgeId, at: now });
        this.#showing = 'speaker';
      }
    }
    this.#send(track, [this.#streams[track].forward(p, now)]);
  }

  #askKeyframe(now: number, force: boolean): void {
    if (!force && now - this.#keyframeAskedAt < KEYFRAME_RETRY_MS) return;
    this.#keyframeAskedAt = now;
    this.#options.requestKeyFrame();
  }

  /** Fills gaps: the slate when no speaker video flows, silence for absent microphones. */
  #tick(): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    const video = this.#streams.video;
    if (now - video.lastSentAt > VIDEO_GAP_MS || (this.#showing === 'slate' && this.#needKeyframe)) {
      if (now - this.#slateAt >= SLATE_INTERVAL_MS) {
        this.#slateAt = now;
        if (this.#showing !== 'slate') this.emit('video', { source: 'slate', at: now });
        this.#showing = 'slate';
        // After the slate the speaker's stream must restart on a keyframe again.
        this.#needKeyframe = true;
        this.counters.slateFrames++;
        this.#send('video', video.synthetic(this.#slatePayloads(), now));
      }
    }
    for (const track of ['speaker', 'chair'] as const) {
      const stream = this.#streams[track];
      if (stream.source !== undefined && now - stream.lastSentAt <= AUDIO_GAP_MS) continue;
      // One silent 20 ms frame per 20 ms of wall clock since the last packet (at most 10 at once).
      const packets: RtpPacket[] = [];
      let at = stream.lastSentAt === -Infinity ? now - 20 : stream.lastSentAt;
      for (let i = 0; i < 10 && now - at >= 20; i++) {
        at += 20;
        packets.push(...stream.synthetic([OPUS_SILENCE], at));
        this.counters.silenceFrames++;
      }
      this.#send(track, packets);
    }
  }

  #slatePackets: Buffer[] | undefined;
  #slatePayloads(): Buffer[] {
    this.#slatePackets ??= packetizeVp8(this.#options.slate);
    return this.#slatePackets;
  }

  #send(track: FeedTrack, packets: RtpPacket[]): void {
    const port = this.#options.ports[track];
    for (const p of packets) {
      this.#out.send(writeRtp(p), port, this.#host);
      this.counters.forwarded++;
    }
  }

  #sendReports(): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    for (const track of ['video', 'speaker', 'chair'] as const) {
      const s = this.#streams[track];
      this.#out.send(senderReport(s.ssrc, now, s.tsAt(now) % 2 ** 32, s.packets, s.octets), this.#options.ports[track] + 1, this.#host);
    }
  }

  /** Stops relaying and closes the sockets; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearInterval(this.#ticker);
    this.#clock.clearInterval(this.#reports);
    this.#in.close();
    this.#out.close();
    this.emit('close');
    this.removeAllListeners();
  }
}
