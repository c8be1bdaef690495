// Valid or nothing (scripts/bench/validity.ts, scripts/bench/fanout/headroom.ts): a benchmark's
// last line hides the SFU's figures when its harness did not keep up, and says why.
import { expect } from 'chai';
import { LIMITS, Validity, coreBusyPct, machineBusyPctOfCore, verdictLine, type CoreSample, type MachineFacts } from '../../scripts/bench/validity.ts';
import { windowValidity } from '../../scripts/bench/fanout/headroom.ts';
import type { WindowResult } from '../../scripts/bench/fanout/harness.ts';

const facts: MachineFacts = { machine: '2 cores', openssl_gcm_us_per_1200B: 0.66, load: [0.1, 0.1, 0.1], date: '2026-12-06T00:00:00.000Z' };

/** A window in which the harness kept up, pinned, one worker, two Chromium halls. */
function goodWindow(): WindowResult {
  return {
    sfuCores: 0.8,
    browsersCpuPct: 30,
    browsers: [{ bridgeId: 'c-1', fps: 29.5, height: 720 }],
    headroom: {
      impl: 'native', pinned: true, harnessCpus: [0], sfuCpus: [1],
      processes: [{ name: 'generator', pid: 1, cpuPct: 15 }, { name: 'sink', pid: 2, cpuPct: 12 }],
      coreBusyPct: [70, 82], othersCpuPct: 3, ownSocketDrops: 0, sinkSocketDrops: 0, generatorSocketDrops: 0, otherSocketDrops: 5,
      sinkReadDelayP99Ms: 0.4, sinkReadDelayMaxMs: 3, sinkLoopDelayP99Ms: null,
      generatorLateP50Ms: 0.5, generatorLateP99Ms: 1.1, generatorLateMaxMs: 4, generatorSkipped: 0, sourceFps: 30,
    },
  } as unknown as WindowResult;
}

describe('bench validity', () => {
  it('a valid run prints its figures at the top with its headroom, and exits 0', () => {
    const v = windowValidity(goodWindow());
    expect(v.reasons).to.deep.equal([]);
    // Chromium (30 % at nice 19 on the harness's CPU) is left out of the harness's CPU: 70 − 30.
    expect(v.headroom.harness_core_busy_pct).to.equal(40);
    const { line, exitCode } = verdictLine({ out_pps: 75000 }, v, facts);
    const out = JSON.parse(line);
    expect(exitCode).to.equal(0);
    expect(out).to.include({ valid: true, out_pps: 75000, openssl_gcm_us_per_1200B: 0.66 });
    expect(out.headroom.sink_read_delay_p99_ms).to.equal(0.4);
  });

  it('a run where the harness did not keep up hides the SFU figures under not_valid_figures, gives every reason, and exits 3', () => {
    const w = goodWindow();
    w.headroom.ownSocketDrops = 12;
    w.headroom.sinkReadDelayP99Ms = 40;
    w.headroom.generatorSkipped = 30;
    w.headroom.coreBusyPct = [70, 100]; // the worker used 80 %: others 20 % on its CPU
    w.browsers[0]!.fps = 3;
    const v = windowValidity(w);
    expect(v.valid).to.equal(false);
    expect(v.reasons.join('\n')).to.match(/harness's own sockets/).and.match(/sink read late/).and.match(/skipped/).and.match(/SFU's CPU 1: 20 %/).and.match(/c-1 decoded the programme: 3 fps < 24 fps/);
    const { line, exitCode } = verdictLine({ out_pps: 75000, loss_pct: 24 }, v, facts);
    const out = JSON.parse(line);
    expect(exitCode).to.equal(3);
    expect(out.valid).to.equal(false);
    expect(out).to.not.have.property('out_pps');
    expect(out).to.not.have.property('loss_pct');
    expect(out.not_valid_figures).to.deep.equal({ out_pps: 75000, loss_pct: 24 });
    expect(out.invalid_reasons).to.have.length(v.reasons.length);
  });

  it("bench:switch leaves the browsers' decode rate out of the verdict, but still leaves their CPU out of the harness core's", () => {
    const w = goodWindow();
    w.browsers[0]!.fps = 3;
    w.headroom.coreBusyPct = [100, 82]; // Chromium (30 %) fills the rest of the harness's CPU at nice 19
    const v = windowValidity(w, { decodeRate: false });
    expect(v.reasons).to.deep.equal([]);
    expect(v.headroom.harness_core_busy_pct).to.equal(70);
    expect(windowValidity(w).reasons.join('\n')).to.match(/c-1 decoded the programme: 3 fps/);
  });

  it('a figure that was not measured is a reason, not a pass', () => {
    const v = new Validity();
    v.atMost('x', null, LIMITS.sinkReadDelayP99Ms, 'the sink read late');
    expect(v.reasons).to.deep.equal(['the sink read late: not measured']);
  });

  it('a CPU\'s busy time is the wall time less its idle time (the tick-sampled busy counts run fast on this VM), steal counted busy', () => {
    // 20 s: CPU 0 idle 8.4 s (58 % busy, whatever its user/system ticks said), CPU 1 idle 0.2 s, of which none stolen.
    const a: CoreSample = [{ idle: 100, steal: 0, at: 1000 }, { idle: 50, steal: 1, at: 1000 }];
    const b: CoreSample = [{ idle: 108.4, steal: 0, at: 1020 }, { idle: 50.2, steal: 3, at: 1020 }];
    expect(coreBusyPct(a, b)).to.deep.equal([58, 99]);
    expect(machineBusyPctOfCore(a, b)).to.equal(157);
    // A reading whose idle grew more than the wall time (rounding of the jiffies) is idle, not negative.
    expect(coreBusyPct(a, [{ idle: 120.5, steal: 0, at: 1020 }, b[1]!])).to.deep.equal([0, 99]);
  });
});
