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

/** Switches in the pipe test (the `d5` worker asked twice on 3 of 30 switches: 3 of 5 runs of this test failed there, 2026-12-07). */
const SWITCHES = 6;

describe('bench:fanout harness on 2 workers (the speaker piped to the other worker)', function () {
  this.timeout(120_000);
  let harness: FanoutHarness;

  before(async () => {
    harness = new FanoutHarness({ workers: 2, scenario: 'viewers', viewers: 8, browsers: 0, pin: false, probes: 2, wire: false, log: () => undefined });
    await harness.start();
    await new Promise((r) => setTimeout(r, 1500));
  });
  after(async () => {
    await harness?.close();
  });

  it('prepared switches cost each new speaker one keyframe request, for the one layer asked, though viewers on the other worker receive it through a pipe; a second only for a viewer resumed after the first keyframe passed it', async function () {
    // Several switches back and forth, each counted on its own, no retry. The other worker's
    // consumers resume as the speaker's worker's do; when the synthetic speaker answers at once
    // (2-4 ms), their request, made before the keyframe reached them, used to cross the pipe after
    // the keyframe had passed the producer, which held it for its 350 ms keyFrameRequestDelay and
    // asked the speaker again, though every viewer had started on the first keyframe. The pipe
    // producer's request now carries a receiver report and the pipe consumer drops a request made
    // before the keyframe it sent arrived (scripts/worker-patches/pipe-keyframe-request-report.patch).
    // Upstream, a pipe consumer also asked for every layer (three: L2, L0, L1, at once;
    // scripts/build-worker.sh). A second request stays right for a viewer whose consumer resumed
    // after the first keyframe had passed it (its worker read part of the resumes after the
    // keyframe, on a busy machine): that viewer's first packet is the second keyframe, which the
    // test reads at the sinks; a request that no viewer waited for fails it.
    const switches: { to: string; log: string; layers: number; requests: number[]; lost: number; pipePps: number; starts: { peerId: string; atMs: number | null; key: number | null }[] }[] = [];
    for (let i = 0; i < SWITCHES; i++) {
      const r = await harness.switchTo(nextSpeaker(harness, ['c-06010', 'd-186']), true, 1500);
      const w = await harness.measure(1);
      switches.push({ to: r.to, log: r.requests.join(', ') || 'none', layers: new Set(r.requestLog.map((q) => q.layer)).size, requests: r.requestLog.map((q) => q.atMs), lost: w.groups.viewers!.lost, pipePps: w.pipePps, starts: r.viewerStarts });
    }
    const report = switches.map((s, i) => `switch ${i + 1} → ${s.to}: ${s.log}; viewers' first packets at ${s.starts.map((v) => `${v.atMs ?? 'none'}${v.key === 1 ? '' : ' (not a keyframe)'}`).join(', ')} ms`).join('; ');
    console.log(`      keyframe requests at the new speaker: ${report}`);
    for (const s of switches) {
      expect(s.pipePps, `the programme crosses a pipe: ${report}`).to.be.greaterThan(0);
      expect(s.requests.length, `keyframe requests at the new speaker per switch: ${report}`).to.be.at.least(1);
      expect(s.layers, `layers asked: ${report}`).to.equal(1);
      expect(s.starts.length, `synthetic viewers of the new speaker: ${report}`).to.be.at.least(8);
      for (const v of s.starts) expect(v.atMs !== null && v.key === 1, `every viewer starts on a keyframe: ${report}`).to.equal(true);
      // Each request after the first was waited for: some viewer's first packet came after it.
      for (const at of s.requests.slice(1)) expect(s.starts.some((v) => v.atMs! > at), `a request after the first that no viewer waited for: ${report}`).to.equal(true);
      expect(s.lost, `packets lost at the viewers: ${report}`).to.equal(0);
    }
  });
});

/** The first of `halls` not on air (a retried test switches to another hall). */
function nextSpeaker(harness: FanoutHarness, halls: string[]): string {
  return halls.find((h) => h !== harness.speaker)!;
}
