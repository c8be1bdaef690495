// When a media node asks a pipe's home node again (sfu/Cascade.ts pipeRetryDelayMs): only a refusal
// that passes (no answer in time, unreachable, the conference not open there yet), soon and more
// and more slowly, within a window; never a refusal that stays (unknown track, forged, unknown node).
import { expect } from 'chai';
import { PIPE_RETRY, pipeRetryDelayMs } from '../../../sfu/Cascade.ts';

const refusal = (code: string): Error & { code: string } => Object.assign(new Error(code), { code });

describe('pipeRetryDelayMs: the cascade asks a slow home node again itself', () => {
  it('a timeout or an unreachable node (pipe_failed): 100 ms, then doubled, at most 1 s', () => {
    const delays = [0, 1, 2, 3, 4, 5].map((attempt) => pipeRetryDelayMs(refusal('pipe_failed'), attempt, 3000));
    expect(delays).to.deep.equal([100, 200, 400, 800, 1000, 1000]);
  });

  it('a home node that has not opened the conference yet (unknown_conference) too', () => {
    expect(pipeRetryDelayMs(refusal('unknown_conference'), 0, 0)).to.equal(PIPE_RETRY.firstMs);
  });

  it('gives up once the window is over', () => {
    expect(pipeRetryDelayMs(refusal('pipe_failed'), 3, PIPE_RETRY.windowMs - 800)).to.equal(800);
    expect(pipeRetryDelayMs(refusal('pipe_failed'), 3, PIPE_RETRY.windowMs - 799)).to.equal(null);
  });

  it('never a refusal that stays, nor an error without a code', () => {
    for (const code of ['unknown_track', 'unknown_node', 'bad_signature', 'replayed_request', 'invalid_payload']) {
      expect(pipeRetryDelayMs(refusal(code), 0, 0), code).to.equal(null);
    }
    expect(pipeRetryDelayMs(new Error('node unreachable (test)'), 0, 0)).to.equal(null);
    expect(pipeRetryDelayMs(undefined, 0, 0)).to.equal(null);
  });
});
