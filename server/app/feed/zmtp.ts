// Commands to a running ffmpeg's filters through its zmq filter (a ZeroMQ REP socket the filter
// binds): the few bytes of ZMTP 3.0 (rfc.zeromq.org/spec/23, NULL mechanism) that a REQ socket
// needs, over a Unix socket, one request at a time. The re-encoder switches its content panel's
// compositing on and off with it (FeedEncoder): no ZeroMQ library for a handful of requests a day.
// ffmpeg reads the requests as video frames pass through the filter (25 a second: the relay never
// lets the video stop), and answers "<code> <message>".
import net from 'node:net';
import type { Clock, ClockTimer } from '../../core/conference/index.ts';

/** A request not answered within this long fails (the connection is made again for the next). */
const REPLY_TIMEOUT_MS = 3000;
/** Connecting is tried this often until ffmpeg has bound its socket. */
const CONNECT_RETRY_MS = 100;

/** The 64-byte greeting: signature, version 3.0, mechanism NULL, not a server. */
function greeting(): Buffer {
  const g = Buffer.alloc(64);
  g[0] = 0xff;
  g[8] = 0x01;
  g[9] = 0x7f;
  g[10] = 3;
  g[11] = 0;
  g.write('NULL', 12, 'latin1');
  return g;
}

/** A frame: flags (MORE 1, LONG 2, COMMAND 4), its size, its body. */
function frame(body: Buffer, flags: number): Buffer {
  if (body.length <= 255) return Buffer.concat([Buffer.from([flags, body.length]), body]);
  const head = Buffer.alloc(9);
  head[0] = flags | 0x02;
  head.writeBigUInt64BE(BigInt(body.length), 1);
  return Buffer.concat([head, body]);
}

/** The NULL mechanism's READY command with the socket type. */
function ready(): Buffer {
  const name = Buffer.from('Socket-Type', 'latin1');
  const value = Buffer.from('REQ', 'latin1');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(value.length);
  return frame(Buffer.concat([Buffer.from([5]), Buffer.from('READY', 'latin1'), Buffer.from([name.length]), name, len, value]), 0x04);
}

/** One REQ connection to ffmpeg's zmq filter. */
export class FilterCommands {
  readonly #path: string;
  readonly #clock: Clock;
  #socket: net.Socket | undefined;
  #connecting: Promise<net.Socket> | undefined;
  #in = Buffer.alloc(0);
  #stage: 'greeting' | 'ready' | 'open' = 'greeting';
  #frames: Buffer[] = [];
  #waiting: { resolve: (reply: string) => void; reject: (e: Error) => void; timer: ClockTimer } | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** `path`: the Unix socket of the filter's bind address (`ipc://<path>`). */
  constructor(path: string, clock: Clock) {
    this.#path = path;
    this.#clock = clock;
  }

  /**
   * Sends one command ("TARGET COMMAND ARG", e.g. "maskedmerge@panel enable 1"); resolves with
   * ffmpeg's answer when it is "0 Success", rejects otherwise. Requests go one after the other.
   */
  send(command: string, connectWithinMs = 10_000): Promise<string> {
    const run = this.#chain.then(() => this.#request(command, connectWithinMs));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #request(command: string, connectWithinMs: number): Promise<string> {
    const socket = await this.#connect(connectWithinMs);
    return new Promise<string>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#waiting = undefined;
        this.#drop();
        reject(new Error(`no answer from the re-encoder's filters within ${REPLY_TIMEOUT_MS} ms [command:${command}]`));
      }, REPLY_TIMEOUT_MS);
      this.#waiting = {
        resolve: (reply) => (/^0 /.test(reply) ? resolve(reply) : reject(new Error(`the re-encoder refused [command:${command}] ${reply.trim()}`))),
        reject,
        timer,
      };
      // An empty delimiter, then the request.
      socket.write(Buffer.concat([frame(Buffer.alloc(0), 0x01), frame(Buffer.from(command, 'utf8'), 0x00)]));
    });
  }

  #connect(withinMs: number): Promise<net.Socket> {
    if (this.#closed) return Promise.reject(new Error('filter commands closed'));
    if (this.#socket && this.#stage === 'open') return Promise.resolve(this.#socket);
    this.#connecting ??= (async () => {
      const until = this.#clock.now() + withinMs;
      for (;;) {
        try {
          return await this.#open();
        } catch (error) {
          if (this.#closed || this.#clock.now() >= until) throw error;
          await new Promise<void>((r) => this.#clock.setTimeout(r, CONNECT_RETRY_MS));
        }
      }
    })().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  /** Connects and completes the handshake. */
  #open(): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect(this.#path);
      this.#in = Buffer.alloc(0);
      this.#stage = 'greeting';
      this.#frames = [];
      let opened = false;
      const fail = (error: Error): void => {
        socket.destroy();
        if (!opened) {
          reject(error);
          return;
        }
        // A connection given up already (a timeout) fails nothing of the next one.
        if (this.#socket !== socket) return;
        this.#socket = undefined;
        this.#stage = 'greeting';
        this.#failWaiting(error);
      };
      socket.once('error', fail);
      socket.once('close', () => fail(new Error("the re-encoder's filter socket closed")));
      socket.once('connect', () => socket.write(greeting()));
      socket.on('data', (chunk: Buffer) => {
        this.#in = Buffer.concat([this.#in, chunk]);
        try {
          this.#read(socket);
        } catch (error) {
          fail(error as Error);
          return;
        }
        if (!opened && this.#stage === 'open') {
          opened = true;
          this.#socket = socket;
          resolve(socket);
        }
      });
    });
  }

  #read(socket: net.Socket): void {
    for (;;) {
      if (this.#stage === 'greeting') {
        if (this.#in.length < 64) return;
        if (this.#in[0] !== 0xff || this.#in[9] !== 0x7f || this.#in[10]! < 3) throw new Error('not a ZMTP 3 peer');
        this.#in = this.#in.subarray(64);
        socket.write(ready());
        this.#stage = 'ready';
        continue;
      }
      if (this.#in.length < 2) return;
      const flags = this.#in[0]!;
      const long = (flags & 0x02) !== 0;
      const head = long ? 9 : 2;
      if (this.#in.length < head) return;
      const size = long ? Number(this.#in.readBigUInt64BE(1)) : this.#in[1]!;
      if (this.#in.length < head + size) return;
      const body = this.#in.subarray(head, head + size);
      this.#in = this.#in.subarray(head + size);
      if (flags & 0x04) {
        // A command: READY ends the handshake; others (ERROR, PING) are not expected from a REP socket.
        const name = body.subarray(1, 1 + body[0]!).toString('latin1');
        if (name === 'READY') this.#stage = 'open';
        else if (name === 'ERROR') throw new Error(`ZMTP error from the re-encoder: ${body.subarray(1 + body[0]! + 1).toString('latin1')}`);
        continue;
      }
      this.#frames.push(Buffer.from(body));
      if (flags & 0x01) continue;
      // The last frame of a reply (after its empty delimiter): the answer.
      const reply = this.#frames.filter((f) => f.length > 0).map((f) => f.toString('utf8')).join('');
      this.#frames = [];
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) {
        this.#clock.clearTimeout(waiting.timer);
        waiting.resolve(reply);
      }
    }
  }

  #failWaiting(error: Error): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (!waiting) return;
    this.#clock.clearTimeout(waiting.timer);
    waiting.reject(error);
  }

  #drop(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
    this.#stage = 'greeting';
  }

  /** Closes the connection; requests waiting fail. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#failWaiting(new Error('filter commands closed'));
    this.#drop();
  }
}
