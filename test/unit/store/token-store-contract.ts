// The behaviour every TokenStore must have; run against the memory store (unit) and a real
// redis-server (integration).
import { expect } from 'chai';
import type { StoreResource, TokenAnnouncement, TokenRecord, TokenStore } from '../../../server/store/index.ts';
import { freshConferenceId, T0 } from './helpers.ts';
import { rejectsWith } from './store-contract.ts';

function token(n: number, grant: string, extra: Partial<TokenRecord> = {}): TokenRecord {
  return { token: `tok${String(n).padStart(19, '0')}`, grant, role: grant.startsWith('operator:') ? 'operator' : (grant as TokenRecord['role']), issuedAt: T0, ...extra };
}

/** Registers the contract tests; `open` gives a store per test, which the contract closes. */
export function tokenStoreContract(open: () => Promise<TokenStore & StoreResource>): void {
  let store: TokenStore & StoreResource;
  let id: string;

  beforeEach(async () => {
    store = await open();
    id = freshConferenceId('contract');
  });

  afterEach(async () => {
    if (!store.closed) await store.dropTokens(id);
    await store.close();
  });

  it('knows no token of a conference never written', async () => {
    expect(await store.listTokens(id)).to.deep.equal([]);
  });

  it('tokens: if_absent keeps the token in force, replace revokes the old one, revoke removes', async () => {
    const first = await store.issueTokens(id, [token(1, 'chair'), token(2, 'operator:c-05971', { bridgeId: 'c-05971' })], 'if_absent');
    expect(first.map((r) => r.token)).to.deep.equal([token(1, 'chair').token, token(2, 'x').token]);
    const again = await store.issueTokens(id, [token(3, 'chair'), token(4, 'viewer')], 'if_absent');
    expect(again.map((r) => r.token)).to.deep.equal([token(1, 'x').token, token(4, 'x').token]);
    expect(await store.findToken(id, token(2, 'x').token)).to.deep.equal(token(2, 'operator:c-05971', { bridgeId: 'c-05971' }));
    expect(await store.findToken(id, token(3, 'x').token)).to.equal(null);

    const [replaced] = await store.issueTokens(id, [token(5, 'chair')], 'replace');
    expect(replaced?.token).to.equal(token(5, 'x').token);
    expect(await store.findToken(id, token(1, 'x').token)).to.equal(null);
    expect((await store.listTokens(id)).map((r) => r.grant).sort()).to.deep.equal(['chair', 'operator:c-05971', 'viewer']);

    expect(await store.revokeToken(id, token(4, 'x').token)).to.deep.equal(token(4, 'viewer'));
    expect(await store.revokeToken(id, token(4, 'x').token)).to.equal(null);
    expect(await store.findToken(id, token(4, 'x').token)).to.equal(null);
    // A revoked grant is issued anew even in if_absent mode.
    const [reissued] = await store.issueTokens(id, [token(6, 'viewer')], 'if_absent');
    expect(reissued?.token).to.equal(token(6, 'x').token);
  });

  it('revokedAt tells a revoked or replaced token from one never issued', async () => {
    await store.issueTokens(id, [token(1, 'chair'), token(2, 'viewer')], 'replace');
    expect(await store.revokedAt(id, token(1, 'x').token)).to.equal(null);
    await store.issueTokens(id, [token(3, 'chair')], 'replace');
    await store.revokeToken(id, token(2, 'x').token);
    expect(await store.revokedAt(id, token(1, 'x').token), 'replaced by a reissue').to.be.a('number');
    expect(await store.revokedAt(id, token(2, 'x').token), 'revoked').to.be.a('number');
    expect(await store.revokedAt(id, token(3, 'x').token), 'in force').to.equal(null);
    expect(await store.revokedAt(id, token(9, 'x').token), 'never issued').to.equal(null);
    // if_absent over a token in force revokes nothing.
    await store.issueTokens(id, [token(4, 'chair')], 'if_absent');
    expect(await store.revokedAt(id, token(3, 'x').token)).to.equal(null);
    await store.dropTokens(id);
    expect(await store.revokedAt(id, token(2, 'x').token), 'forgotten with the conference').to.equal(null);
  });

  it('dropTokens forgets the conference\'s tokens; close is idempotent and later calls fail with code closed', async () => {
    await store.issueTokens(id, [token(1, 'chair')], 'replace');
    await store.dropTokens(id);
    expect(await store.listTokens(id)).to.deep.equal([]);
    await store.close();
    await store.close();
    expect(store.closed).to.equal(true);
    await rejectsWith(store.findToken(id, token(1, 'x').token), 'closed');
  });

  it('announces to every watcher the tokens that stop granting: revoke, replace (not if_absent), and a resync when all are dropped', async () => {
    const heard: TokenAnnouncement[] = [];
    const other: TokenAnnouncement[] = [];
    const subscription = await store.watchTokens(id, (a) => heard.push(a));
    const second = await store.watchTokens(id, (a) => other.push(a));
    const elsewhere = await store.watchTokens(freshConferenceId('elsewhere'), () => expect.fail('another conference heard it'));
    await store.issueTokens(id, [token(1, 'chair'), token(2, 'viewer')], 'if_absent');
    await store.issueTokens(id, [token(3, 'chair')], 'if_absent');
    await store.issueTokens(id, [token(4, 'chair'), token(5, 'viewer')], 'replace');
    await store.revokeToken(id, token(5, 'x').token);
    await store.revokeToken(id, token(5, 'x').token);
    await until(() => heard.length >= 2);
    expect(heard).to.deep.equal([
      { kind: 'revoked', tokens: [token(1, 'x').token, token(2, 'x').token] },
      { kind: 'revoked', tokens: [token(5, 'x').token] },
    ]);
    await second.close();
    await store.dropTokens(id);
    await until(() => heard.length >= 3);
    expect(heard[2]).to.deep.equal({ kind: 'resync' });
    expect(other).to.have.length(2);
    await subscription.close();
    await subscription.close();
    await elsewhere.close();
  });

  it('refuses conference ids that do not fit in a key', async () => {
    await rejectsWith(store.listTokens('a:b'), 'invalid_argument');
    await rejectsWith(store.findToken('', token(1, 'x').token), 'invalid_argument');
  });
}

/** Waits until a condition holds (announcements of a shared store arrive a moment after the change). */
async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  for (const start = Date.now(); !condition(); ) {
    if (Date.now() - start > timeoutMs) throw new Error('not heard in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
