// MPEG-TS packet facts the feed output needs: where a recording may start (the PAT and PMT,
// then a video keyframe) and how to cut the stream into datagrams.

export const TS_PACKET = 188;
/** Seven TS packets: the usual payload of one UDP or RTP datagram (fits a 1500-byte MTU). */
export const TS_DATAGRAM = 7 * TS_PACKET;

/** The PID of a TS packet. */
export function pidOf(p: Buffer): number {
  return ((p[1]! & 0x1f) << 8) | p[2]!;
}

/** Whether a TS packet begins a video PES (stream id 0xE0..0xEF) at a random access point (a keyframe). */
export function isVideoKeyframeStart(p: Buffer): boolean {
  if (p[0] !== 0x47 || !(p[1]! & 0x40)) return false; // payload unit start
  const afc = (p[3]! >> 4) & 0x3;
  let payloadAt = 4;
  let randomAccess = false;
  if (afc & 0x2) {
    const len = p[4]!;
    if (len > 0) randomAccess = (p[5]! & 0x40) !== 0;
    payloadAt = 5 + len;
  }
  if (!(afc & 0x1) || payloadAt + 4 > TS_PACKET) return false;
  const isVideoPes = p[payloadAt] === 0 && p[payloadAt + 1] === 0 && p[payloadAt + 2] === 1 && (p[payloadAt + 3]! & 0xf0) === 0xe0;
  return isVideoPes && randomAccess;
}

/** The PMT PID announced by a PAT packet (first programme), or undefined. */
export function pmtPidOf(pat: Buffer): number | undefined {
  if (pidOf(pat) !== 0 || !(pat[1]! & 0x40)) return undefined;
  const afc = (pat[3]! >> 4) & 0x3;
  let at = 4 + (afc & 0x2 ? 1 + pat[4]! : 0);
  at += 1 + pat[at]!; // pointer field
  // table_id(1) section_length(2) ts_id(2) version(1) section(1) last(1), then programmes of 4 bytes
  for (let p = at + 8; p + 4 <= TS_PACKET; p += 4) {
    const programme = pat.readUInt16BE(p);
    if (programme !== 0) return ((pat[p + 2]! & 0x1f) << 8) | pat[p + 3]!;
  }
  return undefined;
}

/** Re-cuts a byte stream into whole TS packets, holding back an incomplete tail. */
export class TsPacketizer {
  #tail: Buffer = Buffer.alloc(0);

  /** The whole packets of `chunk` (with what was held back), as one buffer. */
  push(chunk: Buffer): Buffer {
    let buf = this.#tail.length ? Buffer.concat([this.#tail, chunk]) : chunk;
    // Resynchronise on the sync byte if the stream ever starts mid-packet.
    let start = 0;
    while (start < buf.length && buf[start] !== 0x47) start++;
    buf = buf.subarray(start);
    const whole = buf.length - (buf.length % TS_PACKET);
    this.#tail = Buffer.from(buf.subarray(whole));
    return buf.subarray(0, whole);
  }
}

/** The stream id of the PES a TS packet starts (0xE0.. video, 0xC0.. audio), or undefined. */
export function pesStreamId(p: Buffer): number | undefined {
  const at = payloadStart(p);
  if (at === undefined || at + 4 > TS_PACKET) return undefined;
  return p[at] === 0 && p[at + 1] === 0 && p[at + 2] === 1 ? p[at + 3] : undefined;
}

/** The PTS (90 kHz) of the PES a TS packet starts, or undefined. */
export function pesPts(p: Buffer): number | undefined {
  const at = payloadStart(p);
  if (at === undefined || at + 14 > TS_PACKET || p[at] !== 0 || p[at + 1] !== 0 || p[at + 2] !== 1) return undefined;
  if (!(p[at + 7]! & 0x80)) return undefined;
  const b = p.subarray(at + 9, at + 14);
  return ((b[0]! >> 1) & 0x07) * 2 ** 30 + ((b[1]! << 22) | ((b[2]! >> 1) << 15) | (b[3]! << 7) | (b[4]! >> 1));
}

/** Where the payload of a packet that starts a unit begins; undefined for other packets. */
function payloadStart(p: Buffer): number | undefined {
  if (p[0] !== 0x47 || !(p[1]! & 0x40)) return undefined;
  const afc = (p[3]! >> 4) & 0x3;
  if (!(afc & 0x1)) return undefined;
  return afc & 0x2 ? 5 + p[4]! : 4;
}
