// The node channel's signature (issue 13), without a network: what verifyRequest accepts and
// refuses, in which order, and that only a request that passed every check uses its nonce.
import { expect } from 'chai';
import { NodeApiError, NonceBook, NODE_CLOCK_WINDOW_MS, replySignature, replySigned, signRequest, verifyRequest } from '../../../server/app/media-node/node-auth.ts';

const SECRET = 'unit-secret-unit-secret-unit-secret-!!';
const NOW = 1_800_000_000_000;
const body = Buffer.from('{"conferenceId":"x"}');

async function verify(headers: Record<string, string>, options: { now?: number; nonces?: NonceBook; known?: string[]; path?: string; payload?: Buffer } = {}): Promise<string> {
  return verifyRequest(
    { method: 'POST', path: options.path ?? '/node/v1/pipe', headers, body: options.payload ?? body },
    { secret: SECRET, now: options.now ?? NOW, nonces: options.nonces ?? new NonceBook(), knownNode: async (id) => (options.known ?? ['n1']).includes(id) },
  );
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).to.be.instanceOf(NodeApiError);
  return (error as NodeApiError).code;
}

describe('node-auth: signed node-to-node requests', () => {
  it('a request signed with the secret by a live node passes and names its node', async () => {
    expect(await verify(signRequest(SECRET, 'n1', 'POST', '/node/v1/pipe', body, NOW))).to.equal('n1');
    // Within the window either way.
    expect(await verify(signRequest(SECRET, 'n1', 'POST', '/node/v1/pipe', body, NOW - NODE_CLOCK_WINDOW_MS))).to.equal('n1');
    expect(await verify(signRequest(SECRET, 'n1', 'POST', '/node/v1/pipe', body, NOW + NODE_CLOCK_WINDOW_MS))).to.equal('n1');
  });

  it('refuses: missing headers, a stale time, another secret, another path, method or body, an unknown node', async () => {
    const good = signRequest(SECRET, 'n1', 'POST', '/node/v1/pipe', body, NOW);
    expect(await refusal(verify({}))).to.equal('missing_auth');
    expect(await refusal(verify({ ...good, 'x-node-nonce': 'short' }))).to.equal('missing_auth');
    expect(await refusal(verify(signRequest(SECRET, 'n1', 'POST', '/node/v1/pipe', body, NOW - NODE_CLOCK_WINDOW_MS - 1)))).to.equal('stale_request');
    expect(await refusal(verify(signRequest('another-secret-another-secret-another', 'n1', 'POST', '/node/v1/pipe', body, NOW)))).to.equal('bad_signature');
    expect(await refusal(verify(good, { path: '/node/v1/unpipe' }))).to.equal('bad_signature');
    expect(await refusal(verify(signRequest(SECRET, 'n1', 'GET', '/node/v1/pipe', body, NOW)))).to.equal('bad_signature');
    expect(await refusal(verify(good, { payload: Buffer.from('{"conferenceId":"y"}') }))).to.equal('bad_signature');
    // The node id is signed: a request cannot be passed off as another node's.
    expect(await refusal(verify({ ...good, 'x-node-id': 'n2' }, { known: ['n1', 'n2'] }))).to.equal('bad_signature');
    expect(await refusal(verify(signRequest(SECRET, 'n9', 'POST', '/node/v1/pipe', body, NOW)))).to.equal('unknown_node');
  });

  it('a nonce serves once: the replay is refused; a refused request leaves its nonce unused', async () => {
    const nonces = new NonceBook();
    const good = signRequest(SECRET, 'n1', 'POST', '/node/v1/pipe', body, NOW);
    expect(await refusal(verify(good, { nonces, known: [] }))).to.equal('unknown_node');
    expect(nonces.size).to.equal(0);
    expect(await verify(good, { nonces })).to.equal('n1');
    expect(await refusal(verify(good, { nonces, now: NOW + 1000 }))).to.equal('replayed_request');
    expect(nonces.size).to.equal(1);
  });

  it('the nonce book forgets a nonce once its request could no longer be fresh', () => {
    const book = new NonceBook(1000);
    expect(book.record('a'.repeat(32), 0)).to.equal(true);
    expect(book.record('a'.repeat(32), 1500)).to.equal(false);
    expect(book.record('b'.repeat(32), 3100)).to.equal(true);
    expect(book.size).to.equal(1);
  });

  it('a reply is signed over the request\'s nonce, its status and its body', () => {
    const nonce = 'c'.repeat(32);
    const reply = Buffer.from('{"ok":1}');
    const sig = replySignature(SECRET, nonce, 200, reply);
    expect(replySigned(SECRET, nonce, 200, reply, sig)).to.equal(true);
    expect(replySigned(SECRET, 'd'.repeat(32), 200, reply, sig)).to.equal(false);
    expect(replySigned(SECRET, nonce, 201, reply, sig)).to.equal(false);
    expect(replySigned(SECRET, nonce, 200, Buffer.from('{"ok":2}'), sig)).to.equal(false);
    expect(replySigned(SECRET, nonce, 200, reply, null)).to.equal(false);
  });
});
