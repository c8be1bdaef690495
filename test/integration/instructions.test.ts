// bench:instructions' counting (scripts/bench/instructions/count.ts) on a small workload: a real
// worker under callgrind, a simulcast speaker to 10 SRTP consumers, 200 packets. Not a
// benchmark (no goal is checked here): the count must come out, the workload must be the fixed
// one, and the figure must be in a sane band for forwarding one packet (decrypting its share of
// the input, encrypting, sending): thousands of instructions, not tens or millions.
import { expect } from 'chai';
import { countOnce } from '../../scripts/bench/instructions/count.ts';

describe('bench:instructions counting (callgrind, 10 consumers, 200 packets)', function () {
  this.timeout(300_000);

  it('counts the worker\'s instructions per forwarded packet on the fixed workload', async () => {
    const lines: string[] = [];
    const r = await countOnce({ consumers: 10, packets: 200, log: (l) => lines.push(l) });
    expect(r.inPackets).to.equal(200);
    // audio and the top layer to every consumer: the clip's first 200 packets hold 140 of them
    expect(r.outPackets, lines.join('\n')).to.equal(1400);
    expect(r.instructionsPerOutPacket).to.be.within(2_000, 50_000);
  });
});
