// The plan loaded by REST as every process takes it up (server/app/conference/PlanFollower.ts): the
// plan a process starts from, a newer stored version applied once, a plan that fails the check or
// fails to apply logged and never applied, the loader's own version not applied again. The
// memory PlanStore and the real PlanChecker (its worker thread).
import { expect } from 'chai';
import { defaultPlan } from '../../../config/default-plan.ts';
import { SystemClock } from '../../../server/core/conference/index.ts';
import { PlanFollower, startingPlan, type PlanLog } from '../../../server/app/conference/PlanFollower.ts';
import { PlanChecker } from '../../../server/app/plan-check/PlanChecker.ts';
import type { ConferencePlan } from '../../../server/protocol/plan.ts';
import { MemoryPlanStore } from '../../../server/store/index.ts';
import { waitUntil } from '../store/store-contract.ts';

const ID = 'plan-follower';

/** A log that keeps its lines. */
function recordingLog(): PlanLog & { lines: { level: string; data: Record<string, unknown>; message: string }[] } {
  const lines: { level: string; data: Record<string, unknown>; message: string }[] = [];
  const at = (level: string) => (data: object, message: string) => void lines.push({ level, data: data as Record<string, unknown>, message });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('PlanFollower: the plan loaded by REST, taken up by every process', function () {
  this.timeout(20_000);
  let store: MemoryPlanStore;
  let checker: PlanChecker;
  const followers: PlanFollower[] = [];
  const titled = (title: string): ConferencePlan => ({ ...defaultPlan(), title });

  beforeEach(() => {
    store = new MemoryPlanStore();
    checker = new PlanChecker({ clock: new SystemClock() });
  });
  afterEach(async () => {
    for (const f of followers.splice(0)) await f.close();
    await checker.close();
    await store.close();
  });

  it('a process starts from its plan file while none is stored, from the stored plan once one is, and from its file when the stored one fails the check; it logs which', async () => {
    const log = recordingLog();
    const file = titled('Kế hoạch trong tệp');
    expect(await startingPlan({ conferenceId: ID, plans: store, checker, filePlan: file, log, fileLevel: 'info' })).to.deep.include({ version: 0, source: 'file' });
    await store.storePlan(ID, JSON.stringify(titled('Kế hoạch đã nạp')), 1);
    const stored = await startingPlan({ conferenceId: ID, plans: store, checker, filePlan: file, log, fileLevel: 'info' });
    expect([stored.plan.title, stored.version, stored.source]).to.deep.equal(['Kế hoạch đã nạp', 1, 'store']);
    await store.storePlan(ID, '{"title": 1}', 2);
    const refused = await startingPlan({ conferenceId: ID, plans: store, checker, filePlan: file, log, fileLevel: 'info' });
    expect([refused.plan.title, refused.version, refused.source]).to.deep.equal(['Kế hoạch trong tệp', 0, 'file']);
    expect(log.lines.map((l) => [l.level, l.message])).to.deep.equal([
      ['info', 'conference plan: the plan file (none loaded by REST in the store)'],
      ['warn', 'conference plan: the one loaded by REST (stored), not the plan file'],
      ['error', 'conference plan: the stored plan is refused, the plan file is used'],
    ]);
  });

  it('a newer version is applied once; one that fails the check, or fails to apply, is logged and not applied; the process keeps its version', async () => {
    const log = recordingLog();
    const applied: [string, number][] = [];
    let failNext = false;
    const follower = await PlanFollower.start({
      conferenceId: ID,
      plans: store,
      checker,
      version: 0,
      log,
      apply: async (plan, version) => {
        if (failNext) throw new Error('could not open');
        applied.push([plan.title, version]);
      },
    });
    followers.push(follower);
    await store.storePlan(ID, JSON.stringify(titled('Một')), 1);
    await waitUntil(() => applied.length === 1, 5000);
    expect(follower.version).to.equal(1);
    await store.storePlan(ID, '{ not json', 2);
    await waitUntil(() => log.lines.some((l) => l.message.startsWith('stored plan refused')), 5000);
    expect(log.lines.find((l) => l.message.startsWith('stored plan refused'))?.data).to.deep.include({ version: 2, running: 1, code: 'malformed_json' });
    failNext = true;
    await store.storePlan(ID, JSON.stringify(titled('Ba')), 3);
    await waitUntil(() => log.lines.some((l) => l.message.startsWith('stored plan could not be applied')), 5000);
    await follower.settled();
    expect(applied).to.deep.equal([['Một', 1]]);
    expect(follower.version, 'the version it runs').to.equal(1);
    failNext = false;
    await store.storePlan(ID, JSON.stringify(titled('Bốn')), 4);
    await waitUntil(() => applied.length === 2, 5000);
    expect(applied).to.deep.equal([['Một', 1], ['Bốn', 4]]);
  });

  it('the loader\'s own plan (stored inside load()) is not applied again by its follower', async () => {
    const applied: number[] = [];
    const follower = await PlanFollower.start({ conferenceId: ID, plans: store, checker, version: 0, log: recordingLog(), apply: async (_plan, version) => void applied.push(version) });
    followers.push(follower);
    await follower.load(() => store.storePlan(ID, JSON.stringify(titled('Nạp ở đây')), 1));
    await follower.settled();
    expect(follower.version).to.equal(1);
    expect(applied).to.deep.equal([]);
  });
});
