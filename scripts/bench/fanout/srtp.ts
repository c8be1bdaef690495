/**
 * SRTP and SRTCP with AES_CM_128_HMAC_SHA1_80 (RFC 3711), enough for the load harness to be a
 * real encrypted peer of mediasoup's plain transports: the SFU decrypts what the harness sends
 * and encrypts what it forwards, so its per-packet crypto cost is in the figures. Node's crypto
 * (OpenSSL) does the AES and HMAC.
 */
import crypto from 'node:crypto';

const TAG_LEN = 10;

/** Session keys derived from a 30-byte master key+salt (RFC 3711 §4.3.1, kdr = 0). */
export function deriveSessionKeys(master: Buffer): { encKey: Buffer; authKey: Buffer; salt: Buffer; rtcpEncKey: Buffer; rtcpAuthKey: Buffer; rtcpSalt: Buffer } {
  if (master.length !== 30) throw new Error(`SRTP master key+salt must be 30 bytes, got ${master.length}`);
  const key = master.subarray(0, 16);
  const salt = master.subarray(16, 30);
  const prf = (label: number, len: number): Buffer => {
    const iv = Buffer.alloc(16);
    salt.copy(iv, 0);
    iv[7]! ^= label;
    return crypto.createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(len));
  };
  return { encKey: prf(0, 16), authKey: prf(1, 20), salt: prf(2, 14), rtcpEncKey: prf(3, 16), rtcpAuthKey: prf(4, 20), rtcpSalt: prf(5, 14) };
}

function counterIv(salt: Buffer, ssrc: number, index: number): Buffer {
  const iv = Buffer.alloc(16);
  salt.copy(iv, 0);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ ssrc) >>> 0, 4);
  // index is 48 bits (RTP: ROC << 16 | SEQ; RTCP: 31-bit index) at bytes 8..13
  const hi = Math.floor(index / 2 ** 32);
  const lo = index >>> 0;
  iv.writeUInt16BE(iv.readUInt16BE(8) ^ (hi & 0xffff), 8);
  iv.writeUInt32BE((iv.readUInt32BE(10) ^ lo) >>> 0, 10);
  return iv;
}

/** Length of the RTP header including CSRCs and the extension. */
export function rtpHeaderLength(packet: Buffer): number {
  const cc = packet[0]! & 0x0f;
  let len = 12 + 4 * cc;
  if (packet[0]! & 0x10) len += 4 + 4 * packet.readUInt16BE(len + 2);
  return len;
}

/** One direction's SRTP/SRTCP state (one master key), for any number of SSRCs. */
export class SrtpSession {
  readonly #k: ReturnType<typeof deriveSessionKeys>;
  /** Sender side: rollover counter and last sequence number per SSRC. */
  readonly #send = new Map<number, { roc: number; last: number }>();
  /** Receiver side: highest sequence number and its rollover counter per SSRC. */
  readonly #recv = new Map<number, { roc: number; sl: number }>();
  #rtcpIndex = 0;

  constructor(masterKeyBase64: string) {
    this.#k = deriveSessionKeys(Buffer.from(masterKeyBase64, 'base64'));
  }

  /** A fresh random master key+salt in base64 (what a peer announces as its keyBase64). */
  static randomKey(): string {
    return crypto.randomBytes(30).toString('base64');
  }

  /** Encrypts and authenticates an RTP packet; returns a new buffer. */
  protectRtp(packet: Buffer): Buffer {
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    let st = this.#send.get(ssrc);
    if (!st) this.#send.set(ssrc, (st = { roc: 0, last: seq }));
    else if (seq < st.last && st.last - seq > 0x8000) st.roc = (st.roc + 1) >>> 0;
    st.last = seq;
    const hl = rtpHeaderLength(packet);
    const out = Buffer.allocUnsafe(packet.length + TAG_LEN);
    packet.copy(out, 0, 0, hl);
    const cipher = crypto.createCipheriv('aes-128-ctr', this.#k.encKey, counterIv(this.#k.salt, ssrc, st.roc * 65536 + seq));
    cipher.update(packet.subarray(hl)).copy(out, hl);
    const roc = Buffer.allocUnsafe(4);
    roc.writeUInt32BE(st.roc, 0);
    crypto.createHmac('sha1', this.#k.authKey).update(out.subarray(0, packet.length)).update(roc).digest().copy(out, packet.length, 0, TAG_LEN);
    return out;
  }

  /** Decrypts an SRTP packet (the authentication tag is checked when `verify`). null if it fails. */
  unprotectRtp(packet: Buffer, verify = false): Buffer | null {
    if (packet.length < 12 + TAG_LEN) return null;
    const ssrc = packet.readUInt32BE(8);
    const seq = packet.readUInt16BE(2);
    let st = this.#recv.get(ssrc);
    if (!st) this.#recv.set(ssrc, (st = { roc: 0, sl: seq }));
    // RFC 3711 §3.3.1: guess the packet's rollover counter from the highest sequence seen.
    let v = st.roc;
    if (st.sl < 0x8000) {
      if (seq - st.sl > 0x8000) v = st.roc - 1;
    } else if (st.sl - 0x8000 > seq) {
      v = st.roc + 1;
    }
    if (v < 0) v = 0;
    const end = packet.length - TAG_LEN;
    if (verify) {
      const roc = Buffer.allocUnsafe(4);
      roc.writeUInt32BE(v >>> 0, 0);
      const tag = crypto.createHmac('sha1', this.#k.authKey).update(packet.subarray(0, end)).update(roc).digest().subarray(0, TAG_LEN);
      if (!tag.equals(packet.subarray(end))) return null;
    }
    if (v === st.roc + 1 || (v === st.roc && seq > st.sl)) {
      st.roc = v;
      st.sl = seq;
    }
    const hl = rtpHeaderLength(packet);
    const out = Buffer.allocUnsafe(end);
    packet.copy(out, 0, 0, hl);
    crypto.createDecipheriv('aes-128-ctr', this.#k.encKey, counterIv(this.#k.salt, ssrc, v * 65536 + seq)).update(packet.subarray(hl, end)).copy(out, hl);
    return out;
  }

  /** Encrypts and authenticates a (compound) RTCP packet. */
  protectRtcp(packet: Buffer): Buffer {
    const ssrc = packet.readUInt32BE(4);
    const index = this.#rtcpIndex;
    this.#rtcpIndex = (this.#rtcpIndex + 1) & 0x7fffffff;
    const out = Buffer.allocUnsafe(packet.length + 4 + TAG_LEN);
    packet.copy(out, 0, 0, 8);
    crypto.createCipheriv('aes-128-ctr', this.#k.rtcpEncKey, counterIv(this.#k.rtcpSalt, ssrc, index)).update(packet.subarray(8)).copy(out, 8);
    out.writeUInt32BE((0x80000000 | index) >>> 0, packet.length);
    crypto.createHmac('sha1', this.#k.rtcpAuthKey).update(out.subarray(0, packet.length + 4)).digest().copy(out, packet.length + 4, 0, TAG_LEN);
    return out;
  }

  /** Decrypts an SRTCP packet; null if the tag does not match. */
  unprotectRtcp(packet: Buffer): Buffer | null {
    if (packet.length < 8 + 4 + TAG_LEN) return null;
    const end = packet.length - TAG_LEN - 4;
    const tag = crypto.createHmac('sha1', this.#k.rtcpAuthKey).update(packet.subarray(0, end + 4)).digest().subarray(0, TAG_LEN);
    if (!tag.equals(packet.subarray(end + 4))) return null;
    const word = packet.readUInt32BE(end);
    const out = Buffer.allocUnsafe(end);
    packet.copy(out, 0, 0, 8);
    if (word & 0x80000000) {
      const ssrc = packet.readUInt32BE(4);
      crypto.createDecipheriv('aes-128-ctr', this.#k.rtcpEncKey, counterIv(this.#k.rtcpSalt, ssrc, word & 0x7fffffff)).update(packet.subarray(8, end)).copy(out, 8);
    } else {
      packet.copy(out, 8, 8, end);
    }
    return out;
  }
}

/** RFC 5761: an RTCP packet on a muxed port has a packet type 192..223 in its second byte. */
export function isRtcp(packet: Buffer): boolean {
  return packet.length >= 8 && packet[1]! >= 192 && packet[1]! <= 223;
}
