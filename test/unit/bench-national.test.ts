// sim:national's model (scripts/bench/national): the national plan passes the plan schema and has
// the sizes it says; the real placement rules keep every province on one node and leave no peer
// without a node; the tracks between nodes are the ones needed (3 per node besides the speaker's,
// and the console's thumbnails homed elsewhere); a node's capacity follows the per-packet cost.
// And bench:cascade's choice of bridges for its quick mode spans districts.
import { expect } from 'chai';
import { defaultPlan } from '../../config/default-plan.ts';
import { pickBridges } from '../../scripts/bench/cascade/harness.ts';
import { capacityOf, HALL, nodesNeeded, peerKeys, traffic } from '../../scripts/bench/national/model.ts';
import { nationalPlan, PROVINCES } from '../../scripts/bench/national/plan.ts';

describe('sim:national model on the real placement rules', () => {
  it('the national plan: one national hall, 63 provinces, the halls below them, exactly the number asked', () => {
    for (const n of [64, 212, 2000]) {
      const plan = nationalPlan(n);
      expect(plan.bridges).to.have.length(n);
      expect(plan.bridges.filter((b) => b.tier === 'province')).to.have.length(1);
      expect(plan.bridges.filter((b) => b.tier === 'district')).to.have.length(PROVINCES);
    }
    expect(() => nationalPlan(63)).to.throw(RangeError);
  });

  it('a node takes as many peers as its CPU budget pays for at the measured cost per packet', () => {
    const size = { cores: 8, utilisation: 0.6, usPerPacket: 8.56 };
    expect(capacityOf(size)).to.equal(Math.floor((8 * 0.6 * 1e6) / (8.56 * (HALL.inPps + HALL.outPps))));
    expect(capacityOf({ ...size, usPerPacket: 4.28 })).to.be.closeTo(2 * capacityOf(size), 1);
  });

  it('places 2,000 bridges with every province on one node, survives the busiest node lost, and pipes only the tracks needed', () => {
    const plan = nationalPlan(2000);
    const size = { cores: 2, utilisation: 0.6, usPerPacket: 8.56 };
    const need = nodesNeeded(plan, size);
    expect(need.fit).to.be.at.least(Math.ceil(peerKeys(plan).length / capacityOf(size)));
    expect(need.withSpare).to.be.at.least(need.fit);
    expect(need.loss.homeless).to.equal(0);
    expect(need.placements.size).to.equal(peerKeys(plan).length);
    const speaker = plan.bridges.find((b) => b.tier === 'commune')!.id;
    const t = traffic(plan, need.placements, need.nodes, size.usPerPacket, speaker);
    expect(t.perProvince.filter((p) => p.nodes > 1), 'provinces split over nodes').to.deep.equal([]);
    const consoleNode = need.placements.get('chair')!.nodeId;
    const thumbsElsewhere = t.perProvince.slice(0, 12).filter((p) => need.placements.get(p.provinceId)!.nodeId !== consoleNode).length;
    // Each node but the speaker's takes its camera and microphone; each but the chair hall's its microphone.
    expect(t.interNodeTracks).to.equal(2 * (t.nodes - 1) + (t.nodes - 1) + thumbsElsewhere);
    expect(t.perNode.reduce((s, n) => s + n.peers, 0)).to.equal(peerKeys(plan).length);
  });
});

describe('bench:cascade bridges', () => {
  it('the quick mode takes the province, the district halls, then communes a district at a time', () => {
    const picked = pickBridges(defaultPlan(), 14);
    expect(picked[0]).to.equal('p-20');
    expect(picked.slice(1, 12).every((b) => b.startsWith('d-'))).to.equal(true);
    expect(new Set(picked)).to.have.length(14);
    expect(pickBridges(defaultPlan(), 1000)).to.have.length(212);
  });
});
