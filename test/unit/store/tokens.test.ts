import { expect } from 'chai';
import { defaultPlan } from '../../../config/default-plan.ts';
import { AccessTokens, STAFF_ROLES, UnknownGrantError } from '../../../server/app/conference/tokens.ts';
import { MemoryTokenStore } from '../../../server/store/index.ts';
import { COMMUNE, PROVINCE, T0 } from './helpers.ts';

const bridges = defaultPlan().bridges;

describe('AccessTokens (memory store)', () => {
  let store: MemoryTokenStore;
  const open = () => AccessTokens.create({ conferenceId: 'lang-son-2021', bridges, store, now: () => T0 });

  beforeEach(() => {
    store = new MemoryTokenStore();
  });

  afterEach(() => store.close());

  it('issues one 128-bit url-safe token per staff role and per bridge operator (4 + 212)', async () => {
    const tokens = await open();
    const rows = await tokens.inviteList('https://giaoban.example.vn/');
    expect(rows).to.have.length(216);
    expect(rows.slice(0, 4).map((r) => r.role)).to.deep.equal([...STAFF_ROLES]);
    const operators = rows.slice(4);
    expect(operators.map((r) => r.bridgeId)).to.deep.equal(bridges.map((b) => b.id));
    expect(operators[0]).to.include({ role: 'operator', bridgeId: PROVINCE, bridgeName: bridges[0]!.name });
    const all = rows.map((r) => new URL(r.url).hash.replace('#token=', ''));
    expect(new Set(all).size).to.equal(216);
    for (const t of all) {
      expect(t).to.match(/^[A-Za-z0-9_-]{22}$/);
      expect(Buffer.from(t, 'base64url')).to.have.length(16);
    }
    expect(rows[0]!.url).to.match(/^https:\/\/giaoban\.example\.vn\/chair#token=[A-Za-z0-9_-]{22}$/);
    expect(operators[5]!.url.startsWith('https://giaoban.example.vn/hall#token=')).to.equal(true);
    const custom = await tokens.inviteList('http://10.0.0.5:3000', { operator: '/hall.html' });
    expect(custom[4]!.url.startsWith('http://10.0.0.5:3000/hall.html#token=')).to.equal(true);
  });

  it('resolves each token to its role, operators to their one bridge; junk resolves to null', async () => {
    const tokens = await open();
    expect(await tokens.resolve(await tokens.tokenFor('chair'))).to.deep.equal({ role: 'chair' });
    expect(await tokens.resolve(await tokens.tokenFor('technician'))).to.deep.equal({ role: 'technician' });
    expect(await tokens.resolve(await tokens.tokenFor(COMMUNE))).to.deep.equal({ role: 'operator', bridgeId: COMMUNE });
    for (const junk of [undefined, null, 42, '', 'x'.repeat(22), 'a'.repeat(10_000), { token: 'x' }, 'AAAAAAAAAAAAAAAAAAAAAA']) {
      expect(await tokens.resolve(junk)).to.equal(null);
    }
  });

  it('revoke stops a token at once; reissue gives a new one and kills the old', async () => {
    const tokens = await open();
    const old = (await tokens.tokenFor(COMMUNE))!;
    expect(await tokens.revoke(old)).to.equal(true);
    expect(await tokens.revoke(old)).to.equal(false);
    expect(await tokens.resolve(old)).to.equal(null);
    expect(await tokens.tokenFor(COMMUNE)).to.equal(null);
    expect((await tokens.inviteList('http://h')).some((r) => r.bridgeId === COMMUNE)).to.equal(false);

    const fresh = await tokens.reissue(COMMUNE);
    expect(fresh).to.not.equal(old);
    expect(await tokens.resolve(fresh)).to.deep.equal({ role: 'operator', bridgeId: COMMUNE });

    const chair = (await tokens.tokenFor('chair'))!;
    const chair2 = await tokens.reissue('chair');
    expect(await tokens.resolve(chair)).to.equal(null);
    expect(await tokens.resolve(chair2)).to.deep.equal({ role: 'chair' });
    expect(await tokens.inviteList('http://h')).to.have.length(216);
    for (const bad of ['operator', 'c-99999', 'system', '']) {
      let error: unknown;
      await tokens.reissue(bad).catch((e) => (error = e));
      expect(error, bad).to.be.instanceOf(UnknownGrantError);
    }
  });

  it('opening the tokens again (a restart, another process) keeps the ones in force', async () => {
    const first = await open();
    await first.reissue('secretary');
    const before = await first.inviteList('http://h');
    const again = await open();
    expect(await again.inviteList('http://h')).to.deep.equal(before);
    // Two processes opening at once agree on one token per grant.
    const other = new MemoryTokenStore();
    const [x, y] = await Promise.all([
      AccessTokens.create({ conferenceId: 'c2', bridges, store: other }),
      AccessTokens.create({ conferenceId: 'c2', bridges, store: other }),
    ]);
    expect(await x.inviteList('http://h')).to.deep.equal(await y.inviteList('http://h'));
    expect(await other.listTokens('c2')).to.have.length(216);
    await other.close();
  });

  it('two holders of one store (two processes): a revoke or re-issue on one is known on the other at once; a token not seen yet is asked of the store', async () => {
    const a = await open();
    const b = await open();
    const token = (await b.tokenFor(COMMUNE))!;
    expect(await b.resolve(token)).to.deep.equal({ role: 'operator', bridgeId: COMMUNE });
    expect(b.inForce(token)).to.equal(true);
    const heard: string[] = [];
    b.on('revoked', (t) => heard.push(t));
    await a.revoke(token);
    expect(heard).to.deep.equal([token]);
    expect(await b.inForce(token)).to.equal(false);
    const chair = (await b.tokenFor('chair'))!;
    expect(await b.inForce(chair)).to.equal(true);
    const fresh = await a.reissue('chair');
    expect(heard).to.deep.equal([token, chair]);
    expect(await b.inForce(chair)).to.equal(false);
    expect(b.inForce(fresh)).to.be.instanceOf(Promise, 'a token not seen yet is looked up');
    expect(await b.inForce(fresh)).to.equal(true);
    expect(b.inForce(fresh)).to.equal(true);
    // Closed: nothing is in force any more.
    await b.close();
    expect(b.inForce(fresh)).to.equal(false);
    await a.close();
  });
});
