import { expect } from 'chai';
import { io, type Socket } from 'socket.io-client';
import type { types as ms } from 'mediasoup';
import type { RunningServer } from '../../server/app/server.ts';
import type { Ack, ConsumeMessage, MediaClientEvents, MediaServerEvents } from '../../server/protocol/media.ts';
import { startTestServer, tokenOf } from '../helpers/server.ts';
import { COMMUNE, COMMUNE_2, DISTRICT, PROVINCE, camParameters, micParameters, waitFor } from './media-fixture.ts';

type ClientSocket = Socket<MediaServerEvents, MediaClientEvents>;
/** The same socket without the protocol's types, to send what a broken or hostile client sends. */
type RawSocket = {
  timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> };
  emit(event: string, ...args: unknown[]): void;
};

const UUID = '3f19b2c6-7685-4ba3-81c6-2ea12cd6620c';

/** A connected client with what the server pushed to it. */
interface Client {
  socket: ClientSocket;
  raw: RawSocket;
  consumes: ConsumeMessage[];
  closedConsumers: string[];
  onAirChanges: string[];
  micStates: boolean[];
  layers: number[];
  /** How the client answers 'media:consume' (accepts by default). */
  accept: (msg: ConsumeMessage) => boolean;
}

describe('media signaling over socket.io (real server, 1 real worker)', function () {
  this.timeout(20_000);
  let server: RunningServer;
  const sockets: ClientSocket[] = [];

  before(async () => {
    server = await startTestServer(1);
  });

  after(async () => {
    for (const s of sockets) s.close();
    await server?.close();
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await waitFor('every peer left', () => server.media.peerIds().length === 0);
    if (server.media.onAir !== PROVINCE) await server.media.setOnAir(PROVINCE);
  });

  /** Opens a socket to /media as a bridge's operator or a staff role (by its token), or with a raw `auth`. */
  async function connect(who: unknown): Promise<Client> {
    const auth = typeof who === 'string' ? { token: await tokenOf(server, who) } : who;
    const socket: ClientSocket = io(`${server.url}/media`, {
      auth: auth as Record<string, unknown>,
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
    });
    sockets.push(socket);
    const client: Client = {
      socket,
      raw: socket as unknown as RawSocket,
      consumes: [],
      closedConsumers: [],
      onAirChanges: [],
      micStates: [],
      layers: [],
      accept: () => true,
    };
    socket.on('media:consume', (msg, ack) => {
      client.consumes.push(msg);
      ack({ ok: client.accept(msg) });
    });
    socket.on('media:consumerClosed', ({ consumerId }) => client.closedConsumers.push(consumerId));
    socket.on('onair:changed', ({ bridgeId }) => client.onAirChanges.push(bridgeId));
    socket.on('media:micState', ({ open }) => client.micStates.push(open));
    socket.on('media:sendLayers', ({ maxSpatialLayer }) => client.layers.push(maxSpatialLayer));
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(client));
      socket.once('connect_error', (error) => reject(error));
    });
  }

  /** The connect_error message a handshake fails with. */
  async function refusal(auth: unknown): Promise<string> {
    try {
      const c = await connect(auth);
      c.socket.close();
      return 'connected';
    } catch (error) {
      return (error as Error).message;
    }
  }

  /** Sends a request (any event name, any arguments) and returns the ack. */
  function request(client: Client, event: string, ...args: unknown[]): Promise<Ack<any>> {
    return client.raw.timeout(3000).emitWithAck(event, ...args) as Promise<Ack<any>>;
  }

  async function join(auth: unknown): Promise<Client> {
    const client = await connect(auth);
    const reply = await request(client, 'media:join', {});
    expect(reply, 'join').to.include({ ok: true });
    return client;
  }

  /** Sends an event the server does not know: it is refused with unknown_request and nothing else happens. */
  async function expectUnknown(client: Client, event: string, payload: unknown): Promise<void> {
    const reply = (await client.raw.timeout(2000).emitWithAck(event, payload)) as { ok: boolean; error?: { code: string } };
    expect(reply, event).to.deep.include({ ok: false });
    expect(reply.error?.code, event).to.equal('unknown_request');
  }

  /** Publishes synthetic microphone and camera over the wire; returns the producer ids. */
  async function publishOverWire(client: Client): Promise<{ mic: string; cam: string }> {
    const send = await request(client, 'media:createTransport', { direction: 'send' });
    expect(send.ok).to.equal(true);
    const transportId = (send as { data: { id: string } }).data.id;
    const mic = await request(client, 'media:produce', { transportId, kind: 'audio', source: 'mic', rtpParameters: micParameters() });
    const cam = await request(client, 'media:produce', { transportId, kind: 'video', source: 'cam', rtpParameters: camParameters() });
    expect(mic.ok && cam.ok, JSON.stringify([mic, cam])).to.equal(true);
    return { mic: (mic as { data: { id: string } }).data.id, cam: (cam as { data: { id: string } }).data.id };
  }

  it('refuses a handshake without a valid access token with connect_error "unauthenticated"', async () => {
    const revoked = await tokenOf(server, COMMUNE_2);
    const fresh = await server.conference.tokens.reissue(COMMUNE_2);
    for (const auth of [
      {},
      { token: '' },
      { token: 'not-a-token' },
      { token: 'A'.repeat(22) }, // well formed, unknown
      { token: revoked }, // re-issued: the old one no longer works
      { token: 42 },
      { role: 'hall', bridgeId: PROVINCE }, // the foundation's trust-on-join identity is gone
      { role: 'console', kind: 'chair' },
    ]) {
      expect(await refusal(auth), JSON.stringify(auth)).to.equal('unauthenticated');
    }
    expect(await refusal({ token: fresh })).to.equal('connected');
    expect(server.media.peerIds()).to.deep.equal([]);
  });

  // Regression test (was a bug found by these tests, fixed since): a socket is authenticated only at its handshake (useTokenAuth); revoking or re-issuing a
  // token leaves the sockets already open with it at work (publishing, receiving). Suggested fix:
  // AccessTokens.revoke/reissue announce the revoked token (host event, and the store's change
  // channel for other processes); the namespaces disconnect the sockets whose handshake token it was.
  it('revoking a hall\'s token closes its open media socket at once', async () => {
    const hall = await join(COMMUNE_2);
    await publishOverWire(hall);
    const peerId = hall.socket.id!;
    const gone = new Promise<string>((resolve) => hall.socket.once('disconnect', (reason) => resolve(reason)));
    try {
      expect(await server.conference.tokens.revoke(await tokenOf(server, COMMUNE_2))).to.equal(true);
      await waitFor('the revoked hall is disconnected', () => hall.socket.disconnected, 2000);
      expect(await gone).to.equal('io server disconnect');
      await waitFor('its peer left the session', () => !server.media.peerIds().includes(peerId));
    } finally {
      await server.conference.tokens.reissue(COMMUNE_2);
    }
  });

  it('answers a valid request before media:join with not_joined', async () => {
    const client = await connect(COMMUNE);
    for (const [event, payload] of [
      ['media:createTransport', { direction: 'recv' }],
      ['media:thumbnails', { bridgeIds: [] }],
    ] as const) {
      const reply = await request(client, event, payload);
      expect(reply, event).to.deep.include({ ok: false });
      expect((reply as { error: { code: string } }).error.code, event).to.equal('not_joined');
    }
    expect(server.media.peerIds()).to.deep.equal([]);
  });

  it('media:join answers the peer id, bridge, router capabilities and the programme p-20; a second join is already_exists', async () => {
    const client = await connect(COMMUNE);
    const reply = await request(client, 'media:join', {});
    expect(reply.ok).to.equal(true);
    const data = (reply as { data: { peerId: string; bridgeId: string; onAir: string; rtpCapabilities: ms.RtpCapabilities } }).data;
    expect(data.peerId).to.equal(client.socket.id);
    expect(data.bridgeId).to.equal(COMMUNE);
    expect(data.onAir).to.equal(PROVINCE);
    expect(data.rtpCapabilities).to.deep.equal(JSON.parse(JSON.stringify(server.media.rtpCapabilities)));
    expect(data.rtpCapabilities.codecs!.map((c) => c.mimeType)).to.include.members(['audio/opus', 'video/VP8']);
    expect(server.media.peerIds()).to.deep.equal([client.socket.id]);
    const again = await request(client, 'media:join', {});
    expect(again).to.deep.include({ ok: false });
    expect((again as { error: { code: string } }).error.code).to.equal('already_exists');
  });

  it("media:join with screen: a sharer's page joins as its hall's screen beside the hall (the chair's console as the province); other roles are forbidden", async () => {
    // The hall's display publishes; its operator panel (another page) joins to share the screen.
    const hall = await join(COMMUNE);
    await publishOverWire(hall);
    const panel = await connect(COMMUNE);
    const joined = await request(panel, 'media:join', { clientId: 'operator-panel-1', screen: true });
    expect(joined.ok, JSON.stringify(joined)).to.equal(true);
    expect((joined as { data: { bridgeId: string } }).data.bridgeId).to.equal(COMMUNE);
    expect(hall.socket.connected, 'the display keeps the hall').to.equal(true);
    const send = await request(panel, 'media:createTransport', { direction: 'send' });
    const transportId = (send as { data: { id: string } }).data.id;
    const cam = await request(panel, 'media:produce', { transportId, kind: 'video', source: 'cam', rtpParameters: camParameters() });
    expect((cam as { error: { code: string } }).error.code).to.equal('not_allowed');
    const screen = await request(panel, 'media:produce', { transportId, kind: 'video', source: 'screen', rtpParameters: camParameters() });
    expect(screen.ok, JSON.stringify(screen)).to.equal(true);
    const peers = server.media.snapshot().peers;
    expect(peers.filter((p) => p.bridgeId === COMMUNE).map((p) => p.producers.map((x) => x.source).sort())).to.have.deep.members([['cam', 'mic'], ['screen']]);

    // The chair's console shares as the chair's hall.
    const chair = await connect('chair');
    const chairJoined = await request(chair, 'media:join', { screen: true });
    expect((chairJoined as { data: { bridgeId: string } }).data.bridgeId).to.equal(PROVINCE);
    for (const who of ['technician', 'viewer']) {
      const other = await connect(who);
      const refused = await request(other, 'media:join', { screen: true });
      expect((refused as { error: { code: string } }).error?.code, who).to.equal('forbidden');
    }
  });

  it('answers malformed payloads with invalid_payload and keeps serving', async () => {
    const client = await join(COMMUNE);
    const opus = { mimeType: 'audio/opus', payloadType: 111, clockRate: 48000 };
    const produce = (over: object) => ({ transportId: UUID, kind: 'audio', source: 'mic', rtpParameters: { codecs: [opus] }, ...over });
    const cases: [string, string, ...unknown[]][] = [
      ['unknown direction', 'media:createTransport', { direction: 'sideways' }],
      ['a string instead of an object', 'media:createTransport', 'send'],
      ['an array instead of an object', 'media:createTransport', ['send']],
      ['null', 'media:createTransport', null],
      ['no payload at all', 'media:createTransport'],
      ['a number', 'media:produce', 42],
      ['non-uuid transportId', 'media:connectTransport', { transportId: 'not-a-uuid', dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: 'AB' }] } }],
      ['missing dtlsParameters', 'media:connectTransport', { transportId: UUID }],
      ['no fingerprints', 'media:connectTransport', { transportId: UUID, dtlsParameters: { fingerprints: [] } }],
      ['unknown kind', 'media:produce', produce({ kind: 'data' })],
      ['unknown source', 'media:produce', produce({ source: 'desktop' })],
      ['no codecs', 'media:produce', produce({ rtpParameters: { codecs: [] } })],
      ['payloadType as a string', 'media:produce', produce({ rtpParameters: { codecs: [{ ...opus, payloadType: '111' }] } })],
      ['payloadType out of range', 'media:produce', produce({ rtpParameters: { codecs: [{ ...opus, payloadType: 300 }] } })],
      ['5 encodings', 'media:produce', produce({ rtpParameters: { codecs: [opus], encodings: [1, 2, 3, 4, 5].map((ssrc) => ({ ssrc })) } })],
      ['17 codecs', 'media:produce', produce({ rtpParameters: { codecs: Array(17).fill(opus) } })],
      ['missing rtpParameters', 'media:produce', { transportId: UUID, kind: 'audio', source: 'mic' }],
      ['1,000 thumbnails', 'media:thumbnails', { bridgeIds: Array(1_000).fill(COMMUNE_2) }],
      ['a bridge id that is not one', 'media:thumbnails', { bridgeIds: ['../../etc/passwd'] }],
      ['bridgeIds as a string', 'media:thumbnails', { bridgeIds: COMMUNE_2 }],
      ['100 capability codecs', 'media:capabilities', { rtpCapabilities: { codecs: Array(100).fill({ kind: 'audio', mimeType: 'audio/opus' }) } }],
      ['capabilities missing', 'media:capabilities', {}],
      ['capability codecs without clockRate', 'media:capabilities', { rtpCapabilities: { codecs: [{ kind: 'audio', mimeType: 'audio/opus' }] } }],
      ['unexpected join field', 'media:join', { admin: true }],
    ];
    for (const [label, event, ...payload] of cases) {
      const reply = await request(client, event, ...payload);
      expect(reply.ok, label).to.equal(false);
      const error = (reply as { error: { code: string; message: string } }).error;
      expect(error.code, label).to.equal('invalid_payload');
      expect(error.message, label).to.include(`invalid ${event}`);
    }
    // The server still serves this socket, other sockets and HTTP.
    const ok = await request(client, 'media:createTransport', { direction: 'recv' });
    expect(ok.ok).to.equal(true);
    const other = await join(DISTRICT);
    expect((await request(other, 'media:createTransport', { direction: 'recv' })).ok).to.equal(true);
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).to.equal(200);
    const body = (await health.json()) as { ok: boolean; workers: { pid: number }[] };
    expect(body.ok).to.equal(true);
    expect(body.workers.map((w) => w.pid)).to.deep.equal(server.pool.pids());
  });

  it('ignores a request sent without an ack callback', async () => {
    const client = await connect(COMMUNE);
    client.raw.emit('media:join', {});
    client.raw.emit('media:createTransport', { direction: 'recv' });
    // Nothing happened: the peer did not join, and a join with an ack now succeeds.
    await new Promise((r) => setTimeout(r, 100));
    expect(server.media.peerIds()).to.deep.equal([]);
    expect((await request(client, 'media:join', {})).ok).to.equal(true);
  });

  it('turns session errors into their stable codes on the wire', async () => {
    const client = await join(COMMUNE);
    const code = async (event: string, payload: unknown) => ((await request(client, event, payload)) as { error?: { code: string } }).error?.code;
    const fingerprint = Array.from({ length: 32 }, () => 'AB').join(':');
    expect(await code('media:connectTransport', { transportId: UUID, dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value: fingerprint }] } })).to.equal('unknown_transport');
    expect(await code('media:produce', { transportId: UUID, kind: 'audio', source: 'mic', rtpParameters: micParameters() })).to.equal('unknown_transport');
    expect(await code('media:thumbnails', { bridgeIds: [DISTRICT] })).to.equal('not_allowed');
    const send = (await request(client, 'media:createTransport', { direction: 'send' })) as { data: { id: string } };
    const h264 = { ...camParameters(), codecs: [{ mimeType: 'video/H264', payloadType: 102, clockRate: 90000 }] };
    expect(await code('media:produce', { transportId: send.data.id, kind: 'video', source: 'cam', rtpParameters: h264 })).to.equal('invalid_rtp_parameters');
    expect(await code('media:produce', { transportId: send.data.id, kind: 'video', source: 'mic', rtpParameters: camParameters() })).to.equal('invalid_rtp_parameters');
    const technician = await join('technician');
    expect(((await request(technician, 'media:createTransport', { direction: 'send' })) as { error?: { code: string } }).error?.code).to.equal('not_allowed');
    expect(((await request(technician, 'media:thumbnails', { bridgeIds: ['c-99999'] })) as { error?: { code: string } }).error?.code).to.equal('unknown_bridge');
  });

  it('media:program:set is gone: the programme follows the floor, and an unknown request is refused with unknown_request', async () => {
    const chair = await join('chair');
    await expectUnknown(chair, 'program:set', { bridgeId: DISTRICT });
    await expectUnknown(chair, 'media:program:set', { bridgeId: DISTRICT });
    await expectUnknown(chair, 'control:command', { type: 'grant_next' });
    expect(server.media.onAir).to.equal(PROVINCE);
  });

  it('roles decide what a media peer may do: press receive only, technicians thumbnails only, operators publish as their bridge', async () => {
    const viewer = await join('viewer');
    const code = async (c: Client, event: string, payload: unknown) => ((await request(c, event, payload)) as { error?: { code: string } }).error?.code;
    expect(await code(viewer, 'media:createTransport', { direction: 'send' })).to.equal('not_allowed');
    expect(await code(viewer, 'media:thumbnails', { bridgeIds: [DISTRICT] })).to.equal('not_allowed');
    expect((await request(viewer, 'media:createTransport', { direction: 'recv' })).ok).to.equal(true);
    const technician = await join('technician');
    expect((await request(technician, 'media:thumbnails', { bridgeIds: [DISTRICT, COMMUNE] })).ok).to.equal(true);
    const operator = await connect(DISTRICT);
    const reply = (await request(operator, 'media:join', {})) as { ok: true; data: { role: string; bridgeId: string } };
    expect(reply.data).to.include({ role: 'operator', bridgeId: DISTRICT });
    await publishOverWire(operator);
    const peer = server.media.snapshot().peers.find((p) => p.peerId === operator.socket.id)!;
    expect(peer.bridgeId).to.equal(DISTRICT);
    expect(peer.producers.map((p) => p.source).sort()).to.deep.equal(['cam', 'mic']);
  });

  it('a technician never receives the programme, only the thumbnails it asks for; a commune publishes as its own bridge', async () => {
    const province = await join(PROVINCE);
    await publishOverWire(province);
    const commune = await connect(COMMUNE);
    const joined = (await request(commune, 'media:join', {})) as { ok: true; data: { role: string; bridgeId: string } };
    expect(joined.data).to.include({ role: 'operator', bridgeId: COMMUNE });
    const produced = await publishOverWire(commune);
    const peer = server.media.snapshot().peers.find((p) => p.peerId === commune.socket.id)!;
    expect(peer.bridgeId).to.equal(COMMUNE);

    const technician = await join('technician');
    expect((await request(technician, 'media:capabilities', { rtpCapabilities: server.media.rtpCapabilities })).ok).to.equal(true);
    expect((await request(technician, 'media:createTransport', { direction: 'recv' })).ok).to.equal(true);
    expect((await request(technician, 'media:thumbnails', { bridgeIds: [COMMUNE] })).ok).to.equal(true);
    await waitFor('the commune thumbnail', () => technician.consumes.some((m) => m.producerId === produced.cam));
    // The programme moves to the commune (as a grant would): still nothing but the thumbnail.
    await server.media.setOnAir(COMMUNE);
    await new Promise((r) => setTimeout(r, 200));
    expect(technician.consumes.map((m) => `${m.slot}:${m.bridgeId}:${m.kind}`)).to.deep.equal([`thumb:${COMMUNE}:video`]);
    // The chair, for comparison, receives the programme.
    const chair = await join('chair');
    expect((await request(chair, 'media:capabilities', { rtpCapabilities: server.media.rtpCapabilities })).ok).to.equal(true);
    expect((await request(chair, 'media:createTransport', { direction: 'recv' })).ok).to.equal(true);
    await waitFor('the chair gets the commune on the programme', () => chair.consumes.some((m) => m.slot === 'onair' && m.bridgeId === COMMUNE));
  });

  it('createTransport returns ICE candidates on 127.0.0.1 at the worker port, UDP and TCP', async () => {
    const client = await join(COMMUNE);
    const reply = await request(client, 'media:createTransport', { direction: 'recv' });
    expect(reply.ok).to.equal(true);
    const data = (reply as { data: { id: string; iceCandidates: ms.IceCandidate[]; iceParameters: ms.IceParameters; dtlsParameters: ms.DtlsParameters } }).data;
    const dump = (await server.pool.slot(0).webRtcServer.dump()) as { udpSockets: { ip: string; port: number }[]; tcpServers: { ip: string; port: number }[] };
    const port = dump.udpSockets[0]!.port;
    expect(dump.tcpServers[0]!.port).to.equal(port);
    expect(data.iceCandidates.map((c) => `${c.protocol} ${c.ip}:${c.port}`).sort()).to.deep.equal([`tcp 127.0.0.1:${port}`, `udp 127.0.0.1:${port}`]);
    expect(data.iceParameters.usernameFragment).to.be.a('string').and.not.equal('');
    expect(data.dtlsParameters.fingerprints.length).to.be.greaterThan(0);
    const transports = ((await server.media.routers()[0]!.dump()) as { transportIds: string[] }).transportIds;
    expect(transports).to.include(data.id);
  });

  it('a hall publishing over the wire reaches another hall as media:consume; the client ack decides what runs', async () => {
    const province = await join(PROVINCE);
    const commune = await connect(COMMUNE);
    commune.accept = (msg) => msg.kind === 'video'; // refuses the audio consumer
    expect((await request(commune, 'media:join', {})).ok).to.equal(true);
    expect((await request(commune, 'media:capabilities', { rtpCapabilities: server.media.rtpCapabilities })).ok).to.equal(true);
    expect((await request(commune, 'media:createTransport', { direction: 'recv' })).ok).to.equal(true);

    const produced = await publishOverWire(province);
    expect(province.micStates).to.deep.equal([true]);
    expect(province.layers).to.deep.equal([2]);

    await waitFor('camera and microphone offered', () => new Set(commune.consumes.map((m) => m.kind)).size === 2);
    const offers = new Set(commune.consumes.map((m) => JSON.stringify({ producerId: m.producerId, kind: m.kind, bridgeId: m.bridgeId, source: m.source, slot: m.slot })));
    expect([...offers].map((o) => JSON.parse(o))).to.have.deep.members([
      { producerId: produced.cam, kind: 'video', bridgeId: PROVINCE, source: 'cam', slot: 'onair' },
      { producerId: produced.mic, kind: 'audio', bridgeId: PROVINCE, source: 'mic', slot: 'audio' },
    ]);
    const video = commune.consumes.find((m) => m.kind === 'video')!;
    // A refused consumer is closed and the client told so (it is offered again at the next change); the accepted one runs.
    const held = () => server.media.snapshot().peers.find((p) => p.bridgeId === COMMUNE)!.consumers;
    await waitFor('video consumer resumed', () => held().some((c) => c.id === video.consumerId && !c.paused));
    await waitFor('refused consumers closed', () =>
      commune.consumes.filter((m) => m.kind === 'audio').every((m) => commune.closedConsumers.includes(m.consumerId)),
    );
    expect(held().map((c) => c.id)).to.deep.equal([video.consumerId]);
    expect(commune.consumes.filter((m) => m.kind === 'video')).to.have.length(1);

    // A commune that publishes is closed at the server and told to send its low layer only.
    await publishOverWire(commune);
    expect(commune.micStates).to.deep.equal([false]);
    expect(commune.layers).to.deep.equal([0]);
  });

  it('disconnect removes the peer and its transports from the session', async () => {
    const client = await join(DISTRICT);
    const recv = (await request(client, 'media:createTransport', { direction: 'recv' })) as { data: { id: string } };
    await publishOverWire(client);
    const peerId = client.socket.id!;
    expect(server.media.peerIds()).to.deep.equal([peerId]);
    client.socket.disconnect();
    await waitFor('peer removed', () => !server.media.peerIds().includes(peerId));
    const transports = ((await server.media.routers()[0]!.dump()) as { transportIds: string[] }).transportIds;
    expect(transports).to.not.include(recv.data.id);
    expect(transports).to.deep.equal([]);
  });

  it('a hall that joins again from a new socket replaces its old peer; the old socket is told and disconnected', async () => {
    const first = await join(COMMUNE);
    const told = new Promise<void>((resolve) => first.socket.once('media:replaced' as never, () => resolve()));
    const gone = new Promise<string>((resolve) => first.socket.once('disconnect', (reason) => resolve(reason)));
    const second = await join(COMMUNE);
    await told;
    expect(await gone).to.equal('io server disconnect');
    expect(server.media.peerIds()).to.deep.equal([second.socket.id]);
    // The old socket going away does not take the new peer with it.
    await new Promise((r) => setTimeout(r, 100));
    expect(server.media.peerIds()).to.deep.equal([second.socket.id]);
  });
});
