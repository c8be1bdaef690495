// Hardware halls whose VP8 has no PictureID (RFC 7741 makes it optional), with GStreamer as the
// device, not ffmpeg: `rtpvp8pay picture-id-mode=none`, as some encoder boxes send. Over plain RTP
// the server completes the descriptor on the way in and a browser hall decodes the picture; over
// SRTP it cannot touch the payload, and the technicians are told why there is no picture (device
// sheet and tile), never "healthy". Real server, real mediasoup, real GStreamer, real Chromium.
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import type { Page } from 'puppeteer-core';
import { loadConfig } from '../../config/index.ts';
import { defaultPlan } from '../../config/default-plan.ts';
import { startServer, type RunningServer } from '../../server/app/server.ts';
import type { DeviceSheet } from '../../server/app/rtp-halls/DeviceSheet.ts';
import type { DeviceStatus } from '../../server/app/rtp-halls/RtpHallGateway.ts';
import type { ConferencePlan } from '../../server/protocol/plan.ts';
import { freePortBase, inviteUrl, tokenOf } from '../helpers/server.ts';
import { launchChromium, openPage, waitFor, type TestBrowser } from '../helpers/chromium.ts';
import { pageVideo, waitLive } from '../helpers/hall-page.ts';

const PLAIN_HALL = 'c-06010'; // Xã Cao Minh: an encoder box over plain RTP, VP8 without PictureID
const SRTP_HALL = 'c-05971'; // Phường Hoàng Văn Thụ: the same over SRTP
const BROWSER_HALL = 'd-178';
const CHAIR = { role: 'chair' } as const;

function plan(): ConferencePlan {
  const p = defaultPlan();
  return {
    ...p,
    bridges: p.bridges.map((b) => {
      if (b.id === PLAIN_HALL) return { ...b, kind: 'rtp' as const, rtp: { srtp: false, videoCodec: 'VP8' as const } };
      if (b.id === SRTP_HALL) return { ...b, kind: 'rtp' as const, rtp: { srtp: true, videoCodec: 'VP8' as const } };
      return b;
    }),
  };
}

/** gst-launch-1.0 arguments of a device: a moving test picture in VP8 without PictureID and a tone in Opus, to the sheet's ports. */
function gstDevice(sheet: DeviceSheet): string[] {
  const s = sheet.send;
  const srtp = s.srtp ? ['!', 'srtpenc', `key=${Buffer.from(s.srtp.keyBase64, 'base64').toString('hex')}`] : [];
  return [
    '-q',
    'videotestsrc', 'is-live=true', 'pattern=ball', '!', 'video/x-raw,width=640,height=360,framerate=25/1', '!',
    'vp8enc', 'deadline=1', 'keyframe-max-dist=50', 'target-bitrate=600000', '!',
    'rtpvp8pay', 'picture-id-mode=none', `pt=${s.video.codec.payloadType}`, `ssrc=${s.video.ssrc}`, 'mtu=1200',
    ...srtp, '!', 'udpsink', `host=${s.ip}`, `port=${s.video.port}`,
    'audiotestsrc', 'is-live=true', 'freq=1000', '!', 'audioconvert', '!', 'audioresample', '!', 'audio/x-raw,rate=48000,channels=2', '!',
    'opusenc', '!', 'rtpopuspay', `pt=${s.audio.codec.payloadType}`, `ssrc=${s.audio.ssrc}`,
    ...(s.srtp ? ['!', 'srtpenc', `key=${Buffer.from(s.srtp.keyBase64, 'base64').toString('hex')}`] : []), '!', 'udpsink', `host=${s.ip}`, `port=${s.audio.port}`,
  ];
}

describe('e2e: a hardware hall sending VP8 without PictureID (GStreamer as the device, Chromium hall)', function () {
  this.timeout(120_000);
  let server: RunningServer;
  let chromium: TestBrowser;
  let hall: Page;
  let technician: string;
  const log: string[] = [];
  const devices: ChildProcess[] = [];
  const deviceLog: string[] = [];

  const api = async (url: string): Promise<any> => (await fetch(`${server.url}/api${url}`, { headers: { authorization: `Bearer ${technician}` } })).json();
  const online = (id: string): boolean => server.conference.view(CHAIR).presence?.[id]?.online === true;

  before(async () => {
    const webRtcBasePort = await freePortBase(2);
    const rtcMinPort = Math.min(await freePortBase(1), 64000);
    const config = loadConfig({}, { listenIp: '127.0.0.1', httpPort: 0, workers: 2, webRtcBasePort, rtcMinPort, rtcMaxPort: rtcMinPort + 999, logLevel: 'warn', store: 'memory' });
    server = await startServer(config, plan(), { healthIntervalMs: 1000 });
    technician = await tokenOf(server, 'technician');
    for (const id of [PLAIN_HALL, SRTP_HALL]) {
      const sheet = (await api(`/rtp-halls/${id}/sheet`)) as DeviceSheet;
      const child = spawn('gst-launch-1.0', gstDevice(sheet), { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (d: Buffer) => deviceLog.push(`${id}: ${d.toString()}`));
      devices.push(child);
    }
    chromium = await launchChromium();
    hall = await openPage(chromium.browser, await inviteUrl(server, BROWSER_HALL), log);
    await waitLive(hall, BROWSER_HALL);
    await waitFor('both devices online', async () => online(PLAIN_HALL) && online(SRTP_HALL), 20_000);
    expect((await server.conference.execute(CHAIR, { type: 'start_meeting' })).ok).to.equal(true);
  });

  after(async () => {
    for (const d of devices) if (d.exitCode === null) d.kill('SIGKILL');
    await chromium?.close();
    await server?.close();
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed') console.log([...log.slice(-10), ...deviceLog.slice(-5)].join('\n'));
  });

  it('over plain RTP: the server adds the PictureID and the browser hall decodes the picture when the device hall speaks', async () => {
    const request = await server.conference.execute({ role: 'operator', bridgeId: PLAIN_HALL }, { type: 'request_floor', bridgeId: PLAIN_HALL, speakerName: 'Hoàng Văn Nam', speakerTitle: 'Chủ tịch HĐND xã' });
    expect(request.ok).to.equal(true);
    expect((await server.conference.execute(CHAIR, { type: 'grant_next' })).ok).to.equal(true);
    const decoded = await waitFor('the browser hall decodes the device\'s picture', async () => {
      const v = (await pageVideo(hall)).find((c) => c.slot === 'onair' && c.kind === 'video' && c.bridgeId === PLAIN_HALL && c.framesDecoded > 25);
      return v ?? undefined;
    }, 20_000, 250);
    expect(decoded.frameHeight).to.equal(360);
    const status = server.conference.rtpHalls.status(PLAIN_HALL) as DeviceStatus;
    expect(status.pictureIdsAdded).to.be.greaterThan(20);
    expect(status.videoProblem).to.equal(null);
    const sheet = await api(`/rtp-halls/${PLAIN_HALL}/sheet`);
    expect(sheet.device.videoProblem).to.equal(null);
    await waitFor('its link ok for the technicians', async () => server.conference.health.book.get(PLAIN_HALL)?.status === 'ok', 10_000);
  });

  it('over SRTP: no picture can be made, and the device sheet and the technicians\' tile say why, not "healthy"', async () => {
    const status = await waitFor('the server names the problem', async () => {
      const s = server.conference.rtpHalls.status(SRTP_HALL) as DeviceStatus;
      return s.videoProblem ? s : undefined;
    }, 20_000, 500);
    expect(status.online, 'its sound is accepted').to.equal(true);
    expect(status.videoProblem).to.match(/^không có hình: .*PictureID/);
    const sheet = await api(`/rtp-halls/${SRTP_HALL}/sheet`);
    expect(sheet.device.videoProblem).to.equal(status.videoProblem);
    const health = await waitFor('the tile is bad with the reason', async () => {
      const h = server.conference.health.book.get(SRTP_HALL);
      return h?.status === 'bad' ? h : undefined;
    }, 10_000);
    expect(health.reasons).to.deep.equal([status.videoProblem]);
    // The technicians' page shows it on the hall's tile.
    const page = await openPage(chromium.browser, await inviteUrl(server, 'technician', 'technician.html'), log);
    const tile = await waitFor('the tile says so', async () =>
      page.evaluate((id) => {
        const el = document.querySelector<HTMLElement>(`.tile[data-bridge-id="${id}"]`);
        return el?.dataset.status === 'bad' ? el.textContent : undefined;
      }, SRTP_HALL), 15_000);
    expect(tile).to.contain('không có hình');
    await page.close();
  });
});
