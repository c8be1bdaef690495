// bench:instructions' counting (scripts/bench/instructions/count.ts) on a small workload: a real
// worker under callgrind, a simulcast speaker to 10 SRTP consumers, 200 packets. Not a
// benchmark (no goal is checked here): the count must come out, the workload must be the fixed
// one, and the figure must be in a sane band for forwarding one packet (decrypting its share of
// the input, encrypting, sending): thousands of instructions, not tens or millions.
import { expect } from 'chai';
import { countOnce, fixedSequenceCopies } from '../../scripts/bench/instructions/count.ts';

describe('bench:instructions counting (callgrind, 10 consumers, 200 packets)', function () {
  this.timeout(300_000);

  it('counts the worker\'s instructions per forwarded packet on the fixed workload', async () => {
    const lines: string[] = [];
    const r = await countOnce({ consumers: 10, packets: 200, log: (l) => lines.push(l) });
    expect(r.inPackets).to.equal(200);
    // audio and the top layer to every consumer: the clip's first 200 packets hold about 140 of
    // them (139 or 140 with the clips encoded so far: setup encodes it on each machine)
    const expected = fixedSequenceCopies(200, 10);
    expect(expected, 'the sequence itself: audio and top-layer packets among the first 200, to 10 consumers').to.be.within(1000, 1800);
    expect(r.outPackets, lines.join('\n')).to.equal(expected);
    expect(r.instructionsPerOutPacket).to.be.within(2_000, 50_000);
  });
});
