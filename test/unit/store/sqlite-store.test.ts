// The embedded durable default (SQLite through better-sqlite3): the contracts every store passes,
// then what only a file gives: everything is there after a reopen, and one process holds it.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decide } from '../../../server/core/conference/index.ts';
import { FakeClock } from '../../../server/core/conference/index.ts';
import { createStores, SQLITE_FILE, SqliteStore, StoreError } from '../../../server/store/index.ts';
import { conferenceStoreContract } from './conference-store-contract.ts';
import { chair, COMMUNE, freshConferenceId, op, system, T0 } from './helpers.ts';
import { presenceStoreContract } from './presence-store-contract.ts';
import { planStoreContract } from './plan-store-contract.ts';
import { apply, freshState } from './store-contract.ts';
import { tokenStoreContract } from './token-store-contract.ts';

const dirs: string[] = [];
function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-sqlite-'));
  dirs.push(dir);
  return path.join(dir, SQLITE_FILE);
}

describe('SqliteStore (the embedded durable default)', () => {
  after(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('contract', () => {
    describe('as ConferenceStore', () => conferenceStoreContract(async () => SqliteStore.open({ file: tempFile() })));
    describe('as TokenStore', () => tokenStoreContract(async () => SqliteStore.open({ file: tempFile() })));
    describe('as PresenceStore', () => presenceStoreContract(async () => SqliteStore.open({ file: tempFile() })));
    describe('as PlanStore', () => planStoreContract(async () => SqliteStore.open({ file: tempFile() })));
  });

  it('a reopened file has the state, the log, the tokens and the leases of before', async () => {
    const file = tempFile();
    const id = freshConferenceId('reopen');
    const clock = new FakeClock(T0);
    const first = SqliteStore.open({ file, clock });
    const s0 = freshState();
    await first.compareAndSet(id, 0, { state: s0, log: [] });
    const a = apply(s0, [
      { type: 'bridge_connected', bridgeId: COMMUNE, actor: system },
      { type: 'start_meeting', actor: chair },
      { type: 'request_floor', bridgeId: COMMUNE, speakerName: 'Hoàng Thị Mai', speakerTitle: 'Phó Chủ tịch', actor: op(COMMUNE) },
      { type: 'grant_next', actor: chair },
    ]);
    await first.compareAndSet(id, 1, a);
    await first.issueTokens(id, [{ token: 'a'.repeat(22), grant: 'chair', role: 'chair', issuedAt: T0 }], 'replace');
    await first.setPresence(id, 'i1', [COMMUNE], 15_000);
    await first.close();

    const again = SqliteStore.open({ file, clock });
    try {
      const loaded = await again.load(id);
      expect(loaded?.version).to.equal(2);
      expect(loaded?.state).to.deep.equal(a.state);
      expect(loaded?.state.floor?.bridgeId).to.equal(COMMUNE);
      expect(await again.readLog(id)).to.deep.equal(a.log);
      expect((await again.findToken(id, 'a'.repeat(22)))?.grant).to.equal('chair');
      expect([...(await again.presentElsewhere(id, 'i2'))]).to.deep.equal([COMMUNE]);
    } finally {
      await again.close();
    }
  });

  it('one server per data file: a second open is refused with a clear error while the first holds it', async () => {
    const file = tempFile();
    const first = SqliteStore.open({ file });
    try {
      expect(() => SqliteStore.open({ file })).to.throw(StoreError, /in use by another server process/);
    } finally {
      await first.close();
    }
    const after = SqliteStore.open({ file });
    await after.close();
  });

  it('createStores picks it by default, in the data directory', async () => {
    const dir = path.dirname(tempFile());
    const stores = await createStores({ dataDir: dir });
    try {
      expect(stores.kind).to.equal('sqlite');
      expect(fs.existsSync(path.join(dir, SQLITE_FILE))).to.equal(true);
    } finally {
      await stores.close();
    }
    const memory = await createStores({ kind: 'memory' });
    expect(memory.kind).to.equal('memory');
    await memory.close();
  });

  it('what a grant costs: one write of the state and its log entries (figure printed)', async () => {
    const store = SqliteStore.open({ file: tempFile() });
    const id = freshConferenceId('cost');
    try {
      let state = freshState();
      await store.compareAndSet(id, 0, { state, log: [] });
      const setup = apply(state, [...state.config.bridges.map((b) => ({ type: 'bridge_connected' as const, bridgeId: b.id, actor: system })), { type: 'start_meeting' as const, actor: chair }]);
      let version = (await store.compareAndSet(id, 1, setup))!;
      state = setup.state;
      const rounds = 200;
      const times: number[] = [];
      let stateBytes = 0;
      for (let i = 0; i < rounds; i++) {
        const bridgeId = state.config.bridges[1 + (i % 200)]!.id;
        let s = state;
        const steps = [
          { type: 'request_floor', bridgeId, speakerName: 'Đại biểu', speakerTitle: 'Chủ tịch', actor: op(bridgeId) },
          { type: 'grant_next', actor: chair },
        ] as const;
        for (const step of steps) {
          const d = decide(s, step, T0 + i);
          if ('error' in d) throw new Error(d.error.message);
          const write = { state: { ...d.state, log: [] }, log: d.log };
          stateBytes = JSON.stringify({ ...write.state, config: undefined }).length;
          const t = process.hrtime.bigint();
          version = (await store.compareAndSet(id, version, write))!;
          times.push(Number(process.hrtime.bigint() - t) / 1000);
          s = write.state;
        }
        state = s;
      }
      times.sort((x, y) => x - y);
      const p50 = times[Math.floor(times.length / 2)]!;
      const p99 = times[Math.floor(times.length * 0.99)]!;
      console.log(`      sqlite write per command (WAL, synchronous=NORMAL, state ${(stateBytes / 1024).toFixed(0)} kB): p50 ${p50.toFixed(0)} µs, p99 ${p99.toFixed(0)} µs`);
      expect(version).to.be.greaterThan(2 * rounds);
    } finally {
      await store.close();
    }
  });
});
