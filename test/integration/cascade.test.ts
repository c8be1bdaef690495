// Two media nodes in one process (two worker pools, two sessions of one conference), their
// node-to-node channel a direct call: a track published on one node reaches consumers on the
// other through one pipe per track, whatever the number of consumers; real RTP over loopback.
import type dgram from 'node:dgram';
import { expect } from 'chai';
import type { types as ms } from 'mediasoup';
import { MediaSession, WorkerPool, type CascadeChannel, type RemoteTrack } from '../../sfu/index.ts';
import { COMMUNE, DISTRICT, DISTRICT_2, PROVINCE, COMMUNE_2, RecordingSink, camParameters, micParameters, poolOptions, waitFor } from './media-fixture.ts';
import { rtpPacket as rtp, udpSocket } from '../helpers/synthetic-rtp.ts';

const BRIDGES = [PROVINCE, DISTRICT, DISTRICT_2, COMMUNE, COMMUNE_2];

describe('Cascade: two media nodes in one process (real workers, real UDP)', function () {
  this.timeout(30_000);
  let pools: WorkerPool[] = [];
  let sessions: MediaSession[] = [];
  const sockets: dgram.Socket[] = [];

  afterEach(() => {
    for (const s of sessions) s.close();
    for (const p of pools) p.close();
    for (const s of sockets.splice(0)) s.close();
    sessions = [];
    pools = [];
  });

  /** Node `a` and node `b`; each one's channel calls the other's session, counting the requests (the first `failFirst` pipe requests fail). */
  async function twoNodes(failFirst = 0, failure: () => Error | 'no answer' = () => new Error('node unreachable (test)'), lingerMs = 300): Promise<{ a: MediaSession; b: MediaSession; requests: string[] }> {
    pools = [await WorkerPool.create(await poolOptions(1)), await WorkerPool.create(await poolOptions(2))];
    const requests: string[] = [];
    const byNode = new Map<string, MediaSession>();
    const channelOf = (self: string): CascadeChannel => ({
      pipe: async (node, request) => {
        requests.push(`${self}->${node} pipe ${request.trackId}`);
        if (failFirst-- > 0) {
          const error = failure();
          // A host cut off the network: the request is never answered (the node channel's timeout is 3 s).
          if (error === 'no answer') return new Promise<never>(() => undefined);
          throw error;
        }
        // As MediaNode.pipe answers over HTTP: every refusal but an unknown track is pipe_failed.
        return byNode.get(node)!.servePipe(self, request).catch((error: { code?: string; message: string }) => {
          throw error.code === 'unknown_track' ? error : Object.assign(new Error(error.message), { code: 'pipe_failed', status: 500 });
        });
      },
      unpipe: async (node, request) => {
        requests.push(`${self}->${node} unpipe ${request.trackId}`);
        byNode.get(node)!.releasePipe(self, request);
      },
    });
    const options = { conferenceId: 'cascade', chairBridgeId: PROVINCE, bridgeIds: BRIDGES, switchBatchMs: 100, consumeTimeoutMs: 2000 };
    const a = await MediaSession.create(pools[0]!, { ...options, cascade: { channel: channelOf('a'), lingerMs } });
    const b = await MediaSession.create(pools[1]!, { ...options, cascade: { channel: channelOf('b'), lingerMs } });
    byNode.set('a', a).set('b', b);
    sessions = [a, b];
    return { a, b, requests };
  }

  it('a microphone on node a reaches 3 halls on node b through one pipe; more halls add no pipe; unused, the pipe closes', async () => {
    const { a, b, requests } = await twoNodes();
    const sender = await udpSocket();
    sockets.push(sender);
    a.join('hw', { bridgeId: COMMUNE, publish: true, receiveOnAir: true, thumbnails: false }, new RecordingSink());
    const up = await a.createPlainTransport('hw', 'send', { comedia: true });
    const params = micParameters();
    const published: { trackId: string; kind: string; epoch: number }[] = [];
    a.on('publishing', (p) => p.on && published.push(p));
    const { id: micId } = await a.produce('hw', up.id, 'audio', params, 'mic');
    expect(published.map((p) => p.trackId)).to.deep.equal([micId]);
    const remote: RemoteTrack = { bridgeId: COMMUNE, source: 'mic', trackId: micId, kind: 'audio', home: { node: 'a' }, epoch: published[0]!.epoch };
    for (const s of [a, b]) await Promise.all([s.setOnAir(COMMUNE), s.setOpenMicrophones([PROVINCE, COMMUNE])]);
    b.setRemoteTracks([remote]);

    const received = new Map<string, number>();
    async function receiver(bridgeId: string): Promise<void> {
      const socket = await udpSocket();
      sockets.push(socket);
      received.set(bridgeId, 0);
      socket.on('message', (m) => m.length >= 12 && !(m[1]! >= 192 && m[1]! <= 223) && received.set(bridgeId, received.get(bridgeId)! + 1));
      b.join(`rx-${bridgeId}`, { bridgeId, publish: false, receiveOnAir: true, thumbnails: false }, new RecordingSink());
      b.setRtpCapabilities(`rx-${bridgeId}`, b.rtpCapabilities);
      const t = await b.createPlainTransport(`rx-${bridgeId}`, 'recv', { comedia: false });
      await b.connectPlainTransport(`rx-${bridgeId}`, t.id, { ip: '127.0.0.1', port: socket.address().port });
    }
    for (const id of [DISTRICT, DISTRICT_2, PROVINCE]) await receiver(id);
    await waitFor('consumers of the commune on node b', () => b.snapshot().peers.every((p) => p.consumers.some((c) => c.producerId === micId && !c.paused)));

    let seq = 0;
    const send = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        sender.send(rtp(params.encodings![0]!.ssrc!, ++seq, 111), up.port, up.ip);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await send(40);
    await waitFor('every hall on node b receives the commune', () => [...received.values()].every((n) => n >= 30), 3000);
    expect(requests.filter((r) => r.includes('pipe '))).to.deep.equal([`b->a pipe ${micId}`]);

    // Two more halls on node b: still one pipe, one stream between the nodes.
    await receiver(COMMUNE_2);
    await send(20);
    await waitFor('the new hall receives too', () => received.get(COMMUNE_2)! >= 10, 3000);
    const fromA = (await a.pipeStats()).b!;
    const atB = (await b.pipeStats()).a!;
    expect(fromA.out.tracks).to.deep.equal([micId]);
    expect(fromA.out.rtpStreams).to.equal(1);
    expect(fromA.out.rtpBytes).to.be.greaterThan(0);
    expect(atB.in.tracks).to.deep.equal([micId]);
    expect(atB.in.rtpStreams).to.equal(1);
    expect(requests.filter((r) => r.includes(' pipe '))).to.have.length(1);
    // What the nodes' leases announce (the technicians' panel, /metrics): one transport, one track each way.
    expect(a.pipeCounts()).to.deep.equal({ in: 0, out: 1, tracks: { in: 0, out: 1 } });
    expect(b.pipeCounts()).to.deep.equal({ in: 1, out: 0, tracks: { in: 1, out: 0 } });

    // Nobody on b consumes it any more: after the linger the pipe goes, and a is told.
    for (const id of [DISTRICT, DISTRICT_2, PROVINCE, COMMUNE_2]) b.leave(`rx-${id}`);
    await waitFor('the pipe closed after the linger', async () => (await b.pipeStats()).a?.in.tracks.length === 0, 3000);
    await waitFor('node a released its pipe consumer', async () => (await a.pipeStats()).b?.out.tracks.length === 0, 3000);
    expect(requests).to.include(`b->a unpipe ${micId}`);
  });

  /** The commune's microphone published on node a and on air at both; a district hall on b that receives (the registry tells b). */
  async function micOnAAndHallOnB(a: MediaSession, b: MediaSession): Promise<{ micId: string; sink: RecordingSink }> {
    a.join('hw', { bridgeId: COMMUNE, publish: true, receiveOnAir: true, thumbnails: false }, new RecordingSink());
    const up = await a.createPlainTransport('hw', 'send', { comedia: true });
    const { id: micId } = await a.produce('hw', up.id, 'audio', micParameters(), 'mic');
    for (const s of [a, b]) await s.setOnAir(COMMUNE);
    const sink = new RecordingSink();
    b.join('rx', { bridgeId: DISTRICT, publish: false, receiveOnAir: true, thumbnails: false }, sink);
    b.setRtpCapabilities('rx', b.rtpCapabilities);
    await b.createPlainTransport('rx', 'recv', { comedia: false });
    b.setRemoteTracks([{ bridgeId: COMMUNE, source: 'mic', trackId: micId, kind: 'audio', home: { node: 'a' }, epoch: 1 }]);
    return { micId, sink };
  }

  it('a track gone from the registry closes its pipe and the consumers on it; a dead node\'s pipes close', async () => {
    const { a, b } = await twoNodes();
    const { micId, sink } = await micOnAAndHallOnB(a, b);
    await waitFor('node b consumes the remote microphone', () => sink.consumes.some((c) => c.producerId === micId));
    b.setRemoteTracks([]);
    await waitFor('its consumer closed', () => sink.closedConsumers.length === 1);
    expect((await b.pipeStats()).a!.in.tracks).to.deep.equal([]);

    b.setRemoteTracks([{ bridgeId: COMMUNE, source: 'mic', trackId: micId, kind: 'audio', home: { node: 'a' }, epoch: 1 }]);
    await waitFor('consumed again', () => sink.consumes.filter((c) => c.producerId === micId).length === 2);
    b.forgetNode('a');
    a.forgetNode('b');
    await waitFor('the consumer closed with the pipe', () => sink.closedConsumers.length === 2);
    expect(await b.pipeStats()).to.deep.equal({});
    expect(await a.pipeStats()).to.deep.equal({});
    expect(b.pipeCounts()).to.deep.equal({ in: 0, out: 0, tracks: { in: 0, out: 0 } });
  });

  // Regression: the remote tracks were compared by their microphones and cameras only, so a
  // screen shared on another node never reached this one (and its pipe was never dropped).
  it("a screen shared on node a reaches a hall on node b as the content; gone from the registry, its consumer closes", async () => {
    const { a, b } = await twoNodes();
    // The commune's microphone is known on b already (its hall is on a): the screen comes beside it.
    a.join('hw', { bridgeId: COMMUNE, publish: true, receiveOnAir: true, thumbnails: false }, new RecordingSink());
    const hw = await a.createPlainTransport('hw', 'send', { comedia: true });
    const { id: micId } = await a.produce('hw', hw.id, 'audio', micParameters(), 'mic');
    const mic: RemoteTrack = { bridgeId: COMMUNE, source: 'mic', trackId: micId, kind: 'audio', home: { node: 'a' }, epoch: 1 };
    a.join('screen', { bridgeId: COMMUNE, publish: true, receiveOnAir: false, thumbnails: false, screenOnly: true }, new RecordingSink());
    const up = await a.createPlainTransport('screen', 'send', { comedia: true });
    const params = camParameters();
    params.encodings = [params.encodings![0]!];
    const { id: screenId } = await a.produce('screen', up.id, 'video', params, 'screen');
    for (const s of [a, b]) await s.setContent(COMMUNE);
    const sink = new RecordingSink();
    b.join('rx', { bridgeId: DISTRICT, publish: false, receiveOnAir: true, thumbnails: false }, sink);
    b.setRtpCapabilities('rx', b.rtpCapabilities);
    await b.createPlainTransport('rx', 'recv', { comedia: false });
    b.setRemoteTracks([mic]);
    b.setRemoteTracks([mic, { bridgeId: COMMUNE, source: 'screen', trackId: screenId, kind: 'video', home: { node: 'a' }, epoch: 1 }]);
    await waitFor('node b consumes the remote screen as the content', () => sink.consumes.some((c) => c.producerId === screenId && c.slot === 'content'), 5000);
    const content = sink.consumes.find((c) => c.producerId === screenId)!.consumerId;
    b.setRemoteTracks([mic]);
    await waitFor('its consumer closed', () => sink.closedConsumers.includes(content), 5000);
    await waitFor('its pipe closed', async () => !(await b.pipeStats()).a?.in.tracks.includes(screenId), 5000);
  });

  it('a pipe request that fails is tried again: the hall gets the track when the other node answers', async () => {
    const { a, b, requests } = await twoNodes(2);
    const warnings: string[] = [];
    b.on('warning', (w) => warnings.push(w.message));
    const { micId, sink } = await micOnAAndHallOnB(a, b);
    await waitFor('the remote microphone consumed after the failures', () => sink.consumes.some((c) => c.producerId === micId), 5000);
    expect(requests.filter((r) => r.includes(' pipe '))).to.have.length(3);
    expect(warnings).to.have.length(2);
  });

  it('a home node that does not answer in time (pipe_failed) is asked again by the cascade itself: no failed reconciliation, no per-hall backoff', async () => {
    // What the node channel reports for a request past its 3 s timeout, or a node it cannot reach (NodeApiError).
    const { a, b, requests } = await twoNodes(2, () => Object.assign(new Error('node unreachable [nodeId:a]: The operation was aborted due to timeout'), { code: 'pipe_failed', status: 503 }));
    const warnings: string[] = [];
    b.on('warning', (w) => warnings.push(w.message));
    const { micId, sink } = await micOnAAndHallOnB(a, b);
    await waitFor('the remote microphone consumed after the failures', () => sink.consumes.some((c) => c.producerId === micId), 5000);
    expect(requests.filter((r) => r.includes(' pipe '))).to.have.length(3);
    expect(warnings, 'the hall\'s reconciliation never failed').to.deep.equal([]);
  });

  // Regression (bench:cascade --quick, a whole npm test: a hall of a killed node never got the
  // programme back): a peer's runs are serialised, and its run waited for a pipe request to a home
  // node that had died until the request gave up (3 s per try, retried within 10 s), holding the
  // run that would consume the track's new home. A track dropped (its node's lease ended) frees
  // its waiters at once.
  it('a hall waiting for a pipe from a node that stopped answering is freed when the node is gone: the speaker republished here reaches it at once', async () => {
    const { a, b, requests } = await twoNodes(1, () => 'no answer');
    const { sink } = await micOnAAndHallOnB(a, b);
    await waitFor('node b asked node a for the microphone', () => requests.some((r) => r.startsWith('b->a pipe')), 3000);
    // Node a's lease ends (MediaNode's #nodeDown): its pipes close and its tracks leave the registry.
    b.forgetNode('a');
    b.setRemoteTracks([]);
    // The commune's hall moves to node b and publishes its microphone again.
    b.join('hw', { bridgeId: COMMUNE, publish: true, receiveOnAir: true, thumbnails: false }, new RecordingSink());
    const up = await b.createPlainTransport('hw', 'send', { comedia: true });
    const { id: localMic } = await b.produce('hw', up.id, 'audio', micParameters(), 'mic');
    await waitFor('the hall on node b consumes the commune\'s microphone published on b', () => sink.consumes.some((c) => c.producerId === localMic), 2000);
  });

  it('a home node whose lease ended is not asked again: the retries stop', async () => {
    pools = [await WorkerPool.create(await poolOptions(1))];
    let live = true;
    const requests: number[] = [];
    const channel: CascadeChannel = {
      pipe: async () => {
        requests.push(Date.now());
        // A killed node's host refuses the connection at once.
        throw Object.assign(new Error('node unreachable [nodeId:a]: connect ECONNREFUSED'), { code: 'pipe_failed', status: 503 });
      },
      unpipe: async () => undefined,
    };
    const b = await MediaSession.create(pools[0]!, { conferenceId: 'cascade', chairBridgeId: PROVINCE, bridgeIds: BRIDGES, switchBatchMs: 100, consumeTimeoutMs: 2000, cascade: { channel, lingerMs: 300, isLive: () => live } });
    sessions = [b];
    await b.setOnAir(COMMUNE);
    const sink = new RecordingSink();
    b.join('rx', { bridgeId: DISTRICT, publish: false, receiveOnAir: true, thumbnails: false }, sink);
    b.setRtpCapabilities('rx', b.rtpCapabilities);
    await b.createPlainTransport('rx', 'recv', { comedia: false });
    b.setRemoteTracks([{ bridgeId: COMMUNE, source: 'mic', trackId: '00000000-0000-4000-8000-000000000001', kind: 'audio', home: { node: 'a' }, epoch: 1 }]);
    await waitFor('asked twice', () => requests.length >= 2, 2000);
    live = false;
    const asked = requests.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(requests.length, 'at most the request in flight when the lease ended').to.be.at.most(asked + 1);
  });

  /**
   * Wraps the first pipe transport of `direction` made on `s`'s cascade router so that `meanwhile`
   * runs while its first produce (`in`) or consume (`out`) request is on its way to the worker.
   */
  function racePipe(s: MediaSession, direction: 'in' | 'out', meanwhile: (transport: ms.Transport) => unknown): { ran: () => boolean } {
    let ran = false;
    let wrapped = false;
    s.routers()[0]!.observer.on('newtransport', (t: ms.Transport) => {
      if (wrapped || t.appData.kind !== 'pipe' || t.appData.direction !== direction) return;
      wrapped = true;
      const method = direction === 'in' ? 'produce' : 'consume';
      const original = (t[method] as (o: unknown) => Promise<unknown>).bind(t);
      (t as unknown as Record<string, unknown>)[method] = (options: unknown) => {
        const request = original(options); // the request is on its way to the worker
        if (!ran) {
          ran = true;
          void meanwhile(t);
        }
        return request;
      };
    });
    return { ran: () => ran };
  }

  /** The commune's microphone on node a, on air at both, sent 40 packets at a time; a district hall on b receiving on a UDP socket. */
  async function micOnAToHallOnB(a: MediaSession, b: MediaSession): Promise<{ micId: string; send: (n: number) => Promise<void>; received: () => number }> {
    const sender = await udpSocket();
    const rx = await udpSocket();
    sockets.push(sender, rx);
    a.join('hw', { bridgeId: COMMUNE, publish: true, receiveOnAir: true, thumbnails: false }, new RecordingSink());
    const up = await a.createPlainTransport('hw', 'send', { comedia: true });
    const params = micParameters();
    const { id: micId } = await a.produce('hw', up.id, 'audio', params, 'mic');
    for (const s of [a, b]) await Promise.all([s.setOnAir(COMMUNE), s.setOpenMicrophones([PROVINCE, COMMUNE])]);
    let received = 0;
    rx.on('message', (m) => m.length >= 12 && !(m[1]! >= 192 && m[1]! <= 223) && received++);
    b.join('rx', { bridgeId: DISTRICT, publish: false, receiveOnAir: true, thumbnails: false }, new RecordingSink());
    b.setRtpCapabilities('rx', b.rtpCapabilities);
    const t = await b.createPlainTransport('rx', 'recv', { comedia: false });
    await b.connectPlainTransport('rx', t.id, { ip: '127.0.0.1', port: rx.address().port });
    b.setRemoteTracks([{ bridgeId: COMMUNE, source: 'mic', trackId: micId, kind: 'audio', home: { node: 'a' }, epoch: 1 }]);
    let seq = 0;
    const send = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        sender.send(rtp(params.encodings![0]!.ssrc!, ++seq, 111), up.port, up.ip);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    return { micId, send, received: () => received };
  }

  /** Waits until the hall on b has a running consumer of `micId` and the microphone's packets reach it; the failure says what each node holds. */
  async function expectMicAtB(a: MediaSession, b: MediaSession, t: { micId: string; send: (n: number) => Promise<void>; received: () => number }): Promise<void> {
    const state = async (): Promise<string> => `a: ${JSON.stringify(await a.pipeStats())}; b: ${JSON.stringify(await b.pipeStats())}; consumers at b: ${JSON.stringify(b.snapshot().peers.find((p) => p.peerId === 'rx')?.consumers)}`;
    const fail = async (error: Error): Promise<never> => {
      throw new Error(`${error.message} (${t.received()} packets); ${await state()}`);
    };
    await waitFor('the hall on b consumes the microphone', () => b.snapshot().peers.find((p) => p.peerId === 'rx')?.consumers.some((c) => c.producerId === t.micId && !c.paused) ?? false, 5000).catch(fail);
    // Packets until they arrive (a pipe asked again may still be connecting).
    await waitFor('the microphone\'s packets at the hall on b', async () => {
      await t.send(20);
      return t.received() >= 15;
    }, 5000).catch(fail);
  }

  it('node b\'s receiving pipe closed while the pipe producer is being made on it (closed directly, as another track\'s request remakes it or a worker loss does, timed into the produce request by wrapping the transport\'s produce): the track is asked again on a new pipe and reaches the hall', async () => {
    // mediasoup builds the Producer when the worker answers; the transport closed meanwhile took
    // only the producers it had, so this one came back open on a transport the worker no longer
    // had: the cascade kept it as the track's pipe, and the track came only once nobody had
    // consumed it for the linger (the hall's consume of it fails), 10 s as in production here.
    const { a, b, requests } = await twoNodes(0, undefined, 10_000);
    const race = racePipe(b, 'in', (t) => t.close());
    const t = await micOnAToHallOnB(a, b);
    await expectMicAtB(a, b, t);
    expect(race.ran(), 'the pipe closed during the produce request').to.equal(true);
    expect(requests.filter((r) => r.includes(' pipe ')), 'asked again with the new pipe').to.deep.equal([`b->a pipe ${t.micId}`, `b->a pipe ${t.micId}`]);
    expect(b.pipeCounts()).to.deep.equal({ in: 1, out: 0, tracks: { in: 1, out: 0 } });
  });

  it('node a\'s sending pipe closed while the pipe consumer is being made on it (node b forgotten meanwhile, timed into the consume request by wrapping the transport\'s consume): the request fails as pipe_failed, b asks again and the track reaches the hall', async () => {
    // The consumer came back open on a transport the worker no longer had, and a answered with
    // that dead end: b's pipe connected to nothing, and the track never came.
    const { a, b, requests } = await twoNodes();
    const race = racePipe(a, 'out', () => a.forgetNode('b'));
    const t = await micOnAToHallOnB(a, b);
    await expectMicAtB(a, b, t);
    expect(race.ran(), 'the pipe closed during the consume request').to.equal(true);
    expect(requests.filter((r) => r.includes(' pipe ')), 'asked again').to.deep.equal([`b->a pipe ${t.micId}`, `b->a pipe ${t.micId}`]);
    expect(a.pipeCounts(), 'the dead pipe\'s consumer is not counted').to.deep.equal({ in: 0, out: 1, tracks: { in: 0, out: 1 } });
  });
});
