// What fills a weak hall's uplink after a cut to 64 kbit/s (issue 17): the bytes that leave the
// hall's namespace, by kind, per 250 ms and summed over the benchmark's window (8–18 s after the
// cut) and the first 8 s, beside what tbf dropped and what the province concealed. Not a
// benchmark and not a test: a diagnosis. The rig is bench:weaklink's (scripts/bench/weaklink.ts):
// the province speaks and listens in the root namespace, the speaking hall (d-189) runs Chromium in
// a namespace whose link tbf shapes both ways, its media through the UDP relay; before the cut the
// hall goes through 256 and 128 kbit/s and back to a clean link as in the benchmark
// (UPLINK_PRE=short: straight to the cut), then the cut to 64 kbit/s (UPLINK_AT64_S, 20 s).
//
//   flock -x /work/notes/bench.lock bash scripts/with-env.sh node --import tsx scripts/diag/uplink-bytes.ts [outDir]
//   bash scripts/with-env.sh node --import tsx scripts/diag/uplink-bytes.ts --analyse outDir   (prints a run again)
//
// Two captures inside the hall's namespace, from the clean link before the cut to its end:
// offered.pcap, NFLOG of the OUTPUT hook (nftables `log group`, i.e. before tbf: every datagram the
// browser sends), and up.pcap, tcpdump on eth0's egress (after tbf). A datagram offered and never
// sent is one tbf dropped (tbf's own `tc -s qdisc` drops and backlog are sampled every 250 ms too,
// as a check). Each datagram's kind (scripts/diag/uplink-packets.ts): send or receive transport by
// its local port (the page's getStats: each PeerConnection's local UDP candidates), STUN, DTLS, RTP by
// SSRC (outbound-rtp: mic, camera layer, RTX) with padding when the P bit is set, RTCP by the
// first packet's type (SR, RR, NACK, TWCC, PLI, REMB; "+" = more in the compound).
//
// Prints: a per-250 ms table from 2 s before the cut (kbit/s offered by group, drops by group, tbf
// drops and backlog, the microphone's queueing delay, the province's audio from the hall: packets,
// lost, concealed ms, the hall's and the SFU's events); a per-kind table (packets, IP bytes, kbit/s
// offered and sent, dropped) for 0–8 s and 8–18 s after the cut, with the SFU's NACK and PLI
// counts per consumer of the hall (mediasoup counts them only while a consumer is active); per
// window, what was offered in the 250 ms slots with drops against those without and how often
// tbf's backlog was ≥ 3,000 B; per second, the browser's send estimate, both transports' RTT, its
// video receivers (received, lost, NACKs, PLIs, frames; how many are asking), padding and NACK
// kbit/s, drops, and the province's concealment, then padding against concealment. outDir (default /tmp/uplink-bytes-<time>) keeps the captures, meta.json (samples,
// events, the SSRC and port maps) and report.json.
import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import type { Page } from 'puppeteer-core';
import { inviteUrl, startTestServer } from '../../test/helpers/server.ts';
import { launchChromium, openPage, type TestBrowser } from '../../test/helpers/chromium.ts';
import { speechMicFlags } from '../../test/helpers/speech-wav.ts';
import { waitLive } from '../../test/helpers/hall-page.ts';
import { createNetRig, run, stopProcess, type NetHost, type NetRig } from '../../test/helpers/netns.ts';
import { startUdpRelay, type UdpRelay } from '../../test/helpers/udp-relay.ts';
import { audioFrom, giveFloor, ProducerWatch, recordPeerConnections, trialText, type AudioReceived } from '../../test/helpers/weak-link.ts';
import { GROUPS, groupOf, pairCaptures, readPcap, table, totalsByKind, type FlowMap } from './uplink-packets.ts';

const execFileP = promisify(execFile);
const PROVINCE = 'p-20';
const WEAK = 'd-189';
const NFLOG_GROUP = 17;
const PRE = process.env.UPLINK_PRE ?? 'bench';
const AT64_MS = Number(process.env.UPLINK_AT64_S ?? '20') * 1000;
const BIN_MS = 250;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const r1 = (x: number): number => Math.round(x * 10) / 10;

interface TcSample { at: number; bytes: number; pkts: number; dropped: number; backlog: number }
/** The SFU's side of the hall's consumers (what it receives): NACK and PLI messages the SFU got for each, cumulative. */
interface ConsumerSample { at: number; by: Record<string, { nack: number; nackPkts: number; pli: number; sent: number }> }
interface PageSample {
  at: number;
  send?: number;
  recv?: number;
  rtt?: Record<string, number>;
  videoIn?: { recv: number; lost: number; nacks: number; plis: number; frames: number };
  /** NACKs sent so far per video receiver (by SSRC): which of them keep asking. */
  nacksBySsrc?: Record<string, number>;
}
interface Meta {
  date: string;
  pre: string;
  cut: number;
  end: number;
  captureFrom: number;
  opensslKBps: number | null;
  loadBefore: number[];
  loadMax: number;
  lagP99Ms: number;
  flows: FlowMap;
  tc: TcSample[];
  province: AudioReceived[];
  consumers: ConsumerSample[];
  /** The browser's estimates (availableOutgoingBitrate, kbit/s) and RTTs (ms) of its send and receive transports, and its video receivers' counters, every second. */
  bwe: PageSample[];
  /** The rtcp-fb lines of each m-section of the page's remote descriptions (what the hall may NACK). */
  feedback: string[];
  events: { at: number; what: string }[];
  errors: string[];
}

async function tcUp(netns: string): Promise<TcSample | null> {
  const text = await run('tc', ['-n', netns, '-s', 'qdisc', 'show', 'dev', 'eth0']).catch(() => '');
  const m = /Sent (\d+) bytes (\d+) pkt \(dropped (\d+)/.exec(text);
  const b = /backlog (\d+)b/.exec(text);
  return m ? { at: Date.now(), bytes: Number(m[1]), pkts: Number(m[2]), dropped: Number(m[3]), backlog: b ? Number(b[1]) : 0 } : null;
}

/** The page's PeerConnections: the local UDP ports of each (send: the one with outbound RTP) and what each outbound SSRC is. */
function pageFlows(page: Page): Promise<FlowMap & { bwe: Omit<PageSample, 'at'> }> {
  return page.evaluate(async () => {
    const res = { ports: {} as Record<number, string>, ssrcs: {} as Record<number, string>, bwe: { rtt: {} as Record<string, number>, videoIn: { recv: 0, lost: 0, nacks: 0, plis: 0, frames: 0 }, nacksBySsrc: {} as Record<string, number> } as any };
    for (const pc of (window as any).__pcs as RTCPeerConnection[]) {
      if (pc.connectionState === 'closed') continue;
      const report = await pc.getStats();
      let send = false;
      const ports: number[] = [];
      let bwe: number | undefined;
      let rtt: number | undefined;
      report.forEach((s: any) => {
        if (s.type === 'candidate-pair' && s.nominated && typeof s.availableOutgoingBitrate === 'number') bwe = Math.round(s.availableOutgoingBitrate / 1000);
        if (s.type === 'candidate-pair' && s.nominated && typeof s.currentRoundTripTime === 'number') rtt = Math.round(s.currentRoundTripTime * 1000);
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          const v = res.bwe.videoIn;
          v.recv += s.packetsReceived ?? 0;
          v.lost += s.packetsLost ?? 0;
          v.nacks += s.nackCount ?? 0;
          v.plis += (s.pliCount ?? 0) + (s.firCount ?? 0);
          v.frames += s.framesDecoded ?? 0;
          res.bwe.nacksBySsrc[String(s.ssrc)] = s.nackCount ?? 0;
        }
        if (s.type === 'outbound-rtp') {
          send = true;
          const name = s.kind === 'audio' ? 'mic' : `cam ${s.rid ?? s.ssrc}`;
          res.ssrcs[s.ssrc] = name;
          if (s.rtxSsrc) res.ssrcs[s.rtxSsrc] = s.kind === 'audio' ? 'rtx mic' : `rtx ${s.rid ?? s.ssrc}`;
        }
        if (s.type === 'local-candidate' && s.protocol === 'udp' && s.port) ports.push(s.port);
      });
      for (const p of ports) res.ports[p] = send ? 'send' : 'recv';
      if (bwe !== undefined) res.bwe[send ? 'send' : 'recv'] = bwe;
      if (rtt !== undefined) res.bwe.rtt[send ? 'send' : 'recv'] = rtt;
    }
    return res;
  });
}

/** The server's view of the hall's producers: SSRCs of the microphone, the camera's layers and their RTX. */
function producerFlows(watch: ProducerWatch): FlowMap['ssrcs'] {
  const out: FlowMap['ssrcs'] = {};
  const mic = watch.producer(WEAK, 'mic');
  for (const e of mic?.rtpParameters.encodings ?? []) if (e.ssrc) out[e.ssrc] = 'mic';
  const cam = watch.producer(WEAK, 'cam');
  (cam?.rtpParameters.encodings ?? []).forEach((e, i) => {
    if (e.ssrc) out[e.ssrc] = `cam ${e.rid ?? `r${i}`}`;
    if (e.rtx?.ssrc) out[e.rtx.ssrc] = `rtx ${e.rid ?? `r${i}`}`;
  });
  return out;
}

/** The SDP's feedback per m-section of each PeerConnection: "recv audio: nack transport-cc". */
function pageFeedback(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const pc of (window as any).__pcs as RTCPeerConnection[]) {
      if (pc.connectionState === 'closed') continue;
      const dir = pc.getSenders().some((x) => x.track) ? 'send' : 'recv';
      for (const section of (pc.remoteDescription?.sdp ?? '').split(/\r\nm=/).slice(1)) {
        const fb = new Set([...section.matchAll(/a=rtcp-fb:\d+ ([^\r\n]+)/g)].map((m) => m[1]!));
        out.push(`${dir} ${section.split(' ')[0]}: ${[...fb].join(', ') || '-'}`);
      }
    }
    return [...new Set(out)];
  });
}

async function opensslSpeed(): Promise<number | null> {
  const { stdout } = await execFileP('openssl', ['speed', '-seconds', '3', '-bytes', '1200', '-evp', 'aes-128-gcm'], { timeout: 30_000 }).catch(() => ({ stdout: '' }));
  const m = /([\d.]+)k\s*$/.exec(stdout.trim().split('\n').at(-1) ?? '');
  return m ? Number(m[1]) : null;
}

/** Starts tcpdump inside the host; resolves once it listens. */
async function capture(host: NetHost, args: string[]): Promise<ChildProcess> {
  const child = host.spawn('tcpdump', ['-Z', 'root', '-U', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10_000);
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', () => reject(new Error(`tcpdump exited: ${err}`)));
  });
  return child;
}

async function until(label: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms: ${label}`);
}

async function record(dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const date = new Date().toISOString();
  const loadBefore = os.loadavg();
  const aes = await opensslSpeed();
  console.log(`uplink-bytes ${date}: openssl aes-128-gcm 1200 B ${aes === null ? '?' : `${Math.round(aes)} kB/s`}; load before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}; out ${dir}`);
  let loadMax = loadBefore[0]!;
  const loadTimer = setInterval(() => (loadMax = Math.max(loadMax, os.loadavg()[0]!)), 2000);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  const watch = new ProducerWatch();
  const browsers: TestBrowser[] = [];
  const events: Meta['events'] = [];
  const errors: string[] = [];
  const tc: TcSample[] = [];
  const province: AudioReceived[] = [];
  const flows: FlowMap = { ports: {}, ssrcs: {} };
  const consumerSamples: ConsumerSample[] = [];
  const bwe: Meta['bwe'] = [];
  const consumers: { consumer: ms.Consumer; peerId: string }[] = [];
  const onWorker = (worker: ms.Worker): void =>
    void worker.observer.on('newrouter', (router) =>
      router.observer.on('newtransport', (t) => t.observer.on('newconsumer', (consumer) => consumers.push({ consumer, peerId: String(t.appData.peerId) }))));
  mediasoup.observer.on('newworker', onWorker);
  let feedback: string[] = [];
  const captures: ChildProcess[] = [];
  let rig: NetRig | undefined;
  let relay: UdpRelay | undefined;
  let server: Awaited<ReturnType<typeof startTestServer>> | undefined;
  let sampling = false;
  let sampler: Promise<void> | undefined;
  try {
    rig = await createNetRig();
    const routes = new Map<string, { ip: string; port: number }>();
    server = await startTestServer(1, { listenIp: rig.rootIp }, { routes, healthIntervalMs: 1000 });
    const srv = server;
    srv.media.on('downlink', (e) => e.bridgeId === WEAK && events.push({ at: Date.now(), what: `sfu ${e.state}(${e.reason})${e.trial ? ` ${trialText(e.trial)}` : ''}` }));
    srv.media.on('audioonly', (e) => e.bridgeId === WEAK && events.push({ at: Date.now(), what: `flags up ${e.up} down ${e.down}` }));
    const dump = (await srv.pool.slot(0).webRtcServer.dump()) as unknown as { udpSockets: { port: number }[] };
    relay = await startUdpRelay({ host: rig.rootIp, port: dump.udpSockets[0]!.port }, { listenIp: rig.rootIp });
    routes.set(WEAK, { ip: rig.rootIp, port: relay.port });
    const root = await launchChromium({ secureOrigins: [srv.url], args: speechMicFlags() });
    browsers.push(root);
    const provincePage = await openPage(root.browser, await inviteUrl(srv, PROVINCE));
    const host = await rig.addHost('dinhlap');
    const weakBrowser = await launchChromium({ netns: host.netns, secureOrigins: [srv.url], args: speechMicFlags() });
    browsers.push(weakBrowser);
    const weak = await weakBrowser.browser.newPage();
    // The page's PeerConnections, for their getStats (ports and SSRCs).
    await recordPeerConnections(weak);
    await weak.goto(await inviteUrl(srv, WEAK), { waitUntil: 'domcontentloaded' });
    await waitLive(provincePage, PROVINCE);
    await waitLive(weak, WEAK);
    await weak.exposeFunction('__uplinkSendMode', (e: { mode: string; trial: string | false; kbps?: number | null }) =>
      void events.push({ at: Date.now(), what: `hall ${e.mode}${e.trial ? ` trial ${e.trial}` : ''} (kbps ${e.kbps ?? '-'})` }));
    await weak.evaluate(() => {
      const w = window as any;
      w.diemcau.client.on('sendmode', (d: unknown) => w.__uplinkSendMode(d));
    });
    await giveFloor(srv, WEAK, 'Lương Văn Thắng', 'Chủ tịch HĐND huyện Đình Lập');
    await until('the top layer of the speaker arrives', async () => (await watch.topLayer(WEAK)) === 2, 30_000);
    lag.enable();
    if (PRE === 'bench') {
      // As bench:weaklink before its cut: clean 2 + 10 s, 256 and 128 kbit/s for 18 s each.
      await sleep(12_000);
      for (const kbps of [256, 128]) {
        await host.shape({ rateKbit: kbps });
        console.log(`  ${kbps} kbit/s`);
        await sleep(18_000);
      }
      await host.shape(null);
    }
    // Captures and samples from the clean link before the cut.
    await host.exec('nft', ['-f', '-'], `table inet uplinkdiag {\n  chain output {\n    type filter hook output priority 0; policy accept;\n    oif "eth0" log group ${NFLOG_GROUP} snaplen 160 queue-threshold 1\n  }\n}\n`);
    // queue-threshold 1: each packet goes to tcpdump at once (NFLOG gives no timestamp on OUTPUT; libpcap stamps it on receipt).
    captures.push(await capture(host, ['-i', `nflog:${NFLOG_GROUP}`, '-w', path.join(dir, 'offered.pcap')]));
    captures.push(await capture(host, ['-i', 'eth0', '-Q', 'out', '-s', '160', '-w', path.join(dir, 'up.pcap')]));
    const captureFrom = Date.now();
    feedback = await pageFeedback(weak).catch((e: Error) => [e.message]);
    const hallConsumers = async (): Promise<ConsumerSample> => {
      const peerId = srv.media.snapshot().peers.find((p) => p.bridgeId === WEAK)?.peerId;
      const by: ConsumerSample['by'] = {};
      await Promise.all(consumers.filter((c) => c.peerId === peerId && !c.consumer.closed).map(async ({ consumer }) => {
        const s = (await consumer.getStats().catch(() => [])).find((x) => x.type === 'outbound-rtp');
        if (!s) return;
        const label = `${consumer.kind} ${String(consumer.appData.source)} of ${String(consumer.appData.bridgeId)}${consumer.appData.slot ? ` (${String(consumer.appData.slot)})` : ''}`;
        const b = (by[label] ??= { nack: 0, nackPkts: 0, pli: 0, sent: 0 });
        b.nack += s.nackCount ?? 0;
        b.nackPkts += s.nackPacketCount ?? 0;
        b.pli += s.pliCount ?? 0;
        b.sent += s.packetCount ?? 0;
      }));
      return { at: Date.now(), by };
    };
    sampling = true;
    sampler = (async () => {
      for (let tick = 0; sampling; tick++) {
        const at = Date.now();
        const [t, heard, f, cs] = await Promise.all([
          tcUp(host.netns),
          audioFrom(provincePage, WEAK).catch(() => null),
          tick % 4 === 0 ? pageFlows(weak).catch(() => null) : Promise.resolve(null),
          hallConsumers(),
        ]);
        consumerSamples.push(cs);
        if (t) tc.push(t);
        if (heard) province.push(heard);
        if (f) {
          bwe.push({ at, ...f.bwe });
          Object.assign(flows.ports, f.ports);
          Object.assign(flows.ssrcs, producerFlows(watch), f.ssrcs);
        }
        await sleep(Math.max(0, BIN_MS - (Date.now() - at)));
      }
    })();
    await until('video again before the cut', async () => !srv.media.audioOnlyOf(WEAK).up && (await watch.topLayer(WEAK)) >= 0, 30_000).catch((e: Error) => errors.push(e.message));
    await sleep(3000);
    await host.shape({ rateKbit: 64 });
    const cut = Date.now();
    console.log(`  cut to 64 kbit/s at ${new Date(cut).toISOString()}`);
    await sleep(AT64_MS);
    await host.shape(null);
    await sleep(2000);
    const end = Date.now();
    sampling = false;
    await sampler;
    lag.disable();
    for (const c of captures) await stopProcess(c);
    await host.exec('nft', ['delete', 'table', 'inet', 'uplinkdiag']).catch(() => undefined);
    loadMax = Math.max(loadMax, os.loadavg()[0]!);
    const meta: Meta = { date, pre: PRE, cut, end, captureFrom, opensslKBps: aes, loadBefore, loadMax, lagP99Ms: lag.percentile(99) / 1e6, flows, tc, province, consumers: consumerSamples, bwe, feedback, events, errors };
    fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
  } finally {
    sampling = false;
    await sampler?.catch(() => undefined);
    clearInterval(loadTimer);
    mediasoup.observer.off('newworker', onWorker);
    for (const c of captures) await stopProcess(c).catch(() => undefined);
    watch.close();
    for (const b of browsers) await b.close().catch(() => undefined);
    await server?.close().catch(() => undefined);
    await relay?.close();
    await rig?.close();
  }
}

/** The province's audio from the hall between two times: packets received, lost, concealed ms, samples received. */
function heardBetween(samples: AudioReceived[], from: number, to: number): { recv: number; lost: number; concMs: number; totalMs: number } {
  const at = (t: number): AudioReceived | undefined => samples.filter((s) => s.at <= t).at(-1);
  const a = at(from);
  const b = at(to);
  if (!a || !b || a === b) return { recv: 0, lost: 0, concMs: 0, totalMs: 0 };
  return {
    recv: b.packetsReceived - a.packetsReceived,
    lost: Math.max(0, b.packetsLost - a.packetsLost),
    concMs: Math.max(0, (b.concealedSamples - a.concealedSamples - (b.silentConcealedSamples - a.silentConcealedSamples)) / 48),
    totalMs: (b.totalSamplesReceived - a.totalSamplesReceived) / 48,
  };
}

function tcBetween(samples: TcSample[], from: number, to: number): { dropped: number; backlog: number } {
  const at = (t: number): TcSample | undefined => samples.filter((s) => s.at <= t).at(-1);
  const a = at(from);
  const b = at(to);
  return { dropped: a && b ? b.dropped - a.dropped : 0, backlog: b?.backlog ?? 0 };
}

function analyse(dir: string): void {
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Meta;
  const offered = readPcap(path.join(dir, 'offered.pcap'));
  const sent = readPcap(path.join(dir, 'up.pcap'));
  const packets = pairCaptures(offered, sent, meta.flows);
  const { cut } = meta;
  const rel = (t: number): string => ((t - cut) / 1000).toFixed(2);
  console.log(`\nuplink-bytes ${meta.date} (pre: ${meta.pre}); cut ${new Date(cut).toISOString()}; openssl ${meta.opensslKBps === null ? '?' : Math.round(meta.opensslKBps)} kB/s; load before ${meta.loadBefore.map((x) => x.toFixed(2)).join(' ')}, max ${meta.loadMax.toFixed(2)}; harness lag p99 ${r1(meta.lagP99Ms)} ms${meta.errors.length ? `; errors: ${meta.errors.join('; ')}` : ''}`);
  console.log(`the page's feedback: ${(meta.feedback ?? []).join(' | ')}`);
  console.log(`ports ${JSON.stringify(meta.flows.ports)} ssrcs ${JSON.stringify(meta.flows.ssrcs)}; ${offered.length} datagrams offered, ${sent.length} sent on eth0 in the capture`);

  // Per 250 ms, from 2 s before the cut.
  const rows: (string | number)[][] = [];
  const slots: { t: number; kbps: Record<string, number>; drops: Record<string, number>; tcDrops: number; concMs: number }[] = [];
  for (let t = cut - 2000; t < Math.min(meta.end, cut + tableEnd(meta)); t += BIN_MS) {
    const inBin = packets.filter((p) => p.ts >= t && p.ts < t + BIN_MS);
    const kbps: Record<string, number> = {};
    const drops: Record<string, number> = {};
    for (const g of GROUPS) {
      kbps[g] = 0;
      drops[g] = 0;
    }
    let micDelay = 0;
    for (const p of inBin) {
      const g = groupOf(p.kind);
      kbps[g]! += (8 * p.ipLen) / BIN_MS;
      if (p.sentTs === null) drops[g]!++;
      else if (g === 'mic') micDelay = Math.max(micDelay, p.sentTs - p.ts);
    }
    const q = tcBetween(meta.tc, t, t + BIN_MS);
    const h = heardBetween(meta.province, t, t + BIN_MS);
    const ev = meta.events.filter((e) => e.at >= t && e.at < t + BIN_MS).map((e) => e.what.replace(/ \[.*$/, ''));
    slots.push({ t, kbps, drops, tcDrops: q.dropped, concMs: h.concMs });
    rows.push([
      rel(t),
      ...GROUPS.map((g) => Math.round(kbps[g]!)),
      Math.round(GROUPS.reduce((s, g) => s + kbps[g]!, 0)),
      GROUPS.filter((g) => drops[g]).map((g) => `${g}:${drops[g]}`).join(' ') || '-',
      q.dropped,
      q.backlog,
      Math.round(micDelay),
      `${h.recv}/${h.lost}/${Math.round(h.concMs)}`,
      ev.join('; '),
    ]);
  }
  console.log('\nper 250 ms after the cut: kbit/s offered (IP bytes) by group; drops by group (offered, never sent); tbf drops and backlog (B); the mic\'s max queueing ms; the province from the hall: recv/lost/concealed ms');
  console.log(table(['t s', ...GROUPS, 'sum', 'dropped', 'tbf', 'bl', 'micQ', 'prov', 'events'], rows));

  const report: Record<string, unknown> = { date: meta.date, pre: meta.pre, cut: new Date(cut).toISOString(), opensslKBps: meta.opensslKBps, loadMax: meta.loadMax, lagP99Ms: meta.lagP99Ms, windows: {} };
  for (const [name, from, to] of [['0-8 s', 0, 8000], ['8-18 s', 8000, 18000]] as const) {
    const totals = totalsByKind(packets, cut + from, cut + to);
    const h = heardBetween(meta.province, cut + from, cut + to);
    const q = tcBetween(meta.tc, cut + from, cut + to);
    const all = totals.reduce((s, k) => ({ pkts: s.pkts + k.pkts, bytes: s.bytes + k.bytes, dropped: s.dropped + k.dropped, kbpsOffered: s.kbpsOffered + k.kbpsOffered, kbpsSent: s.kbpsSent + k.kbpsSent }), { pkts: 0, bytes: 0, dropped: 0, kbpsOffered: 0, kbpsSent: 0 });
    console.log(`\n${name} after the cut: tbf dropped ${q.dropped} (paired captures: ${all.dropped}); the province: ${h.recv} audio packets received (${r1(h.recv / ((to - from) / 1000))}/s), ${h.lost} lost (${r1((100 * h.lost) / Math.max(1, h.recv + h.lost))} %), ${r1((100 * h.concMs) / Math.max(1, h.totalMs))} % concealed`);
    // tbf counts the Ethernet header (14 bytes) too: its 64 kbit/s are these.
    const l2 = (bytes: number, pkts: number): number => r1((8 * (bytes + 14 * pkts)) / (to - from));
    const mic = totals.find((k) => k.kind === 'send mic media');
    console.log(`  with Ethernet headers (as tbf counts): ${l2(all.bytes, all.pkts)} kbit/s offered, ${l2(all.bytes - totals.reduce((x, k) => x + k.droppedBytes, 0), all.pkts - all.dropped)} sent; the mic's media alone ${mic ? l2(mic.bytes, mic.pkts) : 0}; all but the mic ${mic ? l2(all.bytes - mic.bytes, all.pkts - mic.pkts) : '-'}`);
    console.log(table(['kind', 'pkts', 'IP bytes', 'kbit/s offered', 'kbit/s sent', 'dropped', '% dropped'], [
      ...totals.map((k) => [k.kind, k.pkts, k.bytes, r1(k.kbpsOffered), r1(k.kbpsSent), k.dropped, r1((100 * k.dropped) / k.pkts)]),
      ['all', all.pkts, all.bytes, r1(all.kbpsOffered), r1(all.kbpsSent), all.dropped, r1((100 * all.dropped) / Math.max(1, all.pkts))],
    ]));
    const ca = (meta.consumers ?? []).filter((c) => c.at <= cut + from).at(-1);
    const cb = (meta.consumers ?? []).filter((c) => c.at <= cut + to).at(-1);
    const nacks = Object.entries(cb?.by ?? {}).map(([label, b]) => {
      const a = ca?.by[label] ?? { nack: 0, nackPkts: 0, pli: 0, sent: 0 };
      return [label, b.nack - a.nack, b.nackPkts - a.nackPkts, b.pli - a.pli, b.sent - a.sent];
    });
    console.log(`the SFU's consumers for the hall, ${name}: NACK messages received (after the uplink), packets they asked for, PLIs, packets sent`);
    console.log(table(['consumer', 'NACKs', 'asked', 'PLIs', 'sent'], nacks));
    (report.windows as Record<string, unknown>)[name] = { tbfDropped: q.dropped, province: { ...h, concealedPct: (100 * h.concMs) / Math.max(1, h.totalMs) }, kinds: totals, consumers: nacks };
  }

  // Which kind coincides with the drops: mean kbit/s offered per group in the 250 ms slots with drops against those without.
  for (const [name, from, to] of [['0-8 s', 0, 8000], ['8-18 s', 8000, 18000]] as const) {
    const win = slots.filter((s) => s.t >= cut + from && s.t < cut + to);
    const withDrops = win.filter((s) => s.tcDrops > 0 || GROUPS.some((g) => s.drops[g]));
    const without = win.filter((s) => !withDrops.includes(s));
    const mean = (list: typeof win, g: string): number => (list.length ? list.reduce((x, s) => x + s.kbps[g]!, 0) / list.length : 0);
    const backlogs = meta.tc.filter((q) => q.at >= cut + from && q.at < cut + to).map((q) => q.backlog);
    console.log(`\n${name}: ${withDrops.length} slots of 250 ms with drops, ${without.length} without; tbf's backlog ≥ 3,000 B in ${backlogs.filter((b) => b >= 3000).length} of ${backlogs.length} samples (mean ${Math.round(backlogs.reduce((a, b) => a + b, 0) / Math.max(1, backlogs.length))} B); mean kbit/s offered by group`);
    console.log(table(['slots', ...GROUPS], [
      ['with drops', ...GROUPS.map((g) => r1(mean(withDrops, g)))],
      ['without', ...GROUPS.map((g) => r1(mean(without, g)))],
      ['drops (pkts)', ...GROUPS.map((g) => withDrops.reduce((x, s) => x + s.drops[g]!, 0))],
    ]));
  }

  // Per second: padding against the province's concealment.
  const secRows: (string | number)[][] = [];
  const seconds: { s: number; pad: number; micDrops: number; concMs: number }[] = [];
  for (let s = 0; s < 18; s++) {
    const list = slots.filter((x) => x.t >= cut + s * 1000 && x.t < cut + (s + 1) * 1000);
    const pad = list.reduce((x, b) => x + b.kbps.micPad! + b.kbps.pad!, 0) / Math.max(1, list.length);
    const nack = list.reduce((x, b) => x + b.kbps.nack!, 0) / Math.max(1, list.length);
    const micDrops = list.reduce((x, b) => x + b.drops.mic!, 0);
    const h = heardBetween(meta.province, cut + s * 1000, cut + (s + 1) * 1000);
    seconds.push({ s, pad, micDrops, concMs: h.concMs });
    const pa = (meta.bwe ?? []).filter((b) => b.at < cut + s * 1000).at(-1);
    const pb = (meta.bwe ?? []).filter((b) => b.at < cut + (s + 1) * 1000).at(-1);
    const v = pa?.videoIn && pb?.videoIn && pa !== pb ? `${pb.videoIn.recv - pa.videoIn.recv}/${pb.videoIn.lost - pa.videoIn.lost}/${pb.videoIn.nacks - pa.videoIn.nacks}/${pb.videoIn.plis - pa.videoIn.plis}/${pb.videoIn.frames - pa.videoIn.frames}` : '-';
    const rtt = pb?.rtt ? `${pb.rtt.send ?? '-'}/${pb.rtt.recv ?? '-'}` : '-';
    // Video receivers that sent NACKs in this second, of those the page has.
    const asking = pa?.nacksBySsrc && pb?.nacksBySsrc && pa !== pb ? `${Object.entries(pb.nacksBySsrc).filter(([k, n]) => n > (pa.nacksBySsrc![k] ?? 0)).length}/${Object.keys(pb.nacksBySsrc).length}` : '-';
    secRows.push([`${s}-${s + 1}`, pb?.send ?? '-', rtt, v, asking, r1(pad), r1(nack), micDrops, list.reduce((x, b) => x + b.tcDrops, 0), h.recv, h.lost, Math.round(h.concMs)]);
  }
  console.log('\nper second after the cut: the browser\'s estimate of its send transport (kbit/s, last reading), its RTT send/receive transport (ms), its video receivers: packets received/lost/NACKs sent/PLIs sent/frames decoded (getStats, 1 s samples), its video receivers that sent NACKs / all, padding kbit/s (any SSRC), NACK kbit/s, mic packets dropped, tbf drops, the province: recv, lost, concealed ms');
  console.log(table(['s', 'bwe', 'rtt', 'video in', 'asking', 'pad', 'nack', 'micDrop', 'tbf', 'recv', 'lost', 'conc ms'], secRows));
  // The province conceals up to a second after the uplink drops (its jitter buffer, the uplink's 0.5 s queue): the second after counts too.
  const w = seconds.filter((x) => x.s >= 8);
  const concWithNext = (x: (typeof w)[number]): number => x.concMs + heardBetween(meta.province, cut + (x.s + 1) * 1000, cut + (x.s + 2) * 1000).concMs;
  const part = (l: typeof w, label: string): string =>
    `${l.length} seconds ${label}: ${l.reduce((a, x) => a + x.micDrops, 0)} mic packets dropped (${r1(l.reduce((a, x) => a + x.micDrops, 0) / Math.max(1, l.length))}/s), ${Math.round(l.reduce((a, x) => a + x.concMs, 0))} ms concealed in them (${Math.round(l.reduce((a, x) => a + x.concMs, 0) / Math.max(1, l.length))} ms/s), ${Math.round(l.reduce((a, x) => a + concWithNext(x), 0) / Math.max(1, l.length))} ms/s with the next second`;
  const verdict = `8-18 s: ${part(w.filter((x) => x.pad >= 5), 'with padding ≥ 5 kbit/s')}; ${part(w.filter((x) => x.pad < 5), 'without')}`;
  console.log(verdict);
  report.padding = verdict;
  report.perSecond = seconds;
  fs.writeFileSync(path.join(dir, 'report.json'), JSON.stringify(report, null, 1));
}

/** How long after the cut a run's table goes (its 64 kbit/s phase). */
function tableEnd(meta: Meta): number {
  return Math.min(AT64_MS, meta.end - meta.cut);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--analyse') {
    analyse(args[1]!);
    return;
  }
  const dir = args[0] ?? `/tmp/uplink-bytes-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await record(dir);
  analyse(dir);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

