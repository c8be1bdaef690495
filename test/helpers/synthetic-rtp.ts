// Halls made of synthetic RTP for the tests of media across nodes: a hall that sends Opus and VP8
// to its node's plain transport (answering each keyframe request after an encoder's delay), and a
// hall that receives on a UDP socket and counts what arrives. Real UDP on loopback.
import dgram from 'node:dgram';
import { OpusPacketizer, parseFeedback, Vp8Packetizer } from '../../scripts/bench/fanout/rtp.ts';

/** A hall's camera and microphone sent from this process to its node: Opus and VP8 (a keyframe answers each PLI, after an encoder's delay). */
export class SyntheticHall {
  readonly socket = dgram.createSocket('udp4');
  plis = 0;
  /** Whether it sends its camera's packets (false: as a camera whose packets stop arriving; its microphone goes on). */
  sendVideo = true;
  /**
   * The level its microphone's packets say (RFC 6464, dBov, -127 silence … 0), as a browser
   * writes it: only when start() was given the extension's id.
   */
  audioLevelDb = -127;
  #levelExtId: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #audio!: OpusPacketizer;
  #video!: Vp8Packetizer;
  #target!: { ip: string; port: number };
  #ts = 0;
  #closed = false;

  async start(target: { ip: string; port: number; micSsrc: number; camSsrc: number }, keyframeDelayMs = 80, audioLevelExtId?: number): Promise<void> {
    this.#levelExtId = audioLevelExtId;
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', r));
    this.#target = target;
    this.#audio = new OpusPacketizer(target.micSsrc, 111);
    this.#video = new Vp8Packetizer(target.camSsrc, 96);
    this.socket.on('message', (m) => {
      const feedback = parseFeedback(m);
      const asked = feedback.pli.filter((s) => s === target.camSsrc).length + feedback.fir.filter((s) => s === target.camSsrc).length;
      if (asked === 0) return;
      this.plis += asked;
      setTimeout(() => this.#frame(true), keyframeDelayMs);
    });
    this.#frame(true);
    this.#timer = setInterval(() => {
      this.#send(this.#withLevel(this.#audio.packetize(Buffer.alloc(40, 0xf8), (this.#ts += 960))));
      this.#frame(false);
    }, 40);
  }

  /** The packet with a one-byte header extension (RFC 8285) carrying its level, when asked for. */
  #withLevel(packet: Buffer): Buffer {
    if (this.#levelExtId === undefined) return packet;
    const ext = Buffer.from([0xbe, 0xde, 0x00, 0x01, (this.#levelExtId << 4) | 0, 0x80 | Math.min(127, Math.max(0, -Math.round(this.audioLevelDb))), 0, 0]);
    const out = Buffer.concat([packet.subarray(0, 12), ext, packet.subarray(12)]);
    out[0] = out[0]! | 0x10;
    return out;
  }

  #frame(key: boolean): void {
    if (!this.sendVideo) return;
    // VP8 payload header: P bit 0 on a keyframe.
    const frame = Buffer.alloc(300, 0x55);
    frame[0] = key ? 0x10 : 0x11;
    for (const p of this.#video.packetize(frame, this.#ts * 1.875).packets) this.#send(p);
  }

  #send(packet: Buffer): void {
    if (!this.#closed) this.socket.send(packet, this.#target.port, this.#target.ip);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.socket.close();
  }
}

/** A hall that receives on a UDP socket here and counts packets per SSRC. */
export class Receiver {
  readonly socket = dgram.createSocket('udp4');
  packets = 0;
  readonly ssrcs = new Set<number>();

  async start(): Promise<{ ip: string; port: number }> {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', r));
    this.socket.on('message', (m) => {
      if (m.length < 12 || (m[1]! >= 192 && m[1]! <= 223)) return;
      this.packets++;
      this.ssrcs.add(m.readUInt32BE(8));
    });
    return { ip: '127.0.0.1', port: this.socket.address().port };
  }

  close(): void {
    this.socket.close();
  }
}

/** A bare RTP packet (40 bytes of payload). */
export function rtpPacket(ssrc: number, seq: number, payloadType: number): Buffer {
  const b = Buffer.alloc(12 + 40, 0xab);
  b[0] = 0x80;
  b[1] = payloadType & 0x7f;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(seq * 960, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

/** A UDP socket bound on loopback. */
export async function udpSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}
