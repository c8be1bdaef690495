// The stored form of a conference: what was written before a rename still loads.
import { expect } from 'chai';
import { decodeState, encodeConfig, encodeState } from '../../../server/store/codec.ts';
import { freshState } from './store-contract.ts';

describe('store codec', () => {
  it('reads a configuration stored before the agenda was renamed (its items under `programme`)', () => {
    const state = freshState();
    const { agenda, ...rest } = JSON.parse(encodeConfig(state)) as Record<string, unknown>;
    const old = JSON.stringify({ ...rest, programme: agenda });
    const loaded = decodeState('c', encodeState(state), old);
    expect(loaded.config.agenda).to.deep.equal(state.config.agenda);
    expect(loaded.config).to.not.have.property('programme');
    expect(loaded).to.deep.equal(state);
  });

  it('reads the current form as it is', () => {
    const state = freshState();
    expect(decodeState('c', encodeState(state), encodeConfig(state))).to.deep.equal(state);
  });
});
