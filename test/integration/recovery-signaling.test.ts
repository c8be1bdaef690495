import { expect } from 'chai';
import { io, type Socket } from 'socket.io-client';
import type { RunningServer } from '../../server/app/server.ts';
import type { Ack, AudioOnlyState, ConsumeMessage, MediaClientEvents, MediaServerEvents } from '../../server/protocol/media.ts';
import { startTestServer, tokenOf } from '../helpers/server.ts';
import { COMMUNE, COMMUNE_2, DISTRICT, PROVINCE, camParameters, micParameters, waitFor } from './media-fixture.ts';

type ClientSocket = Socket<MediaServerEvents, MediaClientEvents>;

/** A socket to /media with what the server pushed to it. */
interface Client {
  socket: ClientSocket;
  consumes: ConsumeMessage[];
  micStates: boolean[];
  audioOnly: AudioOnlyState[];
}

const RESUME_WINDOW_MS = 1500;

describe('media recovery over socket.io: ICE restart, a peer taken back on a new socket, audio only (real server, 1 worker)', function () {
  this.timeout(20_000);
  let server: RunningServer;
  const sockets: ClientSocket[] = [];

  before(async () => {
    server = await startTestServer(1, {}, { resumeWindowMs: RESUME_WINDOW_MS });
  });

  after(async () => {
    for (const s of sockets) s.close();
    await server?.close();
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await waitFor('every peer left', () => server.media.peerIds().length === 0, RESUME_WINDOW_MS + 3000);
  });

  async function connect(who: string): Promise<Client> {
    const socket: ClientSocket = io(`${server.url}/media`, { auth: { token: await tokenOf(server, who) }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(socket);
    const client: Client = { socket, consumes: [], micStates: [], audioOnly: [] };
    socket.on('media:consume', (msg, ack) => {
      client.consumes.push(msg);
      ack({ ok: true });
    });
    socket.on('media:micState', ({ open }) => client.micStates.push(open));
    socket.on('media:audioOnly', (state) => client.audioOnly.push(state));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return client;
  }

  function request(client: Client, event: string, ...args: unknown[]): Promise<Ack<any>> {
    return (client.socket as unknown as { timeout(ms: number): { emitWithAck(e: string, ...a: unknown[]): Promise<Ack<any>> } }).timeout(3000).emitWithAck(event, ...args);
  }

  async function ok<T = any>(client: Client, event: string, payload: unknown): Promise<T> {
    const reply = await request(client, event, payload);
    expect(reply, `${event} ${JSON.stringify(reply)}`).to.include({ ok: true });
    return (reply as { data: T }).data;
  }

  /** Joins, gets the router's capabilities to the server, and publishes a synthetic microphone and camera. */
  async function hall(bridgeId: string): Promise<{ client: Client; join: any; transportId: string; recvId: string }> {
    const client = await connect(bridgeId);
    const join = await ok(client, 'media:join', {});
    const send = await ok<{ id: string }>(client, 'media:createTransport', { direction: 'send' });
    const recv = await ok<{ id: string }>(client, 'media:createTransport', { direction: 'recv' });
    await ok(client, 'media:capabilities', { rtpCapabilities: join.rtpCapabilities });
    await ok(client, 'media:produce', { transportId: send.id, kind: 'audio', source: 'mic', rtpParameters: micParameters() });
    await ok(client, 'media:produce', { transportId: send.id, kind: 'video', source: 'cam', rtpParameters: camParameters() });
    return { client, join, transportId: send.id, recvId: recv.id };
  }

  /** Drops the socket's connection as a network change does: no disconnect packet, the server sees its transport close. */
  function loseConnection(client: Client): void {
    (client.socket.io as unknown as { engine: { close(): void } }).engine.close();
  }

  it('media:restartIce: new ICE credentials for the same transport, nothing else changes; bad requests get stable codes', async () => {
    const { client, transportId, join } = await hall(DISTRICT);
    const restarts: { peerId: string; bridgeId?: string; direction: string }[] = [];
    const onRestart = (e: { peerId: string; bridgeId?: string; direction: string }): void => void restarts.push(e);
    server.media.on('icerestart', onRestart);
    try {
      const before = server.media.snapshot().peers.find((p) => p.bridgeId === DISTRICT)!;
      const reply = await ok<{ iceParameters: { usernameFragment: string; password: string; iceLite?: boolean } }>(client, 'media:restartIce', { transportId });
      expect(reply.iceParameters.usernameFragment).to.be.a('string').with.length.greaterThan(8);
      expect(reply.iceParameters.password).to.be.a('string').with.length.greaterThan(8);
      const again = await ok<{ iceParameters: { usernameFragment: string } }>(client, 'media:restartIce', { transportId });
      expect(again.iceParameters.usernameFragment, 'each restart new credentials').to.not.equal(reply.iceParameters.usernameFragment);
      expect(restarts).to.deep.equal([
        { peerId: join.peerId, bridgeId: DISTRICT, transportId, direction: 'send', at: (restarts[0] as unknown as { at: number }).at },
        { peerId: join.peerId, bridgeId: DISTRICT, transportId, direction: 'send', at: (restarts[1] as unknown as { at: number }).at },
      ]);
      // The same peer with the same producers: a restart is not a rejoin.
      const after = server.media.snapshot().peers.find((p) => p.bridgeId === DISTRICT)!;
      expect(after.peerId).to.equal(before.peerId);
      expect(after.producers.map((p) => p.id)).to.deep.equal(before.producers.map((p) => p.id));
      expect(server.conference.health.events(DISTRICT).filter((e) => e.type === 'ice').map((e) => e.detail)).to.deep.equal(['chiều lên', 'chiều lên']);

      expect(((await request(client, 'media:restartIce', { transportId: 'nope' })) as { error: { code: string } }).error.code).to.equal('invalid_payload');
      expect(((await request(client, 'media:restartIce', { transportId, extra: 1 })) as { error: { code: string } }).error.code).to.equal('invalid_payload');
      expect(((await request(client, 'media:restartIce', { transportId: '3f19b2c6-7685-4ba3-81c6-2ea12cd6620c' })) as { error: { code: string } }).error.code).to.equal('unknown_transport');
      const stranger = await connect(COMMUNE);
      expect(((await request(stranger, 'media:restartIce', { transportId })) as { error: { code: string } }).error.code).to.equal('not_joined');
      await ok(stranger, 'media:join', {});
      expect(((await request(stranger, 'media:restartIce', { transportId })) as { error: { code: string } }).error.code, 'another peer\'s transport').to.equal('unknown_transport');
    } finally {
      server.media.off('icerestart', onRestart);
    }
  });

  it('a socket lost with the network: its client takes the same peer back on a new socket (transports and producers kept, consumers anew)', async () => {
    const province = await hall(PROVINCE);
    const { client, join, transportId, recvId } = await hall(DISTRICT);
    await waitFor('the district receives the chair', () => client.consumes.length >= 2);
    const producersBefore = server.media.snapshot().peers.find((p) => p.peerId === join.peerId)!.producers.map((p) => p.id).sort();
    loseConnection(client);
    await waitFor('the server saw the socket go', () => server.media.snapshot().peers.some((p) => p.peerId === join.peerId) && client.socket.disconnected);
    // The peer stays while its client is away: the others keep its producers.
    expect(server.media.peerIds()).to.include(join.peerId);
    // But the hall is not on line meanwhile: its link health has no counters (the drop-out is told).
    await waitFor('no link counters while its client is away', async () => (await server.media.linkCounters(DISTRICT)) === null, 3000);
    expect(server.media.peerIds()).to.include(join.peerId);

    const back = await connect(DISTRICT);
    const resumed = await ok(back, 'media:join', { resume: { peerId: join.peerId, key: join.resumeKey } });
    expect(resumed).to.include({ peerId: join.peerId, resumed: true, bridgeId: DISTRICT, onAir: PROVINCE });
    expect(resumed.resumeKey, 'a new key each time').to.not.equal(join.resumeKey);
    const peer = server.media.snapshot().peers.find((p) => p.peerId === join.peerId)!;
    expect(peer.producers.map((p) => p.id).sort()).to.deep.equal(producersBefore);
    expect(await server.media.linkCounters(DISTRICT), 'on line again once taken back').to.not.equal(null);
    // Its transports answer on the new socket, and it is told again what it missed: its consumers, its microphone.
    expect((await ok(back, 'media:restartIce', { transportId })).iceParameters).to.be.an('object');
    expect((await ok(back, 'media:restartIce', { transportId: recvId })).iceParameters).to.be.an('object');
    await waitFor('consumers anew on the new socket', () => back.consumes.length >= 2);
    expect(back.consumes.map((c) => c.bridgeId).sort()).to.deep.equal([PROVINCE, PROVINCE]);
    expect(back.micStates).to.deep.equal([false]);
    expect(server.media.peerIds().filter((id) => id === join.peerId)).to.have.length(1);
    expect(server.media.peerIds().sort()).to.deep.equal([province.join.peerId, join.peerId].sort());
  });

  it('no taking back with a wrong key, another hall\'s token, or after the window: a new peer instead, and the old one goes', async () => {
    const first = await hall(COMMUNE_2);
    loseConnection(first.client);
    await waitFor('socket gone', () => first.client.socket.disconnected);
    // Another hall with the peer id and the key: its own new peer.
    const other = await connect(COMMUNE);
    const foreign = await ok(other, 'media:join', { resume: { peerId: first.join.peerId, key: first.join.resumeKey } });
    expect(foreign).to.include({ resumed: false, bridgeId: COMMUNE });
    expect(foreign.peerId).to.not.equal(first.join.peerId);
    // The same hall with a wrong key: a new peer, which replaces the old one of the same hall.
    const wrong = await connect(COMMUNE_2);
    const refused = await ok(wrong, 'media:join', { resume: { peerId: first.join.peerId, key: 'A'.repeat(22) } });
    expect(refused.resumed).to.equal(false);
    await waitFor('the old peer replaced', () => !server.media.peerIds().includes(first.join.peerId));
    // A malformed resume is refused like any bad payload.
    const bad = await connect(DISTRICT);
    expect(((await request(bad, 'media:join', { resume: { peerId: first.join.peerId, key: 'short' } })) as { error: { code: string } }).error.code).to.equal('invalid_payload');
    // After the window, a lost peer has left.
    const late = await hall(DISTRICT);
    loseConnection(late.client);
    await waitFor('the lost peer leaves after the window', () => !server.media.peerIds().includes(late.join.peerId), RESUME_WINDOW_MS + 3000);
    const tooLate = await connect(DISTRICT);
    expect((await ok(tooLate, 'media:join', { resume: { peerId: late.join.peerId, key: late.join.resumeKey } })).resumed).to.equal(false);
  });

  it('a socket closed on purpose leaves at once (no waiting for a client that is not coming back)', async () => {
    const { client, join } = await hall(DISTRICT);
    client.socket.close();
    await waitFor('left at once', () => !server.media.peerIds().includes(join.peerId), 1000);
  });

  it('media:sendMode: a hall that drops to audio only is told on its own media socket (not on the others\': their pages learn it on the control socket), and marks its health; it comes back', async () => {
    const chairPage = await connect('chair');
    await ok(chairPage, 'media:join', {});
    const other = await hall(COMMUNE);
    const { client } = await hall(DISTRICT);
    const watcher = client;
    await ok(client, 'media:sendMode', { mode: 'audio-only', availableKbps: 58 });
    await waitFor('told at once', () => watcher.audioOnly.some((a) => a.bridgeId === DISTRICT && a.up), 2000);
    expect(server.media.audioOnlyOf(DISTRICT)).to.deep.equal({ bridgeId: DISTRICT, up: true, down: false });
    // Its camera producer is paused at the SFU while audio only (no NACKs asking for its old video).
    const cam = (): { paused: boolean } | undefined => server.media.snapshot().peers.find((p) => p.bridgeId === DISTRICT)?.producers.find((p) => p.source === 'cam');
    expect(cam()?.paused).to.equal(true);
    const late = await connect('technician');
    expect((await ok(late, 'media:join', {})).audioOnly, 'a page that is no hall\'s').to.deep.equal([]);
    await server.conference.health.sampleAll();
    expect(server.conference.health.book.get(DISTRICT)?.last?.audioOnly).to.equal('up');
    expect(server.conference.health.book.get(DISTRICT)?.reasons[0]).to.equal('Đường truyền yếu — chỉ âm thanh (chiều lên)');
    // Back to video (its synthetic camera sends nothing yet: told as video until the camera has settled, then its silence counts).
    await ok(client, 'media:sendMode', { mode: 'video', availableKbps: 2400 });
    await waitFor('video again', () => watcher.audioOnly.some((a) => a.bridgeId === DISTRICT && !a.up), 3000);
    expect(cam()?.paused).to.equal(false);
    await waitFor('a camera whose packets never arrive is audio only too', () => watcher.audioOnly.filter((a) => a.bridgeId === DISTRICT && a.up).length === 2, 6000);
    expect(chairPage.audioOnly, 'the chair\'s media socket is not told').to.deep.equal([]);
    expect(other.client.audioOnly.filter((a) => a.bridgeId !== COMMUNE), 'another hall\'s media socket is told only of its own link').to.deep.equal([]);

    expect(((await request(client, 'media:sendMode', { mode: 'off', availableKbps: 1 })) as { error: { code: string } }).error.code).to.equal('invalid_payload');
    expect(((await request(client, 'media:sendMode', { mode: 'video', availableKbps: -1 })) as { error: { code: string } }).error.code).to.equal('invalid_payload');
    expect(((await request(chairPage, 'media:sendMode', { mode: 'video', availableKbps: null })) as { error: { code: string } }).error.code).to.equal('not_allowed');
  });
});
