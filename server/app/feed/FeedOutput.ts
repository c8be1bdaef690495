// The feed output: what every hall sees and hears on air (the speaker's video and audio, the
// chair's audio), with the maket and the lower third burned in, as an MPEG-TS feed for the press
// and as the archive recording. (About 470 lines: the recorders' taps follow the MPEG-TS
// timeline here, next to the stream they cut and the restarts that cut it, rather than in a
// file of their own.)
//
// Technique: a stable-stream relay *and* a re-encode stage. The SFU's consumers change at every
// speaker switch (new SSRC, sequence and timestamp bases, a new VP8 stream that decodes only
// from its keyframe, possibly another resolution). Forwarding them to the press as they are
// breaks most players (they lock onto the first SSRC and codec parameters). The relay
// (FeedRelay) turns them into three streams that never change and fills gaps (slate,
// silence); the re-encoder (FeedEncoder, ffmpeg) must exist anyway to burn in the banner
// and the lower third and to mix the two microphones, and it makes one H.264/AAC MPEG-TS whose
// timeline, codec and resolution never change: what broadcast players expect. The recording is
// a copy of that stream (no second encode). The relay, the re-encoder and the press socket (the
// wire, FeedWire) run in a thread of their own (FeedThread): the control plane's event loop may
// stall, the press feed must not. Here, on the main thread: the media session and the recorders.
import { EventEmitter } from 'node:events';
import type { types as ms } from 'mediasoup';
import type { MediaPeerSink, MediaSession, ConsumeRequest } from '../../../sfu/index.ts';
import type { Clock, ClockTimer } from '../../core/conference/index.ts';

type RtpCapabilities = ms.RtpCapabilities;
import type { RelaySource } from './FeedRelay.ts';
import type { Overlay } from './FeedEncoder.ts';
import { FeedThread } from './FeedThread.ts';
import type { FeedVideoEvent, FeedWireStats, PressFeedTarget } from './FeedWire.ts';
import { isVideoKeyframeStart, pesPts, pesStreamId, pidOf, pmtPidOf, TS_PACKET } from './ts.ts';
import { Recorder } from './Recorder.ts';

export type { PressFeedTarget } from './FeedWire.ts';

/** Parses DIEMCAU_PRESS_FEED; throws on anything but rtp:// or udp:// with a host and a port. */
export function parsePressFeed(url: string): PressFeedTarget {
  const m = /^(rtp|udp):\/\/([^:/]+):(\d+)\/?$/.exec(url.trim());
  if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) throw new Error(`bad press feed URL [url:${url}] (rtp://host:port or udp://host:port)`);
  return { protocol: m[1] as 'rtp' | 'udp', host: m[2]!, port: Number(m[3]) };
}

/** The SDP a press player (VLC, ffplay, a broadcast encoder) opens for an rtp:// feed. */
export function pressFeedSdp(target: PressFeedTarget): string {
  return [
    'v=0',
    `o=- 0 0 IN IP4 ${target.host}`,
    's=diemcau programme (press feed)', // press players show this name: kept
    `c=IN IP4 ${target.host}`,
    't=0 0',
    `m=video ${target.port} RTP/AVP 33`,
    'a=rtpmap:33 MP2T/90000',
    '',
  ].join('\n');
}

export interface FeedOutputOptions {
  media: MediaSession;
  /** The press feed, if any. */
  pressFeed?: PressFeedTarget;
  width?: number;
  height?: number;
  fps?: number;
  videoKbps?: number;
  preset?: string;
  maketBackground: string;
  maketText: string;
  overlay: Overlay;
  /** The content panel at the start (ContentPanel: a PNG the size of the frame); null: no content. */
  panel: Buffer | null;
  /** The media peer id (one feed output per session). */
  peerId?: string;
  /** Time of the recorders' start and stop and of the thread's restarts (the wire's thread keeps the wall clock). */
  clock: Clock;
  /** The feed thread's module (a test's may wrap it to make it fail). */
  threadEntry?: URL;
}

export type FeedOutputEvents = {
  /** The re-encoder or the feed's thread stopped by itself (it is restarted). */
  problem: [message: string];
  /**
   * The re-encoder (or the feed's thread) died and was started again: a new stream (new
   * timeline). The recorders it fed were let go at the break (their files end there); a
   * recording goes on in a new file.
   */
  restarted: [];
  /** The picture went to a speaker (after its keyframe) or to the slate. */
  video: [FeedVideoEvent];
  close: [];
};

/** A feed thread that died is started again after this long, doubled at each death in a row up to THREAD_RESTART_MAX_MS. */
const THREAD_RESTART_MS = 1000;
const THREAD_RESTART_MAX_MS = 30_000;
/** A thread that ran this long before it died starts the doubling again from THREAD_RESTART_MS. */
const THREAD_STEADY_MS = 60_000;

/**
 * The re-encoder reads one video codec (VP8: what the browsers send). A router that also offers
 * H264 (a plan with an H264 hardware hall) would hand us an H264 consumer when that hall speaks;
 * without H264 in our capabilities the SFU gives none, and the feed shows the slate under
 * the speaker's lower third, with the speaker's audio.
 */
export function vp8AndOpusOnly(caps: RtpCapabilities): RtpCapabilities {
  const h264 = new Set((caps.codecs ?? []).filter((c) => c.mimeType.toLowerCase() === 'video/h264').map((c) => c.preferredPayloadType));
  const codecs = (caps.codecs ?? []).filter((c) => c.mimeType.toLowerCase() !== 'video/h264' && !(c.mimeType.toLowerCase() === 'video/rtx' && h264.has(Number(c.parameters?.apt))));
  return { ...caps, codecs };
}

/** A recorder fed by the output: waiting for its first keyframe, then on until the picture of stopAt. */
interface Tap {
  recorder: Recorder;
  on: boolean;
  startAt: number;
  stopAt?: number;
  done?: () => void;
}

/** Joins the conference as a receive-only media peer and produces the feed. */
export class FeedOutput extends EventEmitter<FeedOutputEvents> {
  readonly peerId: string;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly #options: FeedOutputOptions;
  readonly #media: MediaSession;
  /** The wire (relay, re-encoder, press socket) in its thread; none between a death and the next start. */
  #thread: FeedThread | undefined;
  #threadStartedAt = 0;
  #restartDelay = THREAD_RESTART_MS;
  #restart: ClockTimer | undefined;
  /** The consumers the SFU sends us (a new thread is told them again). */
  readonly #sources = new Map<string, RelaySource>();
  #overlay: Overlay;
  #panel: Buffer | null;
  #showing: 'speaker' | 'slate' | undefined;
  /** The stream was cut (a re-encoder or the thread died): the next re-encoder's start is a restart. */
  #cut = false;
  readonly #taps = new Set<Tap>();
  #pat: Buffer | undefined;
  #pmt: Buffer | undefined;
  #pmtPid: number | undefined;
  /** The packets since the last video keyframe (from its PAT and PMT), and that keyframe's content time. */
  #gop: Buffer[] = [];
  #gopAt: number | undefined;
  /**
   * Wall clock minus PTS (ms) of the least delayed video frame seen: maps the re-encoder's
   * timestamps to the time the picture was live (its latency grows on a loaded host; the
   * smallest value is the content's own timeline plus the pipeline's fixed delay).
   */
  #ptsOffset = Infinity;
  #closed = false;
  /** Bytes of MPEG-TS produced (for tests and the benchmark). */
  bytesOut = 0;

  private constructor(options: FeedOutputOptions) {
    super();
    this.#options = options;
    this.#media = options.media;
    this.peerId = options.peerId ?? 'feed-output';
    this.width = options.width ?? 1280;
    this.height = options.height ?? 720;
    this.fps = options.fps ?? 25;
    this.#overlay = options.overlay;
    this.#panel = options.panel;
  }

  /** Starts the wire's thread and joins the media session. */
  static async create(options: FeedOutputOptions): Promise<FeedOutput> {
    const output = new FeedOutput(options);
    try {
      output.#thread = await output.#startThread();
      await output.#joinMedia();
    } catch (error) {
      await output.close();
      throw error;
    }
    return output;
  }

  /** A new thread with the wire as it is now (overlay, panel, the consumers on air). */
  async #startThread(): Promise<FeedThread> {
    const o = this.#options;
    const overlay = this.#overlay;
    const panel = this.#panel;
    const thread = new FeedThread(
      {
        chairBridgeId: this.#media.chairBridgeId,
        pressFeed: o.pressFeed,
        width: this.width,
        height: this.height,
        fps: this.fps,
        videoKbps: o.videoKbps ?? 2500,
        preset: o.preset ?? 'veryfast',
        maketBackground: o.maketBackground,
        maketText: o.maketText,
        overlay,
        panel,
      },
      { clock: o.clock, entry: o.threadEntry },
    );
    thread.on('keyframe', () => void this.#media.requestKeyFrame(this.peerId).catch(() => undefined));
    thread.on('video', (e) => {
      this.#showing = e.source;
      this.emit('video', e);
    });
    thread.on('ts', (packets, at) => this.#onTs(packets, at));
    thread.on('encoder', () => {
      // A new encoder is a new timeline.
      this.#newTimeline();
      // One that follows another in the same thread is a restart (a new thread's is told when the thread is connected).
      if (!this.#cut || this.#thread !== thread) return;
      this.#cut = false;
      this.emit('restarted');
    });
    thread.on('encoderExit', (message) => {
      if (this.#closed) return;
      this.emit('problem', message);
      this.#cutStream();
    });
    thread.on('problem', (message) => this.emit('problem', message));
    thread.on('died', (why) => this.#onDied(thread, why));
    try {
      await thread.ready;
    } catch (error) {
      await thread.close();
      throw error;
    }
    this.#threadStartedAt = o.clock.now();
    // What changed while it started.
    if (this.#overlay !== overlay) thread.setOverlay(this.#overlay);
    if (this.#panel !== panel) thread.setPanel(this.#panel);
    for (const source of this.#sources.values()) thread.addSource(source);
    return thread;
  }

  /**
   * The wire's thread died (a crash, out of memory): said at once, the recorders let go at the
   * break, and a new thread started (after 1 s, doubled while it keeps dying, at most 30 s) and
   * connected to the SFU; never a feed that is silently gone.
   */
  #onDied(thread: FeedThread, why: string): void {
    if (this.#closed || this.#thread !== thread) return;
    this.#thread = undefined;
    this.#showing = undefined;
    const clock = this.#options.clock;
    if (clock.now() - this.#threadStartedAt >= THREAD_STEADY_MS) this.#restartDelay = THREAD_RESTART_MS;
    const delay = this.#restartDelay;
    this.#restartDelay = Math.min(THREAD_RESTART_MAX_MS, delay * 2);
    this.emit('problem', `feed thread died: ${why}; the press feed and the recording stop until a new thread starts in ${delay / 1000} s`);
    this.#cutStream();
    this.#scheduleRestart(delay);
  }

  #scheduleRestart(delay: number): void {
    const clock = this.#options.clock;
    this.#restart = clock.setTimeout(() => {
      this.#restart = undefined;
      if (this.#closed) return;
      void (async () => {
        const thread = await this.#startThread();
        if (this.#closed) {
          await thread.close();
          return;
        }
        this.#thread = thread;
        // A new relay listens on a new port: the SFU sends there through a new plain transport (its consumers are made again).
        await this.#connect();
        if (this.#thread === thread && this.#cut) {
          this.#cut = false;
          this.emit('restarted');
        }
      })().catch((error: Error) => {
        if (this.#closed) return;
        const next = this.#restartDelay;
        this.#restartDelay = Math.min(THREAD_RESTART_MAX_MS, next * 2);
        this.emit('problem', `feed thread restart failed: ${error.message}; trying again in ${next / 1000} s`);
        this.#scheduleRestart(next);
      });
    }, delay);
  }

  /** The stream breaks: each recorder is let go here (the desk opens a new file on `restarted`). */
  #cutStream(): void {
    this.#cut = true;
    for (const tap of [...this.#taps]) {
      if (tap.done) tap.done();
      else this.#taps.delete(tap);
    }
    this.#newTimeline();
  }

  #newTimeline(): void {
    this.#ptsOffset = Infinity;
    this.#gop = [];
    this.#gopAt = undefined;
  }

  async #joinMedia(): Promise<void> {
    const sink: MediaPeerSink = {
      consume: async (request: ConsumeRequest) => {
        const ssrc = request.rtpParameters.encodings?.[0]?.ssrc;
        if (ssrc === undefined) throw new Error('consumer without ssrc');
        const source: RelaySource = { consumerId: request.consumerId, kind: request.kind, bridgeId: request.bridgeId, slot: request.slot, ssrc };
        this.#sources.set(source.consumerId, source);
        this.#thread?.addSource(source);
      },
      consumerClosed: (consumerId) => {
        this.#sources.delete(consumerId);
        this.#thread?.removeSource(consumerId);
      },
      consumerSlot: (consumerId, slot) => {
        const source = this.#sources.get(consumerId);
        if (source) source.slot = slot;
        this.#thread?.setSlot(consumerId, slot);
      },
      sendLayers: () => undefined,
      micState: () => undefined,
      restartMedia: () => void this.#connect().catch((e: Error) => this.emit('problem', `feed media restart failed: ${e.message}`)),
      replaced: () => undefined,
    };
    this.#media.join(this.peerId, { publish: false, receiveOnAir: true, thumbnails: false }, sink);
    this.#media.setRtpCapabilities(this.peerId, vp8AndOpusOnly(this.#media.rtpCapabilities));
    await this.#connect();
  }

  /** A plain RTP transport from the SFU to the relay: loopback, no SRTP, rtcp-mux. */
  async #connect(): Promise<void> {
    const thread = this.#thread;
    if (!thread) return; // a new thread connects when it starts
    const transport = await this.#media.createPlainTransport(this.peerId, 'recv', { comedia: false });
    await this.#media.connectPlainTransport(this.peerId, transport.id, thread.address);
  }

  /** The texts drawn over the picture (banner lines, lower third). */
  setOverlay(overlay: Overlay): void {
    this.#overlay = overlay;
    if (!this.#closed) this.#thread?.setOverlay(overlay);
  }

  /** The content beside the speaker: a panel from ContentPanel; null: none (the re-encoder does not composite). */
  setPanel(png: Buffer | null): void {
    this.#panel = png;
    if (!this.#closed) this.#thread?.setPanel(png);
  }

  /** Whether the feed shows a speaker's video or the slate now. */
  get showing(): 'speaker' | 'slate' | undefined {
    return this.#showing;
  }

  /** Process ids for the CPU figures: the re-encoder and the recorders. */
  get pids(): { encoder: number | undefined; recorders: (number | undefined)[] } {
    return { encoder: this.#thread?.encoderPid, recorders: [...this.#taps].map((t) => t.recorder.pid) };
  }

  /** The wire's thread (its id, for logs and tests), while one runs. */
  get thread(): FeedThread | undefined {
    return this.#thread;
  }

  /** The relay's counters, as the wire's thread last sent them (every FEED_STATS_MS). */
  get relayCounters(): FeedWireStats['relay'] | undefined {
    return this.#thread?.stats?.relay;
  }

  /** When the video sent to the re-encoder paused (FeedRelay.videoPauses), as last sent. */
  get relayVideoPauses(): FeedWireStats['videoPauses'] {
    return this.#thread?.stats?.videoPauses ?? [];
  }

  /** The re-encoder's recent warnings. */
  get encoderLog(): string {
    return this.#thread?.stats?.encoderLog ?? '';
  }

  /**
   * Starts recording the feed to a .mkv file from `startAt` (wall clock): the file opens on
   * the keyframe whose picture was live nearest that time (the last one, kept with its group of
   * pictures, or the next one), so that it lasts as long as what it records whatever the
   * re-encoder's latency.
   */
  record(file: string, startAt = this.#options.clock.now()): Recorder {
    const recorder = new Recorder(file, this.#options.clock);
    const tap: Tap = { recorder, on: false, startAt };
    if (this.#gopAt !== undefined && startAt - this.#gopAt <= 500 && this.#gop.length > 0) {
      tap.on = true;
      recorder.firstFrameAt = this.#gopAt;
      recorder.write(Buffer.concat(this.#gop));
    }
    this.#taps.add(tap);
    return recorder;
  }

  /**
   * Feeds a recorder until the picture live at `stopAt` has been written (at most `maxWaitMs`
   * more), then lets it go; its stop() finishes the file.
   */
  release(recorder: Recorder, stopAt = this.#options.clock.now(), maxWaitMs = 5000): Promise<void> {
    const tap = [...this.#taps].find((t) => t.recorder === recorder);
    if (!tap) return Promise.resolve();
    const clock = this.#options.clock;
    return new Promise<void>((resolve) => {
      const timer = clock.setTimeout(() => tap.done?.(), maxWaitMs);
      tap.stopAt = stopAt;
      tap.done = () => {
        clock.clearTimeout(timer);
        this.#taps.delete(tap);
        resolve();
      };
      if (!tap.on) tap.done();
    });
  }

  /** Keeps the last group of pictures and the PTS clock, and feeds the recorders (`now`: when the wire had the packets). */
  #follow(packets: Buffer, now: number): void {
    const out = new Map<Tap, Buffer[]>();
    for (let at = 0; at + TS_PACKET <= packets.length; at += TS_PACKET) {
      const p = packets.subarray(at, at + TS_PACKET);
      const pid = pidOf(p);
      if (pid === 0) {
        this.#pat = Buffer.from(p);
        this.#pmtPid = pmtPidOf(p) ?? this.#pmtPid;
      } else if (pid === this.#pmtPid) {
        this.#pmt = Buffer.from(p);
      }
      let liveAt: number | undefined;
      let keyframe = false;
      const sid = pesStreamId(p);
      if (sid !== undefined && sid >= 0xe0 && sid <= 0xef) {
        const pts = pesPts(p);
        if (pts !== undefined) {
          this.#ptsOffset = Math.min(this.#ptsOffset, now - pts / 90);
          liveAt = pts / 90 + this.#ptsOffset;
        }
        keyframe = isVideoKeyframeStart(p) && this.#pat !== undefined && this.#pmt !== undefined;
      }
      if (keyframe) {
        this.#gop = [this.#pat!, this.#pmt!, Buffer.from(p)];
        this.#gopAt = liveAt;
      } else if (this.#gop.length > 0 && this.#gop.length < 40_000) {
        this.#gop.push(Buffer.from(p));
      }
      for (const tap of this.#taps) {
        if (!tap.on) {
          if (!keyframe || liveAt === undefined || liveAt < tap.startAt - 500) continue;
          tap.on = true;
          tap.recorder.firstFrameAt = liveAt;
          out.set(tap, [this.#pat!, this.#pmt!]);
        }
        if (tap.stopAt !== undefined && liveAt !== undefined && liveAt >= tap.stopAt) {
          const chunks = out.get(tap);
          if (chunks) tap.recorder.write(Buffer.concat(chunks));
          out.delete(tap);
          tap.done?.();
          continue;
        }
        let chunks = out.get(tap);
        if (!chunks) out.set(tap, (chunks = []));
        chunks.push(p);
      }
    }
    for (const [tap, chunks] of out) if (this.#taps.has(tap)) tap.recorder.write(Buffer.concat(chunks));
  }

  #onTs(packets: Buffer, at: number): void {
    this.bytesOut += packets.length;
    this.#follow(packets, at);
  }

  /** Leaves the media session, stops the wire's thread; recorders are killed (stop them first). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#options.clock.clearTimeout(this.#restart);
    try {
      this.#media.leave(this.peerId);
    } catch {
      // not joined, or the session is gone
    }
    for (const t of this.#taps) t.recorder.kill();
    this.#taps.clear();
    await this.#thread?.close();
    this.#thread = undefined;
    this.emit('close');
    this.removeAllListeners();
  }
}
