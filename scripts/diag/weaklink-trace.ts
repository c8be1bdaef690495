// A trace of one speaking hall on a shaped link (issue 17): every 250 ms what its browser sends
// (per simulcast layer and the microphone), its bandwidth estimate and send mode, what tbf did
// with it (sent, dropped, backlog, both ways), what the SFU received of its microphone, what the
// province heard, and the Opus packets themselves (mode, frames, in-band FEC flags) read from a
// DirectTransport consumer of its microphone. Not a benchmark: a tool to see where audio is lost.
//
//   flock /work/wt/.heavy.lock bash scripts/with-env.sh node --import tsx scripts/diag/weaklink-trace.ts [out.jsonl]
//
// Phases: clean 6 s; 64 kbit/s both ways 40 s; restored 15 s; 10 % loss + 300 ms each way 20 s.
// The hall's microphone speaks (test/helpers/speech-wav.ts); TRACE_TONE=1 gives it Chromium's own beep.
import fs from 'node:fs';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import type { Page } from 'puppeteer-core';
import { inviteUrl, startTestServer } from '../../test/helpers/server.ts';
import { launchChromium, openPage } from '../../test/helpers/chromium.ts';
import { speechMicFlags } from '../../test/helpers/speech-wav.ts';
import { waitLive } from '../../test/helpers/hall-page.ts';
import { createNetRig, run } from '../../test/helpers/netns.ts';
import { startUdpRelay } from '../../test/helpers/udp-relay.ts';
import { audioFrom, giveFloor, ProducerWatch, recordPeerConnections } from '../../test/helpers/weak-link.ts';

const PROVINCE = 'p-20';
const WEAK = 'd-189';
const out = process.argv[2] ?? '/tmp/weaklink-trace.jsonl';
const phases = (process.env.TRACE_PHASES ?? 'clean:6,64:40,restored:15,lossy:20').split(',').map((p) => {
  const [name, s] = p.split(':');
  return { name: name!, ms: Number(s) * 1000 };
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Opus packet facts: TOC mode, ms per Opus frame, Opus frames, LBRR (FEC) flag of the first frame as libwebrtc reads it. */
function opusFacts(payload: Buffer): { mode: 'silk' | 'hybrid' | 'celt'; frameMs: number; frames: number; fec: boolean; bw: string } | null {
  if (payload.length < 2) return null;
  const toc = payload[0]!;
  const config = toc >> 3;
  const mode = config < 12 ? 'silk' : config < 16 ? 'hybrid' : 'celt';
  const frameMs = mode === 'silk' ? [10, 20, 40, 60][config % 4]! : mode === 'hybrid' ? [10, 20][config % 2]! : [2.5, 5, 10, 20][config % 4]!;
  const bw = mode === 'silk' ? ['nb', 'mb', 'wb'][Math.floor(config / 4)]! : mode === 'hybrid' ? (config < 14 ? 'swb' : 'fb') : ['nb', 'wb', 'swb', 'fb'][Math.floor((config - 16) / 4)]!;
  const code = toc & 3;
  let frames = 1;
  let offset = 1;
  if (code === 1) frames = 2;
  else if (code === 2) {
    frames = 2;
    offset += payload[1]! < 252 ? 1 : 2;
  } else if (code === 3) {
    const c = payload[1]!;
    frames = c & 0x3f;
    offset = 2;
    if (c & 0x40) {
      let p = 255;
      while (p === 255 && offset < payload.length) p = payload[offset++]!;
    }
    if (c & 0x80) for (let i = 0; i < frames - 1; i++) offset += payload[offset]! < 252 ? 1 : 2;
  }
  let fec = false;
  if (mode !== 'celt' && offset < payload.length) {
    const silkFrames = frameMs <= 20 ? 1 : frameMs === 40 ? 2 : 3;
    fec = (payload[offset]! & (0x80 >> silkFrames)) !== 0;
  }
  return { mode, frameMs, frames, fec, bw };
}

function rtpPayload(packet: Buffer): Buffer {
  const cc = packet[0]! & 0x0f;
  let offset = 12 + cc * 4;
  if (packet[0]! & 0x10) offset += 4 + packet.readUInt16BE(offset + 2) * 4;
  let end = packet.length;
  if (packet[0]! & 0x20) end -= packet[packet.length - 1]!;
  return packet.subarray(offset, end);
}

/** The hall's TCP (its websocket and page loads): bytes sent and received over every connection open now. */
async function tcpBytes(netns: string): Promise<{ sent: number; recv: number; conns: number }> {
  const text = await run('ip', ['netns', 'exec', netns, 'ss', '-tinH']).catch(() => '');
  let sent = 0;
  let recv = 0;
  let conns = 0;
  for (const m of text.matchAll(/bytes_sent:(\d+).*?bytes_received:(\d+)/g)) {
    sent += Number(m[1]);
    recv += Number(m[2]);
    conns++;
  }
  return { sent, recv, conns };
}

async function tcStats(netns: string, dev: string): Promise<{ bytes: number; pkts: number; dropped: number; overlimits: number; backlog: number } | null> {
  const text = await run('tc', ['-n', netns, '-s', 'qdisc', 'show', 'dev', dev]).catch(() => '');
  const m = /Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)/.exec(text);
  const b = /backlog (\d+)b/.exec(text);
  return m ? { bytes: Number(m[1]), pkts: Number(m[2]), dropped: Number(m[3]), overlimits: Number(m[4]), backlog: b ? Number(b[1]) : 0 } : null;
}

/** The weak page's own view: per outbound stream, the estimate, the mic's remote view, what it receives of the chair. */
function pageSample(page: Page): Promise<unknown> {
  return page.evaluate(async () => {
    const w = window as any;
    const res: any = { out: {}, bwe: null, remoteAudio: null, inAudio: null, transports: [] };
    for (const pc of w.__pcs ?? []) {
      if (pc.connectionState === 'closed') continue;
      const report = await pc.getStats();
      report.forEach((s: any) => {
        // Everything a transport sent and received (RTP, RTCP feedback, STUN): the receive transport's bytesSent is the hall's feedback.
        if (s.type === 'transport') res.transports.push({ sent: s.bytesSent, recv: s.bytesReceived, pktsSent: s.packetsSent, pktsRecv: s.packetsReceived });
        if (s.type === 'inbound-rtp') {
          res.inBytes ??= { audio: 0, video: 0, audioPkts: 0, videoPkts: 0, nackSent: 0, pliSent: 0 };
          res.inBytes.pliSent += (s.pliCount ?? 0) + (s.firCount ?? 0);
          res.inBytes[s.kind] += s.bytesReceived + (s.headerBytesReceived ?? 0);
          res.inBytes[`${s.kind}Pkts`] += s.packetsReceived;
          res.inBytes.nackSent += s.nackCount ?? 0;
        }
        if (s.type === 'outbound-rtp') {
          const key = s.kind === 'audio' ? 'mic' : s.rid ?? s.ssrc;
          res.out[key] = { bytes: s.bytesSent, pkts: s.packetsSent, frames: s.framesEncoded, kf: s.keyFramesEncoded, active: s.active, w: s.frameWidth, target: s.targetBitrate, ql: s.qualityLimitationReason, retx: s.retransmittedBytesSent };
        } else if (s.type === 'candidate-pair' && s.nominated && typeof s.availableOutgoingBitrate === 'number') {
          res.bwe = Math.round(s.availableOutgoingBitrate / 1000);
          res.rtt = s.currentRoundTripTime;
        } else if (s.type === 'remote-inbound-rtp' && s.kind === 'audio') {
          res.remoteAudio = { lost: s.packetsLost, fraction: s.fractionLost, rtt: s.roundTripTime };
        } else if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          res.inAudio = { recv: s.packetsReceived, lost: s.packetsLost, conc: s.concealedSamples - s.silentConcealedSamples, total: s.totalSamplesReceived };
        }
      });
    }
    res.mode = w.diemcau?.client?.sendMode;
    return res;
  });
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const log = (o: unknown): void => void lines.push(JSON.stringify(o));
  const routers = new Map<string, ms.Router>();
  const transports: ms.Transport[] = [];
  /** The SFU's side of the weak hall's receive transport: its estimate of the downlink, and what it sent (media, retransmissions, probation). */
  const sfuRecvTransport = async (): Promise<unknown> => {
    const peerId = server.media.snapshot().peers.find((p) => p.bridgeId === WEAK)?.peerId;
    const t = transports.find((x) => !x.closed && x.appData.peerId === peerId && x.appData.direction === 'recv');
    const s = t ? (await t.getStats().catch(() => []))[0] : undefined;
    return s ? { bwe: Math.round((s.availableOutgoingBitrate ?? 0) / 1000), sent: s.bytesSent, rtx: s.rtxBytesSent, probation: s.probationBytesSent, recv: s.bytesReceived } : null;
  };
  const onWorker = (worker: ms.Worker): void => {
    worker.observer.on('newrouter', (router) =>
      router.observer.on('newtransport', (t) => {
        transports.push(t);
        t.observer.on('newproducer', (p) => routers.set(p.id, router));
      }),
    );
  };
  mediasoup.observer.on('newworker', onWorker);
  const watch = new ProducerWatch();
  const rig = await createNetRig();
  const routes = new Map<string, { ip: string; port: number }>();
  const server = await startTestServer(1, { listenIp: rig.rootIp }, { routes, healthIntervalMs: 1000 });
  const dump = (await server.pool.slot(0).webRtcServer.dump()) as unknown as { udpSockets: { port: number }[] };
  const relay = await startUdpRelay({ host: rig.rootIp, port: dump.udpSockets[0]!.port }, { listenIp: rig.rootIp });
  routes.set(WEAK, { ip: rig.rootIp, port: relay.port });
  const root = await launchChromium({ secureOrigins: [server.url] });
  const host = await rig.addHost('dinhlap');
  const weakBrowser = await launchChromium({ netns: host.netns, secureOrigins: [server.url], args: process.env.TRACE_TONE ? [] : speechMicFlags() });
  const events: unknown[] = [];
  try {
    const province = await openPage(root.browser, await inviteUrl(server, PROVINCE));
    const weak = await weakBrowser.browser.newPage();
    await recordPeerConnections(weak);
    await weak.goto(await inviteUrl(server, WEAK), { waitUntil: 'domcontentloaded' });
    await waitLive(province, PROVINCE);
    await waitLive(weak, WEAK);
    await weak.exposeFunction('__event', (e: unknown) => void events.push({ t: Date.now(), ...(e as object) }));
    await weak.evaluate(() => {
      const w = window as any;
      w.diemcau.client.on('sendmode', (d: unknown) => w.__event({ type: 'sendmode', ...(d as object) }));
      w.diemcau.client.on('audioonly', (d: unknown) => w.__event({ type: 'audioonly', ...(d as object) }));
    });
    server.media.on('downlink', (e) => e.bridgeId === WEAK && events.push({ t: Date.now(), type: 'sfu', state: e.state, reason: e.reason, trial: e.trial }));
    await giveFloor(server, WEAK, 'Lương Văn Thắng', 'Chủ tịch HĐND huyện Đình Lập');
    while ((await watch.topLayer(WEAK)) !== 2) await sleep(250);
    // SDP: the Opus lines both ways.
    const sdp = await weak.evaluate(() => ((window as any).__pcs as RTCPeerConnection[]).map((pc) => ({
      local: (pc.localDescription?.sdp ?? '').split('\r\n').filter((l) => /opus|a=fmtp:(100|111)|ptime/.test(l)),
      remote: (pc.remoteDescription?.sdp ?? '').split('\r\n').filter((l) => /opus|a=fmtp:(100|111)|ptime/.test(l)),
    })));
    log({ sdp });
    // The microphone's Opus packets at the SFU.
    const mic = watch.producer(WEAK, 'mic')!;
    const router = routers.get(mic.id)!;
    const direct = await router.createDirectTransport();
    const consumer = await direct.consume({ producerId: mic.id, rtpCapabilities: router.rtpCapabilities });
    let opus = { n: 0, silk: 0, hybrid: 0, celt: 0, fec: 0, frames2: 0, bytes: 0, bw: {} as Record<string, number>, frameMs: {} as Record<string, number> };
    consumer.on('rtp', (packet: Buffer) => {
      const f = opusFacts(rtpPayload(packet));
      if (!f) return;
      opus.n++;
      opus[f.mode]++;
      if (f.fec) opus.fec++;
      if (f.frames > 1) opus.frames2++;
      opus.bytes += packet.length;
      opus.bw[f.bw] = (opus.bw[f.bw] ?? 0) + 1;
      opus.frameMs[f.frameMs] = (opus.frameMs[f.frameMs] ?? 0) + 1;
    });
    const t0 = Date.now();
    let phase = 'setup';
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const at = Date.now();
        const [sfuRecv, tcp, up, down, page, heard, micStats] = await Promise.all([
          sfuRecvTransport(),
          tcpBytes(host.netns),
          tcStats(host.netns, 'eth0'),
          tcStats(rig.names.core, rig.names.bridgePort('dinhlap')),
          pageSample(weak).catch((e: Error) => ({ error: e.message })),
          audioFrom(province, WEAK),
          mic.getStats().catch(() => []),
        ]);
        const o = opus;
        opus = { n: 0, silk: 0, hybrid: 0, celt: 0, fec: 0, frames2: 0, bytes: 0, bw: {}, frameMs: {} };
        log({ t: at - t0, phase, sfuRecv, tcp, up, down, page, heard, sfuDownlink: server.media.downlinkOf(WEAK), sfuMic: micStats.map((s) => ({ pkts: s.packetCount, lost: s.packetsLost, frac: s.fractionLost, bitrate: s.bitrate })), opus: o, events: events.splice(0) });
        await sleep(Math.max(0, 250 - (Date.now() - at)));
      }
    })();
    for (const p of phases) {
      phase = p.name;
      if (p.name === 'clean' || p.name === 'restored') await host.shape(null);
      else if (/^\d+$/.test(p.name)) await host.shape({ rateKbit: Number(p.name) });
      if (p.name === 'lossy') relay.impair({ loss: 0.1, delayMs: 300 });
      else relay.impair({ loss: 0, delayMs: 0 });
      const a = await audioFrom(province, WEAK);
      await sleep(p.ms);
      const b = await audioFrom(province, WEAK);
      const lost = Math.max(0, b.packetsLost - a.packetsLost);
      const recv = b.packetsReceived - a.packetsReceived;
      const conc = b.concealedSamples - a.concealedSamples - (b.silentConcealedSamples - a.silentConcealedSamples);
      const summary = { phase: p.name, seconds: (b.at - a.at) / 1000, pps: recv / ((b.at - a.at) / 1000), lostPct: (100 * lost) / Math.max(1, recv + lost), concealedPct: (100 * conc) / Math.max(1, b.totalSamplesReceived - a.totalSamplesReceived) };
      console.log(JSON.stringify(summary));
      log({ summary });
    }
    sampling = false;
    await sampler;
    direct.close();
  } finally {
    fs.writeFileSync(out, lines.join('\n') + '\n');
    console.log(`trace: ${out} (${lines.length} lines)`);
    mediasoup.observer.off('newworker', onWorker);
    watch.close();
    await weakBrowser.close().catch(() => undefined);
    await root.close().catch(() => undefined);
    await server.close().catch(() => undefined);
    await relay.close();
    await rig.close();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
