// Issue 18, findings 1 and 4, their class: a media node (issue 13's `media` role) faces the halls
// as a control instance does. A hall's /media socket on a media node must be cut off when its
// link is revoked or re-issued on a control instance, no request of it may be served after, and
// the node refuses the link at connect with the reason; the node's HTTP answers every error in
// the documented JSON. A real redis-server, a control instance and a media node (each with its
// own store connections, the announcements crossing redis pub/sub), in this process.
import http from 'node:http';
import { expect } from 'chai';
import { io, type Socket } from 'socket.io-client';
import { loadConfig } from '../../config/index.ts';
import { defaultPlan } from '../../config/default-plan.ts';
import { startServer, type RunningServer } from '../../server/app/server.ts';
import { startMediaNode, type RunningMediaNode } from '../../server/app/media-node/start.ts';
import { freePortBase, tokenOf } from '../helpers/server.ts';
import { startRedisServer, type RedisServer } from './store/redis-server.ts';
import { waitFor } from './media-fixture.ts';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
const CONFERENCE = 'revoke-media-node';
const HALL = 'c-06010';
const OTHER = 'd-178';

type Reply = { ok: boolean; error?: { code: string } };

describe('revocation on a media node (redis, a control instance and a media node)', function () {
  this.timeout(90_000);
  let redis: RedisServer;
  let control: RunningServer;
  let node: RunningMediaNode;
  const sockets: Socket[] = [];

  before(async () => {
    redis = await startRedisServer();
    control = await startServer(loadConfig({}, { role: 'control', redisUrl: redis.url, conferenceId: CONFERENCE, listenIp: '127.0.0.1', httpPort: 0, logLevel: 'error', nodeSecret: SECRET }), defaultPlan());
    const webRtcBasePort = await freePortBase(1);
    const rtc = Math.min(await freePortBase(1), 64000);
    node = await startMediaNode(
      loadConfig({}, { role: 'media', redisUrl: redis.url, conferenceId: CONFERENCE, nodeSecret: SECRET, nodeId: 'node-r', listenIp: '127.0.0.1', httpPort: 0, workers: 1, webRtcBasePort, rtcMinPort: rtc, rtcMaxPort: rtc + 499, logLevel: 'error' }),
      defaultPlan(),
    );
    await node.ready;
  });
  after(async () => {
    for (const s of sockets) s.close();
    await node?.close();
    await control?.close();
    await redis?.stop();
  });

  /** A /media socket on the node; resolves once connected, or with the refusal (message and data). */
  function connect(token: string): Promise<{ socket: Socket; refused: null } | { socket: Socket; refused: { message: string; data: unknown } }> {
    const socket = io(`${node.url}/media`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(socket);
    return new Promise((resolve) => {
      socket.once('connect', () => resolve({ socket, refused: null }));
      socket.once('connect_error', (e: Error & { data?: unknown }) => resolve({ socket, refused: { message: e.message, data: e.data } }));
    });
  }

  async function post(path: string, body: object): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${control.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${await tokenOf(control, 'chair')}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  /** The outcome of a socket's next 3 s: what the server told it and why it was disconnected. */
  function cutOff(socket: Socket): Promise<{ told: unknown; reason: string }> {
    let told: unknown = null;
    socket.on('session:refused', (m: unknown) => (told = m));
    return Promise.race([
      new Promise<{ told: unknown; reason: string }>((resolve) => socket.once('disconnect', (reason) => resolve({ told, reason }))),
      new Promise<{ told: unknown; reason: string }>((resolve) => setTimeout(() => resolve({ told, reason: 'still connected after 3 s' }), 3000)),
    ]);
  }

  it('a hall\'s link revoked on the control instance: its socket on the media node is told and cut off at once; the node refuses it at connect, saying why', async () => {
    const token = await tokenOf(control, HALL);
    const first = await connect(token);
    expect(first.refused, JSON.stringify(first.refused)).to.equal(null);
    const joined = (await first.socket.timeout(5000).emitWithAck('media:join', {})) as Reply;
    expect(joined, JSON.stringify(joined)).to.deep.include({ ok: true });
    const outcome = cutOff(first.socket);
    expect(await post('/api/tokens/revoke', { token })).to.deep.equal({ status: 200, json: { revoked: true } });
    expect(await outcome).to.deep.equal({ told: { code: 'token_revoked' }, reason: 'io server disconnect' });
    const again = await connect(token);
    expect(again.refused).to.deep.equal({ message: 'unauthenticated', data: { code: 'token_revoked' } });
  });

  it('a link re-issued on the control instance: the old token is cut off on the media node, the new one is served there', async () => {
    const old = await tokenOf(control, OTHER);
    const first = await connect(old);
    expect(first.refused, JSON.stringify(first.refused)).to.equal(null);
    const outcome = cutOff(first.socket);
    const reissued = await post('/api/tokens/reissue', { target: OTHER });
    expect(reissued.status).to.equal(200);
    const fresh = String(reissued.json.url).split('#token=')[1]!;
    expect(await outcome).to.deep.equal({ told: { code: 'token_revoked' }, reason: 'io server disconnect' });
    const next = await connect(fresh);
    expect(next.refused, JSON.stringify(next.refused)).to.equal(null);
    const joined = (await next.socket.timeout(5000).emitWithAck('media:join', {})) as Reply;
    expect(joined, JSON.stringify(joined)).to.deep.include({ ok: true });
    await waitFor('the new socket stays', () => next.socket.connected, 1000);
  });

  it('the media node answers every error in the JSON with a stable code, no stack: a body too large or compressed for the node channel, a path that does not decode, a missing route', async () => {
    const send = (method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; type: string; text: string }> =>
      new Promise((resolve, reject) => {
        const req = http.request(`${node.url}${path}`, { method, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), text }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const cases: [string, string, Record<string, string>, string | undefined, number, string][] = [
      ['POST', '/node/v1/pipe', { 'content-type': 'application/json' }, 'x'.repeat(70_000), 413, 'payload_too_large'],
      ['POST', '/node/v1/pipe', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 'xx', 415, 'unsupported_encoding'],
      ['GET', '/node/v1/stats', {}, undefined, 401, 'missing_auth'],
      ['GET', '/%E0%A4%A', {}, undefined, 404, 'not_found'],
      ['GET', '/api/me', {}, undefined, 404, 'not_found'],
      ['POST', '/nothing', { 'content-type': 'text/plain' }, 'x', 404, 'not_found'],
    ];
    for (const [method, path, headers, body, status, code] of cases) {
      const res = await send(method, path, headers, body);
      const label = `${method} ${path}: ${res.status} ${res.text.slice(0, 120)}`;
      expect(res.type, label).to.match(/^application\/json/);
      expect(res.status, label).to.equal(status);
      expect((JSON.parse(res.text) as { error: { code: string } }).error.code, label).to.equal(code);
      expect(res.text, label).to.not.match(/\bat [\w.<>]+ \(/);
    }
  });
});
