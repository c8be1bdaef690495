// The issue's two-instance case (issue 13): two server processes' worth of `both` instances on one
// redis, with the deployment's node secret, each a media node of its own. A commune speaking on
// instance A is seen and heard by a district hall on instance B, and the chair publishing on B is
// heard by a hall on A: every hall receives the programme wherever its media is.
import { expect } from 'chai';
import { loadConfig } from '../../config/index.ts';
import { defaultPlan } from '../../config/default-plan.ts';
import { startServer, type RunningServer } from '../../server/app/server.ts';
import { freePortBase } from '../helpers/server.ts';
import { Receiver, SyntheticHall } from '../helpers/synthetic-rtp.ts';
import { camParameters, micParameters, RecordingSink, waitFor } from './media-fixture.ts';
import { startRedisServer, type RedisServer } from './store/redis-server.ts';

const SECRET = 'two-instances-secret-0123456789abcdef';
const CONFERENCE = 'two-both';
const PROVINCE = 'p-20';
const COMMUNE = 'c-05971';
const DISTRICT = 'd-178';

describe('Two `both` instances on one redis with a node secret: media crosses between them', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  const servers: RunningServer[] = [];
  const closers: { close(): void }[] = [];

  before(async () => {
    redis = await startRedisServer();
    for (const name of ['a', 'b']) {
      const webRtcBasePort = await freePortBase(1);
      const rtc = Math.min(await freePortBase(1), 64000);
      const config = loadConfig({}, {
        redisUrl: redis.url,
        nodeSecret: SECRET,
        nodeId: `instance-${name}`,
        conferenceId: CONFERENCE,
        listenIp: '127.0.0.1',
        httpPort: 0,
        workers: 1,
        webRtcBasePort,
        rtcMinPort: rtc,
        rtcMaxPort: rtc + 499,
        logLevel: 'error',
      });
      servers.push(await startServer(config, defaultPlan()));
    }
  });

  after(async () => {
    for (const c of closers) c.close();
    for (const s of servers) await s.close();
    await redis?.stop();
  });

  /** A hall publishing over plain RTP on an instance's media, fed by a synthetic sender here. */
  async function publishOn(server: RunningServer, bridgeId: string): Promise<void> {
    const media = server.media;
    const peerId = `hw-${bridgeId}`;
    media.join(peerId, { bridgeId, publish: true, receiveOnAir: false, thumbnails: false }, new RecordingSink());
    const t = await media.createPlainTransport(peerId, 'send', { comedia: true });
    const mic = micParameters();
    const cam = camParameters();
    await media.produce(peerId, t.id, 'audio', mic, 'mic');
    await media.produce(peerId, t.id, 'video', cam, 'cam');
    const hall = new SyntheticHall();
    closers.push(hall);
    await hall.start({ ip: t.ip, port: t.port, micSsrc: mic.encodings![0]!.ssrc!, camSsrc: cam.encodings![0]!.ssrc! });
  }

  /** A hall receiving what is on air on an instance's media, counted here. */
  async function receiveOn(server: RunningServer, bridgeId: string): Promise<Receiver> {
    const media = server.media;
    const peerId = `rx-${bridgeId}`;
    const r = new Receiver();
    closers.push(r);
    const at = await r.start();
    media.join(peerId, { bridgeId, publish: false, receiveOnAir: true, thumbnails: false }, new RecordingSink());
    media.setRtpCapabilities(peerId, media.rtpCapabilities);
    const t = await media.createPlainTransport(peerId, 'recv', { comedia: false });
    await media.connectPlainTransport(peerId, t.id, at);
    return r;
  }

  it('a commune speaking on A reaches a district on B; the chair on B is heard on A', async () => {
    const [a, b] = [servers[0]!, servers[1]!];
    await publishOn(a, COMMUNE);
    await publishOn(b, PROVINCE);

    const c = a.conference;
    expect((await c.execute({ role: 'chair' }, { type: 'start_meeting' })).ok).to.equal(true);
    await c.bridgeConnected(COMMUNE);
    expect((await c.execute({ role: 'operator', bridgeId: COMMUNE }, { type: 'request_floor', bridgeId: COMMUNE, speakerName: 'A', speakerTitle: 'B' })).ok).to.equal(true);
    expect((await c.execute({ role: 'chair' }, { type: 'grant_next' })).ok).to.equal(true);
    await waitFor('both instances put the commune on air', () => a.media.onAir === COMMUNE && b.media.onAir === COMMUNE, 5000);
    const onB = await receiveOn(b, DISTRICT);
    const onA = await receiveOn(a, 'd-180');

    // On B: the commune's audio and video (piped from A) and the chair's audio (local): 3 streams.
    await waitFor('the district on B receives the commune and the chair', () => onB.ssrcs.size >= 3 && onB.packets > 50, 10_000, 50);
    // On A: the commune (local) and the chair's audio (piped from B).
    await waitFor('the hall on A receives the commune and the chair', () => onA.ssrcs.size >= 3 && onA.packets > 50, 10_000, 50);
    const fromA = (await a.media.pipeStats())['instance-b']!;
    expect(fromA.out.tracks, 'A sends B the commune\'s two tracks').to.have.length(2);
    expect(fromA.in.tracks, 'A receives the chair\'s microphone from B').to.have.length(1);
  });
});

describe('A `both` instance on redis without a node secret: its media is its own, its link health comes from its samples', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let server: RunningServer | undefined;
  const closers: { close(): void }[] = [];

  before(async () => {
    redis = await startRedisServer();
  });

  after(async () => {
    for (const c of closers) c.close();
    await server?.close();
    await redis?.stop();
  });

  it('a hall publishing on it is online with its bitrate in the health; no node is announced', async () => {
    const webRtcBasePort = await freePortBase(1);
    const rtc = Math.min(await freePortBase(1), 64000);
    const config = loadConfig({}, { redisUrl: redis.url, conferenceId: 'alone-on-redis', listenIp: '127.0.0.1', httpPort: 0, workers: 1, webRtcBasePort, rtcMinPort: rtc, rtcMaxPort: rtc + 499, logLevel: 'error' });
    server = await startServer(config, defaultPlan(), { healthIntervalMs: 500 });
    expect(server.node!.clustered).to.equal(false);
    expect(await server.stores.nodes.liveNodes()).to.deep.equal([]);
    const media = server.media;
    media.join('hw', { bridgeId: COMMUNE, publish: true, receiveOnAir: false, thumbnails: false }, new RecordingSink());
    const t = await media.createPlainTransport('hw', 'send', { comedia: true });
    const mic = micParameters();
    const cam = camParameters();
    await media.produce('hw', t.id, 'audio', mic, 'mic');
    await media.produce('hw', t.id, 'video', cam, 'cam');
    const hall = new SyntheticHall();
    closers.push(hall);
    await hall.start({ ip: t.ip, port: t.port, micSsrc: mic.encodings![0]!.ssrc!, camSsrc: cam.encodings![0]!.ssrc! });
    const health = server.conference.health.book;
    await waitFor('the hall\'s link in the health', () => {
      const last = health.get(COMMUNE)?.last;
      return last?.online && (last.bitrateUpKbps ?? 0) > 0;
    }, 15_000, 100);
  });
});
