import { expect } from 'chai';
import { StableStream } from '../../server/app/feed/StableStream.ts';
import { isVp8Keyframe, parseRtp, writeRtp, type RtpPacket } from '../../server/app/feed/rtp.ts';

const packet = (ssrc: number, seq: number, timestamp: number, payload = Buffer.from([0x10, 0x00])): RtpPacket => ({ payloadType: 96, marker: true, seq, timestamp, ssrc, payload });

describe('programme relay: one stable stream over changing consumers', () => {
  it('keeps one SSRC, sequence numbers without gaps and rising timestamps across a source change and a slate', () => {
    const s = new StableStream({ payloadType: 96, clockRate: 90000, minStep: 3000, t0: 0 });
    const out: RtpPacket[] = [];
    // Speaker A near the top of the 32-bit timestamp range (it wraps), 25 fps.
    for (let i = 0; i < 10; i++) out.push(s.forward(packet(111, 65530 + i, (2 ** 32 - 7200 + i * 3600) % 2 ** 32), 1000 + i * 40));
    out.push(...s.synthetic([Buffer.from([0x10]), Buffer.from([0x00])], 1500)); // slate frame in two packets
    // Speaker B: another SSRC, random bases.
    for (let i = 0; i < 10; i++) out.push(s.forward(packet(222, 17 + i, 123_456 + i * 3600), 1600 + i * 40));
    expect(new Set(out.map((p) => p.ssrc)).size).to.equal(1);
    for (let i = 1; i < out.length; i++) {
      expect((out[i]!.seq - out[i - 1]!.seq + 65536) % 65536, `seq step at ${i}`).to.equal(1);
      const step = (out[i]!.timestamp - out[i - 1]!.timestamp + 2 ** 32) % 2 ** 32;
      expect(step, `timestamp step at ${i}`).to.be.lessThan(90000);
    }
    // Within a source the sender's spacing is kept; the change is stamped from the wall clock.
    expect((out[5]!.timestamp - out[4]!.timestamp + 2 ** 32) % 2 ** 32).to.equal(3600);
    const gap = (out[12]!.timestamp - out[9]!.timestamp + 2 ** 32) % 2 ** 32;
    expect(gap).to.be.closeTo(((1600 - 1360) * 90000) / 1000, 3000);
    expect(out[10]!.marker).to.equal(false);
    expect(out[11]!.marker).to.equal(true);
  });

  it('writes bare RTP that parses back, and tells VP8 keyframes from delta frames', () => {
    const p = packet(5, 9, 77, Buffer.from([0x90, 0x80, 0x12, 0x34, 0x00, 0x01]));
    const back = parseRtp(writeRtp(p))!;
    expect(back).to.deep.include({ ssrc: 5, seq: 9, timestamp: 77, payloadType: 96, marker: true });
    // X=1, I=1 with a 15-bit picture id, then the VP8 header with P=0: a keyframe.
    expect(isVp8Keyframe(Buffer.from([0x90, 0x80, 0x92, 0x34, 0x00]))).to.equal(true);
    expect(isVp8Keyframe(Buffer.from([0x90, 0x80, 0x92, 0x34, 0x01]))).to.equal(false);
    expect(isVp8Keyframe(Buffer.from([0x00, 0x00]))).to.equal(false); // not the start of a frame
    expect(isVp8Keyframe(Buffer.from([0x10, 0x00]))).to.equal(true);
  });
});

describe('programme output: the codecs it receives', () => {
  it('takes VP8 and Opus but not H264 (nor its RTX): the re-encoder reads one video codec', async () => {
    const { vp8AndOpusOnly } = await import('../../server/app/feed/FeedOutput.ts');
    const caps = {
      codecs: [
        { kind: 'audio' as const, mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100 },
        { kind: 'video' as const, mimeType: 'video/VP8', clockRate: 90000, preferredPayloadType: 101 },
        { kind: 'video' as const, mimeType: 'video/rtx', clockRate: 90000, preferredPayloadType: 102, parameters: { apt: 101 } },
        { kind: 'video' as const, mimeType: 'video/H264', clockRate: 90000, preferredPayloadType: 103, parameters: { 'packetization-mode': 1 } },
        { kind: 'video' as const, mimeType: 'video/rtx', clockRate: 90000, preferredPayloadType: 104, parameters: { apt: 103 } },
      ],
      headerExtensions: [],
    };
    expect(vp8AndOpusOnly(caps).codecs!.map((c) => c.preferredPayloadType)).to.deep.equal([100, 101, 102]);
  });
});
