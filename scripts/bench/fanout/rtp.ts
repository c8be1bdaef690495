/** RTP packetisation (VP8 per RFC 7741, Opus) and the RTCP the harness sends and reads. */

/** Payload bytes per RTP packet (a browser keeps packets around 1,200 bytes). */
export const MAX_PAYLOAD = 1160;
/** Marker packets of the programme carry this trailer after the VP8 data: magic, counter, send time. */
export const TRAILER_MAGIC = 0x44434231; // 'DCB1'
export const TRAILER_LEN = 16;

function header(pt: number, seq: number, ts: number, ssrc: number, marker: boolean, payloadLen: number): Buffer {
  const b = Buffer.allocUnsafe(12 + payloadLen);
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | (pt & 0x7f);
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  return b;
}

/** A VP8 stream's packetiser state (RFC 7741 descriptor with 15-bit PictureID, TL0PICIDX, TID). */
export class Vp8Packetizer {
  seq: number;
  pictureId = Math.floor(Math.random() * 0x7fff);
  tl0 = 0;
  constructor(readonly ssrc: number, readonly pt: number) {
    this.seq = Math.floor(Math.random() * 0xffff);
  }

  /**
   * The RTP packets of one frame. When `stamp` is given, the last packet carries the trailer
   * (appended after the frame's data, where the VP8 decoder ignores it).
   */
  packetize(frame: Buffer, ts: number, stamp?: { counter: number }): { packets: Buffer[]; stampAt?: number } {
    const packets: Buffer[] = [];
    const n = Math.max(1, Math.ceil(frame.length / MAX_PAYLOAD));
    const per = Math.ceil(frame.length / n);
    this.pictureId = (this.pictureId + 1) & 0x7fff;
    this.tl0 = (this.tl0 + 1) & 0xff;
    for (let i = 0; i < n; i++) {
      const chunk = frame.subarray(i * per, Math.min(frame.length, (i + 1) * per));
      const last = i === n - 1;
      const extra = last && stamp ? TRAILER_LEN : 0;
      const p = header(this.pt, this.seq, ts, this.ssrc, last, 6 + chunk.length + extra);
      this.seq = (this.seq + 1) & 0xffff;
      p[12] = 0x80 | (i === 0 ? 0x10 : 0); // X, S (start of partition 0)
      p[13] = 0xe0; // I, L, T
      p[14] = 0x80 | (this.pictureId >> 8);
      p[15] = this.pictureId & 0xff;
      p[16] = this.tl0;
      p[17] = 0x20; // TID 0, layer sync
      chunk.copy(p, 18);
      if (extra) {
        const at = 18 + chunk.length;
        p.writeUInt32BE(TRAILER_MAGIC, at);
        p.writeUInt32BE(stamp!.counter >>> 0, at + 4);
        // the send time is written by the sender just before encryption
      }
      packets.push(p);
    }
    return { packets, stampAt: stamp ? packets.length - 1 : undefined };
  }
}

/** Writes the send time (monotonic ns) into a stamped packet's trailer. */
export function writeSendTime(packet: Buffer, ns: bigint): void {
  packet.writeBigUInt64BE(ns, packet.length - 8);
}

/** Reads a trailer from a decrypted packet: counter and send time, or null. */
export function readTrailer(packet: Buffer): { counter: number; sentNs: bigint } | null {
  if (packet.length < 12 + TRAILER_LEN) return null;
  const at = packet.length - TRAILER_LEN;
  if (packet.readUInt32BE(at) !== TRAILER_MAGIC) return null;
  return { counter: packet.readUInt32BE(at + 4), sentNs: packet.readBigUInt64BE(at + 8) };
}

export class OpusPacketizer {
  seq = Math.floor(Math.random() * 0xffff);
  constructor(readonly ssrc: number, readonly pt: number) {}
  packetize(opus: Buffer, ts: number): Buffer {
    const p = header(this.pt, this.seq, ts, this.ssrc, false, opus.length);
    this.seq = (this.seq + 1) & 0xffff;
    opus.copy(p, 12);
    return p;
  }
}

export interface ReportBlock {
  ssrc: number;
  fractionLost: number;
  cumulativeLost: number;
  extHighestSeq: number;
  jitter: number;
  lsr: number;
  dlsr: number;
}

/** A receiver report with up to 31 blocks. */
export function receiverReport(senderSsrc: number, blocks: ReportBlock[]): Buffer {
  const n = Math.min(31, blocks.length);
  const b = Buffer.alloc(8 + 24 * n);
  b[0] = 0x80 | n;
  b[1] = 201;
  b.writeUInt16BE(b.length / 4 - 1, 2);
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  for (let i = 0; i < n; i++) {
    const k = blocks[i]!;
    const at = 8 + 24 * i;
    b.writeUInt32BE(k.ssrc >>> 0, at);
    b[at + 4] = Math.max(0, Math.min(255, k.fractionLost));
    b.writeIntBE(Math.max(-0x800000, Math.min(0x7fffff, k.cumulativeLost)), at + 5, 3);
    b.writeUInt32BE(k.extHighestSeq >>> 0, at + 8);
    b.writeUInt32BE(k.jitter >>> 0, at + 12);
    b.writeUInt32BE(k.lsr >>> 0, at + 16);
    b.writeUInt32BE(k.dlsr >>> 0, at + 20);
  }
  return b;
}

/** A generic NACK (RFC 4585) for lost sequence numbers of one media SSRC. */
export function genericNack(senderSsrc: number, mediaSsrc: number, lost: number[]): Buffer {
  const fci: { pid: number; blp: number }[] = [];
  for (const seq of [...lost].sort((a, b) => a - b)) {
    const last = fci[fci.length - 1];
    const d = last ? (seq - last.pid) & 0xffff : 0;
    if (last && d >= 1 && d <= 16) last.blp |= 1 << (d - 1);
    else fci.push({ pid: seq, blp: 0 });
  }
  const b = Buffer.alloc(12 + 4 * fci.length);
  b[0] = 0x80 | 1;
  b[1] = 205;
  b.writeUInt16BE(b.length / 4 - 1, 2);
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  b.writeUInt32BE(mediaSsrc >>> 0, 8);
  fci.forEach((f, i) => {
    b.writeUInt16BE(f.pid & 0xffff, 12 + 4 * i);
    b.writeUInt16BE(f.blp & 0xffff, 14 + 4 * i);
  });
  return b;
}

/** The feedback the SFU sends a producer: keyframe requests and NACKs, by media SSRC. */
export function parseFeedback(compound: Buffer): { pli: number[]; fir: number[]; nack: { ssrc: number; seqs: number[] }[]; sr: number } {
  const out = { pli: [] as number[], fir: [] as number[], nack: [] as { ssrc: number; seqs: number[] }[], sr: 0 };
  for (let at = 0; at + 4 <= compound.length; ) {
    const fmt = compound[at]! & 0x1f;
    const pt = compound[at + 1]!;
    const len = (compound.readUInt16BE(at + 2) + 1) * 4;
    if (at + len > compound.length) break;
    if (pt === 206 && fmt === 1) out.pli.push(compound.readUInt32BE(at + 8));
    else if (pt === 206 && fmt === 4) for (let i = at + 12; i + 8 <= at + len; i += 8) out.fir.push(compound.readUInt32BE(i));
    else if (pt === 205 && fmt === 1) {
      const seqs: number[] = [];
      for (let i = at + 12; i + 4 <= at + len; i += 4) {
        const pid = compound.readUInt16BE(i);
        const blp = compound.readUInt16BE(i + 2);
        seqs.push(pid);
        for (let k = 0; k < 16; k++) if (blp & (1 << k)) seqs.push((pid + k + 1) & 0xffff);
      }
      out.nack.push({ ssrc: compound.readUInt32BE(at + 8), seqs });
    } else if (pt === 200) out.sr++;
    at += len;
  }
  return out;
}

/** The sender reports in a compound RTCP packet: SSRC and the middle 32 bits of its NTP time. */
export function parseSenderReports(compound: Buffer): { ssrc: number; lsr: number }[] {
  const out: { ssrc: number; lsr: number }[] = [];
  for (let at = 0; at + 4 <= compound.length; ) {
    const pt = compound[at + 1]!;
    const len = (compound.readUInt16BE(at + 2) + 1) * 4;
    if (at + len > compound.length) break;
    if (pt === 200 && len >= 28) out.push({ ssrc: compound.readUInt32BE(at + 4), lsr: ((compound.readUInt16BE(at + 10) << 16) | compound.readUInt16BE(at + 12)) >>> 0 });
    at += len;
  }
  return out;
}
