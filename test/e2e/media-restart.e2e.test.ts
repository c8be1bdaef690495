// A hall page's media rebuild (client/shared/MediaLeg.ts, #restart) that fails while another
// restart is already queued: the queued one rebuilds, and nothing rebuilds the live hall again
// afterwards (before: the failed run's retry timer fired ~500 ms later and tore down and rebuilt
// the live hall once more). Real server (2 mediasoup workers), real Chromium hall page; the
// server's session is wrapped by the test only to kill the hall's worker while the page's first
// `media:produce` is held, so that its run fails (a real error: the transport went with the
// worker) after the server's real `media:restart` (worker_died) reached the page.
import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import type { RunningServer } from '../../server/app/server.ts';
import type { MediaSession } from '../../sfu/index.ts';
import { inviteUrl, startTestServer } from '../helpers/server.ts';
import { launchChromium, openPage, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { pageState } from '../helpers/hall-page.ts';

const COMMUNE = 'c-06010'; // Xã Cao Minh, Huyện Tràng Định
/** Longer than the first retry's backoff (500 ms) with room for a rebuild after it. */
const QUIET_MS = 3000;

describe('e2e: a hall rebuild that fails while a media:restart is queued rebuilds once (Chromium, 2 workers; the hall\'s worker killed while the test holds its first produce)', function () {
  this.timeout(120_000);
  let server: RunningServer;
  let chromium: TestBrowser;
  let page: Page | undefined;
  const log: string[] = [];

  before(async () => {
    server = await startTestServer(2);
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await server?.close();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed' && log.length) console.log(log.slice(-30).join('\n'));
  });

  it('the page\'s first run fails after media:restart (worker_died) reached it: one rebuild on the other worker, then no other transport for QUIET_MS', async () => {
    const session: MediaSession = server.media;
    const calls: { op: string; peerId: string; at: number }[] = [];
    let killed: { peerId: string; workerIndex: number; failedAt: number } | undefined;
    const createTransport = session.createTransport.bind(session);
    const produce = session.produce.bind(session);
    Object.assign(session, {
      createTransport: (peerId: string, direction: Parameters<MediaSession['createTransport']>[1]) => {
        calls.push({ op: 'createTransport', peerId, at: Date.now() });
        return createTransport(peerId, direction);
      },
      produce: async (...args: Parameters<MediaSession['produce']>) => {
        const [peerId] = args;
        calls.push({ op: 'produce', peerId, at: Date.now() });
        if (killed) return produce(...args);
        // The first produce of the page's first run: its worker dies now; the server tells the
        // page (media:restart, before this request's answer on the same socket), then answers.
        const snap = session.snapshot();
        const workerIndex = snap.peers.find((p) => p.peerId === peerId)!.workerIndex;
        const pid = snap.workers.find((w) => w.index === workerIndex)!.pid;
        killed = { peerId, workerIndex, failedAt: 0 };
        const lost = new Promise((resolve) => session.once('medialost', resolve));
        process.kill(pid, 'SIGKILL');
        await lost;
        try {
          return await produce(...args);
        } finally {
          killed.failedAt = Date.now();
        }
      },
    });

    page = await openPage(chromium.browser, await inviteUrl(server, COMMUNE), log);
    await waitFor('the page\'s first produce held and its worker killed', async () => killed?.failedAt ?? 0, 30_000);
    const failedAt = killed!.failedAt;
    await waitFor('the hall live again, publishing', async () => {
      const s = await pageState(page!);
      return s.state === 'live' && s.publishing.mic && s.publishing.cam;
    }, 30_000, 50);
    const liveAt = Date.now();
    await new Promise((r) => setTimeout(r, QUIET_MS));
    const s = await pageState(page);
    const mine = calls.filter((c) => c.peerId === killed!.peerId);
    const after = mine.filter((c) => c.at >= failedAt);
    const transportsAfter = after.filter((c) => c.op === 'createTransport');
    const lastAt = Math.max(...after.map((c) => c.at));
    const seen = `calls after the failure (ms after it): ${after.map((c) => `${c.op}+${c.at - failedAt}`).join(', ')}; live at +${liveAt - failedAt}; log: ${log.filter((l) => l.includes('diemcau:')).slice(-6).join(' | ')}`;
    // The precondition: the page's run did fail, with the restart queued.
    expect(log.some((l) => /start failed \(connect\)/.test(l)), `the page's first run failed: ${seen}`).to.equal(true);
    expect(s.state, `the hall's state ${QUIET_MS} ms after it was live: ${seen}`).to.equal('live');
    expect(transportsAfter.length, `transports made after the failure (one rebuild: receive and send): ${seen}`).to.equal(2);
    expect(lastAt, `nothing rebuilt after the hall was live again: ${seen}`).to.be.lessThan(liveAt);
  });
});
