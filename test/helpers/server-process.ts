// Real server processes for the tests that kill them (`node --import tsx server/main.ts`, as an
// operator runs it), and control displays: raw socket.io clients of /control that reconnect by
// themselves to the one URL they were given, as the apps did before they knew several.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { io, type Socket } from 'socket.io-client';
import type { ConferenceView } from '../../server/protocol/control.ts';
import { waitFor } from './chromium.ts';
import { freePortBase } from './server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export type Reply = { ok: true; data: unknown } | { ok: false; error: { code: string } };

/** A control socket and the views it received. */
export interface Display {
  socket: Socket;
  views: ConferenceView[];
  last(): ConferenceView;
  command(cmd: object): Promise<Reply>;
}

/** A control socket that reconnects by itself (to the same URL); resolves at its first view. */
export async function display(url: string, token: string): Promise<Display> {
  const socket = io(`${url}/control`, { auth: { token }, transports: ['websocket'], reconnectionDelay: 200, reconnectionDelayMax: 500, forceNew: true });
  const d: Display = {
    socket,
    views: [],
    last: () => d.views[d.views.length - 1]!,
    command: (cmd) => socket.timeout(5000).emitWithAck('control:command', cmd) as Promise<Reply>,
  };
  socket.on('control:view', (v: ConferenceView) => d.views.push(v));
  await waitFor('first view', async () => d.views.length > 0, 10_000);
  return d;
}

/** Server processes started and not yet reaped: killAll() takes them down by pid, whatever happened. */
const children = new Set<ChildProcess>();

/** The environment of one server process on loopback: its HTTP port, free WebRTC and pipe ports, one worker. */
export async function serverEnv(extra: Record<string, string> = {}): Promise<Record<string, string> & { PORT: string }> {
  const [http, rtc, pipes] = [await freePortBase(1), await freePortBase(2), await freePortBase(1)];
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

/** A server process with its URL and what it wrote on stderr, and on stdout (its JSON log lines and the start text). */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  stderr(): string;
  stdout(): string;
}

/** Starts a server process (`args`: e.g. `--plan file`) and resolves when its /healthz answers 200 (503 while it starts: then its API answers too). */
export async function spawnServer(env: Record<string, string> & { PORT: string }, args: readonly string[] = []): Promise<ChildProcess> {
  return (await spawnServerProcess(env, args)).child;
}

/** Starts a server process as spawnServer does, keeping its stderr. */
export async function spawnServerProcess(env: Record<string, string> & { PORT: string }, args: readonly string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
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
    await kill(child);
    throw error;
  }
  return { child, url: `http://127.0.0.1:${env.PORT}`, stderr: () => stderr, stdout: () => stdout };
}

/** SIGKILL, and wait for the exit. */
export async function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** Kills every server process still running. */
export async function killAll(): Promise<void> {
  for (const child of [...children]) await kill(child);
}
