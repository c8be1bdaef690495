import http from 'node:http';
import net from 'node:net';

/** An HTTP proxy: what a government network lets its PCs use instead of the internet. */
export interface HttpProxy {
  readonly port: number;
  /** CONNECT tunnels opened ("host:port"), and plain requests forwarded (absolute URLs), in order. */
  readonly tunnels: string[];
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * A small forward proxy as the halls' networks have them: plain HTTP requests with absolute URLs
 * are forwarded, and CONNECT opens a TCP tunnel (what browsers use for https://, WebSockets and
 * TURN over TCP/TLS). `allowConnect` decides which host:port a tunnel may reach (every one by default).
 */
export async function startHttpProxy(listenIp: string, allowConnect: (host: string, port: number) => boolean = () => true): Promise<HttpProxy> {
  const tunnels: string[] = [];
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const server = http.createServer((req, res) => {
    let target: URL;
    try {
      target = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end();
      return;
    }
    requests.push(target.href);
    const upstream = http.request(target, { method: req.method, headers: { ...req.headers, connection: 'close' } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.once('error', () => res.headersSent ? res.destroy() : res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connection', track);
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const m = /^([^:]+):(\d+)$/.exec(req.url ?? '');
    if (!m || !allowConnect(m[1]!, Number(m[2]))) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    tunnels.push(req.url!);
    const upstream = net.connect({ host: m[1]!, port: Number(m[2]) }, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    track(upstream);
    upstream.once('error', () => client.destroy());
    client.once('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenIp, () => resolve());
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as net.AddressInfo).port,
    tunnels,
    requests,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      });
      return closing;
    },
  };
}
