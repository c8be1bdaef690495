// The stable-stream stage of the feed, between the SFU and the re-encoder. mediasoup sends the on-air
// consumers (speaker video, speaker audio, chair audio) to one UDP socket; every speaker switch
// brings new consumers with new SSRCs and new sequence and timestamp bases. The relay rewrites
// them into three streams that never change (see StableStream), starts the video only on a
// keyframe of the new speaker (asking for one), and fills what is missing: the last picture held
// (a VP8 frame that repeats it) while a switch waits for the new speaker's keyframe or the video
// stalls, a slate picture when no speaker video arrives for longer, silent Opus frames for a
// microphone that is absent. The re-encoder reads three ordinary RTP streams that never break,
// whatever happens upstream: the video comes at least 25 times a second, so the feed it makes is
// a steady 25 fps with no jump in its timestamps and no silence on the wire at a switch.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { Clock, ClockTimer } from '../../core/conference/index.ts';
import { isRtcp, isVp8Keyframe, OPUS_SILENCE, packetizeVp8, parseRtp, restampVp8, senderReport, vp8KeyframeSize, writeRtp, type RtpPacket } from './rtp.ts';
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
  /** Makes a VP8 frame that repeats the last picture of a size (renderHoldFrame); none: gaps wait for the slate. */
  holdFrame?: (width: number, height: number) => Promise<Buffer>;
  /** Sizes to have hold frames for from the start (the slate's is added): the browsers' simulcast layers. */
  holdSizes?: { width: number; height: number }[];
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

/** Video is considered gone (slate shown) after this long without the speaker's picture. */
const VIDEO_GAP_MS = 700;
/** The slate's keyframe is sent again this often while it is shown (hold frames in between). */
const SLATE_INTERVAL_MS = 1000;
/** One frame at 25 fps: the feed's video never goes longer without a frame. */
const FRAME_MS = 40;
/**
 * A stall of the same speaker's video is held after this long (three frames at 25 fps: a camera
 * at 15 or 20 fps must not get hold frames between its own, the re-encoder evens those out).
 */
const HOLD_AFTER_MS = 120;
/** A pause of the video sent to the re-encoder longer than this is noted (videoPauses): two frames and a half. */
const VIDEO_PAUSE_MS = 100;
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
  /** When the speaker's picture (a real frame) was last forwarded, and from which SSRC. */
  #lastRealAt = -Infinity;
  #realSource: number | undefined;
  /** The size of the picture the re-encoder's decoder holds now ('1280x720'). */
  #size: string | undefined;
  /** Hold frames by size, as RTP payloads (null: being made, or failed). */
  readonly #holds = new Map<string, Buffer[] | null>();
  /** The video's own PictureID, one per frame it sends (whatever the source), and that frame's timestamp. */
  #pictureId = Math.floor(Math.random() * 0x8000);
  #pictureTs: number | undefined;
  readonly #clock: Clock;
  #ticker: ClockTimer | undefined;
  #reports: ClockTimer | undefined;
  #closed = false;
  /** Datagrams received from the SFU and forwarded to the re-encoder (for the benchmark and tests). */
  readonly counters = { received: 0, forwarded: 0, dropped: 0, slateFrames: 0, holdFrames: 0, holdMissing: 0, silenceFrames: 0, busyMs: 0, longestTickGapMs: 0 };
  #tickAt: number | undefined;
  /** Times the video sent to the re-encoder paused longer than VIDEO_PAUSE_MS (the last 50; tests tell a stall here from one in ffmpeg). */
  readonly videoPauses: { at: number; ms: number }[] = [];
  #videoSentAt: number | undefined;

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
    // Hold frames of the slate's size and the usual sizes, made before they are needed.
    const slateSize = vp8KeyframeSize(relay.#slatePayloads()[0]!);
    await Promise.all([...(slateSize ? [slateSize] : []), ...(options.holdSizes ?? [])].map((s) => relay.#makeHold(s.width, s.height)));
    // The relay runs on the feed thread's event loop (FeedThread): its own time is counted (busyMs) for the benchmark.
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
    this.#forget(consumerId);
  }

  /**
   * The consumer no longer feeds a track. When it was the video on air, the picture is held from
   * the next frame's time on (not only after HOLD_AFTER_MS, a stall's allowance): its source is
   * gone, and the next one starts on a keyframe.
   */
  #forget(consumerId: string): void {
    for (const track of ['video', 'speaker', 'chair'] as const) {
      if (this.#chosen[track] !== consumerId) continue;
      delete this.#chosen[track];
      if (track === 'video') this.#needKeyframe = true;
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
      this.#forget(source.consumerId);
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

  /** Makes the hold frame of a size, once. */
  async #makeHold(width: number, height: number): Promise<void> {
    const key = `${width}x${height}`;
    if (this.#holds.has(key) || !this.#options.holdFrame) return;
    this.#holds.set(key, null);
    try {
      this.#holds.set(key, packetizeVp8(await this.#options.holdFrame(width, height)));
    } catch {
      // No hold frame for this size: its gaps wait for the slate, as before.
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
      // Hold frames in between do not break a source's stream (they repeat its last picture); the
      // slate and a new source do: those start again on a keyframe.
      if (this.#needKeyframe || this.#realSource !== p.ssrc) {
        if (!isVp8Keyframe(p.payload)) {
          this.counters.dropped++;
          this.#askKeyframe(now, false);
          return;
        }
        this.#needKeyframe = false;
        if (this.#showing !== 'speaker' || this.#realSource !== p.ssrc) this.emit('video', { source: 'speaker', bridgeId: source.bridgeId, at: now });
        this.#showing = 'speaker';
        this.#realSource = p.ssrc;
      }
      const size = vp8KeyframeSize(p.payload);
      if (size) {
        this.#size = `${size.width}x${size.height}`;
        void this.#makeHold(size.width, size.height);
      }
      this.#lastRealAt = now;
    }
    this.#send(track, [this.#streams[track].forward(p, now)]);
  }

  #askKeyframe(now: number, force: boolean): void {
    if (!force && now - this.#keyframeAskedAt < KEYFRAME_RETRY_MS) return;
    this.#keyframeAskedAt = now;
    this.#options.requestKeyFrame();
  }

  /**
   * Fills gaps: the last picture held while a switch waits for the new speaker's keyframe (or the
   * speaker's video stalls), the slate when no speaker video comes for longer, silence for absent
   * microphones.
   */
  #tick(): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    // The ticks come every 20 ms unless the event loop is held up: the longest wait tells a stall of the feed's thread (or of the host) from one of the relay.
    if (this.#tickAt !== undefined) this.counters.longestTickGapMs = Math.max(this.counters.longestTickGapMs, now - this.#tickAt);
    this.#tickAt = now;
    const video = this.#streams.video;
    const sinceReal = now - this.#lastRealAt;
    const slate = this.#showing === 'slate' || this.#showing === undefined || sinceReal > VIDEO_GAP_MS;
    if (slate && now - this.#slateAt >= SLATE_INTERVAL_MS) {
      this.#slateAt = now;
      if (this.#showing !== 'slate') this.emit('video', { source: 'slate', at: now });
      this.#showing = 'slate';
      // After the slate the speaker's stream must restart on a keyframe again.
      this.#needKeyframe = true;
      this.counters.slateFrames++;
      const size = vp8KeyframeSize(this.#slatePayloads()[0]!);
      this.#size = size ? `${size.width}x${size.height}` : undefined;
      this.#send('video', video.synthetic(this.#slatePayloads(), now));
    } else if (now - video.lastSentAt >= FRAME_MS && (slate || sinceReal >= (this.#needKeyframe ? FRAME_MS : HOLD_AFTER_MS))) {
      // No frame for one frame's time: the picture is held (a switch waiting for its keyframe, a stall, the slate).
      const hold = this.#size ? this.#holds.get(this.#size) : undefined;
      if (hold) {
        this.counters.holdFrames++;
        this.#send('video', video.synthetic(hold, now));
      } else this.counters.holdMissing++;
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
    for (let p of packets) {
      if (track === 'video') {
        const now = this.#clock.now();
        if (this.#videoSentAt !== undefined && now - this.#videoSentAt > VIDEO_PAUSE_MS) {
          this.videoPauses.push({ at: now, ms: now - this.#videoSentAt });
          if (this.videoPauses.length > 50) this.videoPauses.shift();
        }
        this.#videoSentAt = now;
        if (p.timestamp !== this.#pictureTs) {
          this.#pictureTs = p.timestamp;
          this.#pictureId = (this.#pictureId + 1) & 0x7fff;
        }
        p = { ...p, payload: restampVp8(p.payload, this.#pictureId) };
      }
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
