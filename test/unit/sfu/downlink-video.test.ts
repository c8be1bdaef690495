import { expect } from 'chai';
import { DOWNLINK_RULE, DownlinkVideoRule, type DownlinkFacts } from '../../../sfu/routing/index.ts';
import { AudioOnlyHysteresis, audioOnlyNow, type LinkVideoFacts } from '../../../sfu/audio-only.ts';

/** A hall that receives the programme's video and whose link carries it. */
const fine: DownlinkFacts = { reportedAudioOnly: false, hasVideo: true, noLayerFits: false, availableKbps: null };
const weak: DownlinkFacts = { ...fine, reportedAudioOnly: true };
/** During a trial: its consumer gets the low layer and the estimate has room for it, or not. */
const carries = (kbps = 400, score = 10): DownlinkFacts => ({ ...fine, availableKbps: kbps, trial: { layers: true, score } });
const starved = (kbps = 60): DownlinkFacts => ({ ...fine, availableKbps: kbps, trial: { layers: false, score: 10 } });

/** A fake clock: each step moves time forward by `ms`. */
/** A rule whose hall, weak, had its first trial verified at an estimate of `kbps` (reporting its uplink weak throughout); `at`: when. */
function verifiedOnTrial(kbps: number): { rule: DownlinkVideoRule; at: number } {
  const rule = new DownlinkVideoRule();
  rule.step(0, weak);
  const t0 = DOWNLINK_RULE.trialFirstMs;
  expect(rule.step(t0, weak)?.state).to.equal('trial');
  expect(rule.step(t0 + 250, { ...carries(kbps), reportedAudioOnly: true })).to.equal(null);
  const at = t0 + 250 + DOWNLINK_RULE.verifyMs;
  expect(rule.step(at, { ...carries(kbps), reportedAudioOnly: true })).to.deep.equal({ state: 'video', reason: 'verified' });
  return { rule, at };
}

function clock(start = 0): { now: () => number; tick: (ms: number) => number } {
  let t = start;
  return { now: () => t, tick: (ms) => (t += ms) };
}

describe('downlink video (pure rule): when the SFU holds a hall\'s video and how it comes back', () => {
  it('a hall whose link carries video keeps it', () => {
    const rule = new DownlinkVideoRule();
    for (let t = 0; t < 30_000; t += 250) expect(rule.step(t, fine)).to.equal(null);
    expect(rule.state).to.equal('video');
    expect(rule.held).to.equal(false);
  });

  it('the hall\'s own report of a weak link holds its video at once (its browser already waited)', () => {
    const rule = new DownlinkVideoRule();
    expect(rule.step(0, fine)).to.equal(null);
    expect(rule.step(250, weak)).to.deep.equal({ state: 'held', reason: 'reported' });
    expect(rule.held).to.equal(true);
    // A report that goes on is not news.
    expect(rule.step(500, weak)).to.equal(null);
  });

  it('mediasoup fitting no layer with a short estimate holds its video only after enterHoldMs (a switch leaves a consumer without layers for a moment)', () => {
    const rule = new DownlinkVideoRule();
    const noLayer = { ...fine, noLayerFits: true, availableKbps: 70 };
    expect(rule.step(0, noLayer)).to.equal(null);
    expect(rule.step(DOWNLINK_RULE.enterHoldMs - 1, noLayer)).to.equal(null);
    expect(rule.step(DOWNLINK_RULE.enterHoldMs, fine), 'a layer fits again: the wait starts over').to.equal(null);
    expect(rule.step(DOWNLINK_RULE.enterHoldMs + 100, noLayer)).to.equal(null);
    expect(rule.step(2 * DOWNLINK_RULE.enterHoldMs + 100, noLayer)).to.deep.equal({ state: 'held', reason: 'no_layer' });
  });

  it('no layer while the estimate has room (a consumer waiting for its keyframe on a loaded machine), or not read yet: not a weak link', () => {
    const rule = new DownlinkVideoRule();
    for (let t = 0; t < 20_000; t += 250) expect(rule.step(t, { ...fine, noLayerFits: true, availableKbps: t % 1000 ? 2500 : null })).to.equal(null);
    expect(rule.state).to.equal('video');
  });

  it('held: a trial after trialFirstMs; a trial whose layer flows with the estimate at videoAtKbps for verifyMs gives the video back', () => {
    const rule = new DownlinkVideoRule();
    const c = clock();
    rule.step(c.now(), { ...fine, noLayerFits: true, availableKbps: 70 });
    expect(rule.step(c.tick(DOWNLINK_RULE.enterHoldMs), { ...fine, noLayerFits: true, availableKbps: 70 })?.state).to.equal('held');
    const heldAt = c.now();
    // Paused: the programme consumer no longer reports its layers; nothing changes before the trial is due.
    expect(rule.step(c.tick(DOWNLINK_RULE.trialFirstMs - 1), { ...fine, availableKbps: 80 })).to.equal(null);
    expect(rule.step(heldAt + DOWNLINK_RULE.trialFirstMs, { ...fine, availableKbps: 80 })).to.deep.equal({ state: 'trial', reason: 'trial' });
    c.tick(1);
    expect(rule.held, 'during a trial every other video consumer stays paused').to.equal(true);
    expect(rule.step(c.tick(250), carries(120)), 'the layer flows but the estimate is short').to.equal(null);
    expect(rule.step(c.tick(250), carries())).to.equal(null);
    expect(rule.step(c.tick(DOWNLINK_RULE.verifyMs - 1), carries())).to.equal(null);
    expect(rule.step(c.tick(1), carries())).to.deep.equal({ state: 'video', reason: 'verified' });
    expect(rule.held).to.equal(false);
  });

  it('a trial fails early when no layer flows and the estimate stays low, at trialMs when it never verifies, and at once on loss', () => {
    const early = new DownlinkVideoRule();
    early.step(0, weak);
    expect(early.step(DOWNLINK_RULE.trialFirstMs, weak)?.state).to.equal('trial');
    const t0 = DOWNLINK_RULE.trialFirstMs;
    expect(early.step(t0 + DOWNLINK_RULE.trialFailAfterMs - 1, { ...starved(), reportedAudioOnly: true })).to.equal(null);
    expect(early.step(t0 + DOWNLINK_RULE.trialFailAfterMs, { ...starved(), reportedAudioOnly: true })).to.deep.equal({ state: 'held', reason: 'trial_failed' });

    const late = new DownlinkVideoRule();
    late.step(0, { ...fine, noLayerFits: true, availableKbps: 70 });
    late.step(DOWNLINK_RULE.enterHoldMs, { ...fine, noLayerFits: true, availableKbps: 70 });
    const t1 = DOWNLINK_RULE.enterHoldMs + DOWNLINK_RULE.trialFirstMs;
    expect(late.step(t1, fine)?.state).to.equal('trial');
    // The estimate bobs around the threshold: never verifyMs in a row.
    let t = t1;
    let out = null;
    while (!out) {
      t += 250;
      out = late.step(t, carries(Math.floor((t - t1) / 1000) % 2 ? 150 : 300));
    }
    expect(out).to.deep.equal({ state: 'held', reason: 'trial_failed' });
    // At trialMs it had just begun verifying again (300 from 4 s): it gets until the estimate falls back (5 s), never trialMs + verifyMs.
    expect(t - t1).to.equal(DOWNLINK_RULE.trialMs + 1000);
    expect(t - t1).to.be.lessThan(DOWNLINK_RULE.trialMs + DOWNLINK_RULE.verifyMs);

    const lossy = new DownlinkVideoRule();
    lossy.step(0, { ...fine, noLayerFits: true, availableKbps: 70 });
    lossy.step(DOWNLINK_RULE.enterHoldMs, { ...fine, noLayerFits: true, availableKbps: 70 });
    expect(lossy.step(t1, fine)?.state).to.equal('trial');
    const lossyFacts = (score: number, retransmitted: number): DownlinkFacts => ({ ...carries(400, score), trial: { layers: true, score, sent: 300 + retransmitted * 10, nacked: 50 + retransmitted, retransmitted } });
    expect(lossy.step(t1 + 250, lossyFacts(10, 0))).to.equal(null);
    expect(lossy.step(t1 + 500, lossyFacts(6, 0)), 'a fall of the score alone: the gap the last trial left').to.equal(null);
    expect(lossy.step(t1 + 750, lossyFacts(6, 1)), 'the hall\'s reports show loss, and a packet of the trial was sent again').to.deep.equal({ state: 'held', reason: 'trial_failed' });
  });

  it('a stale low score does not fail a trial (it was low before the trial began); only a fall does', () => {
    const rule = new DownlinkVideoRule();
    rule.step(0, { ...fine, noLayerFits: true, availableKbps: 70 });
    rule.step(DOWNLINK_RULE.enterHoldMs, { ...fine, noLayerFits: true, availableKbps: 70 });
    const t0 = DOWNLINK_RULE.enterHoldMs + DOWNLINK_RULE.trialFirstMs;
    expect(rule.step(t0, fine)?.state).to.equal('trial');
    expect(rule.step(t0 + 250, carries(400, 3))).to.equal(null);
    expect(rule.step(t0 + 250 + DOWNLINK_RULE.verifyMs, carries(400, 3))).to.deep.equal({ state: 'video', reason: 'verified' });
  });

  it('failed trials space out (x trialBackoff up to trialEveryMaxMs); a new hold starts the schedule over', () => {
    const rule = new DownlinkVideoRule();
    rule.step(0, { ...fine, noLayerFits: true, availableKbps: 70 });
    rule.step(DOWNLINK_RULE.enterHoldMs, { ...fine, noLayerFits: true, availableKbps: 70 });
    let at = DOWNLINK_RULE.enterHoldMs;
    const gaps: number[] = [];
    for (let i = 0; i < 5; i++) {
      const due = rule.nextTrialAt;
      gaps.push(due - at);
      expect(rule.step(due - 1, fine)).to.equal(null);
      expect(rule.step(due, fine)?.state).to.equal('trial');
      at = due + DOWNLINK_RULE.trialFailAfterMs;
      expect(rule.step(at, starved())?.reason).to.equal('trial_failed');
    }
    const { trialFirstMs: first, trialBackoff: b, trialEveryMaxMs: max } = DOWNLINK_RULE;
    expect(gaps).to.deep.equal([first, first * b, first * b * b, max, max].map((g) => Math.min(max, g)));
    expect(gaps[4]).to.equal(max);
    // Back to video, then a new hold: the first trial after trialFirstMs again.
    const t = rule.nextTrialAt;
    expect(rule.step(t, fine)?.state).to.equal('trial');
    expect(rule.step(t + 250, carries())).to.equal(null);
    expect(rule.step(t + 250 + DOWNLINK_RULE.verifyMs, carries())?.state).to.equal('video');
    const h = t + 10_000;
    expect(rule.step(h, { ...fine, noLayerFits: true, availableKbps: 70 })).to.equal(null);
    expect(rule.step(h + DOWNLINK_RULE.enterHoldMs, { ...fine, noLayerFits: true, availableKbps: 70 })?.reason).to.equal('no_layer');
    expect(rule.nextTrialAt - (h + DOWNLINK_RULE.enterHoldMs)).to.equal(DOWNLINK_RULE.trialFirstMs);
  });

  it('while the hall says its uplink is weak the SFU tries on the browser\'s schedule; when its uplink comes back, at once', () => {
    const rule = new DownlinkVideoRule();
    expect(rule.step(0, weak)?.state).to.equal('held');
    expect(rule.step(DOWNLINK_RULE.trialFirstMs - 1, weak)).to.equal(null);
    expect(rule.step(DOWNLINK_RULE.trialFirstMs, weak)).to.deep.equal({ state: 'trial', reason: 'trial' });
    expect(rule.step(DOWNLINK_RULE.trialFirstMs + DOWNLINK_RULE.trialFailAfterMs, { ...starved(), reportedAudioOnly: true })?.reason).to.equal('trial_failed');
    // The hall's own trial verified its uplink: the SFU tries its downlink now, not at its next turn.
    const back = DOWNLINK_RULE.trialFirstMs + DOWNLINK_RULE.trialFailAfterMs + 250;
    expect(back).to.be.lessThan(rule.nextTrialAt);
    expect(rule.step(back, fine)).to.deep.equal({ state: 'trial', reason: 'uplink_back' });
  });

  it('a trial whose layer flows on a stale estimate fails once the estimate falls below lowKbps (the link does not carry it)', () => {
    const rule = new DownlinkVideoRule();
    rule.step(0, weak);
    expect(rule.step(DOWNLINK_RULE.trialFirstMs, weak)?.state).to.equal('trial');
    const t0 = DOWNLINK_RULE.trialFirstMs;
    expect(rule.step(t0 + 250, { ...carries(400, 2), reportedAudioOnly: true })).to.equal(null);
    expect(rule.step(t0 + 750, { ...carries(90, 2), reportedAudioOnly: true }), 'not before trialFailAfterMs').to.equal(null);
    expect(rule.step(t0 + DOWNLINK_RULE.trialFailAfterMs, { ...carries(90, 2), reportedAudioOnly: true })).to.deep.equal({ state: 'held', reason: 'trial_failed' });
  });

  it('a trial on an estimate left from before the cut: the hall asking for its packets again fails it at once (before the score or the estimate fall); a lost packet or two on a good link does not', () => {
    const rule = new DownlinkVideoRule();
    rule.step(0, weak);
    const t0 = DOWNLINK_RULE.trialFirstMs;
    expect(rule.step(t0, weak)?.state).to.equal('trial');
    // The estimate says 350 kbit/s and the score has not moved: its keyframe is being dropped on a 64 kbit/s link.
    // The packets it asks for are the trial's own: mediasoup sends them again (see the next tests for those it does not).
    const stale = (sent: number, nacked: number): DownlinkFacts => ({ ...weak, availableKbps: 350, trial: { layers: true, score: 10, sent, nacked, retransmitted: nacked } });
    expect(rule.step(t0 + 250, stale(100, 3))).to.equal(null);
    expect(rule.step(t0 + 500, stale(112, 4)), 'one packet asked again of twelve: not yet').to.equal(null);
    expect(rule.step(t0 + 750, stale(120, 7))).to.deep.equal({ state: 'held', reason: 'trial_failed' });
    // A recovered link that loses a packet now and then (1 %) still verifies.
    const good = new DownlinkVideoRule();
    good.step(0, weak);
    expect(good.step(t0, weak)?.state).to.equal('trial');
    let out = null;
    for (let t = t0 + 250, sent = 0; t <= t0 + 250 + DOWNLINK_RULE.verifyMs && !out; t += 250, sent += 40) {
      out = good.step(t, { ...weak, availableKbps: 2000, trial: { layers: true, score: 10, sent, nacked: Math.floor(sent / 100), retransmitted: Math.floor(sent / 100) } });
    }
    expect(out).to.deep.equal({ state: 'video', reason: 'verified' });
  });

  // Readings of 2026-12-07's runs (every 250 ms; the trial's consumer's counters cumulative, as
  // DownlinkHold reads them a tick late). When the SFU pauses a consumer, mediasoup clears its
  // retransmission buffer (RtpStreamSend::Pause); when it resumes it, the sequence numbers go on
  // from the last packet it sent. So the packets a trial on the weak link sent last and the link
  // dropped are a gap the hall's browser sees only with the next trial's first packet: its next
  // receiver report counts them lost, and mediasoup's score, cleared when the trial's layer was
  // taken, is that one report. Only packets mediasoup sends again (`retransmitted`) are surely
  // the trial's own.
  const recoveredTrial = (rule: DownlinkVideoRule, t0: number, readings: [number, number, number, number, number, number][]): ReturnType<DownlinkVideoRule['step']>[] =>
    readings.map(([ms, kbps, score, sent, nacked, retransmitted]) =>
      rule.step(t0 + ms, { ...fine, reportedAudioOnly: true, availableKbps: kbps, trial: { layers: true, score, sent, nacked, retransmitted } }));

  it('a recovered link passes its first trial though the hall\'s reports count the packets the last trial on the weak link lost (its score falls, nothing is sent again)', () => {
    // The e2e at 15:03: the score 10 to 1 with the gap's 2 packets in the hall's report; this trial failed at 753 ms.
    const scored = new DownlinkVideoRule();
    scored.step(0, weak);
    const t0 = DOWNLINK_RULE.trialFirstMs;
    expect(scored.step(t0, weak)?.state).to.equal('trial');
    const a = recoveredTrial(scored, t0, [[250, 1075, 10, 1200, 340, 12], [500, 1075, 10, 1200, 340, 12], [753, 1075, 1, 1202, 340, 12], [1001, 1075, 1, 1203, 340, 12], [1251, 1075, 7, 1205, 340, 12], [1501, 1075, 8, 1208, 340, 12], [1751, 1075, 9, 1210, 340, 12]]);
    expect(a.slice(0, -1), 'no decision before it verifies').to.deep.equal([null, null, null, null, null, null]);
    expect(a.at(-1)).to.deep.equal({ state: 'video', reason: 'verified' });
    expect(scored.endedTrial?.why).to.equal('verified');
    // bench:weaklink 15:16: the estimate rises with a probe at 0.75 s, the score at 3 from then on (2 lost).
    const probed = new DownlinkVideoRule();
    probed.step(0, weak);
    expect(probed.step(t0, weak)?.state).to.equal('trial');
    const b = recoveredTrial(probed, t0, [[250, 55, 10, 900, 70, 3], [500, 55, 10, 900, 70, 3], [751, 688, 3, 902, 70, 3], [1000, 1376, 3, 903, 70, 3], [1251, 1376, 3, 905, 70, 3], [1500, 1376, 3, 908, 70, 3], [1751, 1376, 8, 910, 70, 3], [2000, 1376, 8, 912, 70, 3], [2250, 1376, 8, 913, 70, 3], [2500, 1376, 8, 917, 70, 3]]);
    expect(b.slice(0, -1)).to.deep.equal(Array(9).fill(null));
    expect(b.at(-1)).to.deep.equal({ state: 'video', reason: 'verified' });
  });

  it('a link still weak fails its trial fast: at once when the hall NACKs its packets (answered or not) or its score falls with one sent again, by trialFailAfterMs when the estimate stays short', () => {
    const t0 = DOWNLINK_RULE.trialFirstMs;
    // An estimate left from before the cut (350): the trial's keyframe is dropped, its later packets arrive, and the hall asks for the lost ones.
    const stale = new DownlinkVideoRule();
    stale.step(0, weak);
    expect(stale.step(t0, weak)?.state).to.equal('trial');
    const own = (score: number, sent: number, nacked: number, retransmitted: number): DownlinkFacts => ({ ...weak, availableKbps: 350, trial: { layers: true, score, sent, nacked, retransmitted } });
    expect(stale.step(t0 + 250, own(10, 800, 40, 5))).to.equal(null);
    expect(stale.step(t0 + 500, own(10, 812, 41, 6)), 'one packet asked again of twelve: not yet').to.equal(null);
    expect(stale.step(t0 + 750, own(10, 820, 45, 7))).to.deep.equal({ state: 'held', reason: 'trial_failed' });
    expect(stale.endedTrial?.why).to.equal('nacks');
    // Its receiver reports show the loss first (a report between two readings of the counters), with a packet of its own sent again.
    const reported = new DownlinkVideoRule();
    reported.step(0, weak);
    expect(reported.step(t0, weak)?.state).to.equal('trial');
    expect(reported.step(t0 + 250, own(10, 800, 40, 5))).to.equal(null);
    expect(reported.step(t0 + 500, own(3, 812, 41, 6))).to.deep.equal({ state: 'held', reason: 'trial_failed' });
    expect(reported.endedTrial?.why).to.equal('score');
    // bench:weaklink 15:58, 15.6 s after the cut to 64 kbit/s: a probe of mediasoup's lifts the
    // estimate to 512 through the link's token bucket; the hall asks for 16 packets, mediasoup
    // sends none again (asked again within its round trip, or sent before the trial). Counting
    // only the answered ones, this trial verified at 2.0 s on the 64 kbit/s link.
    const probedWeak = new DownlinkVideoRule();
    probedWeak.step(0, weak);
    expect(probedWeak.step(t0, weak)?.state).to.equal('trial');
    const pw = (kbps: number, sent?: number, nacked?: number): DownlinkFacts => ({ ...weak, availableKbps: kbps, trial: { layers: true, score: 10, sent, nacked, retransmitted: sent === undefined ? undefined : 30 } });
    expect(probedWeak.step(t0 + 250, pw(128))).to.equal(null);
    expect(probedWeak.step(t0 + 500, pw(256, 700, 90))).to.equal(null);
    expect(probedWeak.step(t0 + 750, pw(512, 703, 106))).to.deep.equal({ state: 'held', reason: 'trial_failed' });
    expect(probedWeak.endedTrial?.why).to.equal('nacks');
    // The weak-link e2e at 15:25, at 64 kbit/s: the estimate at 58, 3 packets sent, none asked again.
    const short = new DownlinkVideoRule();
    short.step(0, weak);
    expect(short.step(t0, weak)?.state).to.equal('trial');
    const sh = (sent?: number): DownlinkFacts => ({ ...weak, availableKbps: 58, trial: { layers: true, score: 10, sent, nacked: sent === undefined ? undefined : 12, retransmitted: sent === undefined ? undefined : 0 } });
    expect(short.step(t0 + 250, sh())).to.equal(null);
    expect(short.step(t0 + 501, sh(1500))).to.equal(null);
    expect(short.step(t0 + 751, sh(1501))).to.equal(null);
    expect(short.step(t0 + DOWNLINK_RULE.trialFailAfterMs + 4, sh(1503))).to.deep.equal({ state: 'held', reason: 'trial_failed' });
    expect(short.endedTrial?.why).to.equal('short');
    // A stale estimate and few packets sent: not verified on 4 packets (verifyMinPackets).
    const few = new DownlinkVideoRule();
    few.step(0, weak);
    expect(few.step(t0, weak)?.state).to.equal('trial');
    const fw = (sent?: number): DownlinkFacts => ({ ...weak, availableKbps: 467, trial: { layers: true, score: 10, sent, nacked: sent === undefined ? undefined : 100, retransmitted: sent === undefined ? undefined : 40 } });
    [fw(), fw(3000), fw(3002), fw(3002), fw(3003), fw(3003), fw(3004), fw(3004)].forEach((f, i) => expect(few.step(t0 + 250 * (i + 1), f), `at ${250 * (i + 1)} ms`).to.equal(null));
    expect(few.state, 'not verified on 4 packets sent').to.equal('trial');
    expect(few.step(t0 + 2250, fw(3006))).to.deep.equal({ state: 'video', reason: 'verified' });
  });

  it('a trial verifying when trialMs runs out gets its verifyMs (the estimate rose with a late probe); one that is not verifying fails then', () => {
    // bench:weaklink 15:42: a trial spanning the recovery, the estimate at 103–108 until mediasoup probed at 3.75 s.
    const rule = new DownlinkVideoRule();
    rule.step(0, weak);
    const t0 = DOWNLINK_RULE.trialFirstMs;
    expect(rule.step(t0, weak)?.state).to.equal('trial');
    const at = (ms: number, kbps: number, sent: number): DownlinkFacts => ({ ...fine, availableKbps: kbps, trial: { layers: true, score: ms < 1250 ? 10 : ms < 2500 ? 3 : 8, sent: 500 + sent, nacked: 7, retransmitted: 0 } });
    const kbpsAt = (ms: number): number => (ms < 3750 ? 105 : ms < 4000 ? 791 : 2000);
    let out = null;
    let ms = 250;
    for (; !out && ms <= 8000; ms += 250) out = rule.step(t0 + ms, at(ms, kbpsAt(ms), Math.floor(ms / 140)));
    expect(out).to.deep.equal({ state: 'video', reason: 'verified' });
    expect(ms - 250, 'verified verifyMs after the estimate rose').to.equal(3750 + DOWNLINK_RULE.verifyMs);
    // The same trial without the probe: clean (none of its packets asked again, the estimate above
    // lowKbps), it goes on to trialCleanMs, waiting for mediasoup's periodic probe; then it fails.
    const noProbe = new DownlinkVideoRule();
    noProbe.step(0, weak);
    expect(noProbe.step(t0, weak)?.state).to.equal('trial');
    out = null;
    for (ms = 250; !out && ms <= 12_000; ms += 250) out = noProbe.step(t0 + ms, at(ms, 105, Math.floor(ms / 140)));
    expect(out).to.deep.equal({ state: 'held', reason: 'trial_failed' });
    expect(ms - 250).to.equal(DOWNLINK_RULE.trialCleanMs);
    expect(noProbe.endedTrial?.why).to.equal('timeout');
    // One that is not clean (a packet asked again: under the loss rule, but not clean) fails at trialMs.
    const asked = new DownlinkVideoRule();
    asked.step(0, weak);
    expect(asked.step(t0, weak)?.state).to.equal('trial');
    out = null;
    for (ms = 250; !out && ms <= 12_000; ms += 250) {
      const f = at(ms, 105, Math.floor(ms / 140));
      out = asked.step(t0 + ms, ms >= 1000 ? { ...f, trial: { ...f.trial!, nacked: 8 } } : f);
    }
    expect(out).to.deep.equal({ state: 'held', reason: 'trial_failed' });
    expect(ms - 250).to.equal(DOWNLINK_RULE.trialMs);
    expect(asked.endedTrial?.why).to.equal('timeout');
  });

  it('held: an estimate that rises across videoAtKbps (a probe the link carried: nothing else goes down) starts a trial at once; one that was never below does not (a stale estimate waits its turn)', () => {
    // The weak-link e2e 2026-12-07 18:06: the estimate at 113 while held after the recovery, 2,334 at the next trial 4 s later.
    const rule = new DownlinkVideoRule();
    rule.step(0, weak);
    expect(rule.step(500, { ...weak, availableKbps: 113 })).to.equal(null);
    expect(rule.step(750, { ...weak, availableKbps: 2334 })).to.deep.equal({ state: 'trial', reason: 'estimate_up' });
    // The CI run's stale 214, never below videoAtKbps while held: the trial waits for trialFirstMs.
    const stale = new DownlinkVideoRule();
    stale.step(0, weak);
    for (let t = 250; t < DOWNLINK_RULE.trialFirstMs; t += 250) expect(stale.step(t, { ...weak, availableKbps: 214 }), `at ${t} ms`).to.equal(null);
    expect(stale.step(DOWNLINK_RULE.trialFirstMs, { ...weak, availableKbps: 214 })).to.deep.equal({ state: 'trial', reason: 'trial' });
    // After a trial failed, a rise needs a new low reading first.
    const again = new DownlinkVideoRule();
    again.step(0, weak);
    again.step(250, { ...weak, availableKbps: 60 });
    expect(again.step(500, { ...weak, availableKbps: 400 })?.reason).to.equal('estimate_up');
    const nacking = (n: number): DownlinkFacts => ({ ...weak, availableKbps: 400, trial: { layers: true, score: 10, sent: 100 + n, nacked: n, retransmitted: 0 } });
    again.step(750, nacking(0));
    expect(again.step(1000, nacking(5))).to.deep.equal({ state: 'held', reason: 'trial_failed' });
    for (let t = 1250; t < 1000 + DOWNLINK_RULE.trialFirstMs * DOWNLINK_RULE.trialBackoff; t += 250) expect(again.step(t, { ...weak, availableKbps: 400 }), `at ${t} ms`).to.equal(null);
  });

  it('back to video on a trial while the hall still reports its uplink weak: an estimate below lowKbps for enterHoldMs holds its video again, layers or not', () => {
    const { rule, at: v } = verifiedOnTrial(600);
    // The link did not carry it: mediasoup still forwards the lowest layer while its estimate falls.
    expect(rule.step(v + 500, { ...weak, availableKbps: 140 })).to.equal(null);
    expect(rule.step(v + 1000, { ...weak, availableKbps: 60 })).to.equal(null);
    expect(rule.step(v + 1000 + DOWNLINK_RULE.enterHoldMs - 1, { ...weak, availableKbps: 40 })).to.equal(null);
    expect(rule.step(v + 1000 + DOWNLINK_RULE.enterHoldMs, { ...weak, availableKbps: 40 })).to.deep.equal({ state: 'held', reason: 'short' });
    // A hall whose uplink is fine is left to mediasoup's own layers (and the no-layer sign).
    const fineUp = new DownlinkVideoRule();
    for (let t = 0; t < 10_000; t += 250) expect(fineUp.step(t, { ...fine, availableKbps: 40 })).to.equal(null);
  });

  it('a new report during a trial ends it at once', () => {
    const rule = new DownlinkVideoRule();
    rule.step(0, weak);
    expect(rule.step(1000, fine)?.reason).to.equal('uplink_back');
    expect(rule.step(1250, { ...carries(), reportedAudioOnly: true })).to.deep.equal({ state: 'held', reason: 'trial_failed' });
  });

  it('the video a trial gave back stays on probation: lost (the hall asks again for much of it) within probationMs, it is held again as a failed trial; a few packets asked again, or loss after probationMs, leave it to mediasoup', () => {
    // The CI run of 2026-12-07, 64 kbit/s: the estimate 214 left from 128 kbit/s, the trial's lowest
    // layer at its lowest frame rate (10 packets in 1.75 s, none lost) verifies; then the programme
    // at the layer 214 fits floods the link (the hall's browser: 46 % lost on its downlink).
    const t0 = DOWNLINK_RULE.trialFirstMs;
    const ciTrial = (): { rule: DownlinkVideoRule; v: number } => {
      const rule = new DownlinkVideoRule();
      rule.step(0, weak);
      expect(rule.step(t0, weak)?.state).to.equal('trial');
      const tr = (sent?: number): DownlinkFacts => ({ ...weak, availableKbps: 214, trial: { layers: true, score: 10, sent, nacked: sent === undefined ? undefined : 0, retransmitted: sent === undefined ? undefined : 0 } });
      const readings = [tr(), tr(0), tr(2), tr(3), tr(5), tr(8), tr(10)];
      const out = readings.map((f, i) => rule.step(t0 + 250 * (i + 1), f));
      expect(out.at(-1), 'verified on the stale estimate').to.deep.equal({ state: 'video', reason: 'verified' });
      expect(rule.onProbation).to.equal(true);
      return { rule, v: t0 + 250 * readings.length };
    };
    const given = (sent?: number, nacked?: number, kbps = 214): DownlinkFacts => ({ ...weak, availableKbps: kbps, trial: { layers: true, score: 10, sent, nacked, retransmitted: 0 } });
    const flooded = ciTrial();
    expect(flooded.rule.step(flooded.v + 250, given()), 'its counters not read again yet').to.equal(null);
    expect(flooded.rule.step(flooded.v + 500, given(18, 2))).to.equal(null);
    expect(flooded.rule.step(flooded.v + 750, given(27, 5)), 'five asked again: not yet').to.equal(null);
    expect(flooded.rule.step(flooded.v + 1000, given(36, 11))).to.deep.equal({ state: 'held', reason: 'lost_after_trial' });
    expect(flooded.rule.endedTrial?.why).to.equal('probation');
    expect(flooded.rule.endedTrial?.ms).to.equal(1000);
    expect(flooded.rule.onProbation).to.equal(false);
    // Held as after a failed trial: the next one waits trialFirstMs × trialBackoff.
    const next = flooded.v + 1000 + DOWNLINK_RULE.trialFirstMs * DOWNLINK_RULE.trialBackoff;
    expect(flooded.rule.step(next - 1, weak)).to.equal(null);
    expect(flooded.rule.step(next, weak)?.state).to.equal('trial');

    // A link that carries it: the video climbs layers, the hall asks for a few packets again while mediasoup's estimate settles.
    const carried = ciTrial();
    for (let ms = 250, sent = 10, nacked = 0; ms < DOWNLINK_RULE.probationMs; ms += 250, sent += 12, nacked += ms % 1000 === 0 ? 1 : 0) {
      expect(carried.rule.step(carried.v + ms, given(sent, nacked, 600)), `at ${ms} ms`).to.equal(null);
    }
    expect(carried.rule.step(carried.v + DOWNLINK_RULE.probationMs, given(200, 4, 600))).to.equal(null);
    expect(carried.rule.onProbation, 'the probation ends after probationMs').to.equal(false);
    // After it, loss is mediasoup's to handle with its layers (and the rule's no-layer and short signs): the counters are no longer read.
    expect(carried.rule.step(carried.v + DOWNLINK_RULE.probationMs + 250, given(300, 100, 600))).to.equal(null);
    expect(carried.rule.state).to.equal('video');

    // The NACKs of the trial itself before it verified are not the probation's: it counts from the trial's last reading.
    const counted = new DownlinkVideoRule();
    counted.step(0, fine);
    counted.step(250, weak);
    expect(counted.step(t0 + 250, weak)?.state).to.equal('trial');
    const own = (sent: number, nacked: number): DownlinkFacts => ({ ...weak, availableKbps: 900, trial: { layers: true, score: 10, sent, nacked, retransmitted: 0 } });
    counted.step(t0 + 500, own(1000, 300));
    expect(counted.step(t0 + 500 + DOWNLINK_RULE.verifyMs, own(1030, 300))).to.deep.equal({ state: 'video', reason: 'verified' });
    expect(counted.step(t0 + 750 + DOWNLINK_RULE.verifyMs, own(1050, 306)), '6 asked again of 20: under probationMinPackets').to.equal(null);
    expect(counted.step(t0 + 1000 + DOWNLINK_RULE.verifyMs, own(1060, 309)), '9 asked again of 30').to.deep.equal({ state: 'held', reason: 'lost_after_trial' });
  });

  it('a link weak only upwards: after a trial verified, a report that goes on does not hold the video again; the SFU\'s own sign does', () => {
    const { rule } = verifiedOnTrial(2000);
    const t0 = DOWNLINK_RULE.trialFirstMs;
    for (let t = t0 + 5000; t < t0 + 60_000; t += 500) expect(rule.step(t, weak)).to.equal(null);
    const t1 = t0 + 60_000;
    expect(rule.step(t1, { ...weak, noLayerFits: true, availableKbps: 70 })).to.equal(null);
    expect(rule.step(t1 + DOWNLINK_RULE.enterHoldMs, { ...weak, noLayerFits: true, availableKbps: 70 })).to.deep.equal({ state: 'held', reason: 'no_layer' });
  });

  it('a trial that is due waits while the hall\'s microphone loses packets on the way up (its uplink still full after the cut), and starts once its audio arrives whole', () => {
    const rule = new DownlinkVideoRule();
    rule.step(0, { ...weak, upLost: 10 });
    const due = rule.nextTrialAt;
    // The cut's queue has not drained: the microphone loses a packet or two every half second.
    let lost = 10;
    for (let t = 250; t <= due + 1500; t += 250) {
      if (t % 500 === 0) lost += 2;
      expect(rule.step(t, { ...weak, upLost: lost }), `at ${t} ms`).to.equal(null);
    }
    const lastLoss = due + 1500;
    // The audio arrives whole again: the trial starts upQuietMs after the last loss, not before.
    expect(rule.step(lastLoss + DOWNLINK_RULE.upQuietMs - 250, { ...weak, upLost: lost })).to.equal(null);
    expect(rule.step(lastLoss + DOWNLINK_RULE.upQuietMs, { ...weak, upLost: lost })).to.deep.equal({ state: 'trial', reason: 'trial' });
    // Without losses (or unread) the trial is on time, as before.
    const quiet = new DownlinkVideoRule();
    quiet.step(0, { ...weak, upLost: 10 });
    expect(quiet.step(250, { ...weak, upLost: 10 })).to.equal(null);
    expect(quiet.step(quiet.nextTrialAt, { ...weak, upLost: 10 })?.state).to.equal('trial');
  });

  it('a lossy uplink that never clears delays a trial by trialWaitMaxMs at most; a hall whose uplink comes back is tried at once, losses or not', () => {
    const rule = new DownlinkVideoRule();
    rule.step(0, { ...weak, upLost: 0 });
    const due = rule.nextTrialAt;
    let out = null;
    let t = 250;
    for (let lost = 1; !out; t += 250, lost++) out = rule.step(t, { ...weak, upLost: lost });
    expect(out).to.deep.equal({ state: 'trial', reason: 'trial' });
    expect(t - 250 - due).to.equal(DOWNLINK_RULE.trialWaitMaxMs);

    const back = new DownlinkVideoRule();
    back.step(0, { ...weak, upLost: 0 });
    expect(back.step(250, { ...weak, upLost: 3 })).to.equal(null);
    expect(back.step(500, { ...fine, upLost: 5 })).to.deep.equal({ state: 'trial', reason: 'uplink_back' });
  });

  it('held with no video consumer to try: back to video once the hall\'s uplink is fine (a consumer made later runs), kept while it says its link is weak', () => {
    const rule = new DownlinkVideoRule();
    rule.step(0, { ...weak, hasVideo: false });
    expect(rule.step(DOWNLINK_RULE.trialFirstMs, { ...weak, hasVideo: false })).to.equal(null);
    expect(rule.held).to.equal(true);
    expect(rule.step(DOWNLINK_RULE.trialFirstMs + 250, { ...fine, hasVideo: false })).to.deep.equal({ state: 'video', reason: 'no_video' });
  });
});

describe('audio only flags: the SFU\'s hold of a hall\'s video is `down`, told at once', () => {
  const facts: LinkVideoFacts = {
    reportedAudioOnly: true,
    downHeld: true,
    cam: { paused: true, ageMs: 60_000, scores: [0, 0, 0] },
    // Paused by the hold: the programme consumer no longer shows the link's state itself.
    onAirVideo: { resumed: false, sourceSending: true, hasLayers: false },
  };

  it('held: down, entering and leaving without the hold for mediasoup\'s own sign', () => {
    expect(audioOnlyNow(facts)).to.deep.equal({ up: true, down: true, reported: true, held: true });
    const book = new AudioOnlyHysteresis();
    expect(book.step('d-189', audioOnlyNow(facts), 0)).to.deep.equal({ up: true, down: true });
    // The SFU gives the video back after a trial verified the link: told at once.
    const back = audioOnlyNow({ ...facts, downHeld: false, onAirVideo: { resumed: true, sourceSending: true, hasLayers: true } });
    expect(book.step('d-189', back, 100)).to.deep.equal({ up: true, down: false });
  });
});
