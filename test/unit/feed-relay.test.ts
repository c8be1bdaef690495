// The press feed's relay on a fake clock, with real UDP on loopback: when the speaker's video
// goes away (a switch takes its consumer off air), the picture is held from the next frame's time,
// not only after a stall's allowance, so the re-encoder never waits for frames.
import dgram from 'node:dgram';
import { expect } from 'chai';
import { FakeClock } from '../../server/core/conference/index.ts';
import { FeedRelay } from '../../server/app/feed/FeedRelay.ts';
import { writeRtp } from '../../server/app/feed/rtp.ts';

/** The first bytes of a VP8 keyframe (RFC 6386 §9.1): frame tag, start code, width and height. */
function vp8Keyframe(width: number, height: number): Buffer {
  const b = Buffer.alloc(40, 0x11);
  b[0] = 0x00; // key frame, version 0
  b[1] = 0x00;
  b[2] = 0x00;
  b.set([0x9d, 0x01, 0x2a], 3);
  b.writeUInt16LE(width, 6);
  b.writeUInt16LE(height, 8);
  return b;
}

/** An inter frame (bit 0 of the tag set), marked so the test tells it from a hold frame. */
const INTER = Buffer.from([0x01, 0xaa, 0xaa, 0xaa]);
const HOLD = Buffer.from([0x01, 0x0b, 0x0b, 0x0b]);

const bound = async (): Promise<dgram.Socket> => {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
};

const until = async (what: string, ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 200; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out: ${what}`);
};

describe('FeedRelay (fake clock, loopback UDP)', () => {
  let relay: FeedRelay | undefined;
  const sockets: dgram.Socket[] = [];
  afterEach(() => {
    relay?.close();
    for (const s of sockets.splice(0)) s.close();
  });

  it('holds the picture from the next frame\'s time once the on-air video leaves (a switch), not after a stall\'s 120 ms', async () => {
    const clock = new FakeClock(1_000_000);
    const [video, speaker, chair, sender] = await Promise.all([bound(), bound(), bound(), bound()]);
    sockets.push(video, speaker, chair, sender);
    relay = await FeedRelay.create({
      chairBridgeId: 'p-1',
      ports: { video: video.address().port, speaker: speaker.address().port, chair: chair.address().port },
      slate: vp8Keyframe(640, 360),
      holdFrame: async () => HOLD,
      requestKeyFrame: () => undefined,
      clock,
    });
    const r = relay;
    r.addSource({ consumerId: 'c-onair', kind: 'video', bridgeId: 'd-1', slot: 'onair', ssrc: 1111 });
    let seq = 0;
    const send = async (payload: Buffer): Promise<void> => {
      const received = r.counters.received;
      // A one-byte VP8 descriptor (S=1, partition 0) before the frame.
      sender.send(writeRtp({ payloadType: 96, marker: true, seq: seq++, timestamp: seq * 3600, ssrc: 1111, payload: Buffer.concat([Buffer.from([0x10]), payload]) }), r.address.port, '127.0.0.1');
      await until('the relay got the packet', () => r.counters.received > received);
    };
    // The speaker's picture: a keyframe, then a frame every 40 ms.
    await send(vp8Keyframe(1280, 720));
    expect(r.showing).to.equal('speaker');
    for (let i = 0; i < 5; i++) {
      clock.increment(40);
      await send(INTER);
    }
    expect(r.counters.holdFrames, 'no hold while frames come').to.equal(0);
    // The switch takes the on-air consumer away; the next speaker's keyframe is not there yet.
    r.removeSource('c-onair');
    for (let t = 0; t < 60; t += 20) clock.increment(20);
    expect(r.counters.holdFrames, 'held within 60 ms of the last frame').to.be.greaterThan(0);
    expect(r.counters.holdMissing).to.equal(0);
    // And then one hold frame per 40 ms until the slate (700 ms) or the next speaker.
    const held = r.counters.holdFrames;
    for (let t = 0; t < 400; t += 20) clock.increment(20);
    expect(r.counters.holdFrames - held).to.be.within(9, 11);
    expect(r.showing).to.equal('speaker');
  });

  it('a stall of the same speaker\'s video is held only after 120 ms (a 15 or 20 fps camera gets none between its frames)', async () => {
    const clock = new FakeClock(2_000_000);
    const [video, speaker, chair, sender] = await Promise.all([bound(), bound(), bound(), bound()]);
    sockets.push(video, speaker, chair, sender);
    relay = await FeedRelay.create({
      chairBridgeId: 'p-1',
      ports: { video: video.address().port, speaker: speaker.address().port, chair: chair.address().port },
      slate: vp8Keyframe(640, 360),
      holdFrame: async () => HOLD,
      requestKeyFrame: () => undefined,
      clock,
    });
    const r = relay;
    r.addSource({ consumerId: 'c-onair', kind: 'video', bridgeId: 'd-1', slot: 'onair', ssrc: 1111 });
    let seq = 0;
    const received = async (): Promise<void> => {
      const n = r.counters.received;
      await until('the relay got the packet', () => r.counters.received > n);
    };
    sender.send(writeRtp({ payloadType: 96, marker: true, seq: seq++, timestamp: 0, ssrc: 1111, payload: Buffer.concat([Buffer.from([0x10]), vp8Keyframe(1280, 720)]) }), r.address.port, '127.0.0.1');
    await received();
    for (let t = 0; t < 100; t += 20) clock.increment(20);
    expect(r.counters.holdFrames, 'a 100 ms gap of a live camera').to.equal(0);
    for (let t = 0; t < 40; t += 20) clock.increment(20);
    expect(r.counters.holdFrames, 'past 120 ms').to.be.greaterThan(0);
  });
});
