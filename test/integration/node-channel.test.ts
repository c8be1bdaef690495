// The node-to-node channel (issue 13) over real HTTP on loopback, against a real media node (one
// worker, the conference open, a microphone published): a signed request from a live node pipes a
// track; a forged, replayed, stale, unknown-node, unsigned or malformed request is refused with its
// stable code and logged, and nothing changes (no pipe, no nonce used). Then the /media side: a
// hall placed on another node is refused at connect with `wrong_node` and where it is placed.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import express from 'express';
import { expect } from 'chai';
import { Server as SocketServer } from 'socket.io';
import { io } from 'socket.io-client';
import { WorkerPool } from '../../sfu/index.ts';
import { defaultPlan } from '../../config/default-plan.ts';
import { ConferenceRunner } from '../../server/app/conference/ConferenceRunner.ts';
import { AccessTokens } from '../../server/app/conference/tokens.ts';
import { MediaNode } from '../../server/app/media-node/MediaNode.ts';
import { NodeClient } from '../../server/app/media-node/NodeClient.ts';
import { NodeApiError, signRequest } from '../../server/app/media-node/node-auth.ts';
import { systemClock } from '../../server/core/conference/index.ts';
import { PipeReply, type MediaNodeRecord, type NodeStats } from '../../server/protocol/cluster.ts';
import { createStores, type Stores } from '../../server/store/index.ts';
import { attachMediaSignaling } from '../../server/transport/media-socket.ts';
import { tokenGate } from '../../server/transport/socket-requests.ts';
import { RequestLimits } from '../../server/app/rate-limit.ts';
import { micParameters, poolOptions, RecordingSink } from './media-fixture.ts';

const SECRET = 'the-deployment-secret-0123456789abcdef';
const CONFERENCE = 'channel-test';

function nodeRecord(nodeId: string, url: string): MediaNodeRecord {
  return { nodeId, mediaUrl: url, nodeApiUrl: url, announcedIp: '127.0.0.1', workers: 1, load: { peers: 0, consumers: 0, cpu: 0 }, capacity: 100, labels: {}, draining: false, startedAt: 1, renewedAt: 1 };
}

async function listen(app: express.Express | http.RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

describe('Node channel and placement on a real media node (HTTP and socket.io on loopback)', function () {
  this.timeout(30_000);
  let pool: WorkerPool;
  let stores: Stores;
  let runner: ConferenceRunner;
  let node: MediaNode;
  let api: { server: http.Server; url: string };
  let micId: string;
  const logged: { code?: string; from?: string }[] = [];

  before(async () => {
    pool = await WorkerPool.create(await poolOptions(1));
    stores = await createStores();
    runner = await ConferenceRunner.create({ conferenceId: CONFERENCE, plan: defaultPlan(), store: stores.conferences });
    const app = express();
    api = await listen(app);
    const log = { info: () => undefined, error: () => undefined, warn: (data: object) => void logged.push(data as { code?: string }) };
    node = await MediaNode.create({
      nodeId: 'home',
      pool,
      stores,
      log,
      clock: systemClock,
      cluster: { secret: SECRET, mediaUrl: api.url, nodeApiUrl: api.url, announcedIp: '127.0.0.1', labels: {}, capacity: 100 },
    });
    app.use('/node/v1', node.apiRouter());
    const media = await node.openConference({ conferenceId: CONFERENCE, plan: defaultPlan(), state: runner });
    media.session.join('hw', { bridgeId: 'c-05971', publish: true, receiveOnAir: true, thumbnails: false }, new RecordingSink());
    const t = await media.session.createPlainTransport('hw', 'send', { comedia: true });
    micId = (await media.session.produce('hw', t.id, 'audio', micParameters(), 'mic')).id;
    await stores.nodes.announce(nodeRecord('peer', 'http://127.0.0.1:9'), 60_000);
  });

  after(async () => {
    await node?.close();
    await runner?.close();
    api?.server.close();
    pool?.close();
    await stores?.close();
  });

  /** A pipe request body: the requester's end (a port nobody listens on: the pipe is only set up). */
  const pipeBody = (trackId = micId): Buffer =>
    Buffer.from(JSON.stringify({ conferenceId: CONFERENCE, trackId, end: { transportId: randomUUID(), ip: '127.0.0.1', port: 9, srtpParameters: { cryptoSuite: 'AEAD_AES_256_GCM', keyBase64: Buffer.alloc(44, 7).toString('base64') } } }));

  async function send(headers: Record<string, string>, body: Buffer, path = '/node/v1/pipe'): Promise<{ status: number; json: { error?: { code: string } } & Record<string, unknown> }> {
    const response = await fetch(`${api.url}${path}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: new Uint8Array(body) });
    return { status: response.status, json: (await response.json()) as { error?: { code: string } } };
  }

  const pipesOf = async (): Promise<NodeStats> => node.stats();

  /** Sends a refused request and checks its code, its log line, and that the node's pipes did not change. */
  async function refused(label: string, headers: Record<string, string>, body: Buffer, code: string, status: number): Promise<void> {
    const before = JSON.stringify(await pipesOf());
    const logs = logged.length;
    const reply = await send(headers, body);
    expect(reply.status, label).to.equal(status);
    expect(reply.json.error?.code, label).to.equal(code);
    expect(logged.slice(logs).map((l) => l.code), `${label}: logged`).to.deep.equal([code]);
    expect(JSON.stringify(await pipesOf()), `${label}: nothing changed`).to.equal(before);
  }

  it('a request signed by a live node pipes the track; forged, replayed, stale, unknown-node, unsigned and malformed ones are refused, logged, and change nothing', async () => {
    const body = pipeBody();
    const valid = signRequest(SECRET, 'peer', 'POST', '/node/v1/pipe', body, Date.now());

    await refused('forged (another secret)', signRequest('not-the-secret-of-this-deployment-xx', 'peer', 'POST', '/node/v1/pipe', body, Date.now()), body, 'bad_signature', 401);
    await refused('signed for another body', valid, pipeBody(), 'bad_signature', 401);
    await refused('stale (31 s old)', signRequest(SECRET, 'peer', 'POST', '/node/v1/pipe', body, Date.now() - 31_000), body, 'stale_request', 401);
    await refused('from the future (31 s ahead)', signRequest(SECRET, 'peer', 'POST', '/node/v1/pipe', body, Date.now() + 31_000), body, 'stale_request', 401);
    await refused('unknown node', signRequest(SECRET, 'stranger', 'POST', '/node/v1/pipe', body, Date.now()), body, 'unknown_node', 403);
    await refused('unsigned', {}, body, 'missing_auth', 401);
    const malformed = Buffer.from(JSON.stringify({ conferenceId: CONFERENCE, trackId: 'nope' }));
    await refused('malformed body', signRequest(SECRET, 'peer', 'POST', '/node/v1/pipe', malformed, Date.now()), malformed, 'invalid_payload', 400);

    // The valid request, not spent by the refusals above (a refused request uses no nonce).
    const ok = await send(valid, body);
    expect(ok.status, JSON.stringify(ok.json)).to.equal(200);
    expect(PipeReply.parse(ok.json).kind).to.equal('audio');
    expect((await pipesOf()).conferences[CONFERENCE]!.pipes.peer!.out.tracks).to.deep.equal([micId]);

    await refused('replayed', valid, body, 'replayed_request', 401);
    const unknownTrack = pipeBody(randomUUID());
    const missing = await send(signRequest(SECRET, 'peer', 'POST', '/node/v1/pipe', unknownTrack, Date.now()), unknownTrack);
    expect([missing.status, missing.json.error?.code]).to.deep.equal([404, 'unknown_track']);
  });

  it('the requesting side refuses a reply that is not signed by the deployment\'s secret', async () => {
    const impostor = await listen((_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ nodeId: 'x', conferences: {} }));
    });
    try {
      const client = new NodeClient({ nodeId: 'home', secret: SECRET, locate: () => nodeRecord('impostor', impostor.url), now: () => Date.now() });
      const error = await client.get('impostor', '/node/v1/stats', PipeReply).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(NodeApiError).with.property('code', 'bad_signature');
    } finally {
      impostor.server.close();
    }
  });

  it('/media refuses a hall placed on another node with wrong_node and where it is; one placed here or not yet placed is welcome', async () => {
    const tokens = await AccessTokens.create({ conferenceId: CONFERENCE, bridges: defaultPlan().bridges, store: stores.tokens });
    const httpServer = http.createServer();
    const ioServer = new SocketServer(httpServer);
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(httpServer.address() as { port: number }).port}`;
    attachMediaSignaling(ioServer.of('/media'), () => node.conference(CONFERENCE)?.session, {
      gate: tokenGate(tokens, new RequestLimits(systemClock)),
      admit: (p) => node.admit(CONFERENCE, p),
    });
    await stores.nodes.announce(nodeRecord('elsewhere', 'http://10.0.0.2:3000'), 60_000);
    await stores.placements.place(CONFERENCE, { peerKey: 'd-178', nodeId: 'elsewhere', at: 1, reason: 'placed' }, 0);
    await stores.placements.place(CONFERENCE, { peerKey: 'd-180', nodeId: 'home', at: 1, reason: 'placed' }, 0);
    const connect = async (bridgeId: string): Promise<{ ok: true } | { ok: false; message: string; data: unknown }> => {
      const socket = io(`${url}/media`, { auth: { token: await tokens.tokenFor(bridgeId) }, transports: ['websocket'], reconnection: false });
      return new Promise((resolve) => {
        socket.on('connect', () => {
          socket.close();
          resolve({ ok: true });
        });
        socket.on('connect_error', (e: Error & { data?: unknown }) => {
          socket.close();
          resolve({ ok: false, message: e.message, data: e.data });
        });
      });
    };
    try {
      // The registry's view of 'elsewhere' reaches the node through its watch (polled).
      await node.knowsNode('elsewhere');
      expect(await connect('d-178')).to.deep.equal({ ok: false, message: 'wrong_node', data: { code: 'wrong_node', nodeId: 'elsewhere', mediaUrl: 'http://10.0.0.2:3000' } });
      expect(await connect('d-180')).to.deep.equal({ ok: true });
      expect(await connect('c-06010')).to.deep.equal({ ok: true });
    } finally {
      ioServer.close();
    }
  });
});
