import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import type { RunningServer } from '../../server/app/server.ts';
import { inviteUrl, startTestServer } from '../helpers/server.ts';
import { launchChromium, openPage, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { pageState, pageVideo, type PageVideo, waitLive } from '../helpers/hall-page.ts';

const PROVINCE = 'p-20';
const DISTRICT = 'd-178'; // Thành phố Lạng Sơn
const COMMUNE = 'c-06010'; // Xã Cao Minh, Huyện Tràng Định

/** Frames decoded by the page's programme consumer from a bridge (0 if none). */
async function programFrames(page: Page, bridgeId: string): Promise<PageVideo | undefined> {
  return (await pageVideo(page)).find((v) => v.slot === 'onair' && v.bridgeId === bridgeId && v.kind === 'video');
}

/** Waits until the page decodes video from that bridge and the count keeps growing. */
async function expectDecoding(page: Page, bridgeId: string, slot = 'onair'): Promise<PageVideo> {
  const first = await waitFor(`${slot} video of ${bridgeId} decoding`, async () => {
    const v = (await pageVideo(page)).find((x) => x.slot === slot && x.bridgeId === bridgeId && x.kind === 'video');
    return v && v.framesDecoded > 0 ? v : undefined;
  }, 30_000);
  const later = await waitFor(`${slot} video of ${bridgeId} still decoding`, async () => {
    const v = (await pageVideo(page)).find((x) => x.consumerId === first.consumerId);
    return v && v.framesDecoded > first.framesDecoded + 5 ? v : undefined;
  }, 10_000);
  return later;
}

describe('e2e: real media between halls in Chromium (mediasoup, fake camera and microphone)', function () {
  this.timeout(180_000);
  let server: RunningServer;
  let chromium: TestBrowser;
  const log: string[] = [];
  const pages = new Map<string, Page>();

  before(async () => {
    server = await startTestServer(2);
    chromium = await launchChromium();
    for (const bridgeId of [PROVINCE, DISTRICT, COMMUNE]) {
      pages.set(bridgeId, await openPage(chromium.browser, await inviteUrl(server, bridgeId), log));
    }
    for (const [bridgeId, page] of pages) await waitLive(page, bridgeId);
  });

  after(async () => {
    await chromium?.close();
    await server?.close();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && log.length) console.log(log.slice(-30).join('\n'));
  });

  it('spreads the halls over both workers', () => {
    const snap = server.media.snapshot();
    const workers = new Set(snap.peers.map((p) => p.workerIndex));
    expect(snap.peers).to.have.length(3);
    expect(workers.size).to.equal(2);
  });

  it('every other hall decodes the chair (province) programme', async () => {
    expect(server.media.onAir).to.equal(PROVINCE);
    await expectDecoding(pages.get(DISTRICT)!, PROVINCE);
    await expectDecoding(pages.get(COMMUNE)!, PROVINCE);
  });

  it('after switching the programme to a district, the commune and the province decode the district', async () => {
    await Promise.all([server.media.setOnAir(DISTRICT), server.media.setOpenMicrophones([PROVINCE, DISTRICT])]);
    const v = await expectDecoding(pages.get(COMMUNE)!, DISTRICT);
    expect(v.frameHeight).to.be.greaterThan(0);
    await expectDecoding(pages.get(PROVINCE)!, DISTRICT);
    // The speaking district sees the chair instead of itself.
    await expectDecoding(pages.get(DISTRICT)!, PROVINCE);
    expect(await programFrames(pages.get(COMMUNE)!, PROVINCE)).to.equal(undefined);
    const state = await pageState(pages.get(DISTRICT)!);
    expect(state.micOpen).to.equal(true);
    expect((await pageState(pages.get(COMMUNE)!)).micOpen).to.equal(false);
  });

  it('a hall without the floor is heard by no one: its microphone reaches the server and goes nowhere', async () => {
    // Let a few seconds of audio flow.
    await new Promise((r) => setTimeout(r, 3000));
    const report = await server.media.micReport();
    const commune = report.find((r) => r.bridgeId === COMMUNE)!;
    const district = report.find((r) => r.bridgeId === DISTRICT)!;
    const province = report.find((r) => r.bridgeId === PROVINCE)!;
    expect(commune.open).to.equal(false);
    expect(commune.packetsReceived, 'commune mic packets at the server').to.be.greaterThan(50);
    expect(commune.consumers).to.equal(0);
    expect(commune.packetsForwarded).to.equal(0);
    // The speaker and the chair are heard: their audio is forwarded to the other halls.
    expect(district.open).to.equal(true);
    expect(district.packetsForwarded).to.be.greaterThan(0);
    expect(province.open).to.equal(true);
    expect(province.packetsForwarded).to.be.greaterThan(0);
    // And each other hall has an audio consumer of the speaker and of the chair.
    const communeAudio = (await pageVideo(pages.get(COMMUNE)!)).filter((v) => v.kind === 'audio').map((v) => v.bridgeId).sort();
    expect(communeAudio).to.deep.equal([DISTRICT, PROVINCE].sort());
  });

  it('the chair sees halls as thumbnails at the lowest simulcast layer', async () => {
    const province = pages.get(PROVINCE)!;
    await province.evaluate((ids) => (window as any).diemcau.client.setThumbnails(ids), [DISTRICT, COMMUNE]);
    const thumbDistrict = await expectDecoding(province, DISTRICT, 'thumb');
    const thumbCommune = await expectDecoding(province, COMMUNE, 'thumb');
    expect(thumbDistrict.frameHeight).to.be.within(1, 180);
    expect(thumbCommune.frameHeight).to.be.within(1, 180);
  });

  it('the hall on the programme sends all layers: the programme resolution rises above the low layer', async () => {
    const commune = pages.get(COMMUNE)!;
    const v = await waitFor('district programme above 180p at the commune', async () => {
      const x = await programFrames(commune, DISTRICT);
      return x && x.frameHeight > 180 ? x : undefined;
    }, 30_000);
    expect(v.frameHeight).to.be.greaterThan(180);
  });

  it('a prepared switch (next speaker announced) only resumes consumers the halls already hold', async () => {
    await server.media.setNext(COMMUNE);
    const district = pages.get(DISTRICT)!;
    // The district (speaking now) holds a paused consumer of the commune, decoding nothing yet.
    await waitFor('prepared consumer at the district', async () => {
      const snap = server.media.snapshot().peers.find((p) => p.bridgeId === DISTRICT)!;
      return snap.consumers.find((c) => c.bridgeId === COMMUNE && c.slot === 'next' && c.kind === 'video' && c.paused);
    });
    const before = server.media.snapshot().peers.find((p) => p.bridgeId === DISTRICT)!.consumers.find((c) => c.bridgeId === COMMUNE && c.kind === 'video')!;
    await Promise.all([server.media.setOnAir(COMMUNE), server.media.setOpenMicrophones([PROVINCE, COMMUNE])]);
    await expectDecoding(district, COMMUNE);
    const after = server.media.snapshot().peers.find((p) => p.bridgeId === DISTRICT)!.consumers.find((c) => c.bridgeId === COMMUNE && c.kind === 'video')!;
    expect(after.id, 'the same consumer, promoted').to.equal(before.id);
    expect(after.slot).to.equal('onair');
    expect(after.paused).to.equal(false);
  });

  it('a worker that dies is replaced, and the halls on it rebuild their media by themselves', async () => {
    const lost: string[][] = [];
    server.media.on('medialost', (e) => lost.push(e.bridgeIds));
    const rebuilt = new Promise<number>((resolve) => server.media.once('mediarebuilt', (e) => resolve(e.workerIndex)));
    const snap = server.media.snapshot();
    const commune = snap.peers.find((p) => p.bridgeId === COMMUNE)!;
    const pid = snap.workers[commune.workerIndex]!.pid;
    process.kill(pid, 'SIGKILL');
    const index = await rebuilt;
    expect(index).to.equal(commune.workerIndex);
    expect(server.pool.slot(index).worker.pid).to.not.equal(pid);
    expect(lost.flat()).to.include(COMMUNE);
    // The commune (on the programme) publishes again and the other halls decode it again.
    await waitFor('commune live again', async () => {
      const s = await pageState(pages.get(COMMUNE)!);
      return s.state === 'live' && s.publishing.cam && s.publishing.mic;
    }, 30_000);
    for (const other of [PROVINCE, DISTRICT]) {
      const page = pages.get(other)!;
      const v = await waitFor(`${other} decodes the commune again`, async () => {
        const x = (await pageVideo(page)).find((y) => y.slot === 'onair' && y.bridgeId === COMMUNE && y.kind === 'video');
        return x && x.framesDecoded > 5 ? x : undefined;
      }, 30_000);
      expect(v.framesDecoded).to.be.greaterThan(5);
    }
    const report = await server.media.micReport();
    expect(report.find((r) => r.bridgeId === COMMUNE)?.open).to.equal(true);
  });
});
