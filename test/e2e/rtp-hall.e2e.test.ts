// Hardware halls over RTP, with Debian's ffmpeg standing in for the conference codecs: two
// "devices" send a test pattern and a tone to the ports of their device sheets (one with SRTP,
// one plain), come online in the roll-call, are heard when given the floor, and a third ffmpeg
// decodes the programme from the SDP file of the first hall's sheet.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../config/index.ts';
import { defaultPlan } from '../../config/default-plan.ts';
import { startServer, type RunningServer } from '../../server/app/server.ts';
import type { DeviceSheet } from '../../server/app/rtp-halls/DeviceSheet.ts';
import type { ConferencePlan } from '../../server/protocol/plan.ts';
import { freePortBase, inviteUrl, tokenOf } from '../helpers/server.ts';
import { launchChromium, openPage, type TestBrowser } from '../helpers/chromium.ts';
import { pageVideo, waitLive } from '../helpers/hall-page.ts';
import type { Page } from 'puppeteer-core';
import { waitFor } from '../integration/media-fixture.ts';

const SRTP_HALL = 'c-05971'; // a commune of Thành phố Lạng Sơn, its codec speaks SRTP and sends VP8
const PLAIN_HALL = 'd-180'; // a district whose room codec sends H264 over plain RTP
const BROWSER_HALL = 'd-178'; // a browser hall (Chromium)
const CHAIR = { role: 'chair' } as const;

/** The default plan with two bridges turned into hardware halls. */
function planWithHardwareHalls(): ConferencePlan {
  const plan = defaultPlan();
  return {
    ...plan,
    bridges: plan.bridges.map((b) => {
      if (b.id === SRTP_HALL) return { ...b, kind: 'rtp' as const, rtp: { srtp: true, videoCodec: 'VP8' as const } };
      if (b.id === PLAIN_HALL) return { ...b, kind: 'rtp' as const, rtp: { srtp: false, videoCodec: 'H264' as const } };
      return b;
    }),
  };
}

const VIDEO_ENCODER: Record<string, string[]> = {
  VP8: ['-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-threads', '1', '-b:v', '600k', '-g', '25'],
  // A room codec's H264: constrained baseline, an IDR (with SPS/PPS in band) every second.
  H264: ['-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-threads', '1', '-b:v', '600k', '-g', '25'],
};

/** ffmpeg sending a test pattern (VP8 or H264, as the sheet says) and a 1 kHz tone (Opus) as the device of a sheet. */
function deviceArgs(sheet: DeviceSheet): string[] {
  const s = sheet.send;
  const out = (stream: DeviceSheet['send']['audio']): string[] => [
    '-payload_type', String(stream.codec.payloadType),
    '-ssrc', String(stream.ssrc),
    '-f', 'rtp',
    ...(s.srtp ? ['-srtp_out_suite', s.srtp.suite, '-srtp_out_params', s.srtp.keyBase64] : []),
    `${s.srtp ? 'srtp' : 'rtp'}://${s.ip}:${stream.port}?rtcpport=${stream.port}&pkt_size=1200`,
  ];
  return [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000',
    '-map', '0:v', ...VIDEO_ENCODER[s.video.codec.name]!, ...out(s.video),
    '-map', '1:a', '-c:a', 'libopus', '-b:a', '48k', '-ac', '2', ...out(s.audio),
  ];
}

describe('Hardware halls over RTP: ffmpeg as the conference codec (real server, real mediasoup, real ffmpeg)', function () {
  this.timeout(60_000);
  let server: RunningServer;
  let technician: string;
  let rtcRange: { min: number; max: number };
  const processes: ChildProcess[] = [];
  const sockets: dgram.Socket[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-rtp-'));
  let chromium: TestBrowser | undefined;
  let browserHall: Page | undefined;
  const pageLog: string[] = [];
  let startedAt = 0;

  function ffmpeg(args: string[], label: string): ChildProcess & { stderrText: () => string } {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => (stderr += `spawn failed: ${e.message}`));
    processes.push(child);
    return Object.assign(child, { stderrText: () => `${label}: ${stderr}` });
  }

  async function api(method: string, url: string, token: string | null, body?: unknown): Promise<{ status: number; json: any; text: string; type: string | null }> {
    const res = await fetch(`${server.url}/api${url}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json: any = null;
    try {
      json = JSON.parse(text);
    } catch {
      // not JSON (the SDP file)
    }
    return { status: res.status, json, text, type: res.headers.get('content-type') };
  }

  /** A second ffmpeg plays the device: decodes `frames` frames of the programme from the sheet's SDP file. */
  async function decodeProgramme(sdpFile: string, frames: number): Promise<{ log: string; tail: string }> {
    // Video and audio to outputs of their own: one muxer interleaving both could hold the audio
    // back behind the video's timestamps and stop before writing it.
    const receiver = ffmpeg(
      ['-hide_banner', '-nostdin', '-protocol_whitelist', 'file,udp,rtp', '-i', sdpFile, '-map', '0:v', '-frames:v', String(frames), '-f', 'null', '-', '-map', '0:a', '-t', '2', '-f', 'null', '-'],
      'programme receiver',
    );
    const killer = setTimeout(() => receiver.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => receiver.once('exit', (c) => resolve(c)));
    clearTimeout(killer);
    const log = receiver.stderrText();
    const tail = log.slice(-3000);
    expect(code, tail).to.equal(0);
    const decoded = [...log.matchAll(/frame=\s*(\d+)/g)].map((m) => Number(m[1]));
    expect(Math.max(0, ...decoded), tail).to.be.at.least(frames);
    return { log, tail };
  }

  /** The chair takes the floor back and gives it to this hall (its request through the host, as its operator's). */
  async function giveFloor(bridgeId: string, speakerName: string, speakerTitle: string): Promise<void> {
    if (server.conference.view(CHAIR).floor) expect((await server.conference.execute(CHAIR, { type: 'revoke_floor' })).ok).to.equal(true);
    const request = await server.conference.execute({ role: 'operator', bridgeId }, { type: 'request_floor', bridgeId, speakerName, speakerTitle });
    expect(request.ok, JSON.stringify(request)).to.equal(true);
    expect((await server.conference.execute(CHAIR, { type: 'grant_next' })).ok).to.equal(true);
    await waitFor(`${bridgeId} on the programme`, () => server.media.onAir === bridgeId, 5000);
  }

  /** Whose video a hardware hall's device is being sent (its live programme video consumers). */
  const programmeVideo = (bridgeId: string): string[] =>
    server.media.snapshot().peers.find((p) => p.peerId === `rtp:${bridgeId}`)!.consumers.filter((c) => c.slot === 'onair' && c.kind === 'video').map((c) => c.bridgeId);

  const online = (bridgeId: string): boolean => server.conference.view(CHAIR).presence?.[bridgeId]?.online === true;

  before(async () => {
    startedAt = Date.now();
    const workers = 2;
    const webRtcBasePort = await freePortBase(workers);
    const rtcMinPort = Math.min(await freePortBase(1), 64000);
    rtcRange = { min: rtcMinPort, max: rtcMinPort + 999 };
    const config = loadConfig({}, { listenIp: '127.0.0.1', httpPort: 0, workers, webRtcBasePort, rtcMinPort, rtcMaxPort: rtcRange.max, logLevel: 'warn', store: 'memory' });
    server = await startServer(config, planWithHardwareHalls(), { healthIntervalMs: 1000 });
    technician = await tokenOf(server, 'technician');
  });

  after(async () => {
    for (const p of processes) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const s of sockets) s.close();
    await chromium?.close();
    await server?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
    console.log(`      (rtp-hall e2e: ${((Date.now() - startedAt) / 1000).toFixed(1)} s)`);
  });

  it('gives technicians the device sheet, refuses bad requests with stable codes', async () => {
    const list = await api('GET', '/rtp-halls', technician);
    expect(list.status).to.equal(200);
    expect(list.json.map((l: { bridgeId: string }) => l.bridgeId).sort()).to.deep.equal([PLAIN_HALL, SRTP_HALL].sort());

    const sheet = (await api('GET', `/rtp-halls/${SRTP_HALL}/sheet`, technician)).json as DeviceSheet;
    expect(sheet.srtp).to.equal(true);
    expect(sheet.send.ip).to.equal('127.0.0.1');
    expect(sheet.send.audio.port).to.not.equal(sheet.send.video.port);
    // The device ports come from the RTP range the firewall opens (the workers' RTC range).
    for (const port of [sheet.send.audio.port, sheet.send.video.port]) expect(port).to.be.within(rtcRange.min, rtcRange.max);
    expect(sheet.send.audio.codec).to.include({ name: 'opus', clockRate: 48000, channels: 2 });
    expect(sheet.send.video.codec).to.include({ name: 'VP8', clockRate: 90000 });
    expect(Buffer.from(sheet.send.srtp!.keyBase64, 'base64')).to.have.length(30);
    expect(sheet.send.srtp!.inline).to.equal(`inline:${sheet.send.srtp!.keyBase64}`);
    expect(sheet.receive.audio.srtp?.suite).to.equal('AES_CM_128_HMAC_SHA1_80');
    expect(sheet.programmeSdp).to.equal(null);
    expect(sheet.ffmpeg.send).to.contain(`-ssrc ${sheet.send.video.ssrc}`);
    const plain = (await api('GET', `/rtp-halls/${PLAIN_HALL}/sheet`, technician)).json as DeviceSheet;
    expect(plain.send.srtp).to.equal(null);
    expect(plain.send.video.codec).to.include({ name: 'H264', clockRate: 90000 });
    expect(plain.receive.video.codecs.map((c) => c.name), 'a device receives the video codec it sends').to.deep.equal(['H264']);
    expect(plain.receive.video.srtp).to.equal(null);

    // A hall's own operator sees its sheet; another hall's operator, or no token, does not.
    const own = await tokenOf(server, SRTP_HALL);
    expect((await api('GET', `/rtp-halls/${SRTP_HALL}/sheet`, own)).status).to.equal(200);
    const other = await api('GET', `/rtp-halls/${SRTP_HALL}/sheet`, await tokenOf(server, PLAIN_HALL));
    expect([other.status, other.json.error.code]).to.deep.equal([403, 'forbidden']);
    const none = await api('GET', `/rtp-halls/${SRTP_HALL}/sheet`, null);
    expect([none.status, none.json.error.code]).to.deep.equal([401, 'unauthenticated']);
    const browserHall = await api('GET', '/rtp-halls/d-178/sheet', technician);
    expect([browserHall.status, browserHall.json.error.code]).to.deep.equal([404, 'unknown_bridge']);
    const noSdp = await api('GET', `/rtp-halls/${SRTP_HALL}/programme.sdp`, technician);
    expect([noSdp.status, noSdp.json.error.code]).to.deep.equal([409, 'invalid_state']);
    for (const bad of [{ ip: 'hall.local', audioPort: 5004, videoPort: 5006 }, { ip: '10.0.0.5', audioPort: 80, videoPort: 5006 }, { ip: '10.0.0.5', audioPort: 5004, videoPort: 5004 }, { ip: '10.0.0.5', audioPort: 5004, videoPort: 5006, extra: 1 }]) {
      const r = await api('PUT', `/rtp-halls/${SRTP_HALL}/receive`, technician, bad);
      expect([r.status, r.json.error.code], JSON.stringify(bad)).to.deep.equal([400, 'invalid_payload']);
    }
    // A body that is not JSON at all is told apart from JSON with wrong fields (the API's one entry, issue 18).
    const malformed = await api('PUT', `/rtp-halls/${SRTP_HALL}/receive`, technician, '{"ip":');
    expect([malformed.status, malformed.json.error.code]).to.deep.equal([400, 'malformed_json']);
  });

  it('an ffmpeg "device" per hall comes online in the roll-call once its media arrives', async () => {
    expect(online(SRTP_HALL)).to.equal(false);
    const srtpSheet = (await api('GET', `/rtp-halls/${SRTP_HALL}/sheet`, technician)).json as DeviceSheet;
    ffmpeg(deviceArgs(srtpSheet), `device ${SRTP_HALL}`);
    // The H264 hall runs the very command its sheet gives the technician (1280×720).
    const plainSheet = (await api('GET', `/rtp-halls/${PLAIN_HALL}/sheet`, technician)).json as DeviceSheet;
    const command = plainSheet.ffmpeg.send.replace(/^ffmpeg /, 'exec ffmpeg -hide_banner -loglevel error -nostdin ');
    const shell = spawn('bash', ['-c', command], { stdio: ['ignore', 'ignore', 'pipe'] });
    processes.push(shell);
    await waitFor('both hardware halls online in the roll-call', () => online(SRTP_HALL) && online(PLAIN_HALL), 10_000, 100);
    // The server decrypted and accepted the device's packets (SRTP included): its producers count them.
    await waitFor('packets counted on the SRTP hall\'s producers', async () => ((await server.media.linkCounters(SRTP_HALL))?.up.packets ?? 0) > 100, 5000, 200);
    await waitFor('the SRTP hall\'s link sampled online', () => server.conference.health.book.get(SRTP_HALL)?.status !== 'offline' && server.conference.health.book.get(SRTP_HALL)?.last?.online, 4000, 100);
    const health = server.conference.health.book.get(SRTP_HALL)!;
    // The server's own counters stand in for the browser's report: the device's uplink is measured.
    await waitFor('the SRTP hall\'s uplink bitrate sampled', () => (server.conference.health.book.get(SRTP_HALL)?.last?.bitrateUpKbps ?? 0) > 50, 4000, 100);
    expect(health.status).to.equal('ok');
  });

  it('is heard when given the floor: its microphone opens and reaches the other hall\'s device', async () => {
    // The plain hall's device receives the programme on two local ports of this test.
    const audioIn = dgram.createSocket('udp4');
    const videoIn = dgram.createSocket('udp4');
    sockets.push(audioIn, videoIn);
    await Promise.all([audioIn, videoIn].map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', r))));
    const setRes = await api('PUT', `/rtp-halls/${PLAIN_HALL}/receive`, technician, { ip: '127.0.0.1', audioPort: audioIn.address().port, videoPort: videoIn.address().port });
    expect(setRes.status).to.equal(200);
    expect(setRes.json.programmeSdp).to.contain(`m=audio ${audioIn.address().port} RTP/AVP`);
    const opusPt = (setRes.json as DeviceSheet).receive.audio.codecs[0]!.payloadType;
    const audioSsrcs = new Map<number, number>();
    audioIn.on('message', (m) => {
      if (m.length > 12 && (m[1]! & 0x7f) === opusPt) audioSsrcs.set(m.readUInt32BE(8), (audioSsrcs.get(m.readUInt32BE(8)) ?? 0) + 1);
    });

    const before = (await server.media.micReport()).find((e) => e.bridgeId === SRTP_HALL);
    expect(before, 'the SRTP hall publishes a microphone').to.not.equal(undefined);
    expect(before!.open).to.equal(false);
    expect(before!.packetsForwarded, 'a closed microphone reaches no one').to.equal(0);

    expect((await server.conference.execute(CHAIR, { type: 'start_meeting' })).ok).to.equal(true);
    // The hall's operator asks for the floor from its panel (operator.html, its invite link), as
    // any operator does; the panel's socket does not put the hall online (its device does).
    chromium = await launchChromium();
    const panel = await openPage(chromium.browser, await inviteUrl(server, SRTP_HALL, 'operator.html'), pageLog);
    await panel.waitForSelector('#speaker-name', { visible: true });
    // No display window or camera for a hardware hall: its device's state instead.
    await waitFor('the panel shows the device online', () => panel.$eval('#hardware-card', (el) => !(el as HTMLElement).hidden && (el as HTMLElement).innerText.includes('Đang nhận hình và tiếng từ thiết bị')), 10_000, 100);
    expect(await panel.$eval('#display-card', (el) => (el as HTMLElement).hidden)).to.equal(true);
    await waitFor('the panel sees the meeting running', () => panel.$eval('#meeting-status', (el) => (el as HTMLElement).innerText.includes('Đang họp')), 10_000, 100);
    await panel.type('#speaker-name', 'Nguyễn Văn An');
    await panel.type('#speaker-title', 'Chủ tịch HĐND xã');
    await panel.click('#request');
    const requestId = await waitFor('the request in the chair\'s queue', () => server.conference.view(CHAIR).queue.find((q) => q.bridgeId === SRTP_HALL)?.requestId, 8000, 100);
    await waitFor('the panel shows queue position 1', () => panel.$eval('#queue-position', (el) => (el as HTMLElement).innerText.trim() === '1'), 8000, 100);
    expect((await server.conference.execute(CHAIR, { type: 'grant_floor', requestId })).ok).to.equal(true);
    await waitFor('the SRTP hall is the programme', () => server.media.onAir === SRTP_HALL, 5000);

    const heard = await waitFor(
      'the SRTP hall\'s microphone forwarded to the other hall',
      async () => {
        const e = (await server.media.micReport()).find((x) => x.bridgeId === SRTP_HALL);
        return e && e.open && e.packetsForwarded > 50 ? e : null;
      },
      8000,
      200,
    );
    expect(heard.consumers).to.be.at.least(1);
    await waitFor('Opus packets at the plain hall\'s device port', () => [...audioSsrcs.values()].some((n) => n > 50), 5000, 100);
    expect(server.conference.rtpHalls.hall(SRTP_HALL).micOpen).to.equal(true);
    await waitFor('the panel shows its hall speaking', () => panel.$eval('#speaking', (el) => !(el as HTMLElement).hidden), 8000, 100);
    fs.mkdirSync('artifacts', { recursive: true });
    await panel.screenshot({ path: 'artifacts/rtp-hall-operator-speaking.png' }).catch(() => undefined);
    await panel.close();
    expect(pageLog.filter((l) => /pageerror/.test(l)), pageLog.join('\n')).to.deep.equal([]);
  });

  it('receives the programme: ffmpeg decodes its video and audio from the SRTP sheet\'s SDP file (a browser hall speaking, VP8)', async () => {
    // A browser hall (Chromium's fake camera, VP8 simulcast) takes the floor.
    browserHall = await openPage(chromium!.browser, await inviteUrl(server, BROWSER_HALL), pageLog);
    await waitLive(browserHall, BROWSER_HALL);
    await giveFloor(BROWSER_HALL, 'Lê Văn Cường', 'Chủ tịch HĐND thành phố');

    // The device's ports, free now and outside the range the SFU takes its own ports from; each with
    // its neighbour free too, since ffmpeg's SDP input binds port + 1 for RTCP beside the media port.
    // (Two ephemeral ports could be neighbours, or sit next to a socket of the machine: "Address already in use".)
    const [audioPort, videoPort] = await (async (): Promise<[number, number]> => {
      for (;;) {
        const base = await freePortBase(4);
        if (base + 3 < rtcRange.min || base > rtcRange.max) return [base, base + 2];
      }
    })();
    const set = await api('PUT', `/rtp-halls/${SRTP_HALL}/receive`, technician, { ip: '127.0.0.1', audioPort, videoPort });
    expect(set.status).to.equal(200);
    expect(server.conference.health.events(SRTP_HALL).map((e) => `${e.type} ${e.detail}`)).to.include(`device_sheet phiên bản ${set.json.version}`);
    const sdpRes = await api('GET', `/rtp-halls/${SRTP_HALL}/programme.sdp`, technician);
    expect(sdpRes.status).to.equal(200);
    expect(sdpRes.type).to.contain('application/sdp');
    const vp8 = (set.json as DeviceSheet).send.video.codec.payloadType;
    expect(sdpRes.text).to.match(new RegExp(`^m=video ${videoPort} RTP/SAVP ${vp8}\r$`, 'm')).and.match(/a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:/);
    const sdpFile = path.join(tmp, `programme-${SRTP_HALL}.sdp`);
    fs.writeFileSync(sdpFile, sdpRes.text);

    // The receive transports were just remade: wait until both streams flow to the device again.
    const audioPeer = `rtp:${SRTP_HALL}:programme-audio`;
    await waitFor('the device sent the speaker\'s audio', () => server.media.snapshot().peers.find((p) => p.peerId === audioPeer)?.consumers.some((c) => c.slot === 'audio' && c.bridgeId === BROWSER_HALL && !c.paused), 5000, 100).catch((error: Error) => {
      const snap = server.media.snapshot().peers.filter((p) => p.peerId === audioPeer || p.bridgeId === BROWSER_HALL);
      throw new Error(`${error.message}; program ${server.media.onAir}; ${JSON.stringify(snap)}`);
    });
    const { log, tail } = await decodeProgramme(sdpFile, 75);
    expect(/Video: vp8/.test(log), `the decoded programme is the browser hall's VP8 camera; ${tail}`).to.equal(true);
    const audioKb = /audio:\s*(\d+)kB/.exec(log);
    expect(audioKb, tail).to.not.equal(null);
    expect(Number(audioKb![1]), `decoded programme audio; ${tail}`).to.be.greaterThan(0);
    // The H264 room codec is sent no VP8 it could not decode (nothing is transcoded).
    // (Consumers follow the routing asynchronously: wait for the settled state, then assert it.)
    await waitFor('settled programme video', () => programmeVideo(PLAIN_HALL).length === 0 && programmeVideo(SRTP_HALL).join() === BROWSER_HALL, 5000, 100).catch(() => undefined);
    expect({ [PLAIN_HALL]: programmeVideo(PLAIN_HALL), [SRTP_HALL]: programmeVideo(SRTP_HALL) }).to.deep.equal({ [PLAIN_HALL]: [], [SRTP_HALL]: [BROWSER_HALL] });
  });

  it('a browser hall decodes the H264 room codec on the programme (Chromium)', async () => {
    await giveFloor(PLAIN_HALL, 'Trần Thị Bình', 'Phó Chủ tịch HĐND huyện');
    const video = await waitFor(
      'frames of the H264 hall decoded in Chromium',
      async () => (await pageVideo(browserHall!)).find((v) => v.slot === 'onair' && v.kind === 'video' && v.bridgeId === PLAIN_HALL && v.framesDecoded > 25),
      15_000,
      200,
    );
    expect(video.frameHeight, 'the sheet\'s command sends 1280×720').to.equal(720);
    // The VP8 device hears the H264 hall but is sent no H264 video.
    await waitFor('the VP8 device without the H264 video', () => programmeVideo(SRTP_HALL).length === 0, 5000, 100);
    expect(server.media.snapshot().peers.find((p) => p.peerId === `rtp:${SRTP_HALL}:programme-audio`)!.consumers.filter((c) => c.slot === 'audio').map((c) => c.bridgeId)).to.deep.equal([PLAIN_HALL]);
    await browserHall!.close();
    browserHall = undefined;
  });

  it('technicians see the device sheet in the hall\'s drill-down ("Cấu hình thiết bị")', async () => {
    const dash = await openPage(chromium!.browser, await inviteUrl(server, 'technician', 'technician.html'), pageLog);
    await dash.setViewport({ width: 1280, height: 1400 });
    const tileSelector = `.tile[data-bridge-id="${SRTP_HALL}"]`;
    await dash.waitForSelector(tileSelector, { timeout: 10_000 });
    await dash.bringToFront();
    await dash.click(tileSelector);
    await dash.waitForSelector('#device-panel:not([hidden]) .device-values', { timeout: 10_000 });
    const sheet = server.conference.rtpHalls.sheet(SRTP_HALL);
    const shown = await dash.$eval('#device-panel', (el) => (el as HTMLElement).innerText);
    expect(shown).to.contain('Cấu hình thiết bị').and.contain('Thiết bị gửi lên máy chủ').and.contain('Thiết bị nhận chương trình');
    expect(shown).to.contain(String(sheet.send.video.ssrc)).and.contain(sheet.send.srtp!.keyBase64).and.contain(String(sheet.receive.video.port));
    await waitFor('the device state: media received', () => dash.$eval('#device-panel .device-state', (el) => (el as HTMLElement).innerText.startsWith('Đang nhận hình và tiếng')), 8000, 200);
    expect(await dash.$eval('#device-panel button.primary', (el) => (el as HTMLButtonElement).disabled)).to.equal(false);
    fs.mkdirSync('artifacts', { recursive: true });
    await dash.screenshot({ path: 'artifacts/rtp-hall-device-sheet.png' }).catch(() => undefined);
    // A browser hall has no device sheet.
    await dash.click('.tile[data-bridge-id="d-178"]');
    await waitFor('no device panel for a browser hall', () => dash.$eval('#device-panel', (el) => (el as HTMLElement).hidden), 5000, 100);
    await dash.close();
    expect(pageLog.filter((l) => /pageerror/.test(l)), pageLog.join('\n')).to.deep.equal([]);
  });

  it('drops off the roll-call when its device stops sending', async () => {
    const device = processes[0]!;
    device.kill('SIGKILL');
    await waitFor('the SRTP hall offline in the roll-call', () => !online(SRTP_HALL), 8000, 100);
    expect(online(PLAIN_HALL)).to.equal(true);
    // The monitor samples every second here: the link shows offline at the next sample.
    await waitFor('the SRTP hall\'s link offline for the technicians', () => server.conference.health.book.get(SRTP_HALL)?.status === 'offline', 4000, 100);
  });

  it('a device with a wrong SRTP key stays off the roll-call, and technicians are told its packets are rejected', async () => {
    const sheet = (await api('GET', `/rtp-halls/${SRTP_HALL}/sheet`, technician)).json as DeviceSheet;
    const wrong = { ...sheet, send: { ...sheet.send, srtp: { ...sheet.send.srtp!, keyBase64: Buffer.alloc(30, 7).toString('base64') } } };
    const device = ffmpeg(deviceArgs(wrong), 'device with a wrong key');
    const line = await waitFor(
      'the hall listed as rejected',
      async () => ((await api('GET', '/rtp-halls', technician)).json as { bridgeId: string; rejected: boolean; online: boolean }[]).find((l) => l.bridgeId === SRTP_HALL && l.rejected),
      6000,
      200,
    );
    expect(line.online).to.equal(false);
    // Several polls later it is still not on the roll-call.
    await new Promise((r) => setTimeout(r, 2500));
    expect(online(SRTP_HALL)).to.equal(false);
    const status = (await api('GET', `/rtp-halls/${SRTP_HALL}/sheet`, technician)).json.device;
    expect(status.packetsFromDevice.video).to.be.greaterThan(0);
    device.kill('SIGKILL');
  });
});
