import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import type { RunningServer } from '../../server/app/server.ts';
import type { HealthStatus } from '../../server/core/health.ts';
import { inviteUrl, startTestServer, tokenOf } from '../helpers/server.ts';
import { launchChromium, openPage, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { waitLive } from '../helpers/hall-page.ts';
import { startUdpRelay, type UdpRelay } from '../helpers/udp-relay.ts';

const PROVINCE = 'p-20';
const DISTRICT = 'd-178';
const COMMUNE = 'c-06010'; // this hall's link goes through the impairing relay

describe('e2e: link health of the halls, with one link impaired in user space (UDP relay, Chromium)', function () {
  this.timeout(180_000);
  let server: RunningServer;
  let chromium: TestBrowser;
  let relay: UdpRelay;
  const log: string[] = [];
  const pages = new Map<string, Page>();
  const routes = new Map<string, { ip: string; port: number }>();

  const status = (bridgeId: string): { status: HealthStatus; reasons: string[] } | null => {
    const h = server.conference.health.book.get(bridgeId);
    return h ? { status: h.status, reasons: h.reasons } : null;
  };

  before(async () => {
    server = await startTestServer(1, {}, { routes, healthIntervalMs: 1000 });
    const dump = (await server.pool.slot(0).webRtcServer.dump()) as unknown as { udpSockets: { port: number }[] };
    relay = await startUdpRelay({ host: '127.0.0.1', port: dump.udpSockets[0]!.port });
    routes.set(COMMUNE, { ip: '127.0.0.1', port: relay.port });
    chromium = await launchChromium();
    for (const bridgeId of [PROVINCE, DISTRICT, COMMUNE]) pages.set(bridgeId, await openPage(chromium.browser, await inviteUrl(server, bridgeId), log));
    for (const [id, page] of pages) await waitLive(page, id);
  });

  after(async () => {
    await chromium?.close();
    await relay?.close();
    await server?.close();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      console.log(log.slice(-20).join('\n'));
      for (const id of [PROVINCE, DISTRICT, COMMUNE]) console.log(id, JSON.stringify(server.conference.health.book.get(id)?.last));
    }
  });

  it('every hall is ok while the links are clean (the commune really goes through the relay)', async () => {
    // Media flows first (ICE and DTLS through the relay, then RTP), then every link is assessed ok.
    await waitFor('the three halls sending media', async () =>
      [PROVINCE, DISTRICT, COMMUNE].every((id) => (server.conference.health.book.get(id)?.last?.bitrateUpKbps ?? 0) > 20), 30_000, 250);
    await waitFor('all ok', async () => [PROVINCE, DISTRICT, COMMUNE].every((id) => status(id)?.status === 'ok'), 20_000);
    expect(server.conference.health.book.get(COMMUNE)!.last!.iceState).to.be.oneOf(['connected', 'completed']);
    expect(relay.counts.forwarded).to.be.greaterThan(100);
    // The 209 halls that never connected are absent ("chưa kết nối", not dropped), with the reason in words.
    expect(status('c-05971')).to.deep.equal({ status: 'absent', reasons: ['chưa kết nối'] });
  });

  it('dropping 20% of the commune\'s packets and adding delay turns it degraded or bad within seconds, with the reason; the others stay ok', async () => {
    const alerts: { bridgeId: string; to: string }[] = [];
    server.conference.health.on('alert', (a) => alerts.push(a));
    const started = Date.now();
    relay.impair({ loss: 0.2, delayMs: 150 });
    const seen = await waitFor('commune degraded', async () => {
      const s = status(COMMUNE);
      return s && (s.status === 'degraded' || s.status === 'bad') ? s : undefined;
    }, 20_000, 250);
    const took = Date.now() - started;
    console.log(`      commune ${seen.status} after ${took} ms: ${seen.reasons.join('; ')}`);
    expect(took).to.be.lessThan(15_000);
    // The first symptom seen may be loss, the added round trip or the jitter the delay queue causes.
    expect(seen.reasons.join('; ')).to.match(/mất gói [\d,]+% chiều (lên|xuống)|độ trễ \d+ ms|dao động trễ \d+ ms/);
    expect(alerts.some((a) => a.bridgeId === COMMUNE && (a.to === 'degraded' || a.to === 'bad'))).to.equal(true);
    // Wait a few more samples: the loss is named, and the clean halls never left ok.
    await waitFor('loss named in the reasons', async () => status(COMMUNE)!.reasons.some((r) => r.startsWith('mất gói')), 15_000, 250);
    expect(status(PROVINCE)!.status).to.equal('ok');
    expect(status(DISTRICT)!.status).to.equal('ok');
    expect(alerts.filter((a) => a.bridgeId !== COMMUNE)).to.deep.equal([]);
  });

  it('the commune returns to ok when the impairment stops', async () => {
    relay.impair({ loss: 0, delayMs: 0 });
    // The impaired commune went audio only on its uplink; ok again needs its camera back, which
    // needs one of its browser's trials to lift the estimate (audioFirst.ts). Seen on 2026-12-07:
    // 9–17 s alone, once more than 30 s inside the full suite (issue 17: recovery after a lossy
    // spell is slow; the bench's 64 kbit/s case recovers in 7 s). The wait leaves room for that tail.
    const t0 = Date.now();
    await waitFor('commune ok again', async () => status(COMMUNE)?.status === 'ok', 45_000, 250);
    console.log(`      commune ok again ${Date.now() - t0} ms after the impairment stopped`);
    // The history keeps the impaired samples and the clean ones since.
    const history = server.conference.health.book.get(COMMUNE)!.history;
    const impaired = history.filter((h) => (h.lossUpPct ?? 0) >= 2 || (h.lossDownPct ?? 0) >= 2);
    expect(impaired.length, 'impaired samples kept').to.be.at.least(1);
    expect(history.indexOf(impaired.at(-1)!)).to.be.lessThan(history.length - 1);
  });

  it('the technicians read it by REST and Prometheus; /metrics wants the technicians\' token', async () => {
    const technician = await tokenOf(server, 'technician');
    const metrics = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${technician}` } });
    expect(metrics.status).to.equal(200);
    const text = await metrics.text();
    expect(text).to.match(/diemcau_bridge_status\{bridge="c-06010",tier="commune",name="Xã Cao Minh"\} 0/);
    expect(text).to.match(/diemcau_bridges\{status="absent"\} 209/);
    expect((await fetch(`${server.url}/metrics`)).status).to.equal(401);
    expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${await tokenOf(server, 'chair')}` } })).status).to.equal(403);
    const detail = await fetch(`${server.url}/api/health/${COMMUNE}`, { headers: { authorization: `Bearer ${technician}` } });
    const body = (await detail.json()) as { history: { at: number }[]; events: { type: string }[] };
    expect(body.history.length).to.be.at.least(3);
    expect(body.history.every((h, i) => i === 0 || h.at > body.history[i - 1]!.at), 'in time order').to.equal(true);
    expect(body.events.map((e) => e.type)).to.include('joined');
  });
});
