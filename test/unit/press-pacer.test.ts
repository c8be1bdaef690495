// The press socket's pacer on a fake clock: what the re-encoder writes in bursts (its muxer waits
// for every stream, then catches up) goes out on the wire at the pace of its timestamps, a
// playout delay later; late output moves the schedule, a new timeline starts it again.
import { expect } from 'chai';
import { FakeClock } from '../../server/core/conference/index.ts';
import { PressPacer } from '../../server/app/feed/PressPacer.ts';
import { pesPts, TS_PACKET } from '../../server/app/feed/ts.ts';

/** A TS packet that starts a PES (video 0xE0 on PID 256, audio 0xC0 on PID 257) with a PTS (90 kHz). */
function pesStart(pts: number, audio = false): Buffer {
  const p = Buffer.alloc(TS_PACKET, 0xff);
  const pid = audio ? 257 : 256;
  p[0] = 0x47;
  p[1] = 0x40 | (pid >> 8);
  p[2] = pid & 0xff;
  p[3] = 0x10;
  p.set([0, 0, 1, audio ? 0xc0 : 0xe0, 0, 0, 0x80, 0x80, 5], 4);
  const hi = Math.floor(pts / 2 ** 30) & 0x7;
  const lo = pts % 2 ** 30;
  p[13] = 0x21 | (hi << 1);
  p[14] = (lo >> 22) & 0xff;
  p[15] = (((lo >> 15) & 0x7f) << 1) | 1;
  p[16] = (lo >> 7) & 0xff;
  p[17] = ((lo & 0x7f) << 1) | 1;
  return p;
}

/** A continuation packet of a PES. */
function more(audio = false): Buffer {
  const p = Buffer.alloc(TS_PACKET, 0xaa);
  const pid = audio ? 257 : 256;
  p[0] = 0x47;
  p[1] = pid >> 8;
  p[2] = pid & 0xff;
  p[3] = 0x10;
  return p;
}

/** A video frame of `n` TS packets at a time in ms (90 kHz PTS). */
const frame = (ms: number, n = 10): Buffer => Buffer.concat([pesStart(ms * 90), ...Array.from({ length: n - 1 }, () => more())]);

describe('PressPacer (fake clock)', () => {
  it('the helpers write a PTS that ts.ts reads', () => {
    expect(pesPts(pesStart(123_456_789))).to.equal(123_456_789);
  });

  it('spreads a burst after a pause of the re-encoder at the pace of its timestamps: the wire never waits longer than the pause less the delay', () => {
    const clock = new FakeClock(1_000_000);
    const sent: number[] = [];
    const pacer = new PressPacer({ clock, delayMs: 400, send: () => sent.push(clock.now()) });
    // Steady: a frame every 40 ms, each arriving 40 ms after its time (the encoder's latency).
    let t = 0;
    for (; t < 2000; t += 40) {
      pacer.push(frame(t));
      clock.increment(40);
    }
    // The muxer writes nothing for 360 ms (it waits for the video), then the 9 frames at once.
    clock.increment(320);
    pacer.push(Buffer.concat(Array.from({ length: 9 }, (_, i) => frame(t + 40 * i))));
    t += 360;
    for (; t < 4000; t += 40) {
      clock.increment(40);
      pacer.push(frame(t));
    }
    clock.increment(1000);
    const gaps = sent.slice(1).map((at, i) => at - sent[i]!);
    expect(Math.max(...gaps), 'longest time between datagrams (ms)').to.be.at.most(40);
    expect(pacer.stats().late).to.equal(0);
    // Each frame (10 packets: two datagrams) goes out 400 ms after it came in the steady part.
    expect(sent[0]).to.equal(1_000_000 + 400);
    pacer.close();
  });

  it('sends output later than its time at once and moves the schedule later by as much (the next pause as long is covered)', () => {
    const clock = new FakeClock(0);
    const sent: number[] = [];
    const pacer = new PressPacer({ clock, delayMs: 200, send: () => sent.push(clock.now()) });
    let t = 0;
    const step = () => {
      pacer.push(frame(t, 7));
      t += 40;
      clock.increment(40);
    };
    for (let i = 0; i < 25; i++) step();
    // A 500 ms pause: 300 ms more than the delay.
    clock.increment(500);
    const pausedFrom = sent.at(-1)!;
    pacer.push(Buffer.concat(Array.from({ length: 13 }, (_, i) => frame(t + 40 * i, 7))));
    t += 13 * 40;
    const resumedAt = sent.find((at) => at > pausedFrom)!;
    expect(resumedAt - pausedFrom, 'the silence: the pause beyond the delay').to.be.within(300, 340);
    expect(pacer.stats().late).to.be.greaterThan(0);
    expect(pacer.stats().driftMs).to.be.within(280, 320);
    // Steady again, then the same pause: covered now (the schedule is 500 ms behind the output).
    for (let i = 0; i < 25; i++) step();
    clock.increment(500);
    pacer.push(Buffer.concat(Array.from({ length: 13 }, (_, i) => frame(t + 40 * i, 7))));
    t += 13 * 40;
    const before = sent.length;
    for (let i = 0; i < 25; i++) step();
    const after = sent.slice(before - 1);
    expect(Math.max(...after.slice(1).map((at, i) => at - after[i]!))).to.be.at.most(40);
    pacer.close();
  });

  it('moves the schedule back to the delay at once in the first seconds (a slow start), later a little at a time', () => {
    const clock = new FakeClock(0);
    const pacer = new PressPacer({ clock, delayMs: 200, send: () => undefined });
    // The first frame comes 300 ms after its time, the next ones 20 ms after theirs.
    clock.increment(300);
    pacer.push(frame(0));
    let t = 40;
    const until = (end: number, latency = 20) => {
      for (; t <= end; t += 40) {
        clock.increment(Math.max(0, t + latency - clock.now()));
        pacer.push(frame(t));
      }
    };
    until(2000);
    expect(pacer.stats().driftMs, 'moved back at once').to.equal(-280);
    // A 500 ms pause of the output (300 ms more than the delay): the schedule moves 300 ms later.
    until(5000);
    clock.increment(500);
    until(5400, 520);
    expect(pacer.stats().late).to.be.greaterThan(0);
    expect(pacer.stats().driftMs).to.be.within(15, 25);
    // Then back at 25 ms a second: 4 s later, 100 ms of it.
    until(9400);
    expect(pacer.stats().driftMs).to.be.within(-100, -55);
    expect(pacer.stats().headroomMs, 'the smallest headroom of the last second').to.be.within(400, 480);
    pacer.close();
  });

  it('the audio PES (older timestamps, interleaved) never moves the schedule back; a new timeline sends what waits and starts again', () => {
    const clock = new FakeClock(0);
    const sent: { at: number; n: number }[] = [];
    const pacer = new PressPacer({ clock, delayMs: 300, send: (p) => sent.push({ at: clock.now(), n: p.length / TS_PACKET }) });
    pacer.push(frame(1000, 7));
    clock.increment(40);
    pacer.push(Buffer.concat([pesStart(880 * 90, true), more(true), frame(1040, 5)]));
    clock.increment(260);
    // The audio PES goes with the video before it (seven packets to a datagram).
    expect(sent).to.deep.equal([{ at: 300, n: 7 }, { at: 300, n: 2 }]);
    clock.increment(40);
    expect(sent.map((s) => s.at)).to.deep.equal([300, 300, 340]);
    // A new re-encoder: its first frame at time 0.
    pacer.push(frame(2000, 7));
    pacer.reset();
    pacer.push(frame(0, 7));
    expect(sent.map((s) => s.at)).to.deep.equal([300, 300, 340, 340]);
    clock.increment(300);
    expect(sent.map((s) => s.at)).to.deep.equal([300, 300, 340, 340, 640]);
    pacer.close();
  });

  it('keeps its pace across the wrap of the 33-bit PTS', () => {
    const clock = new FakeClock(0);
    const sent: number[] = [];
    const pacer = new PressPacer({ clock, delayMs: 100, send: () => sent.push(clock.now()) });
    const start = 2 ** 33 - 90 * 400; // 400 ms before the wrap
    for (let i = 0; i < 25; i++) {
      const pts = (start + i * 3600) % 2 ** 33;
      pacer.push(Buffer.concat([pesStart(pts), ...Array.from({ length: 6 }, () => more())]));
      clock.increment(40);
    }
    clock.increment(200);
    expect(sent).to.have.length(25);
    expect(sent.slice(1).map((at, i) => at - sent[i]!)).to.deep.equal(Array.from({ length: 24 }, () => 40));
    pacer.close();
  });
});
