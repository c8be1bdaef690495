import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { loadConfig, type Config } from '../../config/index.ts';
import { defaultPlan } from '../../config/default-plan.ts';
import { startServer, type RunningServer, type ServerExtras } from '../../server/app/server.ts';

async function udpFree(port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function tcpFree(port: number): Promise<boolean> {
  const s = net.createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** The kernel's ephemeral range (what it hands out for port 0 and outgoing connections). */
function ephemeralPorts(): { low: number; high: number } {
  try {
    const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return { low: low!, high: high! };
  } catch {
    // not Linux: assume the IANA range
  }
  return { low: 49152, high: 65535 };
}

/** Ports a caller may use from a base beyond the ones it checks (an RTC range of 1,000 ports from a base). */
const SPARE_ABOVE_BASE = 1000;

/**
 * A base port such that base .. base+count-1 are free for UDP and TCP on loopback, and the range
 * (with 1,000 ports above it, the RTC range callers take from a base) lies below the kernel's
 * ephemeral range: a port checked free there could otherwise be handed to an outgoing connection
 * (a browser's, redis's, a socket.io client's) before the server binds it.
 */
export async function freePortBase(count: number): Promise<number> {
  const top = ephemeralPorts().low - SPARE_ABOVE_BASE - count;
  const bottom = 10000;
  if (top <= bottom) throw new Error(`the ephemeral port range starts at ${ephemeralPorts().low}: no room below it for test ports`);
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = bottom + Math.floor(Math.random() * (top - bottom));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = (await udpFree(p)) && (await tcpFree(p));
    if (ok) return base;
  }
  throw new Error('no free port range found');
}

/** A bare mediasoup worker with 100 RTC ports from a free base (tests of the worker itself, without a server). */
export async function bareWorker(): Promise<ms.Worker> {
  const rtcMinPort = await freePortBase(1);
  return mediasoup.createWorker({ logLevel: 'error', rtcMinPort, rtcMaxPort: rtcMinPort + 99 });
}

/** Starts a real server on loopback: HTTP on port 0, free WebRTC ports, real mediasoup workers, in-memory state unless told otherwise (redis, sqlite). */
export async function startTestServer(workers = 2, extra: Partial<Config> = {}, extras: ServerExtras = {}): Promise<RunningServer> {
  const webRtcBasePort = await freePortBase(workers);
  // Papers go to a directory of this server's own, removed when it closes (unless the test gave one).
  const ownDataDir = extra.dataDir ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-data-'));
  const rtcMinPort = await freePortBase(1);
  const config = loadConfig({}, {
    listenIp: '127.0.0.1',
    httpPort: 0,
    workers,
    webRtcBasePort,
    rtcMinPort: Math.min(rtcMinPort, 64000),
    rtcMaxPort: Math.min(rtcMinPort, 64000) + 999,
    logLevel: 'warn',
    // Tests ask for memory: the default file would carry one test's conference into the next.
    store: 'memory',
    ...extra,
    dataDir: extra.dataDir ?? ownDataDir!,
  });
  const server = await startServer(config, defaultPlan(), extras);
  if (ownDataDir) {
    const close = server.close.bind(server);
    (server as { close: () => Promise<void> }).close = async () => {
      await close();
      fs.rmSync(ownDataDir, { recursive: true, force: true });
    };
  }
  return server;
}

/** The invite link of a bridge's operator (or of a staff role) on a test server. */
export async function inviteUrl(server: RunningServer, target: string, page = 'hall.html'): Promise<string> {
  const token = await server.conference.tokens.tokenFor(target);
  if (!token) throw new Error(`no token for ${target}`);
  return `${server.url}/${page}#token=${token}`;
}

/** The access token of a bridge's operator or of a staff role. */
export async function tokenOf(server: RunningServer, target: string): Promise<string> {
  const token = await server.conference.tokens.tokenFor(target);
  if (!token) throw new Error(`no token for ${target}`);
  return token;
}
