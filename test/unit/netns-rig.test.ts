import { expect } from 'chai';
import { nftRuleset, ownerPidOf, pickSubnet, rigNames, tbfArgs } from '../helpers/netns.ts';

describe('network rig: names, tc and nft arguments, subnets (pure parts)', () => {
  it('names namespaces after the run (pid and a random part) and keeps interface names within 15 characters', () => {
    const n = rigNames('123456-a1b2c');
    expect(n.core).to.equal('dc-123456-a1b2c-core');
    expect(n.netns('hall')).to.equal('dc-123456-a1b2c-hall');
    expect(n.rootIf).to.equal('dca1b2cr');
    expect(n.bridgePort('abcdefghij').length).to.be.at.most(15);
    expect(ownerPidOf(n.netns('hall'))).to.equal(123456);
    // Other namespaces on the machine are never taken for a rig's.
    expect(ownerPidOf('dcpeer-test')).to.equal(null);
    expect(ownerPidOf('dc-12-ab-core-x')).to.equal(null);
  });

  it('tbf: rate in kbit, a bucket of at least two full packets (20 ms at high rates), 100 ms of queue by default', () => {
    expect(tbfArgs('eth0', { rateKbit: 256 })).to.deep.equal(['qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', 'rate', '256kbit', 'burst', '3200', 'latency', '100ms']);
    expect(tbfArgs('eth0', { rateKbit: 10_000 })).to.include('25000');
    expect(tbfArgs('p-hall', { rateKbit: 64, burstBytes: 2000, latencyMs: 400 }).slice(-4)).to.deep.equal(['burst', '2000', 'latency', '400ms']);
    expect(() => tbfArgs('eth0', { rateKbit: 0 })).to.throw(/invalid rate/);
  });

  it('nft: UDP blocked both ways, loopback open', () => {
    const rules = nftRuleset({ block: 'udp' });
    expect(rules).to.include('table inet diemcau {');
    expect(rules).to.include('oif "lo" accept').and.include('iif "lo" accept');
    expect(rules.match(/meta l4proto udp drop/g)).to.have.length(2);
    expect(rules).to.not.match(/^\s+drop$/m);
  });

  it('nft: everything blocked but TCP to one address and port (both directions, stateless), allows before the drop', () => {
    const rules = nftRuleset({ block: 'all', allow: [{ protocol: 'tcp', address: '10.201.7.1', port: 443 }] });
    const lines = rules.split('\n').map((l) => l.trim());
    const out = lines.indexOf('ip daddr 10.201.7.1 tcp dport 443 accept');
    const back = lines.indexOf('ip saddr 10.201.7.1 tcp sport 443 accept');
    expect(out).to.be.greaterThan(0);
    expect(back).to.be.greaterThan(out);
    expect(lines.indexOf('drop')).to.be.greaterThan(out).and.lessThan(back);
    expect(lines.lastIndexOf('drop')).to.be.greaterThan(back);
    expect(nftRuleset({ block: 'all', allow: [{ protocol: 'udp' }] })).to.include('meta l4proto udp accept');
  });

  it('nft: deny rules drop before the allows and the block (a TURN server out of reach of a UDP-blocked host)', () => {
    const rules = nftRuleset({ block: 'udp', deny: [{ protocol: 'tcp', address: '10.201.7.1', port: 3479 }], allow: [{ protocol: 'tcp', address: '10.201.7.1' }] });
    const lines = rules.split('\n').map((l) => l.trim());
    const deny = lines.indexOf('ip daddr 10.201.7.1 tcp dport 3479 drop');
    expect(deny).to.be.greaterThan(lines.indexOf('oif "lo" accept'));
    expect(deny).to.be.lessThan(lines.indexOf('ip daddr 10.201.7.1 meta l4proto tcp accept'));
    expect(lines.indexOf('ip saddr 10.201.7.1 tcp sport 3479 drop')).to.be.greaterThan(lines.indexOf('iif "lo" accept'));
    expect(() => nftRuleset({ block: 'udp', deny: [{ protocol: 'tcp', port: 0 }] })).to.throw(/invalid port/);
  });

  it('nft: refuses what is not an address or a port (nothing reaches nft unchecked)', () => {
    expect(() => nftRuleset({ block: 'all', allow: [{ protocol: 'tcp', address: '10.0.0.1; flush ruleset' }] })).to.throw(/not an IPv4 address/);
    expect(() => nftRuleset({ block: 'all', allow: [{ protocol: 'tcp', port: 70000 }] })).to.throw(/invalid port/);
  });

  it('picks a /24 under 10.200–254 that no route of the root namespace overlaps', () => {
    let i = 0;
    const sequence = [0, 0, 0, 0, 0.5, 0.5]; // first candidate 10.200.0.0 (taken), then 10.227.128.0
    const random = (): number => sequence[i++ % sequence.length]!;
    expect(pickSubnet(['10.200.0.0/24', 'default', '192.0.2.0/24'], random)).to.equal('10.227.128.0/24');
    // A wider route (10.0.0.0/8) covers every candidate.
    expect(() => pickSubnet(['10.0.0.0/8'])).to.throw(/no free subnet/);
    expect(pickSubnet([])).to.match(/^10\.(2[0-4]\d|25[0-4])\.\d{1,3}\.0\/24$/);
  });
});
