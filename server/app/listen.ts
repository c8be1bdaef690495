// The HTTP server of every role: bound first, since a media node's id and URLs are made of its port.
// Every role's server closes connections that say nothing and caps the connections of one
// address (server/transport/connections.ts): a media node faces the halls as a control instance does.
import http from 'node:http';
import type { RequestListener } from 'node:http';
import type { Config } from '../../config/index.ts';
import { ConnectionCap, httpServerOptions, LISTEN_BACKLOG } from '../transport/connections.ts';

/** A listening HTTP server, its port and the URL it is reached at on this host. */
export interface Listening {
  httpServer: http.Server;
  port: number;
  url: string;
  /** Closes the server (nothing if it is already closed). */
  close(): Promise<void>;
}

/** Where the edge reports refused connections (pino's signature). */
export interface ListenLog {
  warn(data: object, message: string): void;
}

/** Binds an HTTP server for `app` on the configuration's address and port (0: any free one). */
export async function listenHttp(
  app: RequestListener,
  config: Pick<Config, 'httpPort' | 'listenIp' | 'maxConnectionsPerAddress' | 'trustedProxies'>,
  log?: ListenLog,
): Promise<Listening> {
  const httpServer = http.createServer(httpServerOptions(), app);
  ConnectionCap.attach(httpServer, {
    maxPerAddress: config.maxConnectionsPerAddress,
    exempt: new Set(config.trustedProxies),
    refused: (address, count) => log?.warn({ address, count, max: config.maxConnectionsPerAddress }, 'connections refused: too many from one address'),
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen({ port: config.httpPort, host: config.listenIp, backlog: LISTEN_BACKLOG }, () => resolve());
  });
  const address = httpServer.address();
  const port = typeof address === 'object' && address ? address.port : config.httpPort;
  const host = config.listenIp === '0.0.0.0' || config.listenIp === '::' ? '127.0.0.1' : config.listenIp;
  return { httpServer, port, url: `http://${host}:${port}`, close: () => new Promise<void>((resolve) => httpServer.close(() => resolve())) };
}
