import { expect } from 'chai';
import { availableKbpsOf, MIC_CODEC_OPTIONS, MIC_ENCODING, SEND_RULE, SendRule, WEAK_LINK_AUDIO_BPS } from '../../client/shared/audioFirst.ts';
import { assess, audioOnlyDirection, AUDIO_ONLY_LABEL } from '../../server/core/health.ts';

/** Feeds the rule an estimate every half second from `from` for `ms`; returns the decisions that changed, with their times. */
function feed(rule: SendRule, from: number, ms: number, kbps: number | null | ((t: number) => number | null)): { at: number; mode: string; trial: boolean }[] {
  const out = [];
  for (let t = from; t < from + ms; t += 500) {
    const d = rule.step(t, typeof kbps === 'function' ? kbps(t) : kbps);
    if (d) out.push({ at: t, ...d });
  }
  return out;
}

describe('audio first on the uplink: the microphone\'s encoding', () => {
  it('Opus with in-band FEC, no DTX, no audio NACK, 40 ms packets, at most 32 kbit/s (24 on a weak link); weighted above video', () => {
    expect(MIC_CODEC_OPTIONS).to.include({ opusFec: true, opusDtx: false, opusNack: false, opusPtime: 40, opusMaxAverageBitrate: 32_000, opusStereo: false });
    expect(WEAK_LINK_AUDIO_BPS).to.equal(24_000);
    expect(MIC_ENCODING).to.include({ priority: 'high', networkPriority: 'high' });
  });
});

describe('audio first on the uplink: when the camera stops and comes back (pure rule)', () => {
  it('a good estimate keeps the video; a low one for the hold stops the camera', () => {
    const rule = new SendRule();
    expect(feed(rule, 0, 10_000, 2500)).to.deep.equal([]);
    expect(feed(rule, 10_000, 1000, SEND_RULE.audioOnlyBelowKbps - 1), 'a dip shorter than the hold').to.deep.equal([]);
    expect(feed(rule, 11_000, 500, 400)).to.deep.equal([]);
    const changes = feed(rule, 12_000, 5000, 60);
    expect(changes[0]).to.deep.equal({ at: 12_000 + SEND_RULE.enterHoldMs, mode: 'audio-only', trial: false });
  });

  it('audio only: trials every few seconds, further apart while they fail; a trial that lifts the estimate brings the video back', () => {
    const rule = new SendRule();
    feed(rule, 0, 2000, 60);
    expect(rule.decision).to.deep.equal({ mode: 'audio-only', trial: false });
    const enteredAt = SEND_RULE.enterHoldMs;
    // The link stays at 64 kbit/s: trials start and fail, spaced by a growing interval.
    const failing = feed(rule, 2000, 40_000, 60);
    const starts = failing.filter((c) => c.trial).map((c) => c.at);
    expect(starts[0]).to.be.within(enteredAt + SEND_RULE.trialFirstMs, enteredAt + SEND_RULE.trialFirstMs + 500);
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    expect(gaps[1]!).to.be.greaterThan(gaps[0]!);
    expect(Math.max(...gaps)).to.be.at.most(SEND_RULE.trialEveryMaxMs + SEND_RULE.trialMs + 500);
    expect(failing.every((c) => c.mode === 'audio-only')).to.equal(true);
    // The link recovers: at the next trial the browser's probe lifts the estimate (and the video then keeps it up).
    let probed = false;
    const recovered = feed(rule, 42_000, 12_000, () => ((probed ||= rule.decision.trial) ? 2800 : 60));
    const back = recovered.find((c) => c.mode === 'video');
    expect(back, 'video back').to.not.equal(undefined);
    expect(back!.at - 42_000).to.be.at.most(SEND_RULE.trialEveryMaxMs + SEND_RULE.trialMs);
    expect(rule.decision).to.deep.equal({ mode: 'video', trial: false });
  });

  it('audio only: when what the hall receives jumps back above what video needs, a trial starts at once', () => {
    const rule = new SendRule();
    feed(rule, 0, 2000, 60);
    expect(rule.decision.mode).to.equal('audio-only');
    // The downlink is weak too (the SFU sends it audio only): nothing before the first trial.
    for (let t = 2000; t < 3000; t += 500) expect(rule.step(t, 60, 40)).to.equal(null);
    // The downlink comes back (the SFU found room for video again): a trial at once, not at the next turn.
    expect(rule.step(3000, 60, 900)).to.deep.equal({ mode: 'audio-only', trial: true });
    expect(rule.step(3500, 2500, 900)).to.deep.equal({ mode: 'video', trial: false });
    // A downlink that stays high is one hint, not a trial every half second.
    const other = new SendRule();
    feed(other, 0, 2000, 60);
    other.step(2000, 60, 40);
    expect(other.step(2500, 60, 900)?.trial).to.equal(true);
    expect(other.step(2500 + SEND_RULE.trialMs, 60, 900)).to.deep.equal({ mode: 'audio-only', trial: false });
    expect(other.step(3000 + SEND_RULE.trialMs, 60, 900)).to.equal(null);
  });

  it('no estimate (no video sent yet) is no reason to stop the camera', () => {
    const rule = new SendRule();
    expect(feed(rule, 0, 10_000, null)).to.deep.equal([]);
  });

  it('reads the estimate from the selected candidate pair of the send transport', () => {
    const stats = new Map<string, Record<string, unknown>>([
      ['T', { id: 'T', type: 'transport', selectedCandidatePairId: 'P2' }],
      ['P1', { id: 'P1', type: 'candidate-pair', nominated: true, state: 'succeeded', availableOutgoingBitrate: 900_000 }],
      ['P2', { id: 'P2', type: 'candidate-pair', nominated: true, state: 'succeeded', availableOutgoingBitrate: 64_000 }],
    ]);
    expect(availableKbpsOf(stats as unknown as RTCStatsReport)).to.equal(64);
    expect(availableKbpsOf(null)).to.equal(null);
  });
});

describe('audio only on the technicians\' tiles (health assessment)', () => {
  it('a link without video is degraded at least, with the reason first and which way', () => {
    const base = { at: 0, online: true, lossUpPct: 0, rttMs: 40 };
    expect(assess(base)).to.deep.equal({ status: 'ok', reasons: [] });
    expect(assess({ ...base, audioOnly: 'up' })).to.deep.equal({ status: 'degraded', reasons: [`${AUDIO_ONLY_LABEL} (chiều lên)`] });
    expect(assess({ ...base, audioOnly: 'down' }).reasons).to.deep.equal([`${AUDIO_ONLY_LABEL} (chiều xuống)`]);
    const bad = assess({ ...base, audioOnly: 'both', lossUpPct: 12 });
    expect(bad.status).to.equal('bad');
    expect(bad.reasons).to.deep.equal([AUDIO_ONLY_LABEL, 'mất gói 12% chiều lên']);
    expect(AUDIO_ONLY_LABEL).to.equal('Đường truyền yếu — chỉ âm thanh');
  });

  it('the direction from the SFU\'s flags', () => {
    expect(audioOnlyDirection({ up: false, down: false })).to.equal(undefined);
    expect(audioOnlyDirection({ up: true, down: false })).to.equal('up');
    expect(audioOnlyDirection({ up: false, down: true })).to.equal('down');
    expect(audioOnlyDirection({ up: true, down: true })).to.equal('both');
  });
});
