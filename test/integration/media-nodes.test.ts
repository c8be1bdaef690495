// Media across hosts (issue 13) with real processes on loopback: redis, a control instance (the
// `control` role, in this process: it writes the conference's state) and three media node
// processes (the `media` role), each with its own HTTP port, workers and pipe ports. Halls join
// the nodes as hardware halls do (plain RTP, synthetic Opus and VP8 sent and received by this
// test). What is checked: a speaker on node 1 reaches halls on nodes 2 and 3; the RTP streams
// crossing between two nodes are the producers needed there, whatever the number of halls
// (counted at the pipe transports); a switch across nodes asks the speaker for one keyframe; a
// node killed with SIGKILL has its tracks gone from the registry for everyone within its lease;
// the feed runs on the node labelled feed=yes, with the programme of a speaker on another node;
// the control instance's link health reads the samples the nodes publish.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadConfig } from '../../config/index.ts';
import { defaultPlan } from '../../config/default-plan.ts';
import { startServer, type RunningServer } from '../../server/app/server.ts';
import { NODE_LEASE_MS } from '../../server/app/media-node/NodeLease.ts';
import { RedisTrackRegistry, NODE_POLL_MS } from '../../server/store/index.ts';
import type { NodeStats } from '../../server/protocol/cluster.ts';
import { MediaNodeProcess } from '../helpers/media-nodes.ts';
import { Receiver, SyntheticHall } from '../helpers/synthetic-rtp.ts';
import { startRedisServer, type RedisServer } from './store/redis-server.ts';
import { waitFor } from './media-fixture.ts';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const CONFERENCE = 'nodes-test';
const SPEAKER = 'c-05971';
const SECOND = 'c-06010';

type Published = { ip: string; port: number; micSsrc: number; camSsrc: number; micId: string; camId: string };
type Pipes = Record<string, { out: { tracks: string[]; rtpStreams: number; rtpBytes: number }; in: { tracks: string[]; rtpStreams: number; rtpBytes: number } }>;

describe('Media across nodes: 3 media node processes, a control instance and redis on loopback', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let control: RunningServer;
  let recordings = '';
  const nodes: MediaNodeProcess[] = [];
  const halls: SyntheticHall[] = [];
  const receivers: Receiver[] = [];

  before(async () => {
    redis = await startRedisServer();
    control = await startServer(loadConfig({}, { role: 'control', redisUrl: redis.url, conferenceId: CONFERENCE, listenIp: '127.0.0.1', httpPort: 0, logLevel: 'error', nodeSecret: SECRET }), defaultPlan());
    recordings = await mkdtemp(path.join(tmpdir(), 'diemcau-nodes-'));
    for (const [i, labels] of ['region=dong-bac', 'region=dong-bac,feed=yes', 'region=tay-bac'].entries()) {
      nodes.push(await MediaNodeProcess.start({ nodeId: `node${i + 1}`, redisUrl: redis.url, secret: SECRET, conferenceId: CONFERENCE, workers: i === 1 ? 2 : 1, labels, env: { TEST_PIPE_LINGER_MS: '3000', DIEMCAU_RECORDINGS_DIR: recordings } }));
    }
    const started = await control.conference.execute({ role: 'chair' }, { type: 'start_meeting' });
    expect(started.ok, JSON.stringify(started)).to.equal(true);
  });

  after(async () => {
    for (const h of halls) h.close();
    for (const r of receivers) r.close();
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    await control?.close();
    await redis?.stop();
    if (recordings) await rm(recordings, { recursive: true, force: true });
  });

  const [n1, n2, n3] = [0, 1, 2].map((i) => () => nodes[i]!);

  async function receiveOn(node: MediaNodeProcess, bridgeId: string): Promise<Receiver> {
    const r = new Receiver();
    receivers.push(r);
    await node.call('receive', { peerId: `rx-${bridgeId}-${receivers.length}`, bridgeId, ...(await r.start()) });
    return r;
  }

  async function grantTo(bridgeId: string): Promise<void> {
    const c = control.conference;
    await c.bridgeConnected(bridgeId);
    const asked = await c.execute({ role: 'operator', bridgeId }, { type: 'request_floor', bridgeId, speakerName: 'Đại biểu', speakerTitle: 'Chủ tịch' });
    expect(asked.ok, JSON.stringify(asked)).to.equal(true);
    const granted = await c.execute({ role: 'chair' }, { type: 'grant_next' });
    expect(granted.ok, JSON.stringify(granted)).to.equal(true);
    for (const node of nodes) await waitFor(`${node.nodeId} follows the floor to ${bridgeId}`, async () => (await node.call<{ onAir: string }>('routing')).onAir === bridgeId, 5000, 50);
  }

  it('a speaker on node 1 reaches halls on nodes 2 and 3; the streams between two nodes are the producers needed there, however many halls', async () => {
    const speaker = await n1().call<Published>('publish', { peerId: 'speaker', bridgeId: SPEAKER });
    const hall = new SyntheticHall();
    halls.push(hall);
    await hall.start(speaker);
    await grantTo(SPEAKER);

    const on2 = [await receiveOn(n2(), 'd-178'), await receiveOn(n2(), 'd-180')];
    const on3 = [await receiveOn(n3(), 'c-06136')];
    for (const r of [...on2, ...on3]) await waitFor('each hall on nodes 2 and 3 receives the speaker\'s audio and video', () => r.ssrcs.size >= 2 && r.packets > 50, 10_000, 50);

    const pipesOf = async (node: MediaNodeProcess): Promise<Pipes> => node.call<Pipes>('pipes');
    const speakerTracks = [speaker.micId, speaker.camId].sort();
    const check = async (label: string): Promise<void> => {
      const from1 = await pipesOf(n1());
      for (const target of ['node2', 'node3']) {
        expect(from1[target]!.out.tracks, `${label}: node1 -> ${target} tracks`).to.deep.equal(speakerTracks);
        expect(from1[target]!.out.rtpStreams, `${label}: node1 -> ${target} RTP streams (audio + the one video layer sent)`).to.equal(2);
      }
      for (const [node, name] of [[n2(), 'node2'], [n3(), 'node3']] as const) {
        const into = (await pipesOf(node)).node1!;
        expect(into.in.tracks, `${label}: ${name} receives from node1`).to.deep.equal(speakerTracks);
        expect(into.in.rtpStreams, `${label}: ${name} streams from node1`).to.equal(2);
      }
    };
    await check('2 halls on node 2');
    const bytesBefore = (await pipesOf(n1())).node2!.out.rtpBytes;

    // Four more halls on node 2: nothing more crosses between the nodes.
    for (const id of ['d-181', 'd-182', 'd-183', 'd-184']) on2.push(await receiveOn(n2(), id));
    for (const r of on2) await waitFor('the new halls receive', () => r.ssrcs.size >= 2, 10_000, 50);
    await check('6 halls on node 2');
    expect((await pipesOf(n1())).node2!.out.rtpBytes).to.be.greaterThan(bytesBefore);
    // The same numbers, asked over the signed node channel (what a technician's page reads).
    const viaApi = await n2().call<NodeStats>('nodeStats', { nodeId: 'node1' });
    expect(viaApi.conferences[CONFERENCE]!.pipes.node2!.out.tracks).to.deep.equal(speakerTracks);
  });

  it('the control instance\'s link health reads the counters the media nodes publish', async () => {
    const health = control.conference.health.book;
    await waitFor('the speaker\'s link (its hall publishes on node 1) in the control instance\'s health', () => {
      const up = health.get(SPEAKER)?.last;
      return up?.online && up.iceState === 'connected' && (up.bitrateUpKbps ?? 0) > 0;
    }, 15_000, 100);
    expect(health.get('d-186')?.last?.online ?? false, 'a hall on no node').to.equal(false);
  });

  it('a switch to a speaker on another node asks that speaker for one keyframe', async () => {
    const second = await n1().call<Published>('publish', { peerId: 'second', bridgeId: SECOND });
    const hall = new SyntheticHall();
    halls.push(hall);
    await hall.start(second);
    // Settled: its first keyframe sent, nothing pending at the producer.
    await new Promise((r) => setTimeout(r, 1500));
    const before = await n1().call<number>('keyframes', { producerId: second.camId });
    const plisBefore = hall.plis;
    await grantTo(SECOND);
    for (const r of receivers) await waitFor('every hall receives the new speaker', () => r.ssrcs.size >= 4, 10_000, 50);
    // Long enough for a second request (mediasoup repeats after 1 s, the delayer after 350 ms).
    await new Promise((r) => setTimeout(r, 1500));
    const after = await n1().call<number>('keyframes', { producerId: second.camId });
    expect(after - before, 'keyframe requests at the speaker for one switch of halls on 2 other nodes').to.equal(1);
    expect(hall.plis - plisBefore).to.equal(1);
  });

  it('the feed runs on the node labelled feed=yes and takes the programme from a speaker on another node', async () => {
    type Feed = { runs: boolean; recording?: string | null; showing?: string | null; relay?: { forwarded: number } | null };
    expect((await n1().call<Feed>('feed')).runs).to.equal(false);
    expect((await n3().call<Feed>('feed')).runs).to.equal(false);
    expect((await n2().call<Feed>('feed')).runs).to.equal(true);
    const started = await control.conference.execute({ role: 'secretary' }, { type: 'recording_start' });
    expect(started.ok, JSON.stringify(started)).to.equal(true);
    const feed = await waitFor('node 2\'s feed relays the speaker of node 1', async () => {
      const f = await n2().call<Feed>('feed');
      return f.showing === 'speaker' && (f.relay?.forwarded ?? 0) > 50 && f;
    }, 15_000, 100);
    expect(feed.recording).to.be.a('string');
    expect((await control.conference.execute({ role: 'secretary' }, { type: 'recording_stop' })).ok).to.equal(true);
    await waitFor('the recording stopped on node 2', async () => (await n2().call<Feed>('feed')).recording === null, 10_000, 100);
  });

  it('a node killed with SIGKILL: its tracks leave the registry for everyone within its lease, and the others close their pipes to it', async () => {
    const published = await n3().call<Published>('publish', { peerId: 'district', bridgeId: 'd-186' });
    const tracks = await RedisTrackRegistry.create({ url: redis.url });
    try {
      const ofNode3 = async (): Promise<string[]> => (await tracks.tracks(CONFERENCE)).filter((t) => t.nodeId === 'node3').map((t) => t.producerId).sort();
      await waitFor('node 3\'s tracks in the registry', async () => (await ofNode3()).length === 2, 5000, 50);
      expect(await ofNode3()).to.deep.equal([published.micId, published.camId].sort());
      const killedAt = Date.now();
      await n3().kill('SIGKILL');
      await waitFor('node 3\'s tracks gone from the registry', async () => (await ofNode3()).length === 0, NODE_LEASE_MS + NODE_POLL_MS + 2000, 50);
      const tookMs = Date.now() - killedAt;
      expect(tookMs, 'within the lease and one registry poll').to.be.at.most(NODE_LEASE_MS + NODE_POLL_MS + 500);
      for (const node of [n1(), n2()]) {
        await waitFor(`${node.nodeId} closed its pipes to node 3`, async () => !(await node.call<Pipes>('pipes')).node3, 3000, 50);
      }
    } finally {
      await tracks.close();
    }
  });
});
