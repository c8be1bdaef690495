// Media across hosts in real parts (issue 13): every part of a deployment in its own network
// namespace on one bridge, as real processes of their real roles — redis; two control instances
// (DIEMCAU_ROLE=control, handed to the apps as DIEMCAU_CONTROL_URLS); three media nodes
// (DIEMCAU_ROLE=media, each labelled with its region) — and Chromium halls at three sites. The
// plan's placement puts Huyện Tràng Định with its communes on node 1, Thành phố Lạng Sơn with the
// province and the consoles on node 2, Huyện Bình Gia with its communes on node 3.
//   - the speaker on node 1, halls on nodes 2 and 3 decode it; the chair (node 2) sees thumbnails
//     of halls on every node;
//   - the tracks crossing into a node are the producers needed there, however many halls it has
//     (counted at its pipe transports: the technicians' /metrics, from the nodes' leases);
//   - SIGKILL of a media node: its halls decode the programme again within 5 s;
//   - SIGKILL of a control instance: the pages go on with the other by themselves;
//   - through both, the floor holder, the queue and the deadline never change;
//   - the README's two-instance case: two `both` processes on one redis with a node secret.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import { defaultPlan } from '../../config/default-plan.ts';
import type { ConferenceView } from '../../server/protocol/control.ts';
import { RedisStore } from '../../server/store/index.ts';
import { launchChromium, openPage, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { pageVideo, waitLive } from '../helpers/hall-page.ts';
import { createNetRig, netRigSkipReason, stopProcess, type NetHost, type NetRig } from '../helpers/netns.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SPEAKER = 'c-06010'; // Xã Cao Minh (Huyện Tràng Định): node 1
const CITY = 'd-178'; // Thành phố Lạng Sơn: node 2, with the province and the chair
const BINH_GIA = 'd-181'; // Huyện Bình Gia: node 3
const HUNG_DAO = 'c-06067'; // Xã Hưng Đạo (Huyện Bình Gia): node 3 too
const QUEUED = 'd-180'; // Huyện Tràng Định: waits in the queue (its operator's panel only)
const SECRET = 'hosts-e2e-node-secret-0123456789abcdef';
const PORT = 3000;

/** A process of the deployment in its host. */
interface Proc {
  host: NetHost;
  url: string;
  child: ChildProcess;
  output: string[];
}

/** The floor as every display must keep showing it: holder, queue, deadline. */
function floorOf(view: ConferenceView | null): string {
  if (!view?.floor) return 'no floor';
  return JSON.stringify({ holder: view.floor.requestId, bridge: view.floor.bridgeId, deadline: view.floor.timer.deadline, queue: view.queue.map((q) => q.requestId) });
}

/** What a page's control client says: the instance it talks to and its view. */
function control(page: Page): Promise<{ url: string; connected: boolean; view: ConferenceView | null }> {
  return page.evaluate(() => {
    const c = (window as any).diemcau.control;
    return { url: c.url, connected: c.connected, view: c.view };
  });
}

const mediaUrl = (page: Page): Promise<string | null> => page.evaluate(() => (window as any).diemcau.client.mediaUrl);

/** Frames a page decoded of a bridge's video in a slot. */
async function frames(page: Page, slot: string, bridgeId: string): Promise<number> {
  return (await pageVideo(page)).filter((v) => v.slot === slot && v.kind === 'video' && v.bridgeId === bridgeId).reduce((n, v) => n + v.framesDecoded, 0);
}

/** Waits until a page's decoded frames of a bridge's video in a slot grow by `by`. */
async function decodes(page: Page, slot: string, bridgeId: string, label: string, by = 5, timeoutMs = 20_000): Promise<void> {
  const from = await frames(page, slot, bridgeId);
  await waitFor(label, async () => (await frames(page, slot, bridgeId)) >= from + by, timeoutMs, 100);
}

/** Prometheus text → value of one series. */
function metric(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('e2e: media across hosts (redis, two control instances and three media nodes in network namespaces, Chromium halls at three sites)', function () {
  this.timeout(120_000);
  let rig: NetRig;
  let planFile: string;
  let tmp: string;
  let redisUrl: string;
  const procs: Proc[] = [];
  const browsers: TestBrowser[] = [];
  const log: string[] = [];

  /** Starts `server/main.ts` in a host with the test's plan, and waits for its /healthz. */
  const startIn = async (host: NetHost, env: Record<string, string>): Promise<Proc> => {
    const child = host.spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', '--plan', planFile], {
      cwd: ROOT,
      env: { ...process.env, DIEMCAU_LISTEN_IP: host.ip, DIEMCAU_WORKERS: '1', DIEMCAU_LOG_LEVEL: 'warn', DIEMCAU_STORE: 'memory', REDIS_URL: redisUrl, ...env, PORT: String(PORT) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const keep = (b: Buffer): void => {
      output.push(b.toString());
      if (output.length > 200) output.shift();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const proc = { host, url: `http://${host.ip}:${PORT}`, child, output };
    procs.push(proc);
    await waitFor(`${host.name} healthy`, async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${host.name} exited: ${output.join('').slice(-1500)}`);
      return fetch(`${proc.url}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
    }, 40_000, 200);
    return proc;
  };

  const kill9 = async (p: Proc): Promise<void> => {
    const exited = new Promise((r) => p.child.once('exit', r));
    p.child.kill('SIGKILL');
    await exited;
  };

  before(async function () {
    this.timeout(120_000);
    const skip = netRigSkipReason();
    if (skip) {
      console.log(`      skipped: ${skip}`);
      this.skip();
    }
    rig = await createNetRig();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-hosts-'));
    planFile = path.join(tmp, 'plan.json');
    fs.writeFileSync(planFile, JSON.stringify({
      ...defaultPlan(),
      placement: {
        together: 'district',
        affinity: [
          { bridges: ['d-180'], labels: { region: 'r1' } },
          { bridges: ['p-20', 'd-178'], labels: { region: 'r2' } },
          { bridges: ['d-181'], labels: { region: 'r3' } },
        ],
      },
    }));
    const redisHost = await rig.addHost('redis');
    const redis = redisHost.spawn('redis-server', ['--bind', redisHost.ip, '--port', '6379', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: 'ignore' });
    redisUrl = `redis://${redisHost.ip}:6379`;
    await waitFor('redis up', async () => (await redisHost.exec('redis-cli', ['-h', redisHost.ip, 'ping']).catch(() => '')).trim() === 'PONG', 10_000, 100);
    void redis;
    for (const name of ['ctl1', 'ctl2', 'media1', 'media2', 'media3', 'both1', 'both2']) await rig.addHost(name);
    // Plain http from the bridge: Chromium takes the control instances' pages as secure (camera, microphone).
    const secure = ['ctl1', 'ctl2', 'both1', 'both2'].map((h) => `http://${rig.host(h).ip}:${PORT}`);
    for (const site of ['site1', 'site2', 'site3']) browsers.push(await launchChromium({ netns: (await rig.addHost(site)).netns, secureOrigins: secure }));
  });

  after(async () => {
    for (const b of browsers) await b.close().catch(() => undefined);
    await Promise.all(procs.map((p) => stopProcess(p.child)));
    await rig?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      console.log(log.slice(-40).join('\n'));
      for (const p of procs) console.log(`--- ${p.host.name}\n${p.output.join('').slice(-2000)}`);
    }
  });

  describe('control and media apart', () => {
    const conferenceId = `hosts-e2e-${Date.now()}`;
    let ctl: Proc[];
    let media: Proc[];
    let tokens: { grant: string; token: string }[];
    const pages = new Map<string, Page>();
    let chair: Page;
    let queued: Page;
    let floor: string;
    let technician: string;

    const link = (base: string, grant: string, page: string): string => `${base}/${page}#token=${tokens.find((t) => t.grant === grant)!.token}`;
    const metrics = async (base: string): Promise<string> => (await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${technician}` } })).text();

    before(async function () {
      this.timeout(120_000);
      const ctlHosts = [rig.host('ctl1'), rig.host('ctl2')];
      const controlUrls = ctlHosts.map((h) => `http://${h.ip}:${PORT}`).join(',');
      const common = { DIEMCAU_CONFERENCE_ID: conferenceId, DIEMCAU_CONTROL_URLS: controlUrls };
      ctl = await Promise.all(ctlHosts.map((h) => startIn(h, { ...common, DIEMCAU_ROLE: 'control' })));
      const mediaHosts = [rig.host('media1'), rig.host('media2'), rig.host('media3')];
      media = await Promise.all(mediaHosts.map((h, i) => startIn(h, { ...common, DIEMCAU_ROLE: 'media', DIEMCAU_NODE_SECRET: SECRET, DIEMCAU_NODE_ID: `media${i + 1}`, DIEMCAU_NODE_LABELS: `region=r${i + 1}` })));
      const store = await RedisStore.create({ url: redisUrl });
      tokens = await store.listTokens(conferenceId);
      await store.close();
      technician = tokens.find((t) => t.grant === 'technician')!.token;
      const [b1, b2, b3] = browsers as [TestBrowser, TestBrowser, TestBrowser];
      const base = ctl[0]!.url;
      pages.set(SPEAKER, await openPage(b1.browser, link(base, `operator:${SPEAKER}`, 'hall.html'), log));
      pages.set(CITY, await openPage(b2.browser, link(base, `operator:${CITY}`, 'hall.html'), log));
      pages.set(BINH_GIA, await openPage(b3.browser, link(base, `operator:${BINH_GIA}`, 'hall.html'), log));
      chair = await openPage(b2.browser, link(base, 'chair', 'chair.html'), log);
      queued = await openPage(b1.browser, link(base, `operator:${QUEUED}`, 'operator.html'), log);
      for (const [id, page] of pages) await waitLive(page, id);
    });

    after(async () => {
      // Pages closed and processes stopped (their leases withdrawn): the next case starts clean.
      for (const p of [...pages.values(), chair, queued]) await p?.close().catch(() => undefined);
      await Promise.all([...(ctl ?? []), ...(media ?? [])].map((p) => stopProcess(p.child)));
    });

    it('each hall\'s media is on the node of its region, as the control plane told its page', async () => {
      const where = Object.fromEntries(await Promise.all([...pages].map(async ([id, p]) => [id, await mediaUrl(p)])));
      expect(where).to.deep.equal({ [SPEAKER]: media[0]!.url, [CITY]: media[1]!.url, [BINH_GIA]: media[2]!.url });
    });

    it('the speaker on node 1: halls on nodes 2 and 3 decode it; the chair on node 2 sees thumbnails of halls on every node', async () => {
      const run = async (page: Page, cmd: object): Promise<void> => {
        const reply = await page.evaluate((c) => (window as any).diemcau.control.command(c), cmd);
        expect(reply.ok, JSON.stringify(reply)).to.equal(true);
      };
      await run(chair, { type: 'start_meeting' });
      await run(pages.get(SPEAKER)!, { type: 'request_floor', bridgeId: SPEAKER, speakerName: 'Hoàng Thị Mai', speakerTitle: 'Phó Chủ tịch HĐND xã' });
      await run(pages.get(CITY)!, { type: 'request_floor', bridgeId: CITY, speakerName: 'Lê Văn Nam', speakerTitle: 'Chủ tịch HĐND thành phố' });
      await run(queued, { type: 'request_floor', bridgeId: QUEUED, speakerName: 'Nông Thị Hoa', speakerTitle: 'Phó Chủ tịch HĐND huyện' });
      await run(chair, { type: 'grant_next' });
      await decodes(pages.get(CITY)!, 'onair', SPEAKER, 'the city hall (node 2) decodes the speaker (node 1)');
      await decodes(pages.get(BINH_GIA)!, 'onair', SPEAKER, 'Bình Gia (node 3) decodes the speaker (node 1)');
      for (const id of [SPEAKER, CITY, BINH_GIA]) await decodes(chair, 'thumb', id, `the chair decodes ${id}'s thumbnail`, 3);
      const view = (await control(chair)).view!;
      expect([view.floor?.bridgeId, ...view.queue.map((q) => q.bridgeId)]).to.deep.equal([SPEAKER, CITY, QUEUED]);
      floor = floorOf(view);
    });

    it('the tracks crossing between nodes are the producers needed there, however many halls: counted at the pipe transports (/metrics, from the nodes\' leases)', async () => {
      // Node 3's halls need the speaker's camera and microphone (node 1) and, prepared paused, the
      // next speaker's (Thành phố Lạng Sơn, node 2): 4 tracks over 2 pipe transports, one per node.
      // Node 1 sends the speaker's 2 tracks to each of nodes 2 and 3 once: 4 tracks, 2 transports.
      const pipes = async (): Promise<string> => {
        const text = await metrics(ctl[0]!.url);
        const v = (name: string, node: string, dir: string): number | undefined => metric(text, name, `node="${node}",direction="${dir}"`);
        return JSON.stringify({ node3In: [v('diemcau_node_pipes', 'media3', 'in'), v('diemcau_node_pipe_tracks', 'media3', 'in')], node1Out: [v('diemcau_node_pipes', 'media1', 'out'), v('diemcau_node_pipe_tracks', 'media1', 'out')] });
      };
      const expected = JSON.stringify({ node3In: [2, 4], node1Out: [2, 4] });
      // A lease is renewed every second: what the metrics say trails the nodes by that much.
      await waitFor('node 3 receives 4 tracks over 2 pipes with one hall', async () => (await pipes()) === expected, 10_000, 200);
      const page = await openPage(browsers[2]!.browser, link(ctl[0]!.url, `operator:${HUNG_DAO}`, 'hall.html'), log);
      pages.set(HUNG_DAO, page);
      await waitLive(page, HUNG_DAO);
      expect(await mediaUrl(page)).to.equal(media[2]!.url);
      await decodes(page, 'onair', SPEAKER, 'Hưng Đạo (node 3) decodes the speaker');
      await new Promise((r) => setTimeout(r, 1500));
      const two = await pipes();
      console.log(`      pipes and tracks [transports, tracks] with one hall on node 3: ${expected}; with two: ${two}`);
      expect(two).to.equal(expected);
    });

    it('SIGKILL of media node 3: its halls decode the programme again within 5 s; the floor never changes', async () => {
      const lostAt = Date.now();
      await kill9(media[2]!);
      const back = await Promise.all([BINH_GIA, HUNG_DAO].map(async (id) => {
        const page = pages.get(id)!;
        return waitFor(`${id} decodes the speaker again elsewhere`, async () => {
          const url = await mediaUrl(page);
          return url !== media[2]!.url && (await frames(page, 'onair', SPEAKER)) > 0 ? Date.now() - lostAt : undefined;
        }, 20_000, 50);
      }));
      console.log(`      programme decoded again ${back.map((ms) => (ms / 1000).toFixed(1)).join(' s, ')} s after node 3 was killed`);
      for (const ms of back) expect(ms).to.be.at.most(5000);
      for (const p of [chair, queued, ...pages.values()]) expect(floorOf((await control(p)).view)).to.equal(floor);
    });

    it('SIGKILL of control instance 1: every page goes on with instance 2 by itself; the floor never changes; the programme still decodes', async () => {
      const all = [chair, queued, ...pages.values()];
      const killedAt = Date.now();
      await kill9(ctl[0]!);
      await waitFor('every page on instance 2', async () => (await Promise.all(all.map(control))).every((c) => c.connected && c.url === ctl[1]!.url), 20_000, 100);
      console.log(`      every page on instance 2 ${((Date.now() - killedAt) / 1000).toFixed(1)} s after instance 1 was killed`);
      for (const p of all) expect(floorOf((await control(p)).view)).to.equal(floor);
      await decodes(pages.get(CITY)!, 'onair', SPEAKER, 'the city hall still decodes the speaker');
      await decodes(pages.get(BINH_GIA)!, 'onair', SPEAKER, 'Bình Gia still decodes the speaker');
    });
  });

  describe('the README\'s two-instance case: two `both` processes on one redis with a node secret', () => {
    const conferenceId = `hosts-e2e-both-${Date.now()}`;
    let both: Proc[];

    it('the chair and a district on the first, the speaking commune on the second: every hall sees the speaker wherever each is connected', async () => {
      // As an operator starts them: the same redis and secret, a region each; no node id, no list of
      // control URLs. Two hosts with the same host name (namespaces share it, as cloned machines do).
      both = await Promise.all(['both1', 'both2'].map((h, i) => startIn(rig.host(h), { DIEMCAU_CONFERENCE_ID: conferenceId, DIEMCAU_NODE_SECRET: SECRET, DIEMCAU_NODE_LABELS: `region=r${i + 1}` })));
      const store = await RedisStore.create({ url: redisUrl });
      const tokens = await store.listTokens(conferenceId);
      await store.close();
      const link = (base: string, grant: string, page: string): string => `${base}/${page}#token=${tokens.find((t) => t.grant === grant)!.token}`;
      const [b1, b2] = both as [Proc, Proc];
      const [site1, site2] = browsers as [TestBrowser, TestBrowser];
      const chair = await openPage(site2.browser, link(b1.url, 'chair', 'chair.html'), log);
      const city = await openPage(site2.browser, link(b1.url, `operator:${CITY}`, 'hall.html'), log);
      const speaker = await openPage(site1.browser, link(b2.url, `operator:${SPEAKER}`, 'hall.html'), log);
      await waitLive(city, CITY);
      await waitLive(speaker, SPEAKER);
      // The plan's regions: Tràng Định's communes on the first process's node, the city on the second's.
      expect([await mediaUrl(speaker), await mediaUrl(city)]).to.deep.equal([b1.url, b2.url]);
      const run = async (page: Page, cmd: object): Promise<void> => {
        const reply = await page.evaluate((c) => (window as any).diemcau.control.command(c), cmd);
        expect(reply.ok, JSON.stringify(reply)).to.equal(true);
      };
      await run(chair, { type: 'start_meeting' });
      await run(speaker, { type: 'request_floor', bridgeId: SPEAKER, speakerName: 'Hoàng Thị Mai', speakerTitle: 'Phó Chủ tịch HĐND xã' });
      await run(chair, { type: 'grant_next' });
      await decodes(city, 'onair', SPEAKER, 'the city hall (control on the first, media on the second) decodes the commune (media on the first)');
      await decodes(chair, 'thumb', SPEAKER, 'the chair decodes the commune\'s thumbnail', 3);
      await decodes(chair, 'thumb', CITY, 'the chair decodes the city\'s thumbnail', 3);
      for (const p of [chair, city, speaker]) await p.close();
    });
  });
});
