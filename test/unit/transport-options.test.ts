import { expect } from 'chai';
import { transportOptions } from '../../client/shared/transportOptions.ts';

const base = { id: 'abc', iceParameters: {}, iceCandidates: [{}], dtlsParameters: {} };
const turn = { urls: ['turns:turn.example.vn:443?transport=tcp'], username: '1700000000:c-06010', credential: 'x' };

describe('the browser\'s transport options from the server\'s answer', () => {
  it('passes the TURN servers on, with the policy "all" unless the server says relay', () => {
    expect(transportOptions({ ...base, iceServers: [turn], iceTransportPolicy: 'all' })).to.deep.include({ iceServers: [turn], iceTransportPolicy: 'all' });
    expect(transportOptions({ ...base, iceServers: [turn], iceTransportPolicy: 'relay' }).iceTransportPolicy).to.equal('relay');
    expect(transportOptions({ ...base, iceServers: [turn] }).iceTransportPolicy).to.equal('all');
  });

  it('without TURN: no servers and never relay-only (it would cut the hall off)', () => {
    expect(transportOptions(base)).to.deep.include({ iceServers: [], iceTransportPolicy: 'all', id: 'abc' });
    expect(transportOptions({ ...base, iceServers: [], iceTransportPolicy: 'relay' }).iceTransportPolicy).to.equal('all');
    const odd = { urls: ['http://example.vn/'] } as never;
    expect(transportOptions({ ...base, iceServers: [odd], iceTransportPolicy: 'relay' })).to.deep.include({ iceServers: [], iceTransportPolicy: 'all' });
  });
});
