import { EventEmitter } from 'node:events';
import { randomBytes, randomInt } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import { SfuError, type MediaPeerSink, type MediaSession } from '../../../sfu/index.ts';
import { sleep, systemClock, type Clock, type ClockTimer } from '../../core/conference/index.ts';
import type { Bridge, RtpEndpoint } from '../../protocol/plan.ts';
import { DeviceIngress } from './DeviceIngress.ts';
import {
  ffmpegReceiveCommand,
  ffmpegSendCommand,
  programmeSdp,
  sheetKey,
  type DeviceSheet,
  type MediaKind,
  type SheetCodec,
} from './DeviceSheet.ts';

/** The SRTP suite offered to devices: the one every SDES device and ffmpeg speak. */
export const DEVICE_SRTP_SUITE: ms.SrtpCryptoSuite = 'AES_CM_128_HMAC_SHA1_80';

/** Where a device receives the programme. */
export interface DeviceReceiveAddress {
  ip: string;
  audioPort: number;
  videoPort: number;
}

export interface RtpHallOptions {
  media: MediaSession;
  bridge: Bridge;
  endpoint: RtpEndpoint;
  /** The address the device-facing ports bind to, and the one devices are told. */
  listenIp: string;
  announcedIp?: string;
  /** The UDP range the device ports are taken from (the firewall's RTP range); any port when absent. */
  portRange?: { min: number; max: number };
  /**
   * How often the speaker is asked for a keyframe while the device receives the programme
   * (default 4 s; 0: never). Devices that send no PLI/FIR (ffmpeg, many decoders) can only start
   * decoding on one, and browsers send keyframes only when asked.
   */
  keyframeIntervalMs?: number;
  /** Time of the device's packets, the sheet and the keyframe requests (the system clock by default). */
  clock?: Clock;
}

/** See RtpHallOptions.keyframeIntervalMs. */
export const DEVICE_KEYFRAME_INTERVAL_MS = 4000;

/** Video that comes this long without one keyframe the SFU recognises is a picture nobody gets. */
export const NO_KEYFRAME_MS = 10_000;

export type RtpHallEvents = {
  /** The device sheet changed (address given, media rebuilt): the technician must look again. */
  sheet: [sheet: DeviceSheet];
  /** Whether the hall's microphone is open at the server. */
  mic: [open: boolean];
  /** Something failed that the hall worked around. */
  problem: [message: string, error?: unknown];
  close: [];
};

// Opus as conference codecs and browsers send it.
const OPUS_FMTP = 'minptime=10;useinbandfec=1';
const VIDEO_FEEDBACK: ms.RtcpFeedback[] = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }];

/** A codec of the routers as a device sees it (no RTX, no browser-only parameters or feedback). */
function deviceCodecs(caps: ms.RtpCapabilities, kind: MediaKind): ms.RtpCodecCapability[] {
  return caps.codecs!
    .filter((c) => c.kind === kind && !/\/rtx$/i.test(c.mimeType))
    .map((c) => ({
      ...c,
      parameters: Object.fromEntries(Object.entries(c.parameters ?? {}).filter(([k]) => !k.startsWith('x-google-'))),
      rtcpFeedback: (c.rtcpFeedback ?? []).filter((fb) => fb.type === 'nack' || fb.type === 'ccm'),
    }));
}

function sheetCodec(c: ms.RtpCodecCapability): SheetCodec {
  const name = c.mimeType.split('/')[1]!;
  const fmtp = c.kind === 'audio' ? OPUS_FMTP : Object.entries(c.parameters ?? {}).map(([k, v]) => `${k}=${String(v)}`).join(';');
  return { name: c.kind === 'audio' ? name.toLowerCase() : name, payloadType: c.preferredPayloadType!, clockRate: c.clockRate, channels: c.channels, fmtp };
}

/** SSRCs ffmpeg accepts (its -ssrc is a signed 32-bit option) and that no browser is likely to pick. */
function deviceSsrc(): number {
  return randomInt(0x1000_0000, 0x7fff_ffff);
}

/**
 * One hardware hall (a conference codec, an encoder, ffmpeg) over plain RTP. It is that bridge's
 * peer in the media session: it publishes the device's microphone and camera, which arrive on two
 * ports of a DeviceIngress, and sends the programme to the device's address as two streams (video
 * on the main peer's receive transport, one audio stream on a second, receive-only peer), each on
 * a plain transport with SRTP when the device supports it. The device sheet tells the technician
 * what to enter on the device.
 */
export class RtpHall extends EventEmitter<RtpHallEvents> {
  readonly bridgeId: string;
  readonly bridgeName: string;
  readonly srtp: boolean;
  /** The codec the device sends its camera in. */
  readonly videoCodec: 'VP8' | 'H264';
  readonly #media: MediaSession;
  readonly #ingress: DeviceIngress;
  readonly #announcedIp: string;
  readonly #sfuSideIp: string;
  /** The key the device encrypts with (we generate it and hand it to the technician). */
  readonly #deviceKey: string | undefined;
  readonly #ssrc: Record<MediaKind, number> = { audio: deviceSsrc(), video: deviceSsrc() };
  readonly #peerIds: { main: string; audio: string };
  #receive: DeviceReceiveAddress | null;
  /** What the server encrypts the programme with, per stream (from the receive transports). */
  #programmeKeys: Partial<Record<MediaKind, ms.SrtpParameters>> = {};
  #version = 0;
  #micOpen = false;
  #built = false;
  /** When the SFU last recognised a keyframe of the device's video (0: not since the media was built). */
  #keyframeAt = 0;
  /** Serialises builds, rebuilds and address changes. */
  #chain: Promise<void> = Promise.resolve();
  #rebuildQueued = false;
  readonly #clock: Clock;
  #keyframeTimer: ClockTimer | undefined;
  #closed = false;

  private constructor(options: RtpHallOptions, ingress: DeviceIngress, sfuSideIp: string) {
    super();
    this.bridgeId = options.bridge.id;
    this.bridgeName = options.bridge.name;
    this.srtp = options.endpoint.srtp;
    this.videoCodec = options.endpoint.videoCodec;
    this.#media = options.media;
    this.#clock = options.clock ?? systemClock;
    this.#ingress = ingress;
    this.#sfuSideIp = sfuSideIp;
    this.#announcedIp = options.announcedIp ?? (options.listenIp === '0.0.0.0' ? '127.0.0.1' : options.listenIp);
    this.#deviceKey = this.srtp ? randomBytes(30).toString('base64') : undefined;
    this.#receive = options.endpoint.receive ?? null;
    this.#peerIds = { main: `rtp:${this.bridgeId}`, audio: `rtp:${this.bridgeId}:programme-audio` };
  }

  /** Opens the device's ports and joins the media session as the bridge. */
  static async create(options: RtpHallOptions): Promise<RtpHall> {
    const sfuSideIp = options.listenIp === '0.0.0.0' ? '127.0.0.1' : options.listenIp;
    const ingress = await DeviceIngress.open({ listenIp: options.listenIp, sfuSideIp, portRange: options.portRange, clock: options.clock ?? systemClock });
    const hall = new RtpHall(options, ingress, sfuSideIp);
    // Plain VP8 from a device that leaves the PictureID out is completed on the way in.
    if (!hall.srtp && hall.videoCodec === 'VP8') ingress.addPictureIds(hall.#sentVideoCodec(options.media.rtpCapabilities).preferredPayloadType!);
    try {
      await hall.#run(() => hall.#build());
    } catch (error) {
      hall.close();
      throw error;
    }
    const every = options.keyframeIntervalMs ?? DEVICE_KEYFRAME_INTERVAL_MS;
    if (every > 0) {
      hall.#keyframeTimer = hall.#clock.setInterval(
        () => {
          if (hall.#receive && hall.#built && !hall.#closed) void options.media.requestKeyFrame(hall.#peerIds.main).catch(() => undefined);
        },
        every,
        { background: true },
      );
    }
    return hall;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the microphone is open at the server (the hall has the floor, or is the chair's). */
  get micOpen(): boolean {
    return this.#micOpen;
  }

  /**
   * Why the device's picture reaches nobody, in a technician's words, or null: its video has been
   * arriving for NO_KEYFRAME_MS without a keyframe the SFU recognises (consumers start only on
   * one). Plain VP8 without a PictureID is completed on the way in; SRTP-encrypted VP8 cannot be.
   */
  videoProblem(now = this.#clock.now()): string | null {
    const c = this.#ingress.counters;
    const arriving = c.lastVideoAt > 0 && now - c.lastVideoAt < 2000;
    if (!arriving || !this.#built || now - c.videoSince < NO_KEYFRAME_MS || this.#keyframeAt >= c.videoSince) return null;
    const why =
      this.videoCodec === 'VP8'
        ? this.srtp
          ? 'thiết bị có thể gửi VP8 không có PictureID (RFC 7741) qua SRTP: bật PictureID trên thiết bị (GStreamer: rtpvp8pay picture-id-mode=15-bit), hoặc không gửi khung hình khóa'
          : 'thiết bị không gửi khung hình khóa (keyframe)'
        : 'thiết bị không gửi khung hình khóa (IDR) có SPS/PPS';
    return `không có hình: máy chủ nhận gói hình nhưng không nhận ra khung hình khóa nào trong ${NO_KEYFRAME_MS / 1000} giây (${why})`;
  }

  /** Packets from the device so far and when the last one came. */
  counters(): DeviceIngress['counters'] {
    return this.#ingress.counters;
  }

  /** Sets (or changes) where the device receives the programme; the receive transports are remade. */
  async setReceiveAddress(address: DeviceReceiveAddress): Promise<DeviceSheet> {
    await this.#run(async () => {
      this.#receive = { ...address };
      if (!this.#built) return;
      await this.#createProgrammeTransports();
      this.#version++;
    });
    const sheet = this.sheet();
    this.emit('sheet', sheet);
    return sheet;
  }

  /** What the technician enters on the device. */
  sheet(): DeviceSheet {
    const caps = this.#media.rtpCapabilities;
    const audio = deviceCodecs(caps, 'audio').map(sheetCodec);
    const sent = sheetCodec(this.#sentVideoCodec(caps));
    const ports = this.#ingress.ports;
    const key = (p: ms.SrtpParameters | undefined) => (p ? sheetKey(p.cryptoSuite, p.keyBase64) : null);
    const sheet: DeviceSheet = {
      bridgeId: this.bridgeId,
      bridgeName: this.bridgeName,
      version: this.#version,
      generatedAt: this.#clock.now(),
      srtp: this.srtp,
      send: {
        ip: this.#announcedIp,
        audio: { port: ports.audio, codec: audio[0]!, ssrc: this.#ssrc.audio },
        video: { port: ports.video, codec: sent, ssrc: this.#ssrc.video },
        srtp: this.#deviceKey ? sheetKey(DEVICE_SRTP_SUITE, this.#deviceKey) : null,
      },
      receive: {
        ip: this.#receive?.ip ?? null,
        fromIp: this.#announcedIp,
        audio: { port: this.#receive?.audioPort ?? null, codecs: audio, srtp: key(this.#programmeKeys.audio) },
        video: { port: this.#receive?.videoPort ?? null, codecs: [sent], srtp: key(this.#programmeKeys.video) },
      },
      programmeSdp: null,
      ffmpeg: { send: '', receive: null },
      notes: [],
    };
    sheet.programmeSdp = programmeSdp(sheet);
    sheet.ffmpeg = { send: ffmpegSendCommand(sheet), receive: sheet.programmeSdp ? ffmpegReceiveCommand(sheet) : null };
    sheet.notes = [
      'Thiết bị gửi âm thanh và hình ảnh, mỗi luồng tới một cổng riêng của máy chủ (RTP và RTCP chung một cổng), với đúng payload type và SSRC ghi ở trên.',
      `Hình ảnh gửi lên bằng ${sent.name}${sent.name === 'H264' ? ' (constrained baseline, packetization-mode 1, SPS/PPS trước mỗi khung hình khóa)' : ''}; âm thanh bằng Opus 48 kHz.`,
      `Thiết bị nhận hình ảnh chương trình bằng ${sent.name}, như nó gửi. Máy chủ không chuyển mã: khi điểm cầu đang phát biểu gửi codec khác (điểm cầu trình duyệt gửi VP8${sent.name === 'VP8' ? ', điểm cầu thiết bị có thể gửi H264' : ''}), thiết bị chỉ nhận tiếng, không có hình.`,
      'Thiết bị nhận một luồng âm thanh: của điểm cầu đang phát biểu, hoặc của chủ tọa khi chủ tọa hay chính điểm cầu này đang phát biểu. Khi điểm cầu khác đang phát biểu, lời chủ tọa xen vào chưa tới được thiết bị (máy chủ chưa trộn âm).',
      'Mỗi lần đổi người phát biểu, luồng nhận đổi SSRC và số thứ tự gói; thiết bị cần tự bắt lại luồng mới.',
      'Máy chủ yêu cầu khung hình khóa vài giây một lần cho thiết bị; thiết bị gửi PLI/FIR (RTCP chung cổng với RTP) thì có hình sớm hơn sau khi đổi người phát biểu hoặc mất gói.',
      this.srtp
        ? `SRTP ${DEVICE_SRTP_SUITE}: thiết bị mã hóa bằng khóa "gửi lên" và giải mã mỗi luồng nhận bằng khóa riêng của luồng đó.`
        : 'Không mã hóa (RTP thường): chỉ dùng trong mạng riêng.',
      sheet.programmeSdp
        ? `Chương trình được gửi tới ${this.#receive!.ip}: âm thanh cổng ${this.#receive!.audioPort}, hình ảnh cổng ${this.#receive!.videoPort}.`
        : 'Chưa có địa chỉ nhận của thiết bị: nhập địa chỉ IP và hai cổng nhận để máy chủ gửi chương trình.',
      'Nếu máy chủ media khởi động lại, khóa SRTP của chiều nhận sẽ đổi: phiếu có số phiên bản mới, cần nhập lại.',
    ];
    return sheet;
  }

  #run(task: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(() => (this.#closed ? undefined : task()));
    this.#chain = next.catch(() => undefined);
    return next;
  }

  #sink(peer: 'main' | 'audio'): MediaPeerSink {
    return {
      consume: () => Promise.resolve(),
      consumerClosed: () => undefined,
      consumerSlot: () => undefined,
      // A device sends one layer; there is nothing to tell it.
      sendLayers: () => undefined,
      micState: (open) => {
        if (peer !== 'main' || open === this.#micOpen) return;
        this.#micOpen = open;
        this.emit('mic', open);
      },
      restartMedia: (reason) => this.#scheduleRebuild(reason),
      replaced: () => {
        this.#built = false;
        this.emit('problem', `bridge ${this.bridgeId} was taken over by another publisher; its device's media is no longer forwarded`);
      },
    };
  }

  /** Joins as the bridge, creates the transports and publishes the device's microphone and camera. */
  async #build(): Promise<void> {
    const media = this.#media;
    const { main, audio } = this.#peerIds;
    const caps = media.rtpCapabilities;
    const srtpCryptoSuite = this.srtp ? DEVICE_SRTP_SUITE : undefined;
    media.join(main, { bridgeId: this.bridgeId, publish: true, receiveOnAir: true, thumbnails: false }, this.#sink('main'));
    media.join(audio, { bridgeId: this.bridgeId, publish: false, receiveOnAir: true, thumbnails: false, singleAudio: true }, this.#sink('audio'));
    // What the device receives: the video peer takes only video, the audio peer only audio.
    // One video codec, the device's own: a device is sent nothing it was not set up to decode, and
    // its SDP file names one codec (ffmpeg, like many devices, does not switch codecs mid-stream).
    media.setRtpCapabilities(main, { codecs: [this.#sentVideoCodec(caps)], headerExtensions: [] });
    media.setRtpCapabilities(audio, { codecs: deviceCodecs(caps, 'audio'), headerExtensions: [] });

    const up = await media.createPlainTransport(main, 'send', { comedia: false, srtpCryptoSuite });
    const srtpParameters = this.#deviceKey ? { cryptoSuite: DEVICE_SRTP_SUITE, keyBase64: this.#deviceKey } : undefined;
    const ingress = this.#ingress.sfuSide;
    await media.connectPlainTransport(main, up.id, { ip: ingress.ip, port: ingress.port, srtpParameters });
    this.#ingress.setTarget({ ip: this.#sfuSideIp, port: up.port });

    const [opus] = deviceCodecs(caps, 'audio');
    const video = this.#sentVideoCodec(caps);
    const rtcp = { cname: `diemcau-${this.bridgeId}`, reducedSize: true };
    await media.produce(main, up.id, 'audio', {
      codecs: [{ mimeType: opus!.mimeType, payloadType: opus!.preferredPayloadType!, clockRate: opus!.clockRate, channels: opus!.channels, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [] }],
      headerExtensions: [],
      encodings: [{ ssrc: this.#ssrc.audio }],
      rtcp,
    }, 'mic');
    await media.produce(main, up.id, 'video', {
      codecs: [{ mimeType: video!.mimeType, payloadType: video!.preferredPayloadType!, clockRate: video!.clockRate, parameters: video!.parameters ?? {}, rtcpFeedback: VIDEO_FEEDBACK }],
      headerExtensions: [],
      encodings: [{ ssrc: this.#ssrc.video }],
      rtcp,
    }, 'cam');
    this.#keyframeAt = 0;
    await media.traceKeyframes(main, 'cam', () => (this.#keyframeAt = this.#clock.now()));
    await this.#createProgrammeTransports();
    this.#built = true;
  }

  /** The routers' codec the device sends its camera in (and receives the programme's video in). */
  #sentVideoCodec(caps: ms.RtpCapabilities): ms.RtpCodecCapability {
    const codec = deviceCodecs(caps, 'video').find((c) => c.mimeType.toLowerCase() === `video/${this.videoCodec.toLowerCase()}`);
    if (!codec) throw new SfuError('invalid_rtp_parameters', `the routers do not offer ${this.videoCodec} [bridgeId:${this.bridgeId}]`);
    return codec;
  }

  /** (Re)creates the two receive transports and points them at the device when its address is known. */
  async #createProgrammeTransports(): Promise<void> {
    const media = this.#media;
    const srtpCryptoSuite = this.srtp ? DEVICE_SRTP_SUITE : undefined;
    const deviceKey = this.#deviceKey ? { cryptoSuite: DEVICE_SRTP_SUITE, keyBase64: this.#deviceKey } : undefined;
    const keys: Partial<Record<MediaKind, ms.SrtpParameters>> = {};
    for (const [kind, peerId] of [['video', this.#peerIds.main], ['audio', this.#peerIds.audio]] as const) {
      const t = await media.createPlainTransport(peerId, 'recv', { comedia: false, srtpCryptoSuite });
      keys[kind] = t.srtpParameters;
      const r = this.#receive;
      if (r) {
        // The device's own RTCP (receiver reports) is expected under the key it sends with.
        await media.connectPlainTransport(peerId, t.id, { ip: r.ip, port: kind === 'audio' ? r.audioPort : r.videoPort, srtpParameters: deviceKey });
      }
    }
    this.#programmeKeys = keys;
  }

  /** After a worker died: the same device ports and upload key, new transports behind them. */
  #scheduleRebuild(reason: string): void {
    if (this.#rebuildQueued || this.#closed) return;
    this.#rebuildQueued = true;
    void this.#run(async () => {
      this.#rebuildQueued = false;
      this.#leave();
      this.#built = false;
      for (let attempt = 0; ; attempt++) {
        try {
          await this.#build();
          break;
        } catch (error) {
          this.#leave();
          if (attempt >= 20 || this.#closed) throw error;
          // The replacement worker may not have its router yet.
          await sleep(this.#clock, 500);
        }
      }
      this.#version++;
    }).then(
      () => {
        if (this.#closed) return;
        this.emit('problem', `media of ${this.bridgeId} rebuilt (${reason}); programme keys changed`);
        this.emit('sheet', this.sheet());
      },
      (error: unknown) => this.emit('problem', `rebuilding media of ${this.bridgeId} failed`, error),
    );
  }

  #leave(): void {
    if (this.#media.closed) return;
    this.#media.leave(this.#peerIds.main);
    this.#media.leave(this.#peerIds.audio);
  }

  /** Leaves the media session and closes the device's ports; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearInterval(this.#keyframeTimer);
    this.#leave();
    this.#ingress.close();
    this.emit('close');
    this.removeAllListeners();
  }
}
