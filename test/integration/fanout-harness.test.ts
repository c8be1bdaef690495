// The fan-out load harness (scripts/bench/fanout) against the real SFU: real mediasoup worker,
// SRTP (AEAD_AES_128_GCM) plain transports, a generator and sinks in child processes on loopback.
// Checks that what bench:fanout measures is real (packets, decryption, latency samples) and that
// a prepared speaker switch costs the speaker exactly one keyframe request, on one worker and across a
// pipe between two (worker patches; both tests fail on the upstream worker logic).
import { expect } from 'chai';
import { FanoutHarness } from '../../scripts/bench/fanout/harness.ts';
import { wireCaptureAvailable } from '../../scripts/bench/fanout/capture.ts';

describe('bench:fanout harness on a real worker (small: speaker + chair to 6 viewers)', function () {
  this.timeout(90_000);
  let harness: FanoutHarness;

  before(async () => {
    harness = new FanoutHarness({ workers: 1, scenario: 'viewers', viewers: 6, browsers: 0, pin: false, probes: 2, log: () => undefined });
    await harness.start();
    await new Promise((r) => setTimeout(r, 1500));
  });
  after(async () => {
    await harness?.close();
  });

  it('forwards the programme to every viewer over SRTP, and the probes decrypt stamped packets', async () => {
    const w = await harness.measure(2);
    // 6 viewers × (speaker video + speaker audio + chair audio), plus the 5 publishing halls' own programme.
    expect(w.consumers).to.be.at.least(18);
    expect(w.consumersActive).to.be.at.least(18);
    const viewers = w.groups.viewers!;
    expect(viewers.receivers).to.equal(6);
    // ~190 video + 100 audio packets per second per viewer; be generous for a loaded machine.
    expect(viewers.packets / w.seconds / 6).to.be.greaterThan(100);
    expect(w.outPackets).to.be.greaterThan(viewers.packets * 0.9);
    expect(w.e2eSamples, 'latency samples from decrypted trailers').to.be.greaterThan(20);
    expect(w.e2eP50Ms).to.be.greaterThan(0);
    if (wireCaptureAvailable()) {
      // tcpdump on lo: the speaker's stamped packets matched in and out of the SFU.
      expect(w.fwdSamples, 'packets matched at the wire').to.be.greaterThan(20);
      expect(w.fwdP50Ms).to.be.a('number').and.greaterThan(0);
    }
    expect(w.usCpuPerOutPacket).to.be.greaterThan(0);
  });

  it('a prepared switch reaches every viewer with at most one keyframe request at the new speaker', async function () {
    // One more try, to another hall: whole-suite runs now and then see a second request 350 ms after
    // the first, though the keyframe was sent at once (a request that came in after it; once in CI
    // here, once locally in the pipe test below). The upstream worker asks twice on every try.
    this.retries(1);
    const r = await harness.switchTo(nextSpeaker(harness, ['d-180', 'd-186']), true, 1500);
    console.log(`      keyframe requests at the new speaker: ${r.requests.join(', ') || 'none'}`);
    // Without the worker patch it is two, 350 ms apart (see scripts/build-worker.sh).
    expect(r.keyframeRequests, JSON.stringify(r.requests)).to.be.at.most(1);
    const w = await harness.measure(1);
    expect(w.groups.viewers!.packets).to.be.greaterThan(0);
  });
});

describe('bench:fanout harness on 2 workers (the speaker piped to the other worker)', function () {
  this.timeout(90_000);
  let harness: FanoutHarness;

  before(async () => {
    harness = new FanoutHarness({ workers: 2, scenario: 'viewers', viewers: 8, browsers: 0, pin: false, probes: 2, wire: false, log: () => undefined });
    await harness.start();
    await new Promise((r) => setTimeout(r, 1500));
  });
  after(async () => {
    await harness?.close();
  });

  it('a prepared switch costs the new speaker one keyframe request for the one layer asked, though viewers on the other worker receive it through a pipe (a request crossing the pipe after the keyframe is asked again 350 ms later: known worker defect, issue 14)', async function () {
    this.retries(1); // as above; upstream it is three every time
    const r = await harness.switchTo(nextSpeaker(harness, ['c-06010', 'd-186']), true, 1500);
    console.log(`      keyframe requests at the new speaker: ${r.requests.join(', ') || 'none'}`);
    const w = await harness.measure(1);
    expect(w.pipePps, 'the programme crosses a pipe').to.be.greaterThan(0);
    // Upstream, a pipe consumer asked for a keyframe on every layer (three: L2, L0, L1, at once);
    // the worker patch asks for the layer that was asked for (scripts/build-worker.sh).
    const log = JSON.stringify(r.requests);
    expect(new Set(r.requestLog.map((q) => q.layer)).size, `layers asked: ${log}`).to.be.at.most(1);
    const first = r.requestLog[0];
    expect(first, `no keyframe request: ${log}`).to.not.equal(undefined);
    const answered = first!.keyframeSentMs ?? Infinity;
    // One request until the keyframe is sent. Known defect (issue 14, not fixed in the worker yet):
    // the other worker's consumers resume as the first worker's do, and when the synthetic speaker
    // answers within 2–4 ms their request crosses the pipe after the keyframe; the producer's
    // KeyFrameRequestManager then holds it for its 350 ms delay and asks once more — one extra,
    // never more, and never before the delay (whole runs: once in a few).
    expect(r.requestLog.filter((q) => q.atMs <= answered).length, `requests until the keyframe was sent: ${log}`).to.equal(1);
    const later = r.requestLog.filter((q) => q.atMs > answered);
    expect(later.length, `requests after the keyframe: ${log}`).to.be.at.most(1);
    for (const q of later) expect(q.atMs - first!.atMs, `a request after the keyframe comes with the producer's 350 ms delay: ${log}`).to.be.at.least(340);
    expect(w.groups.viewers!.lost).to.equal(0);
  });
});

/** The first of `halls` not on air (a retried test switches to another hall). */
function nextSpeaker(harness: FanoutHarness, halls: string[]): string {
  return halls.find((h) => h !== harness.speaker)!;
}
