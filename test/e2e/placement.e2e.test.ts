// Halls follow their placement across media nodes, in Chromium. Two servers on one redis, each
// with its own media, stand for two media nodes: node records written by the test through the
// NodeRegistry interface (one in-process memory registry both servers read, renewed every second
// with a 3 s lease) stand in for the media side's node leases until it lands, and there are no
// pipes between the two yet (each hall sees the programme only when the speaker is on its node).
// - A technician drains node A from the dashboard: the halls leave it one at a time, each one
//   publishing and receiving on B before it leaves A (make before break).
// - Node B is lost (its server closes, its record is no longer renewed): the halls are placed on A
//   again and decode the programme within 5 s.
import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import type { RunningServer } from '../../server/app/server.ts';
import type { MediaNodeRecord } from '../../server/protocol/cluster.ts';
import { MemoryNodeRegistry } from '../../server/store/index.ts';
import { launchChromium, openPage, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { pageVideo, waitLive } from '../helpers/hall-page.ts';
import { inviteUrl, startTestServer } from '../helpers/server.ts';
import { startRedisServer, type RedisServer } from '../integration/store/redis-server.ts';

const COMMUNE = 'c-06010'; // Xã Cao Minh (Huyện Tràng Định): the speaker
const DISTRICT = 'd-178'; // Thành phố Lạng Sơn: watches the programme
const LEASE_MS = 3000;

/**
 * When a hall first published on a server and when it had left it (wall clock), and how many
 * looks found it publishing nowhere (polled every 20 ms: a break before make, which costs a
 * join, transports, ICE and DTLS, would be seen).
 */
function watchSessions(servers: Record<string, RunningServer>, bridges: string[]): { seen: Map<string, number>; nowhere: Map<string, number>; stop: () => void } {
  const seen = new Map<string, number>();
  const nowhere = new Map<string, number>(bridges.map((b) => [b, 0]));
  const was = new Map<string, boolean>();
  const timer = setInterval(() => {
    const somewhere = new Set<string>();
    for (const [name, s] of Object.entries(servers)) {
      if (s.media.closed) continue;
      const peers = s.media.snapshot().peers;
      for (const b of bridges) {
        const publishing = peers.some((p) => p.bridgeId === b && p.producers.length === 2);
        if (publishing) somewhere.add(b);
        const key = `${b}@${name}`;
        if (publishing && !was.get(key) && !seen.has(`${key}:on`)) seen.set(`${key}:on`, Date.now());
        if (!publishing && was.get(key) && !seen.has(`${key}:off`)) seen.set(`${key}:off`, Date.now());
        was.set(key, publishing);
      }
    }
    for (const b of bridges) if (!somewhere.has(b)) nowhere.set(b, nowhere.get(b)! + 1);
  }, 20);
  return { seen, nowhere, stop: () => clearInterval(timer) };
}

describe('e2e: halls follow their placement across media nodes (two servers as nodes; registry records written by the test stand in for the media side\'s leases; Chromium)', function () {
  this.timeout(240_000);
  let redis: RedisServer;
  let registry: MemoryNodeRegistry;
  let a: RunningServer;
  let b: RunningServer;
  let chromium: TestBrowser;
  const log: string[] = [];
  const renewing = new Map<string, ReturnType<typeof setInterval>>();
  const halls = new Map<string, Page>();
  let dash: Page;

  const nodeOf = (id: string, url: string, capacity: number): MediaNodeRecord => ({
    nodeId: id,
    mediaUrl: url,
    nodeApiUrl: url,
    announcedIp: '127.0.0.1',
    workers: 1,
    load: { peers: 0, consumers: 0, cpu: 0 },
    capacity,
    labels: { region: id === 'node-a' ? 'dong-bac' : 'tay-bac' },
    draining: false,
    startedAt: Date.now(),
    renewedAt: Date.now(),
  });
  /** A node renewing its lease every second, as a media node does. */
  const runNode = async (r: MediaNodeRecord): Promise<void> => {
    clearInterval(renewing.get(r.nodeId));
    await registry.announce(r, LEASE_MS);
    renewing.set(r.nodeId, setInterval(() => void registry.announce({ ...r, renewedAt: Date.now() }, LEASE_MS), 1000));
  };
  const mediaUrl = (page: Page): Promise<string | null> => page.evaluate(() => (window as any).diemcau.client.mediaUrl);
  const programmeFrames = async (page: Page): Promise<number> => (await pageVideo(page)).filter((v) => v.slot === 'onair' && v.kind === 'video' && v.bridgeId === COMMUNE).reduce((n, v) => n + v.framesDecoded, 0);

  before(async () => {
    redis = await startRedisServer();
    registry = new MemoryNodeRegistry();
    const conferenceId = `placement-e2e-${Date.now()}`;
    a = await startTestServer(1, { redisUrl: redis.url, conferenceId }, { nodes: registry });
    b = await startTestServer(1, { redisUrl: redis.url, conferenceId }, { nodes: registry });
    // B takes nobody at first: every hall is placed on A.
    await runNode(nodeOf('node-a', a.url, 100));
    await runNode(nodeOf('node-b', b.url, 0));
    chromium = await launchChromium();
    for (const id of [COMMUNE, DISTRICT]) halls.set(id, await openPage(chromium.browser, await inviteUrl(a, id), log));
    for (const [id, page] of halls) await waitLive(page, id);
    dash = await openPage(chromium.browser, await inviteUrl(a, 'technician', 'technician.html'), log);
    await dash.setViewport({ width: 1600, height: 1000 });
  });

  after(async () => {
    for (const t of renewing.values()) clearInterval(t);
    await chromium?.close();
    await a?.close();
    await b?.close();
    await registry?.close();
    await redis?.stop();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log(log.slice(-40).join('\n'));
  });

  it('the halls\' media is where the control plane placed it: node A; the technicians see each hall\'s node and the nodes\' panel', async () => {
    for (const page of halls.values()) expect(await mediaUrl(page)).to.equal(a.url);
    const chair = a.conference;
    await chair.execute({ role: 'chair' }, { type: 'start_meeting' });
    await chair.execute({ role: 'operator', bridgeId: COMMUNE }, { type: 'request_floor', bridgeId: COMMUNE, speakerName: 'Hoàng Thị Mai', speakerTitle: 'Phó Chủ tịch HĐND xã' });
    await chair.execute({ role: 'chair' }, { type: 'grant_next' });
    await waitFor('the district decodes the commune on A', async () => (await programmeFrames(halls.get(DISTRICT)!)) > 10, 20_000);
    const tiles = await waitFor('tiles name the node', async () => {
      const t = await dash.$$eval(`.tile[data-bridge-id="${COMMUNE}"] .t-node, .tile[data-bridge-id="${DISTRICT}"] .t-node`, (els) => els.map((e) => (e as HTMLElement).innerText));
      return t.length === 2 && t.every((x) => x === '▣ node-a') ? t : undefined;
    });
    expect(tiles).to.have.length(2);
    const panel = await dash.$$eval('#nodes li.node', (els) => els.map((e) => (e as HTMLElement).innerText.replace(/\s+/g, ' ')));
    expect(panel).to.have.length(2);
    expect(panel[0]).to.match(/node-a Hoạt động khu vực: dong-bac/).and.match(/\/ 100 điểm cầu/);
    expect(panel[1]).to.match(/node-b Hoạt động/).and.match(/0 \/ 0 điểm cầu/);
    await dash.click(`.tile[data-bridge-id="${COMMUNE}"]`);
    await waitFor('drill-down names the node', async () => (await dash.$eval('#drill-node', (e) => (e as HTMLElement).innerText)) === 'Máy chủ media: node-a (khu vực: dong-bac)');
  });

  it('a technician drains node A from the dashboard: the halls move to B one at a time, each live on B before it leaves A', async () => {
    await runNode(nodeOf('node-b', b.url, 100));
    const watch = watchSessions({ a, b }, [COMMUNE, DISTRICT]);
    try {
      await dash.waitForSelector('#nodes li[data-node="node-a"] button.node-drain');
      await dash.click('#nodes li[data-node="node-a"] button.node-drain');
      await waitFor('both halls\' media on B', async () => (await mediaUrl(halls.get(COMMUNE)!)) === b.url && (await mediaUrl(halls.get(DISTRICT)!)) === b.url, 40_000, 100);
      await waitFor('both halls gone from A', async () => watch.seen.has(`${COMMUNE}@a:off`) && watch.seen.has(`${DISTRICT}@a:off`), 20_000);
    } finally {
      watch.stop();
    }
    const s = watch.seen;
    for (const id of [COMMUNE, DISTRICT]) {
      const on = s.get(`${id}@b:on`)!;
      const off = s.get(`${id}@a:off`)!;
      console.log(`      ${id}: publishing on B ${off - on} ms before it left A`);
      expect(on, `${id} published on B`).to.be.a('number');
      expect(on, `${id}: on B no later than it left A`).to.be.at.most(off);
      expect(watch.nowhere.get(id), `${id}: make before break: never seen publishing nowhere`).to.equal(0);
    }
    // One at a time: the second hall started on B at least a drain step after the first.
    const starts = [COMMUNE, DISTRICT].map((id) => s.get(`${id}@b:on`)!).sort((x, y) => x - y);
    expect(starts[1]! - starts[0]!).to.be.at.least(1500);
    const moves = [...(await a.stores.placements.placements(a.conference.conferenceId)).values()].filter((p) => p.reason === 'drained' && (p.peerKey === COMMUNE || p.peerKey === DISTRICT));
    expect(moves.map((m) => m.nodeId)).to.deep.equal(['node-b', 'node-b']);
    await waitFor('the district decodes the commune on B', async () => (await programmeFrames(halls.get(DISTRICT)!)) > 10, 20_000);
    await waitFor('the panel says node A is draining and empty', async () => /node-a Đang chuyển điểm cầu đi \(bảo trì\).*0 \/ 100 điểm cầu/.test(await dash.$eval('#nodes li[data-node="node-a"]', (e) => (e as HTMLElement).innerText.replace(/\s+/g, ' '))));
    await waitFor('tiles name node B', async () => (await dash.$eval(`.tile[data-bridge-id="${DISTRICT}"] .t-node`, (e) => (e as HTMLElement).innerText)) === '▣ node-b');
  });

  it(`node B is lost (its server closes, its lease is not renewed): the halls are placed on A and decode the programme again within 5 s`, async () => {
    await dash.click('#nodes li[data-node="node-a"] button.node-undrain');
    await waitFor('node A takes halls again', async () => (await a.conference.placement.nodes()).find((n) => n.nodeId === 'node-a')?.draining === false);
    const district = halls.get(DISTRICT)!;
    clearInterval(renewing.get('node-b'));
    const lostAt = Date.now();
    await b.close();
    const decodedAt = await waitFor(
      'the district decodes the commune again, both on A',
      async () => ((await mediaUrl(district)) === a.url && (await programmeFrames(district)) > 0 ? Date.now() : undefined),
      30_000,
      50,
    );
    console.log(`      programme decoded again ${((decodedAt - lostAt) / 1000).toFixed(1)} s after node B was lost (lease ${LEASE_MS / 1000} s)`);
    expect(decodedAt - lostAt).to.be.at.most(5000);
    expect(await mediaUrl(halls.get(COMMUNE)!)).to.equal(a.url);
    const placed = await a.stores.placements.placements(a.conference.conferenceId);
    expect([COMMUNE, DISTRICT].map((id) => [placed.get(id)?.nodeId, placed.get(id)?.reason])).to.deep.equal([
      ['node-a', 'node_lost'],
      ['node-a', 'node_lost'],
    ]);
  });
});
