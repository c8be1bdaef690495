// A player of the press feed (RTP/MPEG-TS, RFC 2250) whose socket runs in a thread of its own
// (press-player-thread.mjs), as a press player runs on a machine of its own: the arrival times it
// keeps are the wire's, not those of the test's main thread, where the server under test runs
// and may be busy for a while (a grant, an agenda change) with datagrams waiting in the socket.
// It keeps the MPEG-TS too, which ffprobe then decodes frame by frame as a player would.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';

type Message = { type: 'ready'; port: number } | { type: 'batch'; at: Float64Array; lengths: Uint32Array; bytes: Uint8Array } | { type: 'flushed'; id: number };

export class PressPlayer {
  /** Arrival time of every datagram (ms, wall clock, stamped in the player's thread), as received so far (sync() for all). */
  readonly arrivals: number[] = [];
  port = 0;
  readonly #worker: Worker;
  readonly #chunks: Buffer[] = [];
  /** When the packets of each byte offset of the stream arrived: [offset, at]. */
  readonly #offsets: [number, number][] = [];
  #bytes = 0;
  #flushes = 0;
  readonly #waiting = new Map<number, () => void>();

  private constructor(port: number) {
    this.#worker = new Worker(new URL('./press-player-thread.mjs', import.meta.url), { workerData: { port } });
    this.#worker.on('message', (m: Message) => {
      if (m.type === 'batch') this.#take(m.at, m.lengths, Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength));
      else if (m.type === 'flushed') {
        this.#waiting.get(m.id)?.();
        this.#waiting.delete(m.id);
      }
    });
  }

  /** Listens on a loopback port (0: any; `port` tells which). */
  static async open(port = 0): Promise<PressPlayer> {
    const player = new PressPlayer(port);
    player.port = await new Promise<number>((resolve, reject) => {
      player.#worker.once('error', reject);
      const ready = (m: Message): void => {
        if (m.type !== 'ready') return;
        player.#worker.off('message', ready);
        resolve(m.port);
      };
      player.#worker.on('message', ready);
    });
    return player;
  }

  #take(at: Float64Array, lengths: Uint32Array, bytes: Buffer): void {
    let offset = 0;
    for (let i = 0; i < at.length; i++) {
      const datagram = bytes.subarray(offset, offset + lengths[i]!);
      offset += lengths[i]!;
      this.arrivals.push(at[i]!);
      const ts = datagram.subarray(12); // the RTP header of RTP/MPEG-TS (RFC 2250), no CSRCs
      this.#offsets.push([this.#bytes, at[i]!]);
      this.#chunks.push(ts);
      this.#bytes += ts.length;
    }
  }

  /** Resolves once everything the player's thread has received is here. */
  sync(): Promise<void> {
    const id = ++this.#flushes;
    const done = new Promise<void>((resolve) => this.#waiting.set(id, resolve));
    this.#worker.postMessage({ type: 'flush', id });
    return done;
  }

  /** The MPEG-TS received between two instants, written to a file. */
  save(file: string, from = 0, to = Infinity): void {
    const first = this.#offsets.findIndex(([, at]) => at >= from);
    let last = this.#offsets.findIndex(([, at]) => at > to);
    if (last < 0) last = this.#offsets.length;
    fs.writeFileSync(file, Buffer.concat(this.#chunks.slice(first, last)));
  }

  /** The longest time without a datagram on the wire between two instants (ms), and when it ended. */
  longestSilence(from: number, to: number): { ms: number; endedAt: number } {
    let prev = from;
    let longest = { ms: 0, endedAt: from };
    for (const at of this.arrivals) {
      if (at <= from) continue;
      if (at > to) break;
      if (at - prev > longest.ms) longest = { ms: at - prev, endedAt: at };
      prev = at;
    }
    return to - prev > longest.ms ? { ms: to - prev, endedAt: to } : longest;
  }

  /** Stops the player's thread. */
  async close(): Promise<void> {
    this.#worker.postMessage({ type: 'close' });
    await this.#worker.terminate();
  }
}
