// The load harness's own SRTP (scripts/bench/fanout/srtp.ts): RFC 3711 test vectors and round trips.
import { expect } from 'chai';
import { SrtpSession, deriveSessionKeys, isRtcp } from '../../scripts/bench/fanout/srtp.ts';

describe('bench harness SRTP (AES_CM_128_HMAC_SHA1_80)', () => {
  it('derives the session keys of RFC 3711 appendix B.3', () => {
    const master = Buffer.from('E1F97A0D3E018BE0D64FA32C06DE4139' + '0EC675AD498AFEEBB6960B3AABE6', 'hex');
    const k = deriveSessionKeys(master);
    expect(k.encKey.toString('hex').toUpperCase()).to.equal('C61E7A93744F39EE10734AFE3FF7A087');
    expect(k.salt.toString('hex').toUpperCase()).to.equal('30CBBC08863D8C85D49DB34A9AE1');
    expect(k.authKey.toString('hex').toUpperCase()).to.equal('CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  });

  it('round-trips RTP across a sequence wrap, and rejects a tampered packet when verifying', () => {
    const key = SrtpSession.randomKey();
    const tx = new SrtpSession(key);
    const rx = new SrtpSession(key);
    for (let i = 0; i < 10; i++) {
      const seq = (65530 + i) & 0xffff;
      const p = Buffer.alloc(12 + 100, i);
      p[0] = 0x80;
      p[1] = 96;
      p.writeUInt16BE(seq, 2);
      p.writeUInt32BE(1234, 8);
      const s = tx.protectRtp(p);
      expect(s.length).to.equal(p.length + 10);
      expect(s.subarray(12, 112).equals(p.subarray(12))).to.equal(false);
      expect(rx.unprotectRtp(s, true)?.equals(p), `seq ${seq}`).to.equal(true);
    }
    const p = Buffer.alloc(40, 7);
    p[0] = 0x80;
    p.writeUInt32BE(1234, 8);
    const s = tx.protectRtp(p);
    s[20]! ^= 1;
    expect(rx.unprotectRtp(s, true)).to.equal(null);
  });

  it('round-trips RTCP and tells RTCP from RTP on a muxed port', () => {
    const key = SrtpSession.randomKey();
    const rr = Buffer.alloc(8 + 24);
    rr[0] = 0x81;
    rr[1] = 201;
    rr.writeUInt16BE(rr.length / 4 - 1, 2);
    rr.writeUInt32BE(99, 4);
    rr.fill(5, 8);
    const s = new SrtpSession(key).protectRtcp(rr);
    expect(isRtcp(s)).to.equal(true);
    expect(new SrtpSession(key).unprotectRtcp(s)?.equals(rr)).to.equal(true);
    expect(new SrtpSession(SrtpSession.randomKey()).unprotectRtcp(s)).to.equal(null);
  });

  it('AEAD_AES_128_GCM: round-trips RTP and RTCP and rejects a tampered packet', () => {
    const key = SrtpSession.randomKey('AEAD_AES_128_GCM');
    expect(Buffer.from(key, 'base64')).to.have.length(28);
    const tx = new SrtpSession(key, 'AEAD_AES_128_GCM');
    const rx = new SrtpSession(key, 'AEAD_AES_128_GCM');
    const p = Buffer.alloc(12 + 200, 3);
    p[0] = 0x80;
    p[1] = 101;
    p.writeUInt16BE(7, 2);
    p.writeUInt32BE(555, 8);
    const s = tx.protectRtp(p);
    expect(s.length).to.equal(p.length + 16);
    expect(rx.unprotectRtp(s, true)?.equals(p)).to.equal(true);
    s[30]! ^= 1;
    expect(new SrtpSession(key, 'AEAD_AES_128_GCM').unprotectRtp(s, true)).to.equal(null);
    const rr = Buffer.alloc(32, 9);
    rr[0] = 0x81;
    rr[1] = 201;
    rr.writeUInt16BE(7, 2);
    const sr = tx.protectRtcp(rr);
    expect(isRtcp(sr)).to.equal(true);
    expect(rx.unprotectRtcp(sr)?.equals(rr)).to.equal(true);
  });
});
