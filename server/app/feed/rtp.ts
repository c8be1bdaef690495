// The few RTP/RTCP facts the feed relay needs: parse a packet, write a bare one, tell a VP8
// keyframe, write a sender report. Nothing here keeps state.

/** An RTP packet with its header extensions, CSRCs and padding already stripped. */
export interface RtpPacket {
  payloadType: number;
  marker: boolean;
  seq: number;
  timestamp: number;
  ssrc: number;
  payload: Buffer;
}

/** Whether a datagram on an rtcp-mux port is RTCP (RFC 5761: payload types 64..95 after masking). */
export function isRtcp(b: Buffer): boolean {
  return b.length >= 8 && (b[0]! >> 6) === 2 && (b[1]! & 0x7f) >= 64 && (b[1]! & 0x7f) <= 95;
}

/** Parses an RTP packet; null when it is not one, or carries no payload (padding only). */
export function parseRtp(b: Buffer): RtpPacket | null {
  if (b.length < 12 || b[0]! >> 6 !== 2 || isRtcp(b)) return null;
  const cc = b[0]! & 0x0f;
  let offset = 12 + cc * 4;
  if (b[0]! & 0x10) {
    if (b.length < offset + 4) return null;
    offset += 4 + b.readUInt16BE(offset + 2) * 4;
  }
  let end = b.length;
  if (b[0]! & 0x20) end -= b[b.length - 1]!;
  if (end <= offset) return null;
  return {
    payloadType: b[1]! & 0x7f,
    marker: (b[1]! & 0x80) !== 0,
    seq: b.readUInt16BE(2),
    timestamp: b.readUInt32BE(4),
    ssrc: b.readUInt32BE(8),
    payload: b.subarray(offset, end),
  };
}

/** Writes a bare RTP packet (no extensions): what the re-encoder reads. */
export function writeRtp(p: RtpPacket): Buffer {
  const b = Buffer.allocUnsafe(12 + p.payload.length);
  b[0] = 0x80;
  b[1] = (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
  b.writeUInt16BE(p.seq & 0xffff, 2);
  b.writeUInt32BE(p.timestamp >>> 0, 4);
  b.writeUInt32BE(p.ssrc >>> 0, 8);
  p.payload.copy(b, 12);
  return b;
}

/**
 * Whether a VP8 RTP payload (RFC 7741) starts a keyframe: the start of partition 0 (S=1, PID=0)
 * and the P bit of the VP8 frame header clear.
 */
export function isVp8Keyframe(payload: Buffer): boolean {
  if (payload.length < 1) return false;
  const first = payload[0]!;
  const start = (first & 0x10) !== 0 && (first & 0x07) === 0;
  if (!start) return false;
  let i = 1;
  if (first & 0x80) {
    if (payload.length < 2) return false;
    const x = payload[1]!;
    i = 2;
    if (x & 0x80) i += payload[i]! & 0x80 ? 2 : 1; // picture ID (7 or 15 bits)
    if (x & 0x40) i += 1; // TL0PICIDX
    if (x & 0x30) i += 1; // TID / KEYIDX
  }
  return i < payload.length && (payload[i]! & 0x01) === 0;
}

/** The picture size a VP8 keyframe's first RTP payload announces (RFC 6386 §9.1), or null. */
export function vp8KeyframeSize(payload: Buffer): { width: number; height: number } | null {
  if (!isVp8Keyframe(payload)) return null;
  let i = 1;
  const first = payload[0]!;
  if (first & 0x80) {
    const x = payload[1]!;
    i = 2;
    if (x & 0x80) i += payload[i]! & 0x80 ? 2 : 1;
    if (x & 0x40) i += 1;
    if (x & 0x30) i += 1;
  }
  // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height (2 bits of scaling each).
  if (payload.length < i + 10 || payload[i + 3] !== 0x9d || payload[i + 4] !== 0x01 || payload[i + 5] !== 0x2a) return null;
  return { width: payload.readUInt16LE(i + 6) & 0x3fff, height: payload.readUInt16LE(i + 8) & 0x3fff };
}

/** Bytes of a VP8 RTP payload's descriptor (RFC 7741 §4.2); 0 when the payload is too short to have one. */
function vp8DescriptorLength(payload: Buffer): number {
  if (payload.length < 1) return 0;
  if (!(payload[0]! & 0x80)) return 1;
  if (payload.length < 2) return 0;
  const x = payload[1]!;
  let i = 2;
  if (x & 0x80) i += (payload[i] ?? 0) & 0x80 ? 2 : 1;
  if (x & 0x40) i += 1;
  if (x & 0x30) i += 1;
  return i <= payload.length ? i : 0;
}

/**
 * The payload with its descriptor replaced by one carrying this 15-bit PictureID (and no temporal
 * layer fields): a stream made of several sources, and of frames made here, numbered as one.
 * Players check that PictureIDs follow each other and drop frames until a keyframe when they do not.
 */
export function restampVp8(payload: Buffer, pictureId: number): Buffer {
  const length = vp8DescriptorLength(payload);
  if (length === 0) return payload;
  const out = Buffer.allocUnsafe(4 + payload.length - length);
  out[0] = (payload[0]! & 0x3f) | 0x80; // X, with N, S and the partition index kept
  out[1] = 0x80; // I
  out.writeUInt16BE(0x8000 | (pictureId & 0x7fff), 2);
  payload.copy(out, 4, length);
  return out;
}

/** Whether a VP8 RTP payload starts a frame (any frame): S=1 and partition 0. */
export function isVp8FrameStart(payload: Buffer): boolean {
  return payload.length > 0 && (payload[0]! & 0x10) !== 0 && (payload[0]! & 0x07) === 0;
}

/** Splits a whole VP8 frame into RTP payloads (RFC 7741, no extensions) of at most `mtu` bytes each. */
export function packetizeVp8(frame: Buffer, mtu = 1100): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < frame.length; at += mtu) {
    const chunk = frame.subarray(at, Math.min(frame.length, at + mtu));
    out.push(Buffer.concat([Buffer.from([at === 0 ? 0x10 : 0x00]), chunk]));
  }
  return out;
}

/** NTP time (seconds since 1900, as two 32-bit words) of a wall-clock time in ms. */
function ntp(ms: number): [number, number] {
  const seconds = Math.floor(ms / 1000) + 2_208_988_800;
  const fraction = Math.floor(((ms % 1000) / 1000) * 2 ** 32);
  return [seconds >>> 0, fraction >>> 0];
}

/**
 * An RTCP sender report (RFC 3550 §6.4.1) with no report blocks. The re-encoder uses the pair
 * (wall clock, RTP timestamp) to line the video and both audio streams up on one timeline.
 */
export function senderReport(ssrc: number, wallMs: number, rtpTimestamp: number, packets: number, octets: number): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  const [s, f] = ntp(wallMs);
  b.writeUInt32BE(s, 8);
  b.writeUInt32BE(f, 12);
  b.writeUInt32BE(rtpTimestamp >>> 0, 16);
  b.writeUInt32BE(packets >>> 0, 20);
  b.writeUInt32BE(octets >>> 0, 24);
  return b;
}

/**
 * A silent Opus frame (TOC 0xF8: CELT fullband 20 ms, mono, one frame; RFC 6716). Sent in place
 * of a microphone that is absent, so that the mixer never waits for an input that has nothing.
 */
export const OPUS_SILENCE = Buffer.from([0xf8, 0xff, 0xfe]);
