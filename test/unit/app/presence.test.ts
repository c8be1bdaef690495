// Roll-call presence across instances on a fake clock: leases in a memory presence store that
// expire on the same clock, reports to the conference, the periodic sweep on every instance.
import { expect } from 'chai';
import { HallPresence, PRESENCE_GRACE_MS, PRESENCE_LEASE_MS, PRESENCE_OFFLINE_WITHIN_MS, PRESENCE_RENEW_MS, PRESENCE_SWEEP_MS, type HallPresenceOptions } from '../../../server/app/conference/presence.ts';
import { FakeClock } from '../../../server/core/conference/index.ts';
import { MemoryPresenceStore } from '../../../server/store/index.ts';

const CONF = 'lang-son-2021';
const DEVICE_HALL = 'c-06322';

/** Lets the promises started by a timer or a call run to their end. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

describe('HallPresence (fake clock, memory presence store)', () => {
  let clock: FakeClock;
  let store: MemoryPresenceStore;
  let reports: [string, boolean][];
  /** Calls of report (each one state command). */
  let reportCalls: number;
  let problems: string[];
  let stateOnline: Set<string>;
  const started: HallPresence[] = [];

  /** What the state does with a report: each change in order (a second online or offline changes nothing). */
  const apply = (changes: readonly { bridgeId: string; online: boolean }[]): void => {
    reportCalls++;
    for (const { bridgeId, online } of changes) {
      reports.push([bridgeId, online]);
      if (online) stateOnline.add(bridgeId);
      else stateOnline.delete(bridgeId);
    }
  };

  /** A report whose write waits until released (it loses the race to the state to another instance's). */
  const gated = (): { report: HallPresenceOptions['report']; hold: () => void; release: () => void } => {
    let gate: Promise<void> | null = null;
    let open = (): void => {};
    return {
      report: async (changes) => {
        if (gate) await gate;
        apply(changes);
      },
      hold: () => void (gate = new Promise<void>((r) => (open = r))),
      release: () => {
        gate = null;
        open();
      },
    };
  };

  const start = (options: Partial<HallPresenceOptions> = {}): HallPresence => {
    const p = HallPresence.start({
      conferenceId: CONF,
      store,
      clock,
      deviceBridges: new Set([DEVICE_HALL]),
      onlineInState: () => [...stateOnline],
      report: async (changes) => apply(changes),
      problem: (message) => problems.push(message),
      ...options,
    });
    started.push(p);
    return p;
  };

  beforeEach(() => {
    clock = new FakeClock(Date.UTC(2021, 10, 26, 1));
    store = new MemoryPresenceStore(clock);
    reports = [];
    reportCalls = 0;
    problems = [];
    stateOnline = new Set();
  });

  afterEach(async () => {
    for (const p of started.splice(0)) p.close();
    await store.close();
    expect(problems).to.deep.equal([]);
  });

  it('a hall is online from its first socket and offline when its last one goes; the lease names it meanwhile', async () => {
    const a = start({ instanceId: 'a' });
    await a.connected('d-178');
    await a.connected('d-178');
    expect(reports).to.deep.equal([['d-178', true]]);
    expect([...(await store.presentElsewhere(CONF, 'b'))]).to.deep.equal(['d-178']);
    await a.disconnected('d-178');
    expect(reports).to.have.length(1);
    await a.disconnected('d-178');
    expect(reports).to.deep.equal([
      ['d-178', true],
      ['d-178', false],
    ]);
    expect([...(await store.presentElsewhere(CONF, 'b'))]).to.deep.equal([]);
  });

  it('a hall that still has a socket on another live instance stays online', async () => {
    const a = start({ instanceId: 'a' });
    const b = start({ instanceId: 'b' });
    await a.connected('c-05971');
    await b.connected('c-05971');
    expect(reports).to.deep.equal([
      ['c-05971', true],
      ['c-05971', true],
    ]);
    await a.disconnected('c-05971');
    expect(reports).to.have.length(2);
    await b.disconnected('c-05971');
    expect(reports.at(-1)).to.deep.equal(['c-05971', false]);
  });

  it(`renews its lease every ${PRESENCE_RENEW_MS / 1000} s; a lease that is not renewed (a dead instance) runs out after ${PRESENCE_LEASE_MS / 1000} s`, async () => {
    const a = start({ instanceId: 'a' });
    await a.connected('d-178');
    clock.increment(PRESENCE_LEASE_MS * 3);
    await flush();
    expect([...(await store.presentElsewhere(CONF, 'x'))], 'renewed, still there').to.deep.equal(['d-178']);
    a.close();
    clock.increment(PRESENCE_LEASE_MS - 1 - ((PRESENCE_LEASE_MS * 3) % PRESENCE_RENEW_MS));
    expect([...(await store.presentElsewhere(CONF, 'x'))], 'just inside the last lease').to.deep.equal(['d-178']);
    clock.increment(PRESENCE_RENEW_MS);
    expect([...(await store.presentElsewhere(CONF, 'x'))], 'expired').to.deep.equal([]);
    expect(clock.pending).to.equal(0);
  });

  it('after a (re)start, halls the state has online that nobody held since get the grace, then go offline', async () => {
    stateOnline = new Set(['d-178', 'c-05971', 'c-06010']);
    const other = start({ instanceId: 'other', graceMs: 10 * PRESENCE_GRACE_MS }); // (its own sweeps would say the same)
    await other.connected('c-06010'); // still connected to another instance
    reports = [];
    const a = start({ instanceId: 'a' });
    clock.increment(5000);
    await a.connected('d-178'); // came back in time, to this instance
    clock.increment(PRESENCE_GRACE_MS - 5000 - 1);
    await flush();
    expect(reports).to.deep.equal([['d-178', true]]);
    clock.increment(1);
    await flush();
    expect(reports).to.deep.equal([
      ['d-178', true],
      ['c-05971', false],
    ]);
  });

  it(`sweeps every ${PRESENCE_SWEEP_MS / 1000} s, always: a dead instance's halls go offline on a survivor within ${PRESENCE_OFFLINE_WITHIN_MS / 1000} s of its death, however long the survivor has run`, async () => {
    expect(PRESENCE_OFFLINE_WITHIN_MS, 'the issue: within the lease (15 s)').to.be.at.most(15_000);
    const survivor = start({ instanceId: 'survivor' });
    await survivor.connected('p-20');
    clock.increment(3_600_000 + 777); // an hour later, at no particular phase of the timers
    await flush();
    const dying = start({ instanceId: 'dying' });
    await dying.connected('c-05971');
    await dying.connected('d-180');
    clock.increment(1234);
    await flush();
    reports = [];
    dying.close(); // kill -9: no disconnects, its lease is simply not renewed
    const diedAt = clock.now();
    let offlineAt = 0;
    for (let t = 0; t <= PRESENCE_OFFLINE_WITHIN_MS + PRESENCE_SWEEP_MS && !offlineAt; t += 100) {
      clock.increment(100);
      await flush();
      if (reports.length) offlineAt = clock.now();
    }
    expect(reports.sort()).to.deep.equal([
      ['c-05971', false],
      ['d-180', false],
    ]);
    expect(offlineAt - diedAt).to.be.greaterThan(PRESENCE_LEASE_MS - PRESENCE_RENEW_MS);
    expect(offlineAt - diedAt).to.be.at.most(PRESENCE_OFFLINE_WITHIN_MS);
    expect(stateOnline.has('p-20'), 'the survivor\'s own hall stays').to.equal(true);
    // And again later: a hall the state has online with no instance holding it goes at the next sweep.
    stateOnline.add('c-06010');
    clock.increment(PRESENCE_SWEEP_MS);
    await flush();
    expect(reports.at(-1)).to.deep.equal(['c-06010', false]);
  });

  it('an instance that came up moments ago sweeps at once the halls of an instance that dies after its start', async () => {
    const dying = start({ instanceId: 'dying' });
    await dying.connected('c-05971');
    const fresh = start({ instanceId: 'fresh' });
    clock.increment(PRESENCE_SWEEP_MS);
    await flush();
    reports = [];
    dying.close();
    const diedAt = clock.now();
    while (!reports.length && clock.now() - diedAt < PRESENCE_GRACE_MS) {
      clock.increment(100);
      await flush();
    }
    expect(reports).to.deep.equal([['c-05971', false]]);
    expect(clock.now() - diedAt, 'within the lease and one sweep, though the fresh instance\'s grace is not over').to.be.at.most(PRESENCE_OFFLINE_WITHIN_MS);
    fresh.close();
  });

  it('the presence store cannot be read: nothing is swept, the problem is told once per failing spell', async () => {
    stateOnline = new Set(['c-05971']);
    const a = start({ instanceId: 'a' });
    const presentElsewhere = store.presentElsewhere.bind(store);
    store.presentElsewhere = async () => {
      throw new Error('redis unreachable');
    };
    clock.increment(PRESENCE_GRACE_MS + 5 * PRESENCE_SWEEP_MS);
    await flush();
    expect(reports).to.deep.equal([]);
    expect(problems).to.deep.equal(['presence store unreadable: nothing swept']);
    problems.length = 0;
    store.presentElsewhere = presentElsewhere;
    clock.increment(PRESENCE_SWEEP_MS);
    await flush();
    expect(reports).to.deep.equal([['c-05971', false]]);
    a.close();
  });

  it('a hardware hall counts only through its device, a browser hall only through sockets', async () => {
    const a = start();
    await a.connected(DEVICE_HALL); // its operator panel's socket
    await a.connected('d-178', 'device');
    expect(reports).to.deep.equal([]);
    await a.connected(DEVICE_HALL, 'device');
    await a.disconnected(DEVICE_HALL);
    expect(reports).to.deep.equal([[DEVICE_HALL, true]]);
    await a.disconnected(DEVICE_HALL, 'device');
    expect(reports).to.deep.equal([
      [DEVICE_HALL, true],
      [DEVICE_HALL, false],
    ]);
  });

  it('quiesce (an orderly shutdown): sockets that go away are not halls dropping off, and no timer is left', async () => {
    stateOnline = new Set(['c-05971']);
    const a = start();
    await a.connected('d-178');
    a.quiesce();
    await a.disconnected('d-178');
    await a.connected('c-06010');
    clock.increment(PRESENCE_GRACE_MS * 2);
    await flush();
    expect(reports).to.deep.equal([['d-178', true]]);
    expect(clock.pending).to.equal(0);
    a.close();
    a.close();
  });

  it('a lease the store refuses is a problem to log, not a failure of the call', async () => {
    const failing = new MemoryPresenceStore(clock);
    await failing.close();
    const a = start({ store: failing });
    await a.connected('d-178');
    expect(reports).to.deep.equal([['d-178', true]]);
    expect(problems.length).to.be.greaterThan(0);
    expect(problems.every((m) => m === 'presence lease failed')).to.equal(true);
    problems.length = 0;
  });

  describe('reports of two instances racing to the state', () => {
    it('a hall that moved to another instance, its "offline" written after the other\'s "online": the state has it online again at the next sweep', async () => {
      const a = gated();
      const first = start({ instanceId: 'a', report: a.report });
      const second = start({ instanceId: 'b' });
      await first.connected('d-180');
      a.hold();
      // Its socket to a drops; a reads the leases before b has leased the hall, decides offline...
      const gone = first.disconnected('d-180');
      await flush();
      // ...and b, where the page reconnected, reports it online first (the state has it online: nothing changes).
      await second.connected('d-180');
      a.release();
      await gone;
      expect(reports).to.deep.equal([
        ['d-180', true],
        ['d-180', true],
        ['d-180', false],
      ]);
      expect(stateOnline.has('d-180'), 'the writes came in the other order').to.equal(false);
      expect([...(await store.presentElsewhere(CONF, 'x'))], 'b holds it').to.deep.equal(['d-180']);
      clock.increment(PRESENCE_SWEEP_MS);
      await flush();
      expect(stateOnline.has('d-180'), 'b, which has its socket, puts it online again').to.equal(true);
      expect(reports.at(-1)).to.deep.equal(['d-180', true]);
      // And that is the end of it: no report at the sweeps after.
      const n = reports.length;
      clock.increment(3 * PRESENCE_SWEEP_MS);
      await flush();
      expect(reports).to.have.length(n);
    });

    it('a sweep that read the leases while a hall was between two sockets, its "offline" written after the hall came back: online again at the next sweep', async () => {
      const a = gated();
      const b = gated();
      const holder = start({ instanceId: 'a', report: a.report, graceMs: 0 });
      const sweeper = start({ instanceId: 'b', report: b.report, graceMs: 0 });
      await holder.connected('d-180');
      a.hold();
      b.hold();
      const gone = holder.disconnected('d-180'); // a's lease no longer names it; its "offline" waits
      await flush();
      const swept = sweeper.sweep(); // b: the state has it online, no lease names it
      await flush();
      a.release();
      await gone;
      await holder.connected('d-180'); // back on a: leased, then online
      expect(stateOnline.has('d-180')).to.equal(true);
      b.release();
      await swept;
      expect(stateOnline.has('d-180'), 'b\'s sweep, decided before the hall came back, written after').to.equal(false);
      clock.increment(PRESENCE_SWEEP_MS);
      await flush();
      expect(stateOnline.has('d-180'), 'a, which has its socket, puts it online again').to.equal(true);
    });

    it('a hall connected here that the state does not have (a stored conference older than the plan) is not reported again at every sweep', async () => {
      const a = start({ instanceId: 'a', knownInState: (id) => id !== 'c-99999' });
      await a.connected('c-99999');
      expect(reports).to.deep.equal([['c-99999', true]]);
      stateOnline.delete('c-99999'); // what the conference does with a hall it does not have
      clock.increment(3 * PRESENCE_SWEEP_MS);
      await flush();
      expect(reports).to.have.length(1);
    });

    it('a second socket of a hall whose first is still being reported resolves with that report, not before', async () => {
      const a = start({ instanceId: 'a' });
      await flush();
      const release = holdPresenceWrites(store);
      const done: string[] = [];
      const first = a.connected('d-180').then(() => done.push('first'));
      const sameTurn = a.connected('d-180').then(() => done.push('same turn'));
      await flush(); // the flush is under way, waiting on the lease
      const later = a.connected('d-180').then(() => done.push('while flushing'));
      await flush();
      expect(done, 'resolved before the state was told').to.deep.equal([]);
      release();
      await Promise.all([first, sameTurn, later]);
      expect(reports).to.deep.equal([['d-180', true]]);
      expect(done.sort()).to.deep.equal(['first', 'same turn', 'while flushing']);
      // A socket of a hall already reported resolves at once.
      await a.connected('d-180');
    });
  });

  describe('a join storm (batched: one lease write and one report per flush, not per hall)', () => {
    const HALLS = Array.from({ length: 2000 }, (_, i) => `c-${String(i + 1).padStart(5, '0')}`);

    /** Counts the lease writes and lease reads of the store. */
    const counting = (): { writes: number; reads: number } => {
      const n = { writes: 0, reads: 0 };
      const setPresence = store.setPresence.bind(store);
      const presentElsewhere = store.presentElsewhere.bind(store);
      store.setPresence = (...args) => (n.writes++, setPresence(...args));
      store.presentElsewhere = (...args) => (n.reads++, presentElsewhere(...args));
      return n;
    };

    it(`${HALLS.length} halls connecting at once: every one online, in one lease write and one report`, async () => {
      const a = start({ instanceId: 'a' });
      await flush();
      const n = counting();
      await Promise.all(HALLS.map((h) => a.connected(h)));
      expect(reports).to.have.length(HALLS.length);
      expect(reports.every(([, online]) => online)).to.equal(true);
      expect(new Set(reports.map(([id]) => id)).size).to.equal(HALLS.length);
      expect(reportCalls, 'state commands').to.equal(1);
      expect(n.writes, 'lease writes').to.equal(1);
      expect([...(await store.presentElsewhere(CONF, 'b'))].sort(), 'the lease names them all').to.deep.equal([...HALLS].sort());
      // And all leaving at once: one lease write, one read of the other instances' leases, one report.
      reports = [];
      reportCalls = 0;
      n.writes = n.reads = 0;
      await Promise.all(HALLS.map((h) => a.disconnected(h)));
      expect(reports).to.have.length(HALLS.length);
      expect(reports.every(([, online]) => !online)).to.equal(true);
      expect([reportCalls, n.writes, n.reads]).to.deep.equal([1, 1, 1]);
    });

    it('halls that connect while a flush waits on the store go in the next flush; each is leased before it is reported', async () => {
      const unleased: string[] = [];
      const a = start({
        instanceId: 'a',
        report: async (changes) => {
          reportCalls++;
          const leased = await store.presentElsewhere(CONF, 'x');
          for (const { bridgeId, online } of changes) {
            reports.push([bridgeId, online]);
            if (online && !leased.has(bridgeId)) unleased.push(bridgeId);
          }
        },
      });
      await flush();
      // A slow store: lease writes wait until released.
      const release = holdPresenceWrites(store);
      const first = a.connected('d-178');
      await flush(); // its flush has started and waits on the lease
      const later = HALLS.slice(0, 50).map((h) => a.connected(h));
      await flush();
      expect(reports).to.deep.equal([]);
      release();
      await first;
      expect(reports).to.deep.equal([['d-178', true]]);
      await Promise.all(later);
      expect(reportCalls, 'the first hall, then the fifty that came meanwhile').to.equal(2);
      expect(reports).to.have.length(51);
      expect(unleased).to.deep.equal([]);
    });

    it('a hall that leaves and comes back within one flush is never reported offline', async () => {
      const a = start({ instanceId: 'a' });
      await a.connected('d-178');
      reports = [];
      const gone = a.disconnected('d-178');
      const back = a.connected('d-178');
      await Promise.all([gone, back]);
      expect(reports).to.deep.equal([['d-178', true]]);
      expect(stateOnline.has('d-178')).to.equal(true);
    });

    it('the sweep takes a dead instance\'s halls offline in one report', async () => {
      const dying = start({ instanceId: 'dying' });
      await Promise.all(HALLS.map((h) => dying.connected(h)));
      const survivor = start({ instanceId: 'survivor' });
      clock.increment(PRESENCE_SWEEP_MS);
      await flush();
      reports = [];
      reportCalls = 0;
      dying.close();
      for (let t = 0; t < PRESENCE_OFFLINE_WITHIN_MS && !reports.length; t += 100) {
        clock.increment(100);
        await flush();
      }
      expect(reports).to.have.length(HALLS.length);
      expect(reportCalls).to.equal(1);
      survivor.close();
    });
  });
});

/** Makes the store's lease writes wait until the returned function is called (a slow store). */
function holdPresenceWrites(store: MemoryPresenceStore): () => void {
  const setPresence = store.setPresence.bind(store);
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  store.setPresence = async (...args) => {
    await held;
    await setPresence(...args);
  };
  return release;
}
