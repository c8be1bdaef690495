import { expect } from 'chai';
import { io, type Socket } from 'socket.io-client';
import type { RunningServer } from '../../server/app/server.ts';
import { checkTurnCredentials } from '../../server/app/turn/index.ts';
import { IceConfigSchema } from '../../server/protocol/media.ts';
import { startTestServer, tokenOf } from '../helpers/server.ts';

const SECRET = 'integration-turn-secret-0123456789';
const URLS = ['turn:203.0.113.9:3478?transport=udp', 'turns:turn.example.vn:443?transport=tcp'];

type Reply = { ok: boolean; data?: Record<string, unknown>; error?: { code: string } };

/** A raw media socket: it may send what a hostile client sends. */
async function connect(server: RunningServer, token: string): Promise<Socket> {
  const socket = io(`${server.url}/media`, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

const ask = (socket: Socket, event: string, payload: unknown): Promise<Reply> => socket.timeout(5000).emitWithAck(event, payload) as Promise<Reply>;

describe('TURN credentials over the media signaling (real server, 1 worker)', function () {
  this.timeout(20_000);
  let server: RunningServer;
  const sockets: Socket[] = [];

  before(async () => {
    server = await startTestServer(1, { turnUrls: URLS, turnSecret: SECRET, turnTtlSec: 600 });
  });

  after(async () => {
    for (const s of sockets) s.close();
    await server?.close();
  });

  it('each transport comes with the hall\'s own fresh credentials, whatever the request names', async () => {
    const token = await tokenOf(server, 'c-06010');
    const socket = await connect(server, token);
    sockets.push(socket);
    expect((await ask(socket, 'media:join', {})).ok).to.equal(true);
    // A hostile hall names another bridge: the field is not part of the request, and the request is refused.
    const named = await ask(socket, 'media:createTransport', { direction: 'send', bridgeId: 'c-05971' });
    expect(named.ok).to.equal(false);
    const reply = await ask(socket, 'media:createTransport', { direction: 'send' });
    expect(reply.ok).to.equal(true);
    const ice = IceConfigSchema.parse({ iceServers: reply.data!.iceServers, iceTransportPolicy: reply.data!.iceTransportPolicy });
    expect(ice.iceTransportPolicy).to.equal('all');
    const [turn] = ice.iceServers;
    expect(turn!.urls).to.deep.equal(URLS);
    expect(turn!.username).to.match(/^\d+:c-06010$/);
    expect(checkTurnCredentials(SECRET, turn!.username!, turn!.credential!, Date.now())).to.equal('c-06010');
    expect(Number(turn!.username!.split(':')[0]) * 1000 - Date.now()).to.be.within(590_000, 600_000);
    // Direct candidates stay: TURN is the fallback, not the only way.
    expect((reply.data!.iceCandidates as unknown[]).length).to.be.greaterThan(0);
  });

  it('a revoked hall token cuts the socket off and gets nothing more', async () => {
    const token = await tokenOf(server, 'c-05971');
    const socket = await connect(server, token);
    sockets.push(socket);
    expect((await ask(socket, 'media:join', {})).ok).to.equal(true);
    const closed = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));
    await server.conference.tokens.revoke(token);
    await closed;
    await connect(server, token).then(
      () => expect.fail('a revoked token connected'),
      (error: Error) => expect(error.message).to.equal('unauthenticated'),
    );
  });

  it('a server without TURN hands out no ICE servers', async () => {
    const plain = await startTestServer(1);
    try {
      const socket = await connect(plain, await tokenOf(plain, 'c-06010'));
      sockets.push(socket);
      await ask(socket, 'media:join', {});
      const reply = await ask(socket, 'media:createTransport', { direction: 'recv' });
      expect(reply.ok).to.equal(true);
      expect(reply.data).to.not.have.property('iceServers');
      expect(plain.turn).to.equal(null);
    } finally {
      await plain.close();
    }
  });
});
