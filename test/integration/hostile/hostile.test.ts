// The hostile-input suite (issue 18), kept in CI: the project's corpus (corpus.ts) against a real
// server on loopback (real socket.io, real mediasoup worker, in-memory state, a fake clock so that
// every request's budget can be refilled between batches). Every socket.io request of both
// namespaces (listed from the protocol modules) and every HTTP route (listed from the server's
// routers) gets at least 30 payloads; a request or route without its corpus fails the suite.
// Asserted: the process lives (no uncaught error, still serving), the conference is unchanged
// (the stored state's version and a digest of it, its log and its tokens), and every refusal
// carries a stable code.
import { createHash } from 'node:crypto';
import http from 'node:http';
import { expect } from 'chai';
import { io, Manager, type Socket } from 'socket.io-client';
import { ERROR_CODES, FakeClock } from '../../../server/core/conference/index.ts';
import { ControlRequests } from '../../../server/protocol/control.ts';
import { ErrorCode, MediaRequests } from '../../../server/protocol/media.ts';
import type { RunningServer } from '../../../server/app/server.ts';
import { startTestServer, tokenOf } from '../../helpers/server.ts';
import { handshakeCorpus, junk, RAW_FRAMES, REQUEST_CORPUS, restCorpus, ROUTE_CASES, UNKNOWN_EVENTS, type CorpusContext, type Payload } from './corpus.ts';

const CONFERENCE = 'hostile';
const CHAIR_BRIDGE = 'p-20';
const OWN = 'c-06010';
const OTHER = 'd-178';
const OFFLINE = 'c-05974';
const MINUTE = 61_000;

/** Codes a socket request may be refused with. */
const SOCKET_CODES = new Set<string>([...ErrorCode.options, ...ERROR_CODES, 'closed', 'unavailable']);
/** Codes of the HTTP API's errors (README, "Errors"). */
const HTTP_CODES = new Set<string>([
  'unauthenticated',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'invalid_payload',
  'invalid_plan',
  'malformed_json',
  'malformed_uri',
  'unsupported_charset',
  'unsupported_encoding',
  'unsupported_media_type',
  'payload_too_large',
  'rate_limited',
  'busy',
  'plan_too_complex',
  'unknown_bridge',
  'invalid_state',
  'bad_request',
  // The paper desk's (README, "Papers"): the slot, the file and why it is not a paper.
  'unknown_slot',
  'file_missing',
  'aborted',
  'unavailable',
  'not_pdf',
  'empty_file',
  'too_large',
  'no_pages',
  'too_many_pages',
  'not_a4',
  'landscape',
  'pdf_damaged',
  'pdf_encrypted',
  'image_too_large',
  'check_timeout',
  'check_memory',
  // The media nodes' (README, "Media nodes").
  'unknown_node',
  'not_clustered',
]);
/** Requests that only read: an answer is allowed (the digest still must not move). */
const READS = new Set(['control:snapshot', 'time:sync', 'health:bridge', 'media:where', 'cluster:nodes']);

type Reply = { ok: true; data: unknown } | { ok: false; error: { code: string; message: string } };

describe('hostile input: every socket request and every HTTP route, the project\'s corpus', function () {
  this.timeout(180_000);
  const clock = new FakeClock(Date.now());
  let server: RunningServer;
  let ctx: CorpusContext;
  const sockets: Socket[] = [];
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => void uncaught.push(e);
  const principals: Record<string, Socket> = {};

  /** The conference as stored: version, state, log length and tokens, hashed. */
  async function digest(): Promise<string> {
    await server.conference.runner.idle();
    const stored = (await server.stores.conferences.load(CONFERENCE))!;
    const log = await server.stores.conferences.readLog(CONFERENCE);
    const tokens = (await server.stores.tokens.listTokens(CONFERENCE)).map((t) => `${t.grant}=${t.token}`).sort();
    const hash = createHash('sha256').update(JSON.stringify({ state: stored.state, log: log.length, tokens })).digest('hex').slice(0, 16);
    return `version ${stored.version}, ${hash}`;
  }

  async function open(namespace: '/control' | '/media', target: string): Promise<Socket> {
    const socket = io(`${server.url}${namespace}`, { auth: { token: await tokenOf(server, target) }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      if (namespace === '/control') socket.once('control:view', () => resolve());
      else socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return socket;
  }

  const ask = (socket: Socket, event: string, payload: unknown): Promise<Reply> => socket.timeout(10_000).emitWithAck(event, payload) as Promise<Reply>;

  /** Sends payloads in batches under every budget, a minute of the fake clock between batches. */
  async function inBatches<T, R>(items: readonly T[], size: number, send: (item: T) => Promise<R>): Promise<R[]> {
    const out: R[] = [];
    for (let i = 0; i < items.length; i += size) {
      out.push(...(await Promise.all(items.slice(i, i + size).map(send))));
      clock.increment(MINUTE);
    }
    return out;
  }

  function expectRefusalOrRead(request: string, label: string, reply: Reply): void {
    if (reply.ok) {
      const quiet = READS.has(request) || (request === 'control:command' && (reply.data as { events: string[] }).events.length === 0);
      expect(quiet, `${request} ${label}: accepted ${JSON.stringify(reply.data).slice(0, 200)}`).to.equal(true);
      return;
    }
    expect(SOCKET_CODES.has(reply.error?.code), `${request} ${label}: ${JSON.stringify(reply).slice(0, 200)}`).to.equal(true);
    expect(reply.error.message, `${request} ${label}`).to.be.a('string');
  }

  before(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    server = await startTestServer(1, { conferenceId: CONFERENCE }, { clock, presenceGraceMs: 10 ** 12, healthIntervalMs: 10 ** 9 });
    principals.chair = await open('/control', 'chair');
    principals.secretary = await open('/control', 'secretary');
    principals.technician = await open('/control', 'technician');
    principals.operator = await open('/control', OWN);
    principals.province = await open('/media', CHAIR_BRIDGE);
    expect((await ask(principals.province, 'media:join', {})).ok).to.equal(true);
    const send = (await ask(principals.province, 'media:createTransport', { direction: 'send' })) as { ok: true; data: { id: string } };
    ctx = { offlineBridge: OFFLINE, ownBridge: OWN, otherBridge: OTHER, transportId: send.data.id, unknownToken: 'Zz9_-Zz9_-Zz9_-Zz9_-Zz', paperSlot: 'tham-luan-cap-xa.c-06010' };
  });

  after(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    for (const s of sockets) s.close();
    await server?.close();
  });

  it('every socket.io request of both namespaces has its corpus, of at least 30 payloads', () => {
    const names = [...Object.keys(ControlRequests), ...Object.keys(MediaRequests)];
    for (const name of names) {
      expect(REQUEST_CORPUS, `no corpus for ${name}`).to.have.property(name);
      expect([...junk(), ...REQUEST_CORPUS[name]!(ctx)].length, name).to.be.at.least(30);
    }
  });

  it('socket.io requests: every payload refused with a stable code (or read), nothing changes, every socket stays', async () => {
    const before = await digest();
    let sent = 0;
    // Each request from the principal it is meant for; the generic junk from another one too.
    const plan: [string, Socket, Payload[]][] = [];
    const main: Record<string, Socket> = {
      'control:command': principals.chair!,
      'control:snapshot': principals.chair!,
      'time:sync': principals.chair!,
      'health:report': principals.operator!,
      'health:bridge': principals.technician!,
      'health:startTest': principals.technician!,
      'health:testResult': principals.operator!,
      'media:where': principals.operator!,
      'cluster:nodes': principals.technician!,
    };
    for (const name of Object.keys(ControlRequests)) {
      plan.push([name, main[name]!, [...junk(), ...REQUEST_CORPUS[name]!(ctx)]]);
      plan.push([name, name.startsWith('health:report') || name === 'health:testResult' ? principals.secretary! : principals.operator!, junk()]);
    }
    plan.push(['control:command', principals.operator!, REQUEST_CORPUS['control:command']!(ctx)]);
    plan.push(['control:command', principals.secretary!, REQUEST_CORPUS['control:command']!(ctx)]);
    for (const name of Object.keys(MediaRequests)) plan.push([name, principals.province!, [...junk(), ...REQUEST_CORPUS[name]!(ctx)]]);
    for (const [name, socket, payloads] of plan) {
      const replies = await inBatches(payloads, 25, async ([label, value]) => [label, await ask(socket, name, value)] as const);
      for (const [label, reply] of replies) expectRefusalOrRead(name, label, reply);
      sent += payloads.length;
      expect(socket.connected, `${name}: the socket is still connected`).to.equal(true);
    }
    console.log(`      ${sent} socket.io payloads over ${Object.keys(ControlRequests).length + Object.keys(MediaRequests).length} requests; conference ${before}`);
    expect(await digest()).to.equal(before);
  });

  it('unknown requests are refused with unknown_request on both namespaces', async () => {
    const before = await digest();
    for (const socket of [principals.chair!, principals.province!]) {
      const replies = await inBatches(UNKNOWN_EVENTS, 30, (name) => ask(socket, name, { type: 'grant_next' }).then((r) => [name, r] as const));
      for (const [name, reply] of replies) expect(reply, JSON.stringify(name).slice(0, 40)).to.deep.include({ ok: false }).and.have.nested.property('error.code', 'unknown_request');
    }
    expect(await digest()).to.equal(before);
  });

  it('handshakes with wrong tokens are refused on both namespaces (at least 30 each)', async () => {
    const corpus = handshakeCorpus(ctx);
    expect(corpus.length).to.be.at.least(30);
    for (const namespace of ['/control', '/media']) {
      const outcomes = await inBatches(corpus, 30, ([label, auth]) =>
        new Promise<[string, string]>((resolve) => {
          const socket = io(`${server.url}${namespace}`, { auth: auth as Record<string, unknown>, transports: ['websocket'], reconnection: false, forceNew: true, timeout: 5000 });
          sockets.push(socket);
          const done = (outcome: string): void => {
            socket.close();
            resolve([label, outcome]);
          };
          socket.once('connect', () => done('connected'));
          socket.once('connect_error', (e) => done(e.message));
          // An auth that is not an object is not a valid CONNECT packet: the server closes the connection.
          socket.once('disconnect', () => done('closed'));
          setTimeout(() => done('no answer'), 8000);
        }),
      );
      const seen = new Map<string, number>();
      for (const [, outcome] of outcomes) seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
      console.log(`      ${namespace}: ${[...seen].map(([o, n]) => `${n} ${o}`).join(', ')}`);
      for (const [label, outcome] of outcomes) {
        // A handshake whose auth is not an object breaks the protocol: socket.io drops it before it reaches the server's checks.
        expect(outcome, `${namespace} ${label}`).to.be.oneOf(['unauthenticated', 'closed']);
        expect(outcome, `${namespace} ${label}`).to.not.equal('connected');
      }
    }
  });

  it('raw socket.io frames a broken client sends: its connection may be closed, nothing else happens', async () => {
    const before = await digest();
    const token = await tokenOf(server, 'viewer');
    for (const frame of RAW_FRAMES) {
      const manager = new Manager(server.url, { transports: ['websocket'], reconnection: false, forceNew: true } as never);
      const socket = manager.socket('/control', { auth: { token } });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      (manager as unknown as { engine: { write(data: string): void } }).engine.write(frame.startsWith('4') ? frame.slice(1) : frame);
      await new Promise((r) => setTimeout(r, 30));
      socket.close();
    }
    clock.increment(MINUTE);
    const alive = await ask(principals.chair!, 'time:sync', { clientNow: 1 });
    expect(alive.ok).to.equal(true);
    expect(await digest()).to.equal(before);
  });

  it('every HTTP route has its corpus, of at least 30 requests; every answer is below 500, every refusal the JSON error with a stable code; nothing changes', async () => {
    const before = await digest();
    const chair = await tokenOf(server, 'chair');
    const viewer = await tokenOf(server, 'viewer');
    const technician = await tokenOf(server, 'technician');
    let sent = 0;
    for (const route of server.routes) {
      const key = `${route.method.toUpperCase()} ${route.path}`;
      const c = ROUTE_CASES[key];
      expect(c, `no corpus for ${key}`).to.not.equal(undefined);
      const staff = route.path === '/metrics' || route.path.startsWith('/api/health') ? technician : chair;
      const requests = restCorpus(route.method.toUpperCase(), route.path, c!, staff, viewer, ctx);
      expect(requests.length, key).to.be.at.least(30);
      // A plan is checked one at a time, with four waiting: send five at once; papers likewise.
      const size = c!.plan || c!.paper ? 5 : 50;
      const answers = await inBatches(requests, size, async (r) => [r, await send(`${server.url}${r.path}`, r.method, r.headers, r.body)] as const);
      for (const [r, answer] of answers) {
        const label = `${key} ${r.label}`;
        // 503 busy: the plan checker's queue was full (a refusal with its code, "try again").
        if (answer.status !== 503 || !answer.text.includes('"busy"')) expect(answer.status, `${label}: ${answer.text.slice(0, 200)}`).to.be.within(200, 499);
        if (answer.status >= 400) {
          const body = JSON.parse(answer.text) as { error?: { code?: string; message?: string } };
          expect(HTTP_CODES.has(body.error?.code ?? ''), `${label}: ${answer.text.slice(0, 200)}`).to.equal(true);
          expect(body.error?.message, label).to.be.a('string');
        }
      }
      sent += requests.length;
    }
    console.log(`      ${sent} HTTP requests over ${server.routes.length} routes`);
    expect(await digest()).to.equal(before);
  });

  it('the process lives and serves: no uncaught error, HTTP and both namespaces answer', async () => {
    expect(uncaught.map(String)).to.deep.equal([]);
    expect((await fetch(`${server.url}/healthz`)).status).to.equal(200);
    expect((await ask(principals.chair!, 'control:snapshot', {})).ok).to.equal(true);
    expect((await ask(principals.province!, 'media:thumbnails', { bridgeIds: [OTHER] })).ok).to.equal(true);
    for (const s of Object.values(principals)) expect(s.connected).to.equal(true);
  });
});

/** One HTTP request with any method, headers and body; the status and the text of the answer. */
function send(url: string, method: string, headers: Record<string, string>, body?: string | Uint8Array): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
