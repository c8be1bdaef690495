/**
 * SRTP and SRTCP with AES_CM_128_HMAC_SHA1_80 (RFC 3711) or AEAD_AES_128_GCM (RFC 7714), enough
 * for the load harness to be a real encrypted peer of mediasoup's plain transports: the SFU
 * decrypts what the harness sends and encrypts what it forwards, so its per-packet crypto cost
 * is in the figures. (Browsers negotiate GCM with mediasoup over DTLS.) Node's crypto (OpenSSL)
 * does the AES, GCM and HMAC.
 */
import crypto from 'node:crypto';

const TAG_LEN = 10;
const GCM_TAG_LEN = 16;

export type SrtpSuite = 'AES_CM_128_HMAC_SHA1_80' | 'AEAD_AES_128_GCM';

/**
 * Session keys derived from a master key+salt (RFC 3711 §4.3.1, kdr = 0): 30 bytes for
 * AES_CM_128_HMAC_SHA1_80; 28 for AEAD_AES_128_GCM, whose 12-byte salt is padded with zeros for
 * the same AES-CM PRF and whose session salts are 12 bytes (RFC 7714 §11, as libsrtp does).
 */
export function deriveSessionKeys(master: Buffer, suite: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80'): { encKey: Buffer; authKey: Buffer; salt: Buffer; rtcpEncKey: Buffer; rtcpAuthKey: Buffer; rtcpSalt: Buffer } {
  const gcm = suite === 'AEAD_AES_128_GCM';
  const want = gcm ? 28 : 30;
  if (master.length !== want) throw new Error(`SRTP master key+salt must be ${want} bytes for ${suite}, got ${master.length}`);
  const key = master.subarray(0, 16);
  const salt = Buffer.alloc(14);
  master.copy(salt, 0, 16);
  const saltLen = gcm ? 12 : 14;
  const prf = (label: number, len: number): Buffer => {
    const iv = Buffer.alloc(16);
    salt.copy(iv, 0);
    iv[7]! ^= label;
    return crypto.createCipheriv('aes-128-ctr', key, iv).update(Buffer.alloc(len));
  };
  return { encKey: prf(0, 16), authKey: prf(1, 20), salt: prf(2, saltLen), rtcpEncKey: prf(3, 16), rtcpAuthKey: prf(4, 20), rtcpSalt: prf(5, saltLen) };
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

/** RFC 7714 IV: (00 00 || SSRC || ROC or 00 00 || SEQ or index) XOR the 12-byte session salt. */
function gcmIv(salt: Buffer, ssrc: number, hi: number, lo: number, loBytes: 2 | 4): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(ssrc >>> 0, 2);
  if (loBytes === 2) {
    iv.writeUInt32BE(hi >>> 0, 6);
    iv.writeUInt16BE(lo & 0xffff, 10);
  } else {
    iv.writeUInt32BE(lo >>> 0, 8);
  }
  for (let i = 0; i < 12; i++) iv[i]! ^= salt[i]!;
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
  readonly #gcm: boolean;

  constructor(masterKeyBase64: string, suite: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80') {
    this.#gcm = suite === 'AEAD_AES_128_GCM';
    this.#k = deriveSessionKeys(Buffer.from(masterKeyBase64, 'base64'), suite);
  }

  /** A fresh random master key+salt in base64 (what a peer announces as its keyBase64). */
  static randomKey(suite: SrtpSuite = 'AES_CM_128_HMAC_SHA1_80'): string {
    return crypto.randomBytes(suite === 'AEAD_AES_128_GCM' ? 28 : 30).toString('base64');
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
    if (this.#gcm) {
      const cipher = crypto.createCipheriv('aes-128-gcm', this.#k.encKey, gcmIv(this.#k.salt, ssrc, st.roc, seq, 2));
      cipher.setAAD(packet.subarray(0, hl));
      const body = cipher.update(packet.subarray(hl));
      cipher.final();
      return Buffer.concat([packet.subarray(0, hl), body, cipher.getAuthTag()]);
    }
    const out = Buffer.allocUnsafe(packet.length + TAG_LEN);
    packet.copy(out, 0, 0, hl);
    const cipher = crypto.createCipheriv('aes-128-ctr', this.#k.encKey, counterIv(this.#k.salt, ssrc, st.roc * 65536 + seq));
    cipher.update(packet.subarray(hl)).copy(out, hl);
    const roc = Buffer.allocUnsafe(4);
    roc.writeUInt32BE(st.roc, 0);
    crypto.createHmac('sha1', this.#k.authKey).update(out.subarray(0, packet.length)).update(roc).digest().copy(out, packet.length, 0, TAG_LEN);
    return out;
  }

  /** Sets a received stream's rollover counter (a receiver that joins a stream mid-way). */
  setReceiveRoc(ssrc: number, roc: number, seq: number): void {
    this.#recv.set(ssrc, { roc, sl: seq });
  }

  /** Decrypts an SRTP packet (the authentication tag is checked when `verify`). null if it fails. */
  unprotectRtp(packet: Buffer, verify = false): Buffer | null {
    if (packet.length < 12 + (this.#gcm ? GCM_TAG_LEN : TAG_LEN)) return null;
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
    if (this.#gcm) {
      const hl = rtpHeaderLength(packet);
      const end = packet.length - GCM_TAG_LEN;
      const decipher = crypto.createDecipheriv('aes-128-gcm', this.#k.encKey, gcmIv(this.#k.salt, ssrc, v, seq, 2));
      decipher.setAAD(packet.subarray(0, hl));
      const body = decipher.update(packet.subarray(hl, end));
      if (verify) {
        decipher.setAuthTag(packet.subarray(end));
        try {
          decipher.final();
        } catch {
          return null;
        }
      }
      if (v === st.roc + 1 || (v === st.roc && seq > st.sl)) {
        st.roc = v;
        st.sl = seq;
      }
      return Buffer.concat([packet.subarray(0, hl), body]);
    }
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
    if (this.#gcm) {
      const word = Buffer.allocUnsafe(4);
      word.writeUInt32BE((0x80000000 | index) >>> 0, 0);
      const cipher = crypto.createCipheriv('aes-128-gcm', this.#k.rtcpEncKey, gcmIv(this.#k.rtcpSalt, ssrc, 0, index, 4));
      cipher.setAAD(Buffer.concat([packet.subarray(0, 8), word]));
      const body = cipher.update(packet.subarray(8));
      cipher.final();
      return Buffer.concat([packet.subarray(0, 8), body, cipher.getAuthTag(), word]);
    }
    const out = Buffer.allocUnsafe(packet.length + 4 + TAG_LEN);
    packet.copy(out, 0, 0, 8);
    crypto.createCipheriv('aes-128-ctr', this.#k.rtcpEncKey, counterIv(this.#k.rtcpSalt, ssrc, index)).update(packet.subarray(8)).copy(out, 8);
    out.writeUInt32BE((0x80000000 | index) >>> 0, packet.length);
    crypto.createHmac('sha1', this.#k.rtcpAuthKey).update(out.subarray(0, packet.length + 4)).digest().copy(out, packet.length + 4, 0, TAG_LEN);
    return out;
  }

  /** Decrypts an SRTCP packet; null if the tag does not match. */
  unprotectRtcp(packet: Buffer): Buffer | null {
    if (this.#gcm) {
      if (packet.length < 8 + GCM_TAG_LEN + 4) return null;
      const word = packet.subarray(packet.length - 4);
      const index = word.readUInt32BE(0) & 0x7fffffff;
      const tagAt = packet.length - 4 - GCM_TAG_LEN;
      if (!(word[0]! & 0x80)) return Buffer.from(packet.subarray(0, tagAt));
      const decipher = crypto.createDecipheriv('aes-128-gcm', this.#k.rtcpEncKey, gcmIv(this.#k.rtcpSalt, packet.readUInt32BE(4), 0, index, 4));
      decipher.setAAD(Buffer.concat([packet.subarray(0, 8), word]));
      const body = decipher.update(packet.subarray(8, tagAt));
      decipher.setAuthTag(packet.subarray(tagAt, tagAt + GCM_TAG_LEN));
      try {
        decipher.final();
      } catch {
        return null;
      }
      return Buffer.concat([packet.subarray(0, 8), body]);
    }
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
