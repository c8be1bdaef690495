// The rule that says a media node is dead before its lease ends (server/core/node-death.ts), case
// by case: only a refusal at an address that held a lifeline to that incarnation, or another
// incarnation of the node answering there, is a death; a node that answers as itself is alive;
// silence (a host cut off, a busy node) leaves it to the lease. Pure: no sockets.
import { expect } from 'chai';
import { judgeLifeline, LIFELINE_PROBE_TRIES, type LifelineCase, type LifelineProbe } from '../../server/core/node-death.ts';

const base = { nodeId: 'node2', incarnation: 'inc-aaaaaaaa', held: true, tries: 1 };
const judge = (probe: LifelineProbe, extra: Partial<LifelineCase> = {}): string => judgeLifeline({ ...base, probe, ...extra }).kind;

describe('node death before the lease (judgeLifeline)', () => {
  it('a refusal after a held lifeline is a death; a refusal where none was ever held is left to the lease', () => {
    expect(judge({ kind: 'refused' })).to.equal('dead');
    expect(judge({ kind: 'refused' }, { held: false })).to.equal('lease');
  });

  it('the same incarnation answering is alive, whether or not a lifeline was held before', () => {
    expect(judge({ kind: 'answered', nodeId: 'node2', incarnation: 'inc-aaaaaaaa' })).to.equal('alive');
    expect(judge({ kind: 'answered', nodeId: 'node2', incarnation: 'inc-aaaaaaaa' }, { held: false })).to.equal('alive');
  });

  it('another incarnation of the node answering: the one the lease is of restarted, so it is dead', () => {
    const v = judgeLifeline({ ...base, probe: { kind: 'answered', nodeId: 'node2', incarnation: 'inc-bbbbbbbb' } });
    expect(v.kind).to.equal('dead');
    expect(v.kind === 'dead' && v.why).to.include('inc-bbbbbbbb');
    expect(judge({ kind: 'answered', nodeId: 'node2', incarnation: 'inc-bbbbbbbb' }, { held: false })).to.equal('dead');
  });

  it('another node answering at the address is not this node\'s death: the lease decides', () => {
    expect(judge({ kind: 'answered', nodeId: 'node3', incarnation: 'inc-bbbbbbbb' })).to.equal('lease');
    expect(judge({ kind: 'answered', nodeId: 'node3', incarnation: 'inc-aaaaaaaa' })).to.equal('lease');
  });

  it('a reset before any answer is asked again a few times, then left to the lease; never a death', () => {
    for (let tries = 1; tries < LIFELINE_PROBE_TRIES; tries++) expect(judge({ kind: 'reset' }, { tries })).to.equal('probe_again');
    expect(judge({ kind: 'reset' }, { tries: LIFELINE_PROBE_TRIES })).to.equal('lease');
    expect(judge({ kind: 'reset' }, { tries: LIFELINE_PROBE_TRIES, held: false })).to.equal('lease');
  });

  it('silence (no answer in time, an unreachable host: a network cut) is never a death, held or not', () => {
    for (const why of ['no answer within 2000 ms', 'EHOSTUNREACH', 'ETIMEDOUT', 'answered 503']) {
      for (const held of [true, false]) expect(judge({ kind: 'silent', why }, { held }), `${why}, held ${held}`).to.equal('lease');
    }
  });

  it('only refused-after-held and another incarnation are deaths, over every probe and history', () => {
    const probes: LifelineProbe[] = [
      { kind: 'refused' },
      { kind: 'reset' },
      { kind: 'silent', why: 'x' },
      { kind: 'answered', nodeId: 'node2', incarnation: 'inc-aaaaaaaa' },
      { kind: 'answered', nodeId: 'node2', incarnation: 'inc-bbbbbbbb' },
      { kind: 'answered', nodeId: 'node9', incarnation: 'inc-bbbbbbbb' },
    ];
    const deaths: string[] = [];
    for (const probe of probes) for (const held of [true, false]) for (let tries = 1; tries <= LIFELINE_PROBE_TRIES + 1; tries++) {
      if (judge(probe, { held, tries }) === 'dead') deaths.push(`${probe.kind}${probe.kind === 'answered' ? ` ${probe.nodeId} ${probe.incarnation}` : ''} held=${held}`);
    }
    expect([...new Set(deaths)].sort()).to.deep.equal(['answered node2 inc-bbbbbbbb held=false', 'answered node2 inc-bbbbbbbb held=true', 'refused held=true']);
  });
});
