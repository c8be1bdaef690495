// Issue 18, findings 2, 3, 4 and 7, on a real server (in this process, real sockets on loopback):
// plans are checked without stalling the meeting; client errors are 4xx with a stable code on
// every route; every error is the documented JSON; connections that say nothing are closed, and
// one address holds only so many.
import http from 'node:http';
import net from 'node:net';
import { expect } from 'chai';
import { io, Manager } from 'socket.io-client';
import { stringify } from 'yaml';
import { defaultPlan } from '../../config/default-plan.ts';
import type { RunningServer } from '../../server/app/server.ts';
import { HEADERS_TIMEOUT_MS, MAX_CONNECTIONS_PER_ADDRESS, SOCKET_CONNECT_TIMEOUT_MS } from '../../server/transport/connections.ts';
import { startTestServer, tokenOf } from '../helpers/server.ts';
import { waitFor } from './media-fixture.ts';

type ErrorBody = { error?: { code?: unknown; message?: unknown } };

/** A plan of 2,400 bridges (about 240 kB of YAML), under the size limit and slow to check (a few hundred ms of CPU each). */
function bigPlanYaml(): string {
  const plan = defaultPlan() as unknown as { bridges: Record<string, unknown>[] };
  const communes = Array.from({ length: 2300 }, (_, i) => ({ id: `c-${10000 + i}`, tier: 'commune', name: `Xã Thử Nghiệm Số ${i}`, parentId: 'd-178', code: String(10000 + i) }));
  plan.bridges = [...plan.bridges.filter((b) => b.tier !== 'commune'), ...communes];
  return stringify(plan);
}

/** An HTTP request with any method, headers and body (fetch refuses a body on GET); the JSON answer. */
function send(url: string, method: string, headers: Record<string, string>, body: string | Uint8Array, localAddress?: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, localAddress, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = { notJson: text.slice(0, 200) };
        }
        resolve({ status: res.statusCode ?? 0, body: json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('the HTTP edge: plan checks off the loop, client errors, JSON errors, silent connections', function () {
  this.timeout(90_000);
  let server: RunningServer;
  let chair: string;
  let secretary: string;
  let operator: string;

  before(async () => {
    server = await startTestServer(1, { conferenceId: 'http-edge' });
    chair = await tokenOf(server, 'chair');
    secretary = await tokenOf(server, 'secretary');
    operator = await tokenOf(server, 'c-06010');
  });
  after(async () => {
    await server?.close();
  });

  it('eight large plans sent at once: the event loop stays responsive and a socket keeps its answers', async () => {
    const yaml = bigPlanYaml();
    expect(Buffer.byteLength(yaml)).to.be.within(200_000, 256 * 1024);
    const socket = io(`${server.url}/control`, { auth: { token: chair }, transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      // The loop's lag: how late a 10 ms timer fires; a socket's round trips, every 50 ms.
      let lagMax = 0;
      let last = performance.now();
      const lagTimer = setInterval(() => {
        const now = performance.now();
        lagMax = Math.max(lagMax, now - last - 10);
        last = now;
      }, 10);
      let rttMax = 0;
      let answered = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const t0 = performance.now();
          const reply = (await socket.timeout(10_000).emitWithAck('time:sync', { clientNow: Date.now() })) as { ok: boolean };
          rttMax = Math.max(rttMax, performance.now() - t0);
          if (reply.ok) answered++;
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      await new Promise((r) => setTimeout(r, 300));
      const started = performance.now();
      const replies = await Promise.all(
        Array.from({ length: 8 }, () =>
          fetch(`${server.url}/api/plan/validate`, { method: 'POST', headers: { authorization: `Bearer ${chair}`, 'content-type': 'application/yaml' }, body: yaml }).then(async (r) => ({ status: r.status, body: (await r.json()) as ErrorBody & { ok?: boolean } })),
        ),
      );
      const tookMs = performance.now() - started;
      sampling = false;
      await sampler;
      clearInterval(lagTimer);
      console.log(`      8 plans of ${Math.round(yaml.length / 1024)} kB answered in ${Math.round(tookMs)} ms; loop lag max ${Math.round(lagMax)} ms; time:sync round trip max ${Math.round(rttMax)} ms (${answered} answered)`);
      // Each is checked (and refused for its wrong fields), or refused at once when too many wait.
      for (const r of replies) expect(`${r.status} ${String(r.body.error?.code)}`, JSON.stringify(r.body).slice(0, 200)).to.be.oneOf(['400 invalid_plan', '503 busy']);
      expect(replies.filter((r) => r.status === 400).length, 'checked: one running and the queue').to.be.at.least(5);
      expect(socket.connected).to.equal(true);
      expect(lagMax, 'event loop lag while the plans were checked').to.be.below(500);
      expect(rttMax, 'a socket request round trip while the plans were checked').to.be.below(1000);
    } finally {
      socket.close();
    }
  });

  it('a plan over the size limit is refused at once with 413 payload_too_large; a plan that cannot be walked is a clear 400', async () => {
    const headers = { authorization: `Bearer ${chair}`, 'content-type': 'application/yaml' };
    const big = await fetch(`${server.url}/api/plan/validate`, { method: 'POST', headers, body: 'title: x\n'.repeat(40_000) });
    expect(big.status).to.equal(413);
    expect(((await big.json()) as ErrorBody).error?.code).to.equal('payload_too_large');
    // Nested 100,000 deep: the parser runs out of stack, or of its time, in the checker's thread; the answer is a 4xx with a code.
    for (const type of ['application/yaml', 'application/json']) {
      const deep = await fetch(`${server.url}/api/plan/validate`, { method: 'POST', headers: { ...headers, 'content-type': type }, body: '['.repeat(100_000) + ']'.repeat(100_000) });
      const code = ((await deep.json()) as ErrorBody).error?.code;
      expect(`${deep.status} ${code}`, type).to.be.oneOf(['400 invalid_plan', '400 malformed_json', '422 plan_too_complex']);
    }
  });

  it('client errors are 4xx with a stable code on every /api route, with or without a token', async () => {
    const api = server.routes.filter((r) => r.path.startsWith('/api/'));
    expect(api.length).to.be.at.least(15);
    const path = (p: string) => p.replace(/:bridgeId/g, 'c-06010').replace(/:file/g, 'attendance.csv').replace(/:name/g, 'x.mkv').replace(/:slotId/g, 'tham-luan-cap-xa.c-06010').replace(/:paperId/g, 'AAAAAAAAAAAAAAAA');
    const cases: { label: string; headers: Record<string, string>; body: string | Uint8Array; code: string }[] = [
      { label: 'charset koi8-r', headers: { 'content-type': 'application/json; charset=koi8-r' }, body: '{"token":"x"}', code: 'unsupported_charset' },
      { label: 'charset latin1 on YAML', headers: { 'content-type': 'text/plain; charset=iso-8859-1' }, body: 'title: x', code: 'unsupported_charset' },
      { label: 'gzip', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: new Uint8Array([31, 139, 8, 0]), code: 'unsupported_encoding' },
      { label: 'br', headers: { 'content-type': 'application/json', 'content-encoding': 'br' }, body: '{}', code: 'unsupported_encoding' },
      { label: 'XML', headers: { 'content-type': 'text/xml' }, body: '<plan/>', code: 'unsupported_media_type' },
      { label: 'form', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=x', code: 'unsupported_media_type' },
      { label: 'no content type', headers: {}, body: 'hello', code: 'unsupported_media_type' },
      { label: 'malformed JSON', headers: { 'content-type': 'application/json' }, body: '{"token": ', code: 'malformed_json' },
      { label: 'too large', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'x'.repeat(300_000) }), code: 'payload_too_large' },
    ];
    // Over 400 requests: spread over two staff tokens and three loopback addresses, each under its budget of REST requests a minute.
    for (const [i, route] of api.entries()) {
      for (const c of cases) {
        // The chair's plan budget went on the plans above: plans go in with the secretary's token.
        const staff = route.method === 'post' && route.path.startsWith('/api/plan') ? secretary : i % 2 ? chair : secretary;
        for (const token of [undefined, staff]) {
          const headers: Record<string, string> = { ...c.headers };
          if (token) headers.authorization = `Bearer ${token}`;
          const method = route.method.toUpperCase();
          const label = `${method} ${route.path} ${c.label}${token ? ' (staff)' : ''}`;
          const res = await send(`${server.url}${path(route.path)}`, method, headers, c.body, token ? undefined : `127.0.0.${11 + (i % 3)}`);
          const body = res.body as ErrorBody;
          expect(res.status, label).to.be.within(400, 499);
          const planRoute = method === 'POST' && (route.path === '/api/plan' || route.path === '/api/plan/validate');
          // A plan's body is read as text and parsed after the token is checked (and in the checker's thread); other routes read JSON only.
          let expected = c.code;
          if (planRoute && c.code === 'malformed_json') expected = token ? 'malformed_json' : 'unauthenticated';
          if (!planRoute && c.label === 'charset latin1 on YAML') expected = 'unsupported_media_type';
          // A paper's upload reads a PDF only: every other type is refused before its charset or content.
          const paperRoute = (method === 'PUT' || method === 'POST') && route.path === '/api/papers/slots/:slotId';
          if (paperRoute && c.code !== 'unsupported_encoding') expected = 'unsupported_media_type';
          expect(body.error?.code, `${label}: ${JSON.stringify(body.error?.message)}`).to.equal(expected);
          expect(body.error?.message, label).to.be.a('string');
        }
      }
    }
  });

  it('every error is the documented JSON: a path that does not decode, /metrics, a missing route, a wrong method; no stack is printed', async () => {
    const printed: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    const log = console.error;
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      printed.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stderr.write;
    console.error = (...args: unknown[]) => printed.push(args.map(String).join(' '));
    try {
      const expectJson = async (label: string, res: Response, status: number, code: string): Promise<void> => {
        expect(res.status, label).to.equal(status);
        expect(res.headers.get('content-type'), label).to.match(/^application\/json/);
        const body = (await res.json()) as ErrorBody;
        expect(body.error?.code, label).to.equal(code);
        expect(body.error?.message, label).to.be.a('string');
      };
      const staff = { authorization: `Bearer ${chair}` };
      await expectJson('bad URI, recordings', await fetch(`${server.url}/api/recordings/%E0%A4%A`, { headers: staff }), 400, 'malformed_uri');
      await expectJson('bad URI, maket', await fetch(`${server.url}/api/maket/%E0%A4%A`), 400, 'malformed_uri');
      // A page (outside /api) asked for by a client that wants JSON answers JSON; a browser gets the Vietnamese page (start.test.ts).
      const json = { accept: 'application/json' };
      await expectJson('bad URI, a page', await fetch(`${server.url}/%E0%A4%A`, { headers: json }), 404, 'not_found');
      await expectJson('metrics without a token', await fetch(`${server.url}/metrics`), 401, 'unauthenticated');
      await expectJson('metrics for an operator', await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${operator}` } }), 403, 'forbidden');
      await expectJson('no such API', await fetch(`${server.url}/api/nope`), 404, 'not_found');
      await expectJson('no such page', await fetch(`${server.url}/nope.html`, { headers: json }), 404, 'not_found');
      const page = await fetch(`${server.url}/nope.html`);
      expect([page.status, page.headers.get('content-type')?.split(';')[0]]).to.deep.equal([404, 'text/html']);
      expect(await page.text()).to.contain('Không tìm thấy trang này').and.not.match(/\bat [\w.<>]+ \(/);
      const wrong = await fetch(`${server.url}/api/plan`, { method: 'DELETE', headers: staff });
      expect(wrong.headers.get('allow')).to.equal('GET, HEAD, POST');
      await expectJson('DELETE /api/plan', wrong, 405, 'method_not_allowed');
      await expectJson('PUT /api/me', await fetch(`${server.url}/api/me`, { method: 'PUT', headers: staff }), 405, 'method_not_allowed');
      await expectJson('POST /metrics', await fetch(`${server.url}/metrics`, { method: 'POST' }), 405, 'method_not_allowed');
    } finally {
      process.stderr.write = write;
      console.error = log;
    }
    expect(printed.join('\n')).to.not.match(/URIError|\n\s+at /);
  });

  it('200 silent TCP connections are closed within seconds; the server keeps serving', async () => {
    const { port } = new URL(server.url);
    const sockets = await Promise.all(
      Array.from(
        { length: 200 },
        () =>
          new Promise<net.Socket>((resolve, reject) => {
            const s = net.connect(Number(port), '127.0.0.1', () => resolve(s));
            s.on('error', reject);
          }),
      ),
    );
    const started = Date.now();
    const closedAt: number[] = [];
    for (const s of sockets) {
      // Read, so that the server's end of the connection is seen.
      s.resume();
      s.on('error', () => undefined);
      s.on('close', () => closedAt.push(Date.now() - started));
    }
    try {
      await waitFor('every silent connection closed', () => closedAt.length === 200, HEADERS_TIMEOUT_MS + 5000, 100);
      console.log(`      200 silent connections closed after ${Math.min(...closedAt)}–${Math.max(...closedAt)} ms`);
      expect((await fetch(`${server.url}/healthz`)).status).to.equal(200);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('a socket.io connection that never joins a namespace is closed within seconds', async () => {
    const manager = new Manager(server.url, { transports: ['websocket'], reconnection: false, autoConnect: false });
    const started = Date.now();
    const closed = new Promise<number>((resolve) => manager.on('close', () => resolve(Date.now() - started)));
    manager.open();
    const after = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), SOCKET_CONNECT_TIMEOUT_MS + 5000))]);
    expect(after, 'closed by the server').to.be.within(SOCKET_CONNECT_TIMEOUT_MS - 500, SOCKET_CONNECT_TIMEOUT_MS + 4000);
  });

  it('one address holds at most the cap of connections; another address is still served', async () => {
    const capped = await startTestServer(1, { conferenceId: 'http-cap', trustedProxies: [] });
    const { port } = new URL(capped.url);
    const opened: net.Socket[] = [];
    const closed = new Set<net.Socket>();
    try {
      const extra = 20;
      await Promise.all(
        Array.from(
          { length: MAX_CONNECTIONS_PER_ADDRESS + extra },
          () =>
            new Promise<void>((resolve) => {
              const s = net.connect({ port: Number(port), host: '127.0.0.1', localAddress: '127.0.0.2' }, () => resolve());
              s.resume();
              opened.push(s);
              s.on('error', () => resolve());
              s.on('close', () => closed.add(s));
            }),
        ),
      );
      await waitFor('the connections over the cap closed', () => closed.size >= extra, 3000);
      await new Promise((r) => setTimeout(r, 300));
      expect(closed.size, 'closed at once: the ones over the cap').to.equal(extra);
      // Another address is served; the capped one is refused.
      const other = await fetch(`${capped.url}/healthz`);
      expect(other.status).to.equal(200);
      const refused = await new Promise<string>((resolve) => {
        const s = net.connect({ port: Number(port), host: '127.0.0.1', localAddress: '127.0.0.2' }, () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
        s.on('data', () => resolve('answered'));
        s.on('close', () => resolve('closed'));
        s.on('error', () => resolve('closed'));
      });
      expect(refused).to.equal('closed');
    } finally {
      for (const s of opened) s.destroy();
      await capped.close();
    }
  });
});
