// Connections that say nothing, and too many from one address. A TCP connection must complete a
// request's headers within HEADERS_TIMEOUT_MS of opening (or of its previous request): Node
// answers 408 and closes it, checking every CONNECTION_CHECK_MS (its defaults, 60 s checked
// every 30 s, left 200 silent connections open for over a minute). A socket.io connection must
// join a namespace within SOCKET_CONNECT_TIMEOUT_MS. One remote address holds at most
// `maxPerAddress` connections at once (the rest are closed as they open), except the trusted
// proxies (a TLS proxy on this host: every connection comes from it).
import type http from 'node:http';
import type net from 'node:net';

/**
 * Time to send a request's headers. A hall's browser sends them in one packet right after the
 * TCP handshake; 8 s covers a mountain link losing packets (a few retransmissions at 1, 2, 4 s).
 */
export const HEADERS_TIMEOUT_MS = 8_000;
/** How often Node looks for connections past their header time. */
export const CONNECTION_CHECK_MS = 1_000;
/** An idle keep-alive connection between two requests (browsers reopen one when they need it). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/**
 * Connections the kernel queues for the server to accept (listen's backlog; Node's default is
 * 511). Thousands of halls connecting at once (a national meeting's join storm, every hall of a
 * restarted instance) overflow 511 although the server is idle: the kernel drops the rest, and
 * their SYNs come again 1, 3, 7, 15 s… later (sim:national, 5,000 halls: half took 17 s, 144
 * never got in). Linux caps it at net.core.somaxconn (4096 by default since 5.4).
 */
export const LISTEN_BACKLOG = 4096;
/** Time for a socket.io connection to join a namespace after its handshake (the apps do it at once). */
export const SOCKET_CONNECT_TIMEOUT_MS = 5_000;
/** Largest socket.io message: a browser's RTP capabilities are about 10 kB, a link test's 256 hall ids 3 kB. */
export const SOCKET_MAX_MESSAGE_BYTES = 100_000;

/**
 * Connections one address may hold at once. A hall uses two tabs (operator panel, display),
 * each with one WebSocket and at most six HTTP connections while a page loads: about 14 at
 * peak, 2 to 4 after. A site behind one NAT address (a district building with its own hall and
 * a few communes' laptops, an office with several consoles) stays well under 256 even when all
 * its pages load at once; a province whose every hall leaves through one address should put
 * the server behind its proxy (a trusted proxy) or raise DIEMCAU_MAX_CONNECTIONS_PER_ADDRESS.
 */
export const MAX_CONNECTIONS_PER_ADDRESS = 256;

/** The socket.io server's own limits, the same on a control instance and a media node (origins and adapter are the caller's). */
export function socketServerOptions(): { serveClient: false; pingInterval: number; pingTimeout: number; connectTimeout: number; maxHttpBufferSize: number } {
  return { serveClient: false, pingInterval: 10000, pingTimeout: 8000, connectTimeout: SOCKET_CONNECT_TIMEOUT_MS, maxHttpBufferSize: SOCKET_MAX_MESSAGE_BYTES };
}

/** The HTTP server's own time limits (options of http.createServer). */
export function httpServerOptions(): http.ServerOptions {
  return { headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: CONNECTION_CHECK_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS };
}

/** Options of ConnectionCap.attach. */
export interface ConnectionCapOptions {
  maxPerAddress: number;
  /** Addresses never capped (the trusted proxies). */
  exempt: ReadonlySet<string>;
  /** Told of refused connections: the first from an address, then every tenfold (1, 10, 100…), so that a flood is not a flood of logs. */
  refused?: (address: string, count: number) => void;
}

/** The open connections per remote address of a server, and the cap on them. */
export class ConnectionCap {
  readonly #open = new Map<string, number>();
  readonly #refused = new Map<string, number>();
  readonly #options: ConnectionCapOptions;

  private constructor(options: ConnectionCapOptions) {
    this.#options = options;
  }

  /** Caps a server's connections per remote address; returns the cap (for its counts). */
  static attach(server: http.Server, options: ConnectionCapOptions): ConnectionCap {
    const cap = new ConnectionCap(options);
    server.on('connection', (socket: net.Socket) => cap.#admit(socket));
    return cap;
  }

  /** Connections open now from an address. */
  openFrom(address: string): number {
    return this.#open.get(address) ?? 0;
  }

  #admit(socket: net.Socket): void {
    const address = socket.remoteAddress ?? '';
    if (this.#options.exempt.has(address)) return;
    const n = this.openFrom(address);
    if (n >= this.#options.maxPerAddress) {
      socket.destroy();
      const count = (this.#refused.get(address) ?? 0) + 1;
      this.#refused.set(address, count);
      if (Number.isInteger(Math.log10(count))) this.#options.refused?.(address, count);
      return;
    }
    this.#open.set(address, n + 1);
    socket.once('close', () => {
      const left = this.openFrom(address) - 1;
      if (left > 0) this.#open.set(address, left);
      else {
        this.#open.delete(address);
        this.#refused.delete(address);
      }
    });
  }
}
