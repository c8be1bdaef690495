import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import type { RunningServer } from '../../server/app/server.ts';
import { AUDIO_ONLY_LABEL } from '../../server/core/health.ts';
import { inviteUrl, startTestServer } from '../helpers/server.ts';
import { launchChromium, openPage, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { waitLive } from '../helpers/hall-page.ts';
import { createNetRig, netRigSkipReason, type NetHost, type NetRig } from '../helpers/netns.ts';
import { startUdpRelay, type UdpRelay } from '../helpers/udp-relay.ts';
import { speechMicFlags } from '../helpers/speech-wav.ts';
import { audioBetween, audioFrom, chairWeakText, framesFrom, giveFloor, hallWeakText, micBackAfter, ProducerWatch, technicianTile, trialText, videoInbound, videoReceived } from '../helpers/weak-link.ts';

const PROVINCE = 'p-20'; // in the root namespace, on a clean link: it listens to the speaker
const WEAK = 'd-189'; // Huyện Đình Lập: a mountain district whose link is shaped with tbf
/** Opus packets a second at the microphone's 40 ms packets (audioFirst.ts); a whole stream arrives at about this rate. */
const AUDIO_PPS = 25;
/** What "the audio keeps arriving" means: at least this share of the packets a second. */
const KEEPS_ARRIVING = 0.8 * AUDIO_PPS;
/** A layer counts as stopped once it has been missing this long at the SFU (mediasoup marks a stream inactive after 1.5 s without packets). */
const TOP_LAYER_GONE_MS = 1500;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


describe('e2e: a speaking hall on a weak link (tbf in a network namespace, loss and delay from a user-space relay, real Chromium): audio first, audio only and back, and a network change', function () {
  this.timeout(60_000);
  let rig: NetRig;
  let relay: UdpRelay;
  const routes = new Map<string, { ip: string; port: number }>();
  let host: NetHost;
  let server: RunningServer;
  let root: TestBrowser;
  let weakBrowser: TestBrowser;
  let watch: ProducerWatch;
  const log: string[] = [];
  /** What the SFU told of the weak hall, with the time (the recovery's line prints the part after the link came back). */
  const timeline: { at: number; what: string }[] = [];
  const since = (t0: number): string => timeline.filter((e) => e.at >= t0).map((e) => `${((e.at - t0) / 1000).toFixed(1)} s ${e.what}`).join(', ');
  let province: Page;
  let weak: Page;
  let chair: Page;
  let technician: Page;

  /** The province's reception of the speaker's audio over `ms`: packets per second and audio lost after FEC. */
  const listen = async (ms: number): Promise<ReturnType<typeof audioBetween>> => {
    const a = await audioFrom(province, WEAK);
    await sleep(ms);
    return audioBetween(a, await audioFrom(province, WEAK));
  };

  before(async function () {
    this.timeout(120_000);
    const skip = netRigSkipReason();
    if (skip) {
      console.log(`      skipped: ${skip}`);
      this.skip();
    }
    watch = new ProducerWatch();
    rig = await createNetRig();
    server = await startTestServer(1, { listenIp: rig.rootIp }, { routes, healthIntervalMs: 1000 });
    // Đình Lập's media goes through the relay (transparent until impaired); its tbf is on its own link.
    const dump = (await server.pool.slot(0).webRtcServer.dump()) as unknown as { udpSockets: { port: number }[] };
    server.media.on('downlink', (e) => e.bridgeId === WEAK && timeline.push({ at: Date.now(), what: `downlink ${e.state} (${e.reason})${e.trial ? ` ${trialText(e.trial)}` : ''}` }));
    server.media.on('audioonly', (e) => e.bridgeId === WEAK && timeline.push({ at: Date.now(), what: `flags up ${e.up} down ${e.down}` }));
    relay = await startUdpRelay({ host: rig.rootIp, port: dump.udpSockets[0]!.port }, { listenIp: rig.rootIp });
    routes.set(WEAK, { ip: rig.rootIp, port: relay.port });
    // The province speaks the same speech (what the weak hall hears of it is printed at 64 kbit/s).
    root = await launchChromium({ secureOrigins: [server.url], args: speechMicFlags() });
    province = await openPage(root.browser, await inviteUrl(server, PROVINCE), log);
    host = await rig.addHost('dinhlap');
    // Its microphone speaks (a formant synthesis, test/helpers/speech-wav.ts): Opus codes speech in
    // SILK or hybrid mode, with in-band FEC; Chromium's own fake microphone, a beep, is coded as music.
    weakBrowser = await launchChromium({ netns: host.netns, secureOrigins: [server.url], args: speechMicFlags() });
    weak = await openPage(weakBrowser.browser, await inviteUrl(server, WEAK), log);
    await waitLive(province, PROVINCE);
    await waitLive(weak, WEAK);
    // The hall's own send rule (its camera's trials), with the reading that decided each step.
    await weak.exposeFunction('__testSendMode', (e: { mode: string; trial: string | false; kbps?: number | null; lossSeen?: boolean; nacks?: number; micLost?: number }) =>
      void timeline.push({ at: Date.now(), what: `hall ${e.mode}${e.trial ? ` trial ${e.trial}` : ''} (kbps ${e.kbps ?? '-'}${e.lossSeen ? ', loss seen' : ''}; NACKs ${e.nacks ?? '-'}, mic lost ${e.micLost ?? '-'})` }));
    await weak.evaluate(() => {
      const w = window as any;
      w.diemcau.client.on('sendmode', (d: unknown) => w.__testSendMode(d));
    });
    chair = await openPage(root.browser, await inviteUrl(server, 'chair', 'chair.html'), log);
    technician = await openPage(root.browser, await inviteUrl(server, 'technician', 'technician.html'), log);
    // Đình Lập has the floor: on air, its microphone open; the province hears it.
    await giveFloor(server, WEAK, 'Lương Văn Thắng', 'Chủ tịch HĐND huyện Đình Lập');
    await waitFor('the province hears Đình Lập', async () => (await audioFrom(province, WEAK)).packetsReceived > 50, 20_000, 250);
  });

  after(async () => {
    watch?.close();
    await weakBrowser?.close();
    await root?.close();
    await server?.close();
    await relay?.close();
    await rig?.close();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') {
      console.log(log.slice(-30).join('\n'));
      console.log(JSON.stringify(server?.conference.health.book.get(WEAK)?.last));
    }
  });

  it('on a clean link the speaker sends every simulcast layer and is heard', async () => {
    await waitFor('the top layer arrives', async () => (await watch.topLayer(WEAK)) === 2, 20_000, 250);
    const heard = await listen(2000);
    console.log(`      clean: ${heard.packetsPerSec.toFixed(0)} audio packets/s at the province, ${heard.concealedPct.toFixed(2)} % concealed`);
    expect(heard.packetsPerSec).to.be.greaterThan(KEEPS_ARRIVING);
    expect(heard.packetsPerSec, 'the microphone sends 40 ms packets').to.be.lessThan(1.25 * AUDIO_PPS);
  });

  it('256 kbit/s: its video steps down (the top layers stop) while its audio keeps arriving', async () => {
    await host.shape({ rateKbit: 256 });
    const cut = Date.now();
    // Stopped, not a dip: a layer still sent but losing most of its packets to the full link
    // scores 0 for a moment at the SFU, which once read as "stopped" 2 s before the browser
    // really dropped it (the check below then saw it again).
    let belowSince: number | null = null;
    await waitFor('the top layers stop', async () => {
      belowSince = (await watch.topLayer(WEAK)) < 2 ? (belowSince ?? Date.now()) : null;
      return belowSince !== null && Date.now() - belowSince >= TOP_LAYER_GONE_MS;
    }, 15_000, 250);
    const steppedAfter = belowSince! - cut;
    await sleep(2000);
    const top = await watch.topLayer(WEAK);
    const heard = await listen(4000);
    console.log(`      256 kbit/s: top layer ${top} after ${steppedAfter} ms (${JSON.stringify(await watch.camLayers(WEAK))}); ${heard.packetsPerSec.toFixed(0)} audio packets/s, ${heard.networkLossPct.toFixed(1)} % lost on the way, ${heard.concealedPct.toFixed(2)} % concealed; mode ${server.media.audioOnlyOf(WEAK).up ? 'audio only' : 'video'}`);
    expect(top).to.be.lessThan(2);
    expect(heard.packetsPerSec).to.be.greaterThan(KEEPS_ARRIVING);
  });

  it('128 kbit/s: its video goes down to the low layer or off, its audio keeps arriving', async () => {
    await host.shape({ rateKbit: 128 });
    await sleep(6000);
    const top = await watch.topLayer(WEAK);
    const heard = await listen(4000);
    console.log(`      128 kbit/s: top layer ${top}; ${heard.packetsPerSec.toFixed(0)} audio packets/s, ${heard.networkLossPct.toFixed(1)} % lost on the way, ${heard.concealedPct.toFixed(2)} % concealed; mode ${server.media.audioOnlyOf(WEAK).up ? 'audio only' : 'video'}`);
    expect(top).to.be.lessThan(1);
    expect(heard.packetsPerSec).to.be.greaterThan(KEEPS_ARRIVING);
  });

  it('64 kbit/s: audio only within 5 s, said on its display, its technicians\' tile and the chair\'s console; its speech stays intelligible', async () => {
    await host.shape({ rateKbit: 64 });
    const cut = Date.now();
    await waitFor('audio only at the server', async () => server.media.audioOnlyOf(WEAK).up, 10_000, 100);
    const toAudioOnly = Date.now() - cut;
    // Its own display says so (the others only hear it), and so do the technicians' tile and the chair's console.
    const shown = await waitFor('its display says so', async () => {
      const t = await hallWeakText(weak);
      return t.text ? t : undefined;
    }, 10_000, 250);
    expect(shown.text).to.equal(AUDIO_ONLY_LABEL);
    expect(shown.scope).to.equal('self');
    // The tile's mark follows the SFU's flags at once; its reason follows the health summary (every
    // 2 s, from the link samples): both must say so, the reason within a summary or two (a whole
    // run of 2026-12-07 23:13 read the reason at the instant the mark came: "độ trễ 270 ms; dao
    // động trễ 190 ms", the summary of a sample taken before).
    let lastTile: Awaited<ReturnType<typeof technicianTile>> | undefined;
    const tile = await waitFor('the technicians\' tile says so', async () => {
      const t = (lastTile = await technicianTile(technician, WEAK));
      return (t.audioOnly === 'up' || t.audioOnly === 'both') && t.reason.includes(AUDIO_ONLY_LABEL) ? t : undefined;
    }, 10_000, 250).catch((error: Error) => {
      throw new Error(`${error.message}; the tile: ${JSON.stringify(lastTile)}; the SFU: ${since(cut)}`);
    });
    expect(tile.status, 'the tile is not green').to.not.equal('ok');
    const console_ = await waitFor('the chair\'s console says so', async () => {
      const c = await chairWeakText(chair, WEAK);
      return c.preview && c.tile ? c : undefined;
    }, 10_000, 250);
    expect(console_.preview).to.equal(`Huyện Đình Lập: ${AUDIO_ONLY_LABEL}`);
    expect(console_.tile).to.equal(AUDIO_ONLY_LABEL);
    // The province, listening, sees the speaker's picture stand still with the same words.
    expect(await hallWeakText(province)).to.deep.include({ text: AUDIO_ONLY_LABEL, scope: 'speaker' });
    // Its downlink too: the SFU holds the chair's video it received (trials aside), and says so. The
    // words above may date from 128 kbit/s, where the downlink could still carry the low layer: the
    // hold follows the hall's next reports (every 2 s), so it is waited for.
    await waitFor('the SFU holds its downlink', async () => server.media.downlinkOf(WEAK) !== 'video', 10_000, 100);
    expect(server.media.audioOnlyOf(WEAK).down).to.equal(true);
    // The speech goes on: in the steady state the audio arrives whole, or nearly.
    await sleep(2000);
    const videoDown = await videoReceived(weak);
    // What the hall hears of the province over the same window (its downlink), and how the SFU holds its video meanwhile.
    const hearsFrom = await audioFrom(weak, PROVINCE);
    const states: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        states.push(server.media.downlinkOf(WEAK));
        await sleep(100);
      }
    })();
    const heard = await listen(5000);
    sampling = false;
    await sampler;
    const hears = audioBetween(hearsFrom, await audioFrom(weak, PROVINCE));
    const videoDownKbps = ((await videoReceived(weak)) - videoDown) * 8 / 5000;
    const videoShare = states.filter((x) => x === 'video').length / Math.max(1, states.length);
    console.log(`      64 kbit/s, the SFU: ${since(cut)}`);
    console.log(`      64 kbit/s: audio only ${toAudioOnly} ms after the cut; ${heard.packetsPerSec.toFixed(0)} audio packets/s, ${heard.networkLossPct.toFixed(1)} % lost on the way, ${heard.concealedPct.toFixed(2)} % concealed (goal ≤ 1 %: bench:weaklink); it hears the province: ${hears.packetsPerSec.toFixed(0)} packets/s, ${hears.concealedPct.toFixed(2)} % concealed; video down ${videoDownKbps.toFixed(1)} kbit/s, the SFU's hold: ${server.media.downlinkOf(WEAK)}, video given back ${(100 * videoShare).toFixed(0)} % of the time`);
    expect(toAudioOnly).to.be.at.most(5000);
    expect(heard.packetsPerSec).to.be.greaterThan(KEEPS_ARRIVING);
    // Intelligible: a few per cent concealed at most (the ≤ 1 % goal is measured by the benchmark).
    expect(heard.concealedPct).to.be.lessThan(5);
    expect((await watch.camLayers(WEAK)).r0?.bitrate ?? 0, 'no video goes up').to.be.lessThan(20_000);
    // Down: the hall hears the province. (How much of it is concealed is printed, not bounded yet:
    // 6.1 % in a run of 2026-12-07 18:16 with the province's microphone Chromium's beep, which
    // Opus codes as music at ~32 kbit/s, beside the trials' keyframes on the 64 kbit/s link;
    // bench:weaklink reports it as hears_at_64_concealed_pct.)
    expect(hears.packetsPerSec, 'the hall hears the province').to.be.greaterThan(KEEPS_ARRIVING);
    // The SFU holds its video: at most a trial's lowest layer now and then (every 2–4 s), and what a
    // trial that verified on an estimate left from before gives back until its probation fails
    // (DOWNLINK_RULE.probationMs; the CI run of 2026-12-07 had it given back for good: 21 kbit/s
    // down, 46 % of the downlink lost). A trial's keyframe on the lowest layer costs 5–10 kB.
    expect(videoShare, 'the video is not given back for good').to.be.lessThan(0.5);
    expect(videoDownKbps, 'little video goes down (under a third of the link)').to.be.lessThan(21);
  });

  it('the link recovers: video comes back by itself, and every screen drops the words', async () => {
    const framesBefore = await framesFrom(province, WEAK);
    const base = await videoInbound(weak);
    await host.shape(null);
    const restored = Date.now();
    // What the hall's browser receives of video meanwhile (its NACKs and losses: a trial that fails on a recovered link shows why).
    const inbound: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      let last = base;
      while (sampling) {
        await sleep(250);
        const v = await videoInbound(weak).catch(() => last);
        if (v.received !== last.received || v.nacks !== last.nacks || v.lost !== last.lost) {
          inbound.push(`${((v.at - restored) / 1000).toFixed(2)} s +${v.received - last.received} pkts lost ${v.lost - base.lost} nacks ${v.nacks - base.nacks} frames ${v.frames - base.frames}`);
        }
        last = v;
      }
    })();
    try {
      await waitFor('video again at the server', async () => !server.media.audioOnlyOf(WEAK).up && !server.media.audioOnlyOf(WEAK).down, 20_000, 100);
    } catch (error) {
      throw new Error(`${(error as Error).message}; the SFU and the hall after the recovery: ${since(restored)}`);
    } finally {
      sampling = false;
      await sampler;
      console.log(`      the hall's video receivers after the recovery: ${inbound.slice(0, 30).join('; ')}`);
    }
    expect(server.media.downlinkOf(WEAK), 'the SFU sends its video again').to.equal('video');
    await waitFor('the province decodes the speaker again', async () => (await framesFrom(province, WEAK)) > framesBefore + 10, 20_000, 250);
    const backToVideo = Date.now() - restored;
    console.log(`      restored: video back ${backToVideo} ms after the link recovered (goal ≤ 10 s); the SFU: ${since(restored)}`);
    await waitFor('the words go', async () => !(await hallWeakText(weak)).text && !(await hallWeakText(province)).text && !(await chairWeakText(chair, WEAK)).preview, 10_000, 250);
    await waitFor('the tile drops its mark', async () => (await technicianTile(technician, WEAK)).audioOnly === '', 10_000, 250);
    expect(backToVideo).to.be.at.most(15_000);
    // The floor never moved.
    expect(server.conference.runner.state.floor?.bridgeId).to.equal(WEAK);
  });

  it('10 % loss and 300 ms delay each way (the relay): its speech stays intelligible', async () => {
    relay.impair({ loss: 0.1, delayMs: 300 });
    try {
      await sleep(4000);
      const heard = await listen(6000);
      console.log(`      10 % loss, 300 ms: ${heard.packetsPerSec.toFixed(0)} audio packets/s, ${heard.networkLossPct.toFixed(1)} % lost on the way, ${heard.concealedPct.toFixed(2)} % concealed after FEC; mode ${server.media.audioOnlyOf(WEAK).up ? 'audio only' : 'video'}`);
      expect(heard.networkLossPct, 'the relay really drops').to.be.greaterThan(3);
      // Of every ten packets one is lost on the way: the rest arrive.
      expect(heard.packetsPerSec).to.be.greaterThan(0.7 * AUDIO_PPS);
      // Nothing is lost beyond what the network lost: the 300 ms do not make packets late for the
      // jitter buffer. (FEC did not measurably lower the concealment at 10 % random loss here:
      // docs/benchmarks.md, bench:weaklink.)
      expect(heard.concealedPct).to.be.lessThan(heard.networkLossPct + 1);
    } finally {
      relay.impair({ loss: 0, delayMs: 0 });
    }
  });

  it('a network change mid-speech (its namespace moves to another address): an ICE restart, not a rejoin, and its speech is back within 3 s', async () => {
    await waitFor('speech flowing', async () => (await listen(1000)).packetsPerSec > KEEPS_ARRIVING, 15_000, 0);
    const peerBefore = server.media.snapshot().peers.find((p) => p.bridgeId === WEAK)!.peerId;
    const micBefore = watch.producer(WEAK, 'mic')!.id;
    await weak.evaluate(() => {
      const w = window as any;
      w.__recovery = [];
      w.diemcau.client.on('recovery', (e: unknown) => w.__recovery.push(e));
    });
    const heardBefore = (await audioFrom(province, WEAK)).packetsReceived;
    const from = host.ip;
    const moved = Date.now();
    await host.moveTo();
    const back = await micBackAfter(watch, WEAK, moved, 10_000);
    const tookMs = back - moved;
    const events = (await weak.evaluate(() => (window as any).__recovery)) as { type: string; reason: string }[];
    console.log(`      moved ${from} → ${host.ip}: speech back at the SFU ${tookMs} ms after the move (goal ≤ 3 s); recovery: ${events.map((e) => `${e.type} (${e.reason})`).join(', ')}`);
    expect(tookMs).to.be.at.most(3000);
    await waitFor('the province hears it again', async () => (await audioFrom(province, WEAK)).packetsReceived > heardBefore + 25, 5000, 100);
    // The same peer and the same microphone producer: restarted, not rejoined; the floor never moved.
    expect(server.media.snapshot().peers.find((p) => p.bridgeId === WEAK)?.peerId).to.equal(peerBefore);
    expect(watch.producer(WEAK, 'mic')!.id).to.equal(micBefore);
    expect(events.some((e) => e.type === 'restarted')).to.equal(true);
    expect(server.conference.runner.state.floor?.bridgeId).to.equal(WEAK);
  });
});
