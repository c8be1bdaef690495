// The wire of the feed: everything whose timing the press hears. The relay (FeedRelay) takes
// what is on air from the SFU and paces three stable streams to the re-encoder (its 20 ms ticks
// fill every gap), the re-encoder (FeedEncoder, ffmpeg) makes the MPEG-TS, and the press socket
// sends that on at the pace of its timestamps, a playout delay later (PressPacer: ffmpeg writes in
// bursts). It runs in a thread of its own (feed-thread.ts, FeedThread): on the
// control plane's event loop an agenda change or a grant held the ticks and the press socket up
// to 311 ms, and the press heard the silence. What it makes is also handed out (`ts`) to the
// recorders, which follow it on the main thread: a recorder's file can wait, the wire cannot.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import type { Clock, ClockTimer } from '../../core/conference/index.ts';
import { FeedRelay, type FeedTrack, type RelaySource } from './FeedRelay.ts';
import { FeedEncoder, type FeedEncoderOptions, type Overlay } from './FeedEncoder.ts';
import { ffmpegHasFilter, freeUdpPorts, renderHoldFrame, renderSlateKeyframe } from './ffmpeg.ts';
import { PressPacer, type PressPacerStats } from './PressPacer.ts';
import { TsPacketizer } from './ts.ts';

/** Where the press feed goes: `rtp://host:port` (RTP/MPEG-TS, RFC 2250) or `udp://host:port` (bare MPEG-TS). */
export interface PressFeedTarget {
  protocol: 'rtp' | 'udp';
  host: string;
  port: number;
}

/** What the wire is made with: plain data (it crosses to the feed's thread). */
/** The re-encoder's settings (FeedEncoderOptions, documented there), and what the wire adds. */
export interface FeedWireSetup extends Pick<FeedEncoderOptions, 'width' | 'height' | 'fps' | 'videoKbps' | 'preset' | 'maketBackground' | 'maketText'> {
  /** The chair's bridge: its microphone is the relay's `chair` track. */
  chairBridgeId: string;
  pressFeed?: PressFeedTarget;
  overlay: Overlay;
  /** The content panel at the start (PNG); null: no content. */
  panel: Uint8Array | null;
}

/** A change of the on-air picture (FeedRelay's `video`). */
export type FeedVideoEvent = { source: 'speaker' | 'slate'; bridgeId?: string; at: number };

/** The wire's figures (for tests, the benchmark and the technicians). */
export interface FeedWireStats {
  relay: FeedRelay['counters'];
  /** When the video sent to the re-encoder paused (FeedRelay.videoPauses). */
  videoPauses: FeedRelay['videoPauses'];
  encoderPid: number | undefined;
  /** The re-encoder's recent warnings. */
  encoderLog: string;
  /** Bytes of MPEG-TS made. */
  bytesOut: number;
  /** Whether the re-encoder composites the content panel now (only while content is shown, when ffmpeg can switch it). */
  compositing: boolean;
  /** The press socket's pacing (PressPacer). */
  press: PressPacerStats;
}

export type FeedWireEvents = {
  /** The relay needs a keyframe of the on-air video (the SFU is asked on the main thread). */
  keyframe: [];
  video: [FeedVideoEvent];
  /** Whole MPEG-TS packets from the re-encoder, and when they came (wall clock). */
  ts: [packets: Buffer, at: number];
  /** A re-encoder started (the first, or one after a death: a new timeline). */
  encoder: [pid: number | undefined];
  /** The re-encoder stopped by itself; a new one starts after ENCODER_RESTART_MS. */
  encoderExit: [message: string];
  /** Something the wire got over (said, not hidden). */
  problem: [message: string];
};

/** A re-encoder that died is started again after this long. */
export const ENCODER_RESTART_MS = 1000;

/** The relay, the re-encoder and the press socket of one feed. */
export class FeedWire extends EventEmitter<FeedWireEvents> {
  readonly #setup: FeedWireSetup;
  readonly #clock: Clock;
  readonly #relay: FeedRelay;
  readonly #ports: Record<FeedTrack, number>;
  readonly #press = dgram.createSocket('udp4');
  readonly #packetizer = new TsPacketizer();
  readonly #pacer: PressPacer;
  #encoder: FeedEncoder | undefined;
  #restart: ClockTimer | undefined;
  #overlay: Overlay;
  #panel: Buffer | null;
  /** The re-encoder's compositing can be switched live (its zmq filter). */
  readonly #switchable: boolean;
  #pressSeq = randomInt(0, 2 ** 16);
  readonly #pressSsrc = randomInt(1, 2 ** 31);
  #bytesOut = 0;
  #closed = false;

  private constructor(setup: FeedWireSetup, clock: Clock, relay: FeedRelay, ports: Record<FeedTrack, number>, switchable: boolean) {
    super();
    this.#switchable = switchable;
    this.#setup = setup;
    this.#clock = clock;
    this.#relay = relay;
    this.#ports = ports;
    this.#overlay = setup.overlay;
    this.#panel = setup.panel && Buffer.from(setup.panel);
    this.#press.on('error', () => undefined); // a press player that is not there yet is not our problem
    this.#pacer = new PressPacer({ clock, send: (packets) => this.#sendPress(packets) });
    relay.on('video', (e) => this.emit('video', e));
  }

  /** Makes the slate and the hold frames, binds the relay and starts the re-encoder (call start() once listeners are on). */
  static async create(setup: FeedWireSetup, clock: Clock): Promise<FeedWire> {
    const slate = await renderSlateKeyframe(setup.width, setup.height);
    const base = await freeUdpPorts(6);
    const ports = { video: base, speaker: base + 2, chair: base + 4 };
    let wire: FeedWire | undefined;
    const relay = await FeedRelay.create({
      chairBridgeId: setup.chairBridgeId,
      ports,
      slate,
      holdFrame: renderHoldFrame,
      // The browsers' three simulcast layers (1280×720 camera): the sizes a speaker comes in.
      holdSizes: [{ width: 1280, height: 720 }, { width: 640, height: 360 }, { width: 320, height: 180 }],
      requestKeyFrame: () => wire?.emit('keyframe'),
      clock,
    });
    wire = new FeedWire(setup, clock, relay, ports, await ffmpegHasFilter('zmq'));
    return wire;
  }

  /** Starts the re-encoder. */
  start(): void {
    if (!this.#closed && !this.#encoder) this.#startEncoder();
  }

  /** Where the SFU must send what is on air. */
  get address(): { ip: string; port: number } {
    return this.#relay.address;
  }

  addSource(source: RelaySource): void {
    this.#relay.addSource(source);
  }

  setSlot(consumerId: string, slot: string): void {
    this.#relay.setSlot(consumerId, slot);
  }

  removeSource(consumerId: string): void {
    this.#relay.removeSource(consumerId);
  }

  setOverlay(overlay: Overlay): void {
    this.#overlay = overlay;
    if (!this.#closed) this.#encoder?.setOverlay(overlay);
  }

  /** The content panel (null: no content). */
  setPanel(png: Buffer | null): void {
    this.#panel = png;
    if (!this.#closed) this.#encoder?.setPanel(png);
  }

  stats(): FeedWireStats {
    return {
      relay: { ...this.#relay.counters },
      videoPauses: [...this.#relay.videoPauses],
      encoderPid: this.#encoder?.pid,
      encoderLog: this.#encoder?.stderr ?? '',
      bytesOut: this.#bytesOut,
      compositing: this.#encoder?.compositing ?? false,
      press: this.#pacer.stats(),
    };
  }

  #startEncoder(): void {
    const s = this.#setup;
    const encoder = new FeedEncoder(
      {
        ports: this.#ports,
        width: s.width,
        height: s.height,
        fps: s.fps,
        videoKbps: s.videoKbps,
        preset: s.preset,
        maketBackground: s.maketBackground,
        maketText: s.maketText,
        clock: this.#clock,
        panel: this.#panel,
        switchable: this.#switchable,
      },
      this.#overlay,
    );
    this.#encoder = encoder;
    // A new re-encoder is a new timeline: the press socket's schedule starts again with it.
    this.#pacer.reset();
    encoder.on('data', (chunk) => this.#onTs(chunk));
    encoder.on('problem', (message) => this.emit('problem', message));
    encoder.on('exit', ({ code, signal, stderr }) => {
      if (this.#closed) return;
      this.emit('encoderExit', `feed encoder exited [code:${code}, signal:${signal}] ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      void encoder.close();
      this.#restart = this.#clock.setTimeout(() => {
        if (this.#closed) return;
        this.#startEncoder();
      }, ENCODER_RESTART_MS);
    });
    encoder.start();
    this.emit('encoder', encoder.pid);
  }

  /** Hands the re-encoder's output out as it comes, and to the press socket's pacer. */
  #onTs(chunk: Buffer): void {
    const packets = this.#packetizer.push(chunk);
    if (packets.length === 0) return;
    this.#bytesOut += packets.length;
    if (this.#setup.pressFeed) this.#pacer.push(packets);
    this.emit('ts', packets, this.#clock.now());
  }

  /** One datagram to the press (up to seven TS packets), when the pacer says. */
  #sendPress(payload: Buffer): void {
    const target = this.#setup.pressFeed;
    if (!target || this.#closed) return;
    if (target.protocol === 'udp') {
      this.#press.send(payload, target.port, target.host);
      return;
    }
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

  /** Stops the re-encoder, the relay and the press socket; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#restart);
    this.#pacer.close();
    await this.#encoder?.close();
    this.#relay.close();
    this.#press.close();
    this.removeAllListeners();
  }
}
