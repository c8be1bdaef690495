/**
 * A native bench helper (rtp-gen, rtp-sink) seen from Node: the child process and its line
 * protocol. A request is "<id> <words>\n" on stdin; the answer is one JSON line on stdout with
 * the same id (and `error` when the helper refused it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';

export class LineProcess {
  readonly proc: ChildProcess;
  readonly #name: string;
  #next = 1;
  readonly #waiting = new Map<number, (m: any) => void>();
  #closed = false;

  /** `env`: added to this process's environment (e.g. DIEMCAU_BENCH_BIND_IP). */
  constructor(name: string, binary: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}) {
    this.#name = name;
    this.proc = spawn(binary, [...args], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    readline.createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as { id: number };
      const w = this.#waiting.get(m.id);
      if (w) {
        this.#waiting.delete(m.id);
        w(m);
      }
    });
    this.proc.once('exit', () => {
      this.#closed = true;
      for (const w of this.#waiting.values()) w({ error: `${name} exited` });
      this.#waiting.clear();
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /** Sends one request and resolves with its answer; an error answer, an exit or the timeout rejects. */
  request<T = any>(line: string, timeoutMs = 30_000): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`${this.#name} is not running`));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.#name}: ${line.split(' ')[0]} timed out`)), timeoutMs);
      this.#waiting.set(id, (m) => {
        clearTimeout(timer);
        if (m.error) reject(new Error(`${this.#name}: ${m.error}`));
        else resolve(m as T);
      });
      this.proc.stdin!.write(`${id} ${line}\n`);
    });
  }

  /** Asks the helper to stop (killed if it does not answer within 5 s) and waits for its exit; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    await this.request('stop', 5000).catch(() => this.proc.kill('SIGKILL'));
    await exited;
  }
}
