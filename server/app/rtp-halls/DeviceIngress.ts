import dgram from 'node:dgram';
import type { Clock } from '../../core/conference/index.ts';
import type { MediaKind } from './DeviceSheet.ts';
import { vp8Numbering, withPictureId, type Vp8Numbering } from './vp8-descriptor.ts';

/** Packets received from the device so far, and when the last one came. */
export interface IngressCounters {
  packets: Record<MediaKind, number>;
  /** Epoch ms of the last packet from the device (0: none yet). */
  lastPacketAt: number;
  /** Video packets whose VP8 descriptor was given a PictureID on the way in. */
  pictureIdsAdded: number;
  /** Since when video packets have come without a break of VIDEO_BREAK_MS (0: none coming). */
  videoSince: number;
  /** Epoch ms of the last video packet (0: none yet). */
  lastVideoAt: number;
}

/** A pause in the device's video longer than this starts a new run (VideoSince). */
export const VIDEO_BREAK_MS = 2000;

/**
 * The ports a hardware hall sends to: one for its audio, one for its video, as conference codecs
 * do (each stream from a port of its own, RTCP on the same port). mediasoup's plain transport
 * takes one source address, so both streams are forwarded to it from one socket here; what
 * mediasoup sends back (RTCP: receiver reports, keyframe requests) goes to both device ports.
 * The ports stay the same when the media behind them is rebuilt (a worker died), so the device
 * keeps sending where it was told. SRTP passes through untouched: mediasoup decrypts it. Plain
 * VP8 without a PictureID gets one on the way (vp8-descriptor.ts); encrypted VP8 cannot be
 * touched here, and a hall whose picture the SFU cannot use is told so (RtpHall.videoProblem).
 */
export class DeviceIngress {
  readonly #sockets: Record<MediaKind, dgram.Socket>;
  readonly #toSfu: dgram.Socket;
  /** Where each device stream last came from (RTCP goes back there). */
  readonly #sources: Partial<Record<MediaKind, { address: string; port: number }>> = {};
  #target: { ip: string; port: number } | undefined;
  readonly #counters: IngressCounters = { packets: { audio: 0, video: 0 }, lastPacketAt: 0, pictureIdsAdded: 0, videoSince: 0, lastVideoAt: 0 };
  readonly #clock: Clock;
  /** The payload type of plain VP8 video to complete with PictureIDs, and its frame numbering. */
  #vp8: { payloadType: number; numbering: Vp8Numbering } | undefined;
  #closed = false;

  private constructor(sockets: Record<MediaKind, dgram.Socket>, toSfu: dgram.Socket, clock: Clock) {
    this.#sockets = sockets;
    this.#toSfu = toSfu;
    this.#clock = clock;
    for (const kind of ['audio', 'video'] as const) {
      sockets[kind].on('message', (msg, rinfo) => this.#fromDevice(kind, msg, rinfo));
      sockets[kind].on('error', () => undefined);
    }
    toSfu.on('message', (msg) => this.#fromSfu(msg));
    toSfu.on('error', () => undefined);
  }

  /**
   * Opens the device-facing ports on `listenIp` (free ports of `portRange` when given, the range
   * the firewall opens for RTP; else any free port) and the socket towards the SFU on `sfuSideIp`.
   */
  static async open(options: { listenIp: string; sfuSideIp: string; portRange?: { min: number; max: number }; clock: Clock }): Promise<DeviceIngress> {
    const opened: dgram.Socket[] = [];
    const bindInRange = async (ip: string): Promise<dgram.Socket> => {
      const range = options.portRange;
      if (!range) return bind(ip, 0);
      // Random tries, as mediasoup does in the same range: a port it holds is skipped.
      for (let attempt = 0; ; attempt++) {
        const port = range.min + Math.floor(Math.random() * (range.max - range.min + 1));
        try {
          return await bind(ip, port);
        } catch (error) {
          opened.pop()?.close();
          if (attempt >= 100) throw error;
        }
      }
    };
    const bind = async (ip: string, port: number): Promise<dgram.Socket> => {
      const socket = dgram.createSocket('udp4');
      opened.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(port, ip, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      return socket;
    };
    try {
      const audio = await bindInRange(options.listenIp);
      const video = await bindInRange(options.listenIp);
      const toSfu = await bind(options.sfuSideIp, 0);
      return new DeviceIngress({ audio, video }, toSfu, options.clock);
    } catch (error) {
      for (const s of opened) s.close();
      throw error;
    }
  }

  /** The device-facing port of each stream. */
  get ports(): Record<MediaKind, number> {
    return { audio: this.#sockets.audio.address().port, video: this.#sockets.video.address().port };
  }

  /** The address mediasoup sees the device's packets come from. */
  get sfuSide(): { ip: string; port: number } {
    const a = this.#toSfu.address();
    return { ip: a.address, port: a.port };
  }

  get counters(): IngressCounters {
    const c = this.#counters;
    return { packets: { ...c.packets }, lastPacketAt: c.lastPacketAt, pictureIdsAdded: c.pictureIdsAdded, videoSince: c.videoSince, lastVideoAt: c.lastVideoAt };
  }

  /** Completes the VP8 descriptors of the video port's packets of this payload type (plain RTP only). */
  addPictureIds(payloadType: number): void {
    this.#vp8 = { payloadType, numbering: vp8Numbering() };
  }

  /** Where the device's packets go: the plain transport's port (changes when the media is rebuilt). */
  setTarget(target: { ip: string; port: number } | undefined): void {
    this.#target = target;
  }

  #fromDevice(kind: MediaKind, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // RTP and RTCP both start with version 2; anything else is not the device's media.
    if (msg.length < 8 || msg[0]! >> 6 !== 2) return;
    this.#sources[kind] = { address: rinfo.address, port: rinfo.port };
    const now = this.#clock.now();
    this.#counters.packets[kind]++;
    this.#counters.lastPacketAt = now;
    if (kind === 'video') {
      if (now - this.#counters.lastVideoAt > VIDEO_BREAK_MS) this.#counters.videoSince = now;
      this.#counters.lastVideoAt = now;
    }
    let out = msg;
    if (kind === 'video' && this.#vp8) {
      out = withPictureId(msg, this.#vp8.payloadType, this.#vp8.numbering);
      if (out !== msg) this.#counters.pictureIdsAdded++;
    }
    if (this.#target && !this.#closed) this.#toSfu.send(out, this.#target.port, this.#target.ip);
  }

  #fromSfu(msg: Buffer): void {
    if (this.#closed) return;
    for (const kind of ['audio', 'video'] as const) {
      const source = this.#sources[kind];
      if (source) this.#sockets[kind].send(msg, source.port, source.address);
    }
  }

  /** Closes the ports; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [this.#sockets.audio, this.#sockets.video, this.#toSfu]) s.close();
  }
}
