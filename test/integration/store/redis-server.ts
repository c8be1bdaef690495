// A real redis-server for the integration tests: started as a daemon on a free loopback port with
// persistence off, stopped by its pid, its directory removed.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running redis-server. */
export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  /** Stops the server by its pid and removes its directory; idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts redis-server (REDIS_SERVER or the one on PATH); throws with a clear message when it is not installed or does not come up.
 * `host`: an address to listen on besides loopback (a network rig's root address, for processes in other namespaces; protected mode off, as the rig's subnet is its own); the URL then names it.
 */
export async function startRedisServer(options: { binary?: string; host?: string } = {}): Promise<RedisServer> {
  const BINARY = options.binary ?? process.env.REDIS_SERVER ?? 'redis-server';
  const probe = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `redis-server is required by the redis integration tests but cannot be run [binary:${BINARY}]` +
        ` (${probe.error?.message ?? probe.stderr.trim()}); install it (Debian: apt-get install redis-server) or set REDIS_SERVER`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'diemcau-redis-'));
  const pidfile = join(dir, 'redis.pid');
  const logfile = join(dir, 'redis.log');
  const port = await freePort();
  const started = spawnSync(
    BINARY,
    ['--port', String(port), '--bind', '127.0.0.1', ...(options.host ? [options.host, '--protected-mode', 'no'] : []), '--daemonize', 'yes', '--pidfile', pidfile, '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', logfile],
    { encoding: 'utf8' },
  );
  if (started.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`redis-server did not start [port:${port}]: ${started.stderr || started.stdout}`);
  }
  let pid = 0;
  try {
    pid = await waitForPid(pidfile);
    await waitForPong(port);
  } catch (error) {
    const log = await readFile(logfile, 'utf8').catch(() => '');
    if (pid) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`redis-server did not come up [port:${port}]: ${(error as Error).message}\n${log.slice(-2000)}`);
  }
  let stopped = false;
  return {
    url: `redis://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    pid,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (alive(pid)) process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 100 && alive(pid); i++) await sleep(20);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

async function waitForPid(pidfile: string): Promise<number> {
  for (let i = 0; i < 250; i++) {
    const text = await readFile(pidfile, 'utf8').catch(() => '');
    const pid = Number(text.trim());
    if (Number.isInteger(pid) && pid > 0) return pid;
    await sleep(20);
  }
  throw new Error('no pid file');
}

async function waitForPong(port: number): Promise<void> {
  for (let i = 0; i < 250; i++) {
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      let data = '';
      socket.setTimeout(500, () => socket.destroy());
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk) => {
        data += chunk.toString();
        socket.end();
      });
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(''));
    });
    if (reply.startsWith('+PONG')) return;
    await sleep(20);
  }
  throw new Error('no PONG');
}

/** Whether a process with this pid runs (an exited daemon waiting to be reaped by init counts as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; Z is a zombie.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
