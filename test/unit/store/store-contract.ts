// The behaviour every ConferenceStore must have; run against the memory store (unit) and against a
// real redis-server (integration).
import { expect } from 'chai';
import { defaultPlan } from '../../../config/default-plan.ts';
import { planToCore } from '../../../server/app/conference/plan-to-core.ts';
import { decide, initialState, type Command, type ConferenceState, type LogEntry } from '../../../server/core/conference/index.ts';
import { StoreError, type ConferenceStore, type StoreChange, type TokenRecord } from '../../../server/store/index.ts';
import { chair, COMMUNE, DISTRICT, freshConferenceId, system, T0 } from './helpers.ts';

/** A fresh default conference state. */
export function freshState(): ConferenceState {
  return initialState(planToCore(defaultPlan()));
}

/** Applies commands with the core; the next state and the log entries they appended (state.log emptied). */
export function apply(state: ConferenceState, commands: Command[], now = T0): { state: ConferenceState; log: LogEntry[] } {
  const log: LogEntry[] = [];
  let s = state;
  for (const c of commands) {
    const d = decide(s, c, now);
    if ('error' in d) throw new Error(`refused ${c.type}: ${d.error.message}`);
    s = { ...d.state, log: [] };
    log.push(...d.log);
  }
  return { state: s, log };
}

const connect = (bridgeId: string): Command => ({ type: 'bridge_connected', bridgeId, actor: system });

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(StoreError);
    expect((error as StoreError).code).to.equal(code);
    return;
  }
  expect.fail(`expected a StoreError ${code}`);
}

function token(n: number, grant: string, extra: Partial<TokenRecord> = {}): TokenRecord {
  return { token: `tok${String(n).padStart(19, '0')}`, grant, role: grant.startsWith('operator:') ? 'operator' : (grant as TokenRecord['role']), issuedAt: T0, ...extra };
}

/** Registers the contract tests; `open` gives a store per test, which the contract closes. */
export function storeContract(open: () => Promise<ConferenceStore>): void {
  let store: ConferenceStore;
  let id: string;

  beforeEach(async () => {
    store = await open();
    id = freshConferenceId('contract');
  });

  afterEach(async () => {
    if (!store.closed) await store.drop(id);
    await store.close();
  });

  it('knows nothing of a conference never written', async () => {
    expect(await store.load(id)).to.equal(null);
    expect(await store.version(id)).to.equal(0);
    expect(await store.readLog(id)).to.deep.equal([]);
    expect(await store.listTokens(id)).to.deep.equal([]);
  });

  it('creates at version 0 once; loads the state with an empty log', async () => {
    const s0 = freshState();
    expect(await store.compareAndSet(id, 0, { state: s0, log: [] })).to.equal(1);
    expect(await store.compareAndSet(id, 0, { state: s0, log: [] })).to.equal(null);
    const loaded = await store.load(id);
    expect(loaded?.version).to.equal(1);
    expect(loaded?.state).to.deep.equal(s0);
    expect(await store.version(id)).to.equal(1);
  });

  it('writes only over the expected version, and appends the log with the state', async () => {
    const s0 = freshState();
    await store.compareAndSet(id, 0, { state: s0, log: [] });
    const a = apply(s0, [connect(DISTRICT), connect(COMMUNE)]);
    expect(await store.compareAndSet(id, 1, a)).to.equal(2);
    const stale = apply(s0, [connect('d-180')]);
    expect(await store.compareAndSet(id, 1, stale)).to.equal(null);
    const loaded = await store.load(id);
    expect(loaded?.version).to.equal(2);
    expect(loaded?.state.presence[DISTRICT]!.online).to.equal(true);
    expect(loaded?.state.presence['d-180']!.online).to.equal(false);
    expect(loaded?.state.seq).to.equal(2);
    expect(loaded?.state.log).to.deep.equal([]);
    expect(await store.readLog(id)).to.deep.equal(a.log);
    expect((await store.readLog(id, 1)).map((e) => e.seq)).to.deep.equal([2]);
    expect((await store.readLog(id, 0, 1)).map((e) => e.seq)).to.deep.equal([1]);
    expect(await store.readLog(id, 2)).to.deep.equal([]);
  });

  it('refuses log entries that do not end at the state seq or do not continue the log', async () => {
    const s0 = freshState();
    await store.compareAndSet(id, 0, { state: s0, log: [] });
    const a = apply(s0, [connect(DISTRICT), connect(COMMUNE)]);
    await rejectsWith(store.compareAndSet(id, 1, { state: a.state, log: a.log.slice(0, 1) }), 'log_gap');
    await rejectsWith(store.compareAndSet(id, 1, { state: { ...a.state, seq: 5 }, log: a.log.map((e) => ({ ...e, seq: e.seq + 3 })) }), 'log_gap');
    expect(await store.version(id)).to.equal(1);
    expect(await store.readLog(id)).to.deep.equal([]);
  });

  it('update: concurrent writers lose nothing (each retried on conflict)', async () => {
    await store.compareAndSet(id, 0, { state: freshState(), log: [] });
    const writers = 12;
    const outcomes = await Promise.all(
      Array.from({ length: writers }, (_, i) =>
        store.update(id, (current) => {
          const next = apply(current!.state, [{ type: 'set_date', date: `2021-11-${String(10 + i).padStart(2, '0')}`, actor: chair }]);
          return { write: next, result: i };
        }),
      ),
    );
    expect(outcomes.map((o) => o.result).sort((a, b) => a - b)).to.deep.equal([...Array(writers).keys()]);
    expect(outcomes.every((o) => o.written)).to.equal(true);
    const loaded = await store.load(id);
    expect(loaded?.version).to.equal(1 + writers);
    expect(loaded?.state.seq).to.equal(writers);
    const log = await store.readLog(id);
    expect(log.map((e) => e.seq)).to.deep.equal(Array.from({ length: writers }, (_, i) => i + 1));
    expect(new Set(outcomes.map((o) => o.stored!.version)).size).to.equal(writers);
  });

  it('update: a no-write step on a stale copy is re-run on the stored state', async () => {
    const s0 = freshState();
    await store.compareAndSet(id, 0, { state: s0, log: [] });
    const stale = await store.load(id);
    const a = apply(s0, [connect(DISTRICT)]);
    await store.compareAndSet(id, 1, a);
    const seen: number[] = [];
    const outcome = await store.update(
      id,
      (current) => {
        seen.push(current!.version);
        return { result: current!.state.presence[DISTRICT]!.online };
      },
      { current: stale },
    );
    expect(seen).to.deep.equal([1, 2]);
    expect(outcome).to.include({ result: true, written: false });
    expect(outcome.stored?.version).to.equal(2);
  });

  it('update: creates when absent and hands back the state without its log', async () => {
    const outcome = await store.update(id, (current) => {
      if (current) return { result: 'exists' };
      return { write: apply(freshState(), [connect(DISTRICT)]), result: 'created' };
    });
    expect(outcome.result).to.equal('created');
    expect(outcome.stored?.state.log).to.deep.equal([]);
    expect((await store.readLog(id)).map((e) => e.type)).to.deep.equal(['bridge_online']);
  });

  it('announces every write to subscribers until they unsubscribe', async () => {
    const changes: StoreChange[] = [];
    const sub = await store.subscribe(id, (c) => changes.push(c));
    const s0 = freshState();
    await store.compareAndSet(id, 0, { state: s0, log: [] });
    const a = apply(s0, [connect(DISTRICT), connect(COMMUNE)]);
    await store.compareAndSet(id, 1, a);
    await waitUntil(() => changes.length >= 2);
    expect(changes).to.deep.equal([
      { kind: 'write', conferenceId: id, version: 1, seq: 0 },
      { kind: 'write', conferenceId: id, version: 2, seq: 2 },
    ]);
    await sub.close();
    await sub.close();
    await store.compareAndSet(id, 2, apply(a.state, [connect('d-180')]));
    await new Promise((r) => setTimeout(r, 30));
    expect(changes).to.have.length(2);
  });

  it('appendLog skips entries already stored and refuses a gap', async () => {
    const a = apply(freshState(), [connect(DISTRICT), connect(COMMUNE), connect('d-180')]);
    await store.appendLog(id, a.log.slice(0, 2));
    await store.appendLog(id, a.log);
    expect((await store.readLog(id)).map((e) => e.seq)).to.deep.equal([1, 2, 3]);
    await rejectsWith(store.appendLog(id, [{ ...a.log[0]!, seq: 5 }]), 'log_gap');
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

  it('drop forgets the conference; close is idempotent and later calls fail with code closed', async () => {
    const s0 = freshState();
    await store.compareAndSet(id, 0, { state: s0, log: [] });
    await store.issueTokens(id, [token(1, 'chair')], 'replace');
    await store.drop(id);
    expect(await store.load(id)).to.equal(null);
    expect(await store.listTokens(id)).to.deep.equal([]);
    await store.close();
    await store.close();
    expect(store.closed).to.equal(true);
    await rejectsWith(store.load(id), 'closed');
    await rejectsWith(store.update(id, () => ({ result: 1 })), 'closed');
  });

  it('presence leases: other live instances\' bridges are seen, an expired lease is not', async () => {
    await store.setPresence(id, 'a', ['c-05971', 'd-178'], 10_000);
    await store.setPresence(id, 'b', ['c-06010'], 60);
    expect([...(await store.presentElsewhere(id, 'c'))].sort()).to.deep.equal(['c-05971', 'c-06010', 'd-178']);
    expect([...(await store.presentElsewhere(id, 'a'))]).to.deep.equal(['c-06010']);
    await new Promise((r) => setTimeout(r, 120));
    expect([...(await store.presentElsewhere(id, 'a'))]).to.deep.equal([]);
    await store.setPresence(id, 'a', [], 10_000);
    expect([...(await store.presentElsewhere(id, 'b'))]).to.deep.equal([]);
  });

  it('refuses conference ids that do not fit in a key', async () => {
    await rejectsWith(store.load('a:b'), 'invalid_argument');
    await rejectsWith(store.load(''), 'invalid_argument');
    await rejectsWith(store.readLog('x'.repeat(65)), 'invalid_argument');
  });
}

/** Polls until check() is true (2 s at most). */
export async function waitUntil(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

