// The real server as its own process (`node --import tsx server/main.ts`), as an operator runs
// it: started with an environment, watched until /healthz answers, killed by its pid.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../integration/media-fixture.ts';
import { freePortBase } from './server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Server processes started and not yet reaped: killAll() ends them by pid, whatever happened. */
const children = new Set<ChildProcess>();

/** A server process with what it wrote on stderr. */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  stderr(): string;
}

/** Free ports for one server process (HTTP, one worker's WebRTC port, a pipe range) on loopback. */
export async function serverEnv(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const [http, rtc, pipes] = [await freePortBase(1), await freePortBase(1), await freePortBase(1)];
  return {
    PORT: String(http),
    DIEMCAU_LISTEN_IP: '127.0.0.1',
    DIEMCAU_WEBRTC_PORT: String(rtc),
    DIEMCAU_RTC_MIN_PORT: String(Math.min(pipes, 64000)),
    DIEMCAU_RTC_MAX_PORT: String(Math.min(pipes, 64000) + 500),
    DIEMCAU_WORKERS: '1',
    DIEMCAU_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** Starts a server process and waits until it is healthy (30 s at most). */
export async function spawnServer(env: Record<string, string>): Promise<ChildProcess> {
  return (await spawnServerProcess(env)).child;
}

/** Starts a server process, keeping its stderr. */
export async function spawnServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  try {
    await waitFor(
      'server process healthy',
      async () => {
        if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${stderr}`);
        const res = await fetch(`http://127.0.0.1:${env.PORT}/healthz`).catch(() => null);
        return res?.ok ?? false;
      },
      30_000,
    );
  } catch (error) {
    await killServer(child);
    throw error;
  }
  return { child, url: `http://127.0.0.1:${env.PORT}`, stderr: () => stderr };
}

/** Kills a server process (SIGKILL) and waits for it to exit. */
export async function killServer(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** Kills every server process started here and still running. */
export async function killAllServers(): Promise<void> {
  for (const child of [...children]) await killServer(child);
}
