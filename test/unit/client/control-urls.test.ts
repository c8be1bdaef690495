// The pages' list of control instances (client/shared/controlUrls.ts): the order they try them
// in, the retry delays, and REST going on to the next instance when one does not answer
// (real HTTP servers on loopback: one answering, one closed, one behind a proxy that says 502).
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ControlEndpoints, controlUrlList, retryDelayMs } from '../../../client/shared/controlUrls.ts';

/** An HTTP server on loopback answering every request with `status` and its own name. */
async function serve(name: string, status = 200): Promise<{ url: string; hits: string[]; close: () => Promise<void> }> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    res.writeHead(status, { 'content-type': 'text/plain' }).end(name);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, hits, close: () => new Promise((r) => server.close(() => r())) };
}

/** A loopback URL where nothing listens (a control instance killed). */
async function deadUrl(): Promise<string> {
  const s = await serve('gone');
  await s.close();
  return s.url;
}

describe('control URLs of a page (rotation)', () => {
  describe('controlUrlList', () => {
    const cases: { name: string; origin: string; configured: string[]; want: string[] }[] = [
      { name: 'none configured: the page\'s origin alone', origin: 'http://a:1', configured: [], want: ['http://a:1'] },
      { name: 'the origin first, then the ones after it, wrapping', origin: 'https://b', configured: ['https://a', 'https://b', 'https://c'], want: ['https://b', 'https://c', 'https://a'] },
      { name: 'the last one: then from the first', origin: 'https://c', configured: ['https://a', 'https://b', 'https://c'], want: ['https://c', 'https://a', 'https://b'] },
      { name: 'an origin not in the list (a proxy): first, then the list', origin: 'https://proxy', configured: ['https://a', 'https://b'], want: ['https://proxy', 'https://a', 'https://b'] },
      { name: 'trailing slashes and duplicates are dropped', origin: 'https://a/', configured: ['https://a', 'https://b/', 'https://b', ' '], want: ['https://a', 'https://b'] },
    ];
    for (const c of cases) it(c.name, () => expect(controlUrlList(c.origin, c.configured)).to.deep.equal(c.want));
  });

  it('next(): the one after the failed one; a second caller that saw the same failure does not skip one', () => {
    const e = new ControlEndpoints('https://a', ['https://a', 'https://b', 'https://c']);
    expect(e.current).to.equal('https://a');
    expect(e.next('https://a')).to.equal('https://b');
    expect(e.next('https://a'), 'REST saw a fail too: stays on b').to.equal('https://b');
    expect(e.next('https://b')).to.equal('https://c');
    expect(e.next('https://c'), 'round and round').to.equal('https://a');
    e.use('https://c');
    expect(e.current, 'a socket connected to c: REST goes there').to.equal('https://c');
    e.use('https://elsewhere');
    expect(e.current).to.equal('https://c');
  });

  it('one instance only: next() stays on it', () => {
    const e = new ControlEndpoints('http://a:1');
    expect(e.next('http://a:1')).to.equal('http://a:1');
  });

  it('retry delays: 500 ms doubling to at most 3 s, ±50 %', () => {
    expect([0, 1, 2, 3, 10].map((n) => retryDelayMs(n, () => 0.5))).to.deep.equal([500, 1000, 2000, 3000, 3000]);
    expect(retryDelayMs(0, () => 0)).to.equal(250);
    expect(retryDelayMs(5, () => 0.999)).to.be.within(4490, 4500);
  });

  describe('fetch (real HTTP on loopback)', () => {
    const closers: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const c of closers.splice(0)) await c();
    });

    it('a dead instance: the request goes to the next one, which REST then keeps using', async () => {
      const dead = await deadUrl();
      const b = await serve('b');
      closers.push(b.close);
      const e = new ControlEndpoints(dead, [dead, b.url]);
      const res = await e.fetch('/api/me', { headers: { authorization: 'Bearer t' } });
      expect(await res.text()).to.equal('b');
      expect(b.hits).to.deep.equal(['GET /api/me Bearer t']);
      expect(e.current).to.equal(b.url);
      await e.fetch('/api/health');
      expect(b.hits).to.have.length(2);
    });

    it('a proxy answering 502/503/504 for a dead instance counts as not answering; a 404 or 401 is an answer', async () => {
      const proxy = await serve('bad gateway', 502);
      const b = await serve('b', 404);
      closers.push(proxy.close, b.close);
      const e = new ControlEndpoints(proxy.url, [proxy.url, b.url]);
      const res = await e.fetch('/api/x');
      expect(res.status).to.equal(404);
      expect(proxy.hits).to.have.length(1);
      expect(e.current).to.equal(b.url);
    });

    it('every instance down: fails with the last error after trying each once', async () => {
      const [x, y] = [await deadUrl(), await deadUrl()];
      const e = new ControlEndpoints(x, [x, y]);
      let failed = false;
      await e.fetch('/api/me').catch(() => (failed = true));
      expect(failed).to.equal(true);
    });

    it('every instance answering 503: the last answer is returned as is', async () => {
      const p = await serve('p', 503);
      const q = await serve('q', 503);
      closers.push(p.close, q.close);
      const e = new ControlEndpoints(p.url, [p.url, q.url]);
      const res = await e.fetch('/api/me');
      expect([res.status, await res.text()]).to.deep.equal([503, 'q']);
    });
  });
});
