// The behaviour every ConferenceStore must have (state with versions, the log, change
// announcements); run against the memory store (unit) and a real redis-server (integration).
import { expect } from 'chai';
import type { Command } from '../../../server/core/conference/index.ts';
import type { ConferenceStore, StoreChange, StoreResource } from '../../../server/store/index.ts';
import { chair, COMMUNE, DISTRICT, freshConferenceId, system } from './helpers.ts';
import { apply, freshState, rejectsWith, waitUntil } from './store-contract.ts';

const connect = (bridgeId: string): Command => ({ type: 'bridge_connected', bridgeId, actor: system });

/** Registers the contract tests; `open` gives a store per test, which the contract closes. */
export function conferenceStoreContract(open: () => Promise<ConferenceStore & StoreResource>): void {
  let store: ConferenceStore & StoreResource;
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

  it('drop forgets the conference; close is idempotent and later calls fail with code closed', async () => {
    const s0 = freshState();
    await store.compareAndSet(id, 0, { state: s0, log: [] });
    await store.drop(id);
    expect(await store.load(id)).to.equal(null);
    await store.close();
    await store.close();
    expect(store.closed).to.equal(true);
    await rejectsWith(store.load(id), 'closed');
    await rejectsWith(store.update(id, () => ({ result: 1 })), 'closed');
  });

  it('refuses conference ids that do not fit in a key', async () => {
    await rejectsWith(store.load('a:b'), 'invalid_argument');
    await rejectsWith(store.load(''), 'invalid_argument');
    await rejectsWith(store.readLog('x'.repeat(65)), 'invalid_argument');
  });
}
