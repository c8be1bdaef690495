// The VP8 payload descriptor of a device's video completed on the way in: a PictureID (15 bits,
// one per frame) and a TL0PICIDX when the device sent none, RFC 7741 §4.2; everything else as it was.
import { expect } from 'chai';
import { rtpPayloadBounds, withPictureId, type Vp8Numbering } from '../../server/app/rtp-halls/vp8-descriptor.ts';

const PT = 96;

/** An RTP packet: 12-byte header (optionally CSRCs and a one-word extension), then the payload. */
function rtp(payload: number[], options: { pt?: number; ts?: number; seq?: number; csrcs?: number; extension?: boolean; marker?: boolean } = {}): Buffer {
  const csrcs = options.csrcs ?? 0;
  const ext = options.extension ? [0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0x00, 0x00] : [];
  const header = Buffer.alloc(12 + 4 * csrcs);
  header[0] = 0x80 | (options.extension ? 0x10 : 0) | csrcs;
  header[1] = (options.marker ? 0x80 : 0) | (options.pt ?? PT);
  header.writeUInt16BE(options.seq ?? 1, 2);
  header.writeUInt32BE(options.ts ?? 1000, 4);
  header.writeUInt32BE(0x11223344, 8);
  for (let i = 0; i < csrcs; i++) header.writeUInt32BE(0xc0ffee00 + i, 12 + 4 * i);
  return Buffer.concat([header, Buffer.from(ext), Buffer.from(payload)]);
}

const numbering = (): Vp8Numbering => ({ pictureId: 0x7ffe, tl0PicIdx: 0xff, lastTimestamp: undefined });
/** A keyframe's first bytes after the descriptor (P bit 0 in the frame tag). */
const KEYFRAME = [0x50, 0x01, 0x00, 0x9d, 0x01, 0x2a];

describe('VP8 descriptor: a PictureID for devices that send none', () => {
  it('a one-byte descriptor (no X) becomes X|I|L with a 15-bit PictureID and a TL0PICIDX; the VP8 bytes follow unchanged', () => {
    const n = numbering();
    const out = withPictureId(rtp([0x10, ...KEYFRAME]), PT, n);
    const { start } = rtpPayloadBounds(out)!;
    expect([...out.subarray(start)]).to.deep.equal([0x90, 0xc0, 0xff, 0xfe, 0xff, ...KEYFRAME]);
    expect(out.subarray(0, 12).equals(rtp([]).subarray(0, 12))).to.equal(true);
  });

  it('numbers frames, not packets: every packet of a frame (one timestamp) has its PictureID; the ID wraps at 15 bits', () => {
    const n = numbering();
    const ids = [1000, 1000, 4600, 4600, 8200].map((ts, i) => {
      const out = withPictureId(rtp([i === 0 ? 0x10 : 0x00, 0xaa], { ts, seq: i }), PT, n);
      const { start } = rtpPayloadBounds(out)!;
      return [out.readUInt16BE(start + 2) & 0x7fff, out[start + 4]];
    });
    expect(ids).to.deep.equal([[0x7ffe, 0xff], [0x7ffe, 0xff], [0x7fff, 0x00], [0x7fff, 0x00], [0x0000, 0x01]]);
  });

  it('keeps a TL0PICIDX and T/K byte the device sent, after CSRCs and a header extension', () => {
    const n = numbering();
    // X; L and T set; TL0PICIDX 0x21; TID/Y/KEYIDX byte 0x40.
    const packet = rtp([0x90, 0x60, 0x21, 0x40, ...KEYFRAME], { csrcs: 2, extension: true, marker: true });
    const out = withPictureId(packet, PT, n);
    const { start } = rtpPayloadBounds(out)!;
    expect(start).to.equal(12 + 8 + 8);
    expect([...out.subarray(start)]).to.deep.equal([0x90, 0xe0, 0xff, 0xfe, 0x21, 0x40, ...KEYFRAME]);
    expect(out.subarray(0, start).equals(packet.subarray(0, start))).to.equal(true);
  });

  it('leaves alone what has a PictureID, another payload type, RTCP and what is not RTP', () => {
    const n = numbering();
    const withId = rtp([0x90, 0x80, 0x12, ...KEYFRAME]);
    expect(withPictureId(withId, PT, n)).to.equal(withId);
    const audio = rtp([0x10, 1, 2], { pt: 111 });
    expect(withPictureId(audio, PT, n)).to.equal(audio);
    const rtcp = Buffer.from([0x81, 200, 0, 6, ...new Array(24).fill(0)]);
    expect(withPictureId(rtcp, PT, n)).to.equal(rtcp);
    const junk = Buffer.from([1, 2, 3]);
    expect(withPictureId(junk, PT, n)).to.equal(junk);
  });
});
