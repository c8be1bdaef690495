// The VP8 payload descriptor (RFC 7741 §4.2) of a hardware hall's video, made what the SFU needs.
// The PictureID is optional in the RFC and some encoders leave it out (GStreamer's rtpvp8pay by
// default, some encoder boxes): mediasoup then finds no keyframe in the stream and forwards none of
// it. On the way in, a descriptor without a PictureID gets one (15 bits, one per frame) and a
// TL0PICIDX, as browsers send them; anything else passes unchanged.

/** Per-stream numbering of the frames (a frame is a run of packets with one RTP timestamp). */
export interface Vp8Numbering {
  pictureId: number;
  tl0PicIdx: number;
  lastTimestamp: number | undefined;
}

/** A fresh numbering for a stream. */
export function vp8Numbering(): Vp8Numbering {
  return { pictureId: Math.floor(Math.random() * 0x8000), tl0PicIdx: Math.floor(Math.random() * 0x100), lastTimestamp: undefined };
}

/** Where an RTP packet's payload starts and ends (after CSRCs and the header extension, before padding); null when it is not one. */
export function rtpPayloadBounds(packet: Buffer): { start: number; end: number } | null {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return null;
  const csrcs = packet[0]! & 0x0f;
  let start = 12 + 4 * csrcs;
  if (packet[0]! & 0x10) {
    if (packet.length < start + 4) return null;
    start += 4 + 4 * packet.readUInt16BE(start + 2);
  }
  let end = packet.length;
  if (packet[0]! & 0x20) end -= packet[packet.length - 1]!;
  return start < end ? { start, end } : null;
}

/** Whether a datagram on an RTP port is RTCP (payload types 192..223 in the second byte, RFC 5761). */
export function isRtcpPacket(packet: Buffer): boolean {
  return packet.length >= 2 && packet[1]! >= 192 && packet[1]! <= 223;
}

/**
 * The packet with a PictureID (and TL0PICIDX) in its VP8 descriptor when it has none, numbered per
 * frame; the packet itself when it has one, or is not VP8 of this payload type, or is RTCP.
 */
export function withPictureId(packet: Buffer, payloadType: number, n: Vp8Numbering): Buffer {
  if (isRtcpPacket(packet) || (packet[1]! & 0x7f) !== payloadType) return packet;
  const bounds = rtpPayloadBounds(packet);
  if (!bounds) return packet;
  const { start, end } = bounds;
  const first = packet[start]!;
  const extended = (first & 0x80) !== 0;
  let flags = 0;
  let rest = start + 1; // where the descriptor's optional fields (or the VP8 payload) begin
  if (extended) {
    if (end < start + 2) return packet;
    flags = packet[start + 1]!;
    if (flags & 0x80) return packet; // I: it has a PictureID
    rest = start + 2;
    // A TL0PICIDX without a PictureID is kept (and used); T/K keep their byte after ours.
  }
  const timestamp = packet.readUInt32BE(4);
  if (n.lastTimestamp !== timestamp) {
    if (n.lastTimestamp !== undefined) {
      n.pictureId = (n.pictureId + 1) & 0x7fff;
      n.tl0PicIdx = (n.tl0PicIdx + 1) & 0xff;
    }
    n.lastTimestamp = timestamp;
  }
  const hasL = (flags & 0x40) !== 0;
  const added = (extended ? 0 : 1) + 2 + (hasL ? 0 : 1); // the flags byte, the PictureID, a TL0PICIDX
  const out = Buffer.allocUnsafe(packet.length + added);
  packet.copy(out, 0, 0, start);
  out[start] = first | 0x80; // X
  out[start + 1] = (flags & 0x3f) | 0x80 | 0x40; // I and L, with T and K as they were
  out.writeUInt16BE(0x8000 | n.pictureId, start + 2); // M: 15-bit PictureID
  let at = start + 4;
  if (!hasL) out[at++] = n.tl0PicIdx;
  packet.copy(out, at, rest);
  return out;
}
