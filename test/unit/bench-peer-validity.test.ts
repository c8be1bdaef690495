// bench:peer's verdict on a window (scripts/bench/peer/workload.ts): the harness's headroom,
// judged from its figures. The generator's lateness is its loop-delay histogram less the
// histogram's own period: Node records the whole time between two runs of its timer.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { expect } from 'chai';
import { GENERATOR_LOOP_RESOLUTION_MS, VALIDITY, invalidReasons } from '../../scripts/bench/peer/workload.ts';

const quiet = { harnessCpuPct: 12, harnessSocketDrops: 0, generatorLoopP99Ms: 10.4, sfuCoreOtherPct: 0.5, subscribersReceiving: 100 };

describe('bench:peer window validity', () => {
  it('a generator whose loop ran on time (its histogram reads about its 10 ms period) is valid', () => {
    expect(invalidReasons(quiet, 100)).to.deep.equal([]);
    expect(invalidReasons({ ...quiet, generatorLoopP99Ms: GENERATOR_LOOP_RESOLUTION_MS + VALIDITY.generatorLateP99Ms }, 100)).to.deep.equal([]);
  });

  it('a generator late by more than the limit at p99 makes the window invalid, saying so', () => {
    const reasons = invalidReasons({ ...quiet, generatorLoopP99Ms: GENERATOR_LOOP_RESOLUTION_MS + VALIDITY.generatorLateP99Ms + 0.5 }, 100);
    expect(reasons).to.have.length(1);
    expect(reasons[0]).to.match(/^generator late: its loop 10\.5 ms late at p99/);
  });

  it('the harness busy, dropping, the SFU core shared or a subscriber without media: one reason each', () => {
    const reasons = invalidReasons({ harnessCpuPct: 71, harnessSocketDrops: 3, generatorLoopP99Ms: 10, sfuCoreOtherPct: 6, subscribersReceiving: 99 }, 100);
    expect(reasons).to.have.length(4);
    expect(reasons.join('\n')).to.match(/harness CPU 71 %/).and.match(/3 datagrams dropped/).and.match(/SFU's core 6 %/).and.match(/only 99 of 100/);
  });

  it("Node's loop-delay histogram of an idle loop reads its period, not 0 (why the period is subtracted)", async () => {
    const h = monitorEventLoopDelay({ resolution: GENERATOR_LOOP_RESOLUTION_MS });
    h.enable();
    await new Promise((r) => setTimeout(r, 500));
    h.disable();
    expect(h.percentile(50) / 1e6).to.be.at.least(GENERATOR_LOOP_RESOLUTION_MS * 0.9);
  });
});
