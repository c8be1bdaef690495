// Two control instances (real server processes, the embedded `both` role) on one redis, handed to
// the apps as DIEMCAU_CONTROL_URLS. The chair console and two halls were opened on the first; it is
// killed with SIGKILL. The pages go on with the second by themselves (sockets and REST), the floor
// holder, the queue and the deadline never change, and the halls' media follows (in the `both`
// role without a shared node registry a page's media is the control instance it reached).
import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import type { ConferenceView } from '../../server/protocol/control.ts';
import { RedisStore } from '../../server/store/index.ts';
import { launchChromium, openPage, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { pageVideo, waitLive } from '../helpers/hall-page.ts';
import { kill, killAll, serverEnv, spawnServer } from '../helpers/server-process.ts';
import { startRedisServer, type RedisServer } from '../integration/store/redis-server.ts';

const COMMUNE = 'c-06010'; // Xã Cao Minh: the speaker
const DISTRICT = 'd-178'; // Thành phố Lạng Sơn: waiting in the queue
const OTHER = 'd-180'; // Huyện Tràng Định: waiting after it

/** What the page's control client says: the instance it talks to, and its view. */
function control(page: Page): Promise<{ url: string; connected: boolean; view: ConferenceView | null }> {
  return page.evaluate(() => {
    const c = (window as any).diemcau.control;
    return { url: c.url, connected: c.connected, view: c.view };
  });
}

/** The floor as every display must keep showing it: holder, queue, deadline. */
function floorOf(view: ConferenceView | null): string {
  if (!view?.floor) return 'no floor';
  return JSON.stringify({ holder: view.floor.requestId, bridge: view.floor.bridgeId, deadline: view.floor.timer.deadline, queue: view.queue.map((q) => q.requestId) });
}

describe('e2e: a control instance is killed; the pages go on with the other one by themselves (two processes, redis, Chromium)', function () {
  this.timeout(240_000);
  let redis: RedisServer;
  let chromium: TestBrowser;
  let store: RedisStore;
  const log: string[] = [];

  before(async () => {
    redis = await startRedisServer();
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await killAll();
    await store?.close();
    await redis?.stop();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(log.slice(-40).join('\n'));
  });

  it('SIGKILL of the instance the pages were opened on: chair and halls reconnect to the other, the floor holder, queue and deadline unchanged, the programme decodes again', async () => {
    const conferenceId = `control-failover-${Date.now()}`;
    const envA = await serverEnv({ REDIS_URL: redis.url, DIEMCAU_CONFERENCE_ID: conferenceId });
    const envB = await serverEnv({ REDIS_URL: redis.url, DIEMCAU_CONFERENCE_ID: conferenceId });
    const [urlA, urlB] = [envA, envB].map((e) => `http://127.0.0.1:${e.PORT}`) as [string, string];
    const controlUrls = `${urlA},${urlB}`;
    const a = await spawnServer({ ...envA, DIEMCAU_CONTROL_URLS: controlUrls });
    await spawnServer({ ...envB, DIEMCAU_CONTROL_URLS: controlUrls });
    store = await RedisStore.create({ url: redis.url });
    const tokens = await store.listTokens(conferenceId);
    const link = (grant: string, page: string): string => `${urlA}/${page}#token=${tokens.find((t) => t.grant === grant)!.token}`;

    const chair = await openPage(chromium.browser, link('chair', 'chair.html'), log);
    const halls = new Map<string, Page>();
    for (const id of [COMMUNE, DISTRICT]) halls.set(id, await openPage(chromium.browser, link(`operator:${id}`, 'hall.html'), log));
    for (const [id, page] of halls) await waitLive(page, id);
    // The third hall's operator asks from its panel only (no media).
    const other = await openPage(chromium.browser, link(`operator:${OTHER}`, 'operator.html'), log);
    await waitFor('every page on A', async () => (await Promise.all([chair, other, ...halls.values()].map(control))).every((c) => c.connected && c.url === urlA));

    const run = (page: Page, cmd: object): Promise<{ ok: boolean }> => page.evaluate((c) => (window as any).diemcau.control.command(c), cmd);
    expect((await run(chair, { type: 'start_meeting' })).ok).to.equal(true);
    expect((await run(halls.get(COMMUNE)!, { type: 'request_floor', bridgeId: COMMUNE, speakerName: 'Hoàng Thị Mai', speakerTitle: 'Phó Chủ tịch HĐND xã' })).ok).to.equal(true);
    expect((await run(halls.get(DISTRICT)!, { type: 'request_floor', bridgeId: DISTRICT, speakerName: 'Lê Văn Nam', speakerTitle: 'Chủ tịch HĐND thành phố' })).ok).to.equal(true);
    expect((await run(other, { type: 'request_floor', bridgeId: OTHER, speakerName: 'Nông Thị Hoa', speakerTitle: 'Phó Chủ tịch HĐND huyện' })).ok).to.equal(true);
    expect((await run(chair, { type: 'grant_next' })).ok).to.equal(true);
    const before = await waitFor('every page sees the commune speaking, two waiting', async () => {
      const views = (await Promise.all([chair, other, ...halls.values()].map(control))).map((c) => floorOf(c.view));
      return new Set(views).size === 1 && JSON.parse(views[0]!).queue?.length === 2 ? views[0] : undefined;
    });
    const district = halls.get(DISTRICT)!;
    const programmeFrames = async (): Promise<number> => (await pageVideo(district)).filter((v) => v.slot === 'onair' && v.kind === 'video' && v.bridgeId === COMMUNE).reduce((n, v) => n + v.framesDecoded, 0);
    await waitFor('the district decodes the commune', async () => (await programmeFrames()) > 10, 20_000);

    // Every display is watched from now on: the floor must never read differently.
    const seen = new Set<string>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        for (const c of await Promise.all([chair, other, ...halls.values()].map((p) => control(p).catch(() => null)))) if (c?.view) seen.add(floorOf(c.view));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const killedAt = Date.now();
    await kill(a);
    const back = await waitFor(
      'every page connected to B by itself',
      async () => {
        const all = await Promise.all([chair, other, ...halls.values()].map(control));
        return all.every((c) => c.connected && c.url === urlB) ? Date.now() : undefined;
      },
      30_000,
      50,
    );
    console.log(`      control: every page on the other instance ${((back - killedAt) / 1000).toFixed(1)} s after SIGKILL`);
    const framesBefore = await programmeFrames();
    const decodedAt = await waitFor('the district decodes the commune again (both on B now)', async () => ((await programmeFrames()) > framesBefore + 10 ? Date.now() : undefined), 30_000, 100);
    console.log(`      media: the programme decodes again ${((decodedAt - killedAt) / 1000).toFixed(1)} s after SIGKILL`);
    // REST goes on with B too (a cross-origin call from A's page: B allows the deployment's origins).
    const report = await chair.evaluate(async (t) => {
      const res = await (window as any).diemcau.api('/api/report', { headers: { authorization: `Bearer ${t}` } });
      return { status: res.status, title: (await res.json()).title };
    }, tokens.find((t) => t.grant === 'chair')!.token);
    expect(report.status).to.equal(200);
    await new Promise((r) => setTimeout(r, 1000));
    watching = false;
    await watch;
    expect([...seen], 'the floor holder, queue and deadline never changed on any page').to.deep.equal([before]);
    const after = await control(chair);
    expect(floorOf(after.view)).to.equal(before);
    const entries = await store.readLog(conferenceId, 0);
    expect(entries.filter((e) => e.type === 'floor_ended'), 'no floor ended').to.deep.equal([]);
  });
});
