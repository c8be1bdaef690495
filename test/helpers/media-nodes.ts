// Media node processes for the multi-node tests: each a real `media` role process on loopback
// with its own HTTP port, worker ports and pipe port range, driven over IPC (see
// media-node-process.ts). Stopped by their pid.
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePortBase } from './server.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A running media node process. */
export class MediaNodeProcess {
  readonly nodeId: string;
  readonly url: string;
  readonly pid: number;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;
  #exited: Promise<void>;

  private constructor(child: ChildProcess, ready: { url: string; nodeId: string; pid: number }) {
    this.#child = child;
    this.nodeId = ready.nodeId;
    this.url = ready.url;
    this.pid = ready.pid;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (raw) => {
      const reply = raw as { id: number; ok: boolean; data?: unknown; error?: string };
      const waiting = this.#pending.get(reply.id);
      if (!waiting) return;
      this.#pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.data);
      else waiting.reject(new Error(`${this.nodeId}: ${reply.error}`));
    });
    child.once('exit', () => {
      for (const w of this.#pending.values()) w.reject(new Error(`${this.nodeId} exited`));
      this.#pending.clear();
    });
  }

  /** Starts a media node: its config comes from the environment as for `DIEMCAU_ROLE=media`. */
  static async start(options: { nodeId: string; redisUrl: string; secret: string; conferenceId: string; workers?: number; labels?: string; env?: Record<string, string> }): Promise<MediaNodeProcess> {
    const workers = options.workers ?? 1;
    const webRtc = await freePortBase(workers);
    const rtc = Math.min(await freePortBase(1), 64000);
    const child = fork(path.join(here, 'media-node-process.ts'), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: {
        ...process.env,
        DIEMCAU_ROLE: 'media',
        REDIS_URL: options.redisUrl,
        DIEMCAU_NODE_SECRET: options.secret,
        DIEMCAU_NODE_ID: options.nodeId,
        DIEMCAU_CONFERENCE_ID: options.conferenceId,
        DIEMCAU_LISTEN_IP: '127.0.0.1',
        PORT: '0',
        DIEMCAU_WORKERS: String(workers),
        DIEMCAU_WEBRTC_PORT: String(webRtc),
        DIEMCAU_RTC_MIN_PORT: String(rtc),
        DIEMCAU_RTC_MAX_PORT: String(rtc + 499),
        DIEMCAU_LOG_LEVEL: 'error',
        ...(options.labels ? { DIEMCAU_NODE_LABELS: options.labels } : {}),
        ...options.env,
      },
    });
    const ready = await new Promise<{ url: string; nodeId: string; pid: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${options.nodeId} did not start`)), 30_000);
      child.once('message', (m) => {
        clearTimeout(timer);
        resolve(m as { url: string; nodeId: string; pid: number });
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${options.nodeId} exited with ${code}`));
      });
    });
    return new MediaNodeProcess(child, ready);
  }

  /** Runs one of the test hand's operations in the node. */
  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ id, op, args });
    });
  }

  /** Kills the process (SIGKILL: no withdrawal, as a crash) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) process.kill(this.pid, signal);
    await this.#exited;
  }
}
