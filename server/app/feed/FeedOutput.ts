// The feed output: what every hall sees and hears on air (the speaker's video and audio, the
// chair's audio), with the maket and the lower third burned in, as an MPEG-TS feed for the press
// and as the archive recording. (About 400 lines: the recorders' taps follow the MPEG-TS
// timeline here, next to the stream they cut, rather than in a file of their own.)
//
// Technique: a stable-stream relay *and* a re-encode stage. The SFU's consumers change at every
// speaker switch (new SSRC, sequence and timestamp bases, a new VP8 stream that decodes only
// from its keyframe, possibly another resolution). Forwarding them to the press as they are
// breaks most players (they lock onto the first SSRC and codec parameters). The relay
// (FeedRelay) turns them into three streams that never change and fills gaps (slate,
// silence); the re-encoder (FeedEncoder, ffmpeg) must exist anyway to burn in the banner
// and the lower third and to mix the two microphones, and it makes one H.264/AAC MPEG-TS whose
// timeline, codec and resolution never change: what broadcast players expect. The recording is
// a copy of that stream (no second encode).
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import type { MediaPeerSink, MediaSession, ConsumeRequest } from '../../../sfu/index.ts';
import type { Clock } from '../../core/conference/index.ts';

type RtpCapabilities = ms.RtpCapabilities;
import { FeedRelay } from './FeedRelay.ts';
import { FeedEncoder, type Overlay } from './FeedEncoder.ts';
import { freeUdpPorts, renderHoldFrame, renderSlateKeyframe } from './ffmpeg.ts';
import { isVideoKeyframeStart, pesPts, pesStreamId, pidOf, pmtPidOf, TS_DATAGRAM, TS_PACKET, TsPacketizer } from './ts.ts';
import { Recorder } from './Recorder.ts';

/** Where the press feed goes: `rtp://host:port` (RTP/MPEG-TS, RFC 2250) or `udp://host:port` (bare MPEG-TS). */
export interface PressFeedTarget {
  protocol: 'rtp' | 'udp';
  host: string;
  port: number;
}

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
  /** The content panel at the start (ContentPanel: a PNG the size of the frame; transparent when nothing is shown). */
  panel: Buffer;
  /** The media peer id (one feed output per session). */
  peerId?: string;
  /** Time of the relay, the recorders' start and stop, the encoder's restart. */
  clock: Clock;
}

export type FeedOutputEvents = {
  /** The re-encoder stopped by itself (it is restarted). */
  problem: [message: string];
  /**
   * The re-encoder died and was started again: a new stream (new timeline). The recorders it fed
   * were let go at the break (their files end there); a recording goes on in a new file.
   */
  restarted: [];
  /** The picture went to a speaker (after its keyframe) or to the slate. */
  video: [{ source: 'speaker' | 'slate'; bridgeId?: string; at: number }];
  close: [];
};

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
  #relay!: FeedRelay;
  #encoder!: FeedEncoder;
  #overlay: Overlay;
  #panel: Buffer;
  readonly #packetizer = new TsPacketizer();
  readonly #press = dgram.createSocket('udp4');
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
  #pressSeq = randomInt(0, 2 ** 16);
  readonly #pressSsrc = randomInt(1, 2 ** 31);
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
    this.#press.on('error', () => undefined); // a press player that is not there yet is not our problem
  }

  /** Starts the relay and the re-encoder and joins the media session. */
  static async create(options: FeedOutputOptions): Promise<FeedOutput> {
    const output = new FeedOutput(options);
    try {
      await output.#start();
    } catch (error) {
      await output.close();
      throw error;
    }
    return output;
  }

  async #start(): Promise<void> {
    const slate = await renderSlateKeyframe(this.width, this.height);
    const base = await freeUdpPorts(6);
    const ports = { video: base, speaker: base + 2, chair: base + 4 };
    this.#relay = await FeedRelay.create({
      chairBridgeId: this.#media.chairBridgeId,
      ports,
      slate,
      holdFrame: renderHoldFrame,
      // The browsers' three simulcast layers (1280×720 camera): the sizes a speaker comes in.
      holdSizes: [{ width: 1280, height: 720 }, { width: 640, height: 360 }, { width: 320, height: 180 }],
      requestKeyFrame: () => this.#media.requestKeyFrame(this.peerId).catch(() => undefined),
      clock: this.#options.clock,
    });
    this.#relay.on('video', (e) => this.emit('video', e));
    this.#encoder = this.#newEncoder(ports);
    await this.#joinMedia();
  }

  #newEncoder(ports: Record<'video' | 'speaker' | 'chair', number>): FeedEncoder {
    const o = this.#options;
    const encoder = new FeedEncoder(
      {
        ports,
        width: this.width,
        height: this.height,
        fps: this.fps,
        videoKbps: o.videoKbps ?? 2500,
        preset: o.preset ?? 'veryfast',
        maketBackground: o.maketBackground,
        maketText: o.maketText,
        clock: o.clock,
        panel: this.#panel,
      },
      this.#overlay,
    );
    // A new encoder is a new timeline.
    this.#ptsOffset = Infinity;
    this.#gop = [];
    this.#gopAt = undefined;
    encoder.on('data', (chunk) => this.#onTs(chunk));
    encoder.on('exit', ({ code, signal, stderr }) => {
      if (this.#closed) return;
      this.emit('problem', `feed encoder exited [code:${code}, signal:${signal}] ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      // Restart it: the press feed goes on after a short gap. A recorder must not get the new
      // stream's timeline in the same file: each is let go here, and the desk opens a new file.
      for (const tap of [...this.#taps]) {
        if (tap.done) tap.done();
        else this.#taps.delete(tap);
      }
      void encoder.close();
      this.#options.clock.setTimeout(() => {
        if (this.#closed) return;
        this.#encoder = this.#newEncoder(ports);
        this.emit('restarted');
      }, 1000);
    });
    encoder.start();
    return encoder;
  }

  async #joinMedia(): Promise<void> {
    const relay = this.#relay;
    const sink: MediaPeerSink = {
      consume: async (request: ConsumeRequest) => {
        const ssrc = request.rtpParameters.encodings?.[0]?.ssrc;
        if (ssrc === undefined) throw new Error('consumer without ssrc');
        relay.addSource({ consumerId: request.consumerId, kind: request.kind, bridgeId: request.bridgeId, slot: request.slot, ssrc });
      },
      consumerClosed: (consumerId) => relay.removeSource(consumerId),
      consumerSlot: (consumerId, slot) => relay.setSlot(consumerId, slot),
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
    const transport = await this.#media.createPlainTransport(this.peerId, 'recv', { comedia: false });
    await this.#media.connectPlainTransport(this.peerId, transport.id, this.#relay.address);
  }

  /** The texts drawn over the picture (banner lines, lower third). */
  setOverlay(overlay: Overlay): void {
    this.#overlay = overlay;
    if (!this.#closed) this.#encoder.setOverlay(overlay);
  }

  /** The content beside the speaker: a panel from ContentPanel (transparent: none). */
  setPanel(png: Buffer): void {
    this.#panel = png;
    if (!this.#closed) this.#encoder.setPanel(png);
  }

  /** Whether the feed shows a speaker's video or the slate now. */
  get showing(): 'speaker' | 'slate' | undefined {
    return this.#relay?.showing;
  }

  /** Process ids for the CPU figures: the re-encoder and the recorders. */
  get pids(): { encoder: number | undefined; recorders: (number | undefined)[] } {
    return { encoder: this.#encoder?.pid, recorders: [...this.#taps].map((t) => t.recorder.pid) };
  }

  get relayCounters(): FeedRelay['counters'] | undefined {
    return this.#relay?.counters;
  }

  /** When the video sent to the re-encoder paused (FeedRelay.videoPauses). */
  get relayVideoPauses(): FeedRelay['videoPauses'] {
    return this.#relay?.videoPauses ?? [];
  }

  /** The re-encoder's recent warnings. */
  get encoderLog(): string {
    return this.#encoder?.stderr ?? '';
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

  /** Keeps the last group of pictures and the PTS clock, and feeds the recorders. */
  #follow(packets: Buffer): void {
    const now = this.#options.clock.now();
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

  #onTs(chunk: Buffer): void {
    const packets = this.#packetizer.push(chunk);
    if (packets.length === 0) return;
    this.bytesOut += packets.length;
    this.#follow(packets);
    const target = this.#options.pressFeed;
    if (!target) return;
    for (let at = 0; at < packets.length; at += TS_DATAGRAM) {
      const payload = packets.subarray(at, Math.min(packets.length, at + TS_DATAGRAM));
      if (target.protocol === 'udp') {
        this.#press.send(payload, target.port, target.host);
      } else {
        // RTP/MPEG-TS (RFC 2250): payload type 33, 90 kHz clock from the wall clock.
        const header = Buffer.alloc(12);
        header[0] = 0x80;
        header[1] = 33;
        this.#pressSeq = (this.#pressSeq + 1) & 0xffff;
        header.writeUInt16BE(this.#pressSeq, 2);
        header.writeUInt32BE(Math.floor(performance.now() * 90) % 2 ** 32, 4);
        header.writeUInt32BE(this.#pressSsrc, 8);
        this.#press.send(Buffer.concat([header, payload]), target.port, target.host);
      }
    }
  }

  /** Leaves the media session, stops the re-encoder and the relay; recorders are killed (stop them first). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#media.leave(this.peerId);
    } catch {
      // not joined, or the session is gone
    }
    for (const t of this.#taps) t.recorder.kill();
    this.#taps.clear();
    await this.#encoder?.close();
    this.#relay?.close();
    this.#press.close();
    this.emit('close');
    this.removeAllListeners();
  }
}
