/**
 * Debian's coturn as a plain child process, for halls behind firewalls that let nothing through
 * but TCP (or only TLS on 443): the server writes its configuration (TURN REST API secret,
 * listeners, the only peer it may relay to: the SFU), starts it, waits until it listens, and
 * stops it by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { sleep, systemClock, type Clock } from '../../core/conference/index.ts';

/** Where and how coturn runs. */
export interface CoturnOptions {
  /** Address it listens on (0.0.0.0: every address). */
  listenIp: string;
  /** UDP and TCP port of plain TURN (3478). */
  port: number;
  /** TLS port (5349; 443 where only web ports are open); needs `cert` and `key`. */
  tlsPort?: number;
  /** PEM certificate chain and private key for TURN over TLS. */
  cert?: string;
  key?: string;
  /** The TURN REST API secret (shared with the server that issues the credentials). */
  secret: string;
  /** The only addresses halls may relay to: the SFU's announced addresses. */
  peers: readonly string[];
  /** UDP ports of the relayed endpoints (coturn's default: 49152–65535). */
  relayPorts?: { min: number; max: number };
  /** The executable (default: turnserver on PATH). */
  command?: string;
  /** Lines coturn logs. */
  log?: (line: string) => void;
  /** Time of the start-up wait and the stop's grace (the system clock by default). */
  clock?: Clock;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** coturn's configuration file for these options (`dir` holds its pid file). */
export function coturnConfig(options: CoturnOptions, dir: string): string {
  if (!/^[\x21-\x7e]{16,256}$/.test(options.secret)) throw new RangeError('the TURN secret must be 16 to 256 printable characters without spaces');
  if (!options.peers.length) throw new RangeError('coturn needs the SFU address it may relay to');
  for (const ip of [options.listenIp, ...options.peers]) if (!IPV4.test(ip)) throw new RangeError(`not an IPv4 address [ip:${ip}]`);
  const tls = options.tlsPort !== undefined;
  if (tls && (!options.cert || !options.key)) throw new RangeError('TURN over TLS needs a certificate and its key');
  const lines = [
    '# Written by diemcau at start; changes here are lost.',
    `listening-port=${options.port}`,
    ...(options.listenIp !== '0.0.0.0' ? [`listening-ip=${options.listenIp}`, `relay-ip=${options.listenIp}`] : []),
    ...(tls ? [`tls-listening-port=${options.tlsPort}`, `cert=${options.cert}`, `pkey=${options.key}`, 'no-tlsv1', 'no-tlsv1_1'] : ['no-tls']),
    // Browsers speak TURN over UDP, TCP and TLS, never DTLS.
    'no-dtls',
    'use-auth-secret',
    `static-auth-secret=${options.secret}`,
    'realm=diemcau',
    'fingerprint',
    'no-cli',
    'no-rfc5780',
    'no-multicast-peers',
    'no-software-attribute',
    // Relay to the SFU only: never an open relay into the network it stands in.
    'denied-peer-ip=0.0.0.0-255.255.255.255',
    'denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    ...options.peers.map((ip) => `allowed-peer-ip=${ip}`),
    ...(options.peers.some((ip) => ip.startsWith('127.')) ? ['allow-loopback-peers'] : []),
    ...(options.relayPorts ? [`min-port=${options.relayPorts.min}`, `max-port=${options.relayPorts.max}`] : []),
    `pidfile=${path.join(dir, 'turnserver.pid')}`,
    // Its own (empty) user database: the REST API secret is all it needs.
    `userdb=${path.join(dir, 'turndb')}`,
    'log-file=stdout',
    'simple-log',
    '',
  ];
  return lines.join('\n');
}

/** The URLs of a coturn for the browsers: plain TURN over UDP and TCP, and TURN over TLS when it has it. */
export function coturnUrls(host: string, port: number, tlsPort?: number): string[] {
  const urls = [`turn:${host}:${port}?transport=udp`, `turn:${host}:${port}?transport=tcp`];
  if (tlsPort !== undefined) urls.push(`turns:${host}:${tlsPort}?transport=tcp`);
  return urls;
}

/** A running coturn; `close()` stops it by pid and removes its files. */
export class Coturn {
  readonly options: CoturnOptions;
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #exited: Promise<void>;
  #closing: Promise<void> | undefined;

  private constructor(options: CoturnOptions, child: ChildProcess, dir: string) {
    this.options = options;
    this.#child = child;
    this.#dir = dir;
    this.#exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  }

  /** Writes the configuration, starts coturn and waits (5 s at most) until every listener accepts connections. */
  static async start(options: CoturnOptions): Promise<Coturn> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-coturn-'));
    const file = path.join(dir, 'turnserver.conf');
    // The secret is in it: readable by this user only.
    fs.writeFileSync(file, coturnConfig(options, dir), { mode: 0o600 });
    const recent: string[] = [];
    const child = spawn(options.command ?? 'turnserver', ['-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const coturn = new Coturn(options, child, dir);
    const onLine = (chunk: Buffer): void => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        recent.push(line);
        if (recent.length > 40) recent.shift();
        options.log?.(line);
      }
    };
    child.stdout!.on('data', onLine);
    child.stderr!.on('data', onLine);
    let failure: Error | undefined;
    child.once('error', (error) => (failure = error));
    const host = options.listenIp === '0.0.0.0' ? '127.0.0.1' : options.listenIp;
    const ports = [options.port, ...(options.tlsPort !== undefined ? [options.tlsPort] : [])];
    const clock = options.clock ?? systemClock;
    const until = clock.now() + 5000;
    try {
      for (;;) {
        if (failure) throw failure;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`coturn exited [code:${child.exitCode}]`);
        if ((await Promise.all(ports.map((p) => accepts(host, p)))).every(Boolean)) return coturn;
        if (clock.now() > until) throw new Error('coturn did not listen within 5 s');
        await sleep(clock, 50);
      }
    } catch (error) {
      await coturn.close();
      throw new Error(`${(error as Error).message}; coturn said: ${recent.slice(-8).join(' | ')}`);
    }
  }

  /** The process id. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Whether the process still runs. */
  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Stops coturn (SIGTERM, SIGKILL after 2 s) and removes its configuration; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.running) {
        this.#child.kill('SIGTERM');
        const clock = this.options.clock ?? systemClock;
        const timer = clock.setTimeout(() => this.#child.kill('SIGKILL'), 2000);
        await this.#exited;
        clock.clearTimeout(timer);
      }
      fs.rmSync(this.#dir, { recursive: true, force: true });
    })();
    return this.#closing;
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}
