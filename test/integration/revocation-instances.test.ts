// Issue 18, finding 1: a link revoked or re-issued on one server process must stop working on
// every process at once. Two real server processes on one real redis-server; a hall's sockets
// on the second, the chair's REST call on the first.
import { expect } from 'chai';
import { createClient } from 'redis';
import { io, type Socket } from 'socket.io-client';
import { RedisStore } from '../../server/store/index.ts';
import { killAll, serverEnv, spawnServerProcess, type ServerProcess } from '../helpers/server-process.ts';
import { startRedisServer, type RedisServer } from './store/redis-server.ts';
import { waitFor } from './media-fixture.ts';

const COMMUNE = 'c-06010';
const DISTRICT = 'd-178';
const COMMUNE_2 = 'c-05971';

type Reply = { ok: boolean; error?: { code: string } };

describe('revocation across server processes (two real processes, real redis)', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let store: RedisStore;
  let one: ServerProcess;
  let two: ServerProcess;
  const conferenceId = `revoke-${Date.now()}`;
  const sockets: Socket[] = [];

  before(async () => {
    redis = await startRedisServer();
    const env = { REDIS_URL: redis.url, DIEMCAU_CONFERENCE_ID: conferenceId };
    one = await spawnServerProcess(await serverEnv(env));
    two = await spawnServerProcess(await serverEnv(env));
    store = await RedisStore.create({ url: redis.url });
  });
  after(async () => {
    for (const s of sockets) s.close();
    await store?.close();
    await killAll();
    await redis?.stop();
  });

  const tokenOf = async (grant: string): Promise<string> => (await store.listTokens(conferenceId)).find((t) => t.grant === grant)!.token;

  /** A socket of a namespace that does not reconnect by itself (so a cut-off stays visible). */
  async function open(url: string, namespace: '/control' | '/media', token: string): Promise<Socket> {
    const socket = io(`${url}${namespace}`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(socket);
    // A control socket's first view comes once its hall is on the roll-call.
    await new Promise<void>((resolve, reject) => {
      if (namespace === '/control') socket.once('control:view', () => resolve());
      else socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return socket;
  }

  const command = (s: Socket, cmd: object): Promise<Reply> => s.timeout(5000).emitWithAck('control:command', cmd) as Promise<Reply>;

  async function post(url: string, path: string, token: string, body: object): Promise<{ status: number; json: Record<string, unknown> }> {
    const res = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  /** Whether a fresh socket with this token is refused at its handshake on a server. */
  async function refusedAt(url: string, token: string): Promise<string> {
    const socket = io(`${url}/control`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(socket);
    return new Promise((resolve) => {
      socket.once('connect', () => resolve('connected'));
      socket.once('connect_error', (e) => resolve(e.message));
    });
  }

  it('a token revoked on instance 1 cuts off its sockets on instance 2 at once; no command of it is accepted there', async () => {
    const chair = await tokenOf('chair');
    const hall = await tokenOf(`operator:${COMMUNE}`);
    const control = await open(two.url, '/control', hall);
    const media = await open(two.url, '/media', hall);
    expect(await command(control, { type: 'report_ready', bridgeId: COMMUNE, attendees: 12 })).to.deep.include({ ok: true });
    const closed = Promise.all([control, media].map((s) => new Promise<string>((r) => s.once('disconnect', r))));
    const revoked = await post(one.url, '/api/tokens/revoke', chair, { token: hall });
    expect(revoked).to.deep.equal({ status: 200, json: { revoked: true } });
    const reasons = await Promise.race([closed, new Promise<string[]>((r) => setTimeout(() => r(['still connected after 3 s']), 3000))]);
    expect(reasons).to.deep.equal(['io server disconnect', 'io server disconnect']);
    expect(await refusedAt(two.url, hall)).to.equal('unauthenticated');
    const state = (await store.load(conferenceId))!.state;
    expect(state.presence[COMMUNE]?.attendees).to.equal(12);
  });

  it('a link re-issued on instance 1: the old token is cut off on instance 2, the new one works there', async () => {
    const chair = await tokenOf('chair');
    const old = await tokenOf(`operator:${DISTRICT}`);
    const control = await open(two.url, '/control', old);
    const closed = new Promise<string>((r) => control.once('disconnect', r));
    const reissued = await post(one.url, '/api/tokens/reissue', chair, { target: DISTRICT });
    expect(reissued.status).to.equal(200);
    const fresh = String(reissued.json.url).split('#token=')[1]!;
    expect(fresh).to.not.equal(old);
    expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r('still connected after 3 s'), 3000))])).to.equal('io server disconnect');
    expect(await refusedAt(two.url, old)).to.equal('unauthenticated');
    const again = await open(two.url, '/control', fresh);
    const reply = await command(again, { type: 'report_ready', bridgeId: DISTRICT, attendees: 30 });
    expect(reply, JSON.stringify(reply)).to.deep.include({ ok: true });
  });

  it('announcements lost while the store connection is down: the token is checked against the store, and the socket is cut off once they are back', async () => {
    const hall = await tokenOf(`operator:${COMMUNE_2}`);
    const control = await open(two.url, '/control', hall);
    const first = await command(control, { type: 'report_ready', bridgeId: COMMUNE_2, attendees: 7 });
    expect(first, JSON.stringify(first)).to.deep.include({ ok: true });
    const closed = new Promise<string>((r) => control.once('disconnect', r));
    const raw = createClient({ url: redis.url });
    await raw.connect();
    try {
      // The token goes without any announcement at all (as if it were lost), and every subscriber
      // connection drops. In this order: a subscriber reconnects within milliseconds and checks its
      // cached tokens then; a deletion after that check, never announced, is not what this case is
      // (a real revocation announces once the subscriber is back).
      await raw.hDel(`diemcau:{${conferenceId}}:tokens`, hall);
      await raw.hDel(`diemcau:{${conferenceId}}:grants`, `operator:${COMMUNE_2}`);
      const pubsubIds = async (): Promise<number[]> =>
        String(await raw.sendCommand(['CLIENT', 'LIST', 'TYPE', 'pubsub'])).split('\n').map((l) => Number(/^id=(\d+)/.exec(l)?.[1])).filter((n) => n > 0);
      const before = await pubsubIds();
      await raw.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
      // The processes learn of the loss from their subscriber's socket: a command that reaches a
      // process in the millisecond before is checked against its cache, like any (a lost
      // announcement cannot be known sooner). What this case is about comes after: every
      // subscriber back, with what it missed checked against the store.
      const oldest = Math.max(0, ...before);
      await waitFor('the subscribers back', async () => (await pubsubIds()).filter((id) => id > oldest).length >= before.length, 10_000);
    } finally {
      await raw.close();
    }
    // Whatever arrives now is either refused or never answered (the socket is cut off): never accepted.
    const replies: Reply[] = [];
    for (let i = 0; i < 20 && control.connected; i++) {
      replies.push(await command(control, { type: 'report_ready', bridgeId: COMMUNE_2, attendees: 8 + i }).catch(() => ({ ok: false, error: { code: 'no answer' } })));
    }
    expect(replies.filter((r) => r.ok)).to.deep.equal([]);
    await waitFor('the socket cut off', () => !control.connected, 10_000);
    expect(await closed).to.equal('io server disconnect');
    expect((await store.load(conferenceId))!.state.presence[COMMUNE_2]?.attendees).to.equal(7);
  });
});
