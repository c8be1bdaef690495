/**
 * The Node side of bench:peer's native WebRTC endpoint (endpoint.c): starts it, creates its
 * peers, connects them (ICE + DTLS-SRTP) and reads its counters. See endpoint.c for the protocol.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SrtpSuite } from '../fanout/srtp.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The SRTP profiles the endpoint offers in its ClientHello (OpenSSL names) for each suite. */
export const PROFILES: Record<SrtpSuite, string> = {
  AEAD_AES_128_GCM: 'SRTP_AEAD_AES_128_GCM',
  AES_CM_128_HMAC_SHA1_80: 'SRTP_AES128_CM_SHA1_80',
};

/** Our side of one PeerConnection's ICE and DTLS, as the signalling announces it. */
export interface LocalIce {
  ip: string;
  port: number;
  ufrag: string;
  pwd: string;
  /** SHA-256 fingerprint of the endpoint's certificate (upper-case hex with colons). */
  fingerprint: string;
}

/** The SFU's side, from its signalling. */
export interface RemoteIce {
  ip: string;
  port: number;
  ufrag: string;
  pwd: string;
  fingerprint: string;
  /** Whether we are the controlling ICE agent (towards an ICE-lite SFU, or as the offerer). */
  controlling: boolean;
}

/** What a connected peer's DTLS exported: the suite and the master key+salt of each side (base64). */
export interface SrtpKeys {
  suite: SrtpSuite;
  /** What we (the DTLS client) encrypt with. */
  clientKey: string;
  /** What the SFU (the DTLS server) encrypts with. */
  serverKey: string;
}

export interface StreamCount {
  peer: string;
  ssrc: number;
  pt: number;
  /** In the window since the last mark. */
  received: number;
  expected: number;
  bytes: number;
  /** Since the stream began. */
  total: number;
}

export interface PeerCount {
  peer: string;
  ice: number;
  dtls: number;
  rtcpIn: number;
  relayedOut: number;
  relayedIn: number;
  /** recvmmsg calls that returned a full batch since the mark (a backlog at that socket). */
  fullBatches: number;
}

/** Random ICE credentials (RFC 8445: ufrag ≥ 4, password ≥ 22 characters). */
export function iceCredentials(): { ufrag: string; pwd: string } {
  const s = (n: number): string => crypto.randomBytes(n).toString('base64').replace(/[^A-Za-z0-9]/g, 'x').slice(0, n);
  return { ufrag: s(8), pwd: s(24) };
}

/** Path of the endpoint binary, building it if its source changed (cached, see build-endpoint.sh). */
export function endpointBinary(): string {
  return execFileSync('bash', [path.join(here, 'build-endpoint.sh')], { encoding: 'utf8' }).trim();
}

/** One endpoint process carrying any number of peers. */
export class Endpoint {
  readonly proc: ChildProcessWithoutNullStreams;
  fingerprint = '';
  readonly #waiting = new Map<string, { resolve: (words: string[]) => void; reject: (e: Error) => void }>();
  readonly #lines: ((line: string) => boolean)[] = [];
  #closed = false;

  private constructor(bin: string) {
    this.proc = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr.on('data', (d: Buffer) => process.stderr.write(`endpoint: ${d.toString()}`));
    readline.createInterface({ input: this.proc.stdout }).on('line', (line) => this.#onLine(line));
    this.proc.on('exit', (code) => {
      for (const w of this.#waiting.values()) w.reject(new Error(`endpoint exited (${code})`));
      this.#waiting.clear();
    });
  }

  static async start(): Promise<Endpoint> {
    const e = new Endpoint(endpointBinary());
    const words = await e.#expect('fingerprint', 10_000);
    e.fingerprint = words[1]!;
    return e;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  #onLine(line: string): void {
    const words = line.split(' ');
    const [kind, id] = words;
    if (this.#lines.length && this.#lines[0]!(line)) return;
    const key = kind === 'ready' || kind === 'failed' ? `ready:${id}` : kind === 'bound' || kind === 'error' ? `bound:${id}` : kind!;
    const w = this.#waiting.get(key);
    if (!w) return;
    this.#waiting.delete(key);
    if (kind === 'failed' || kind === 'error') w.reject(new Error(`endpoint: ${line}`));
    else w.resolve(words);
  }

  #expect(key: string, timeoutMs: number): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(key);
        reject(new Error(`endpoint: no ${key} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(key, {
        resolve: (w) => (clearTimeout(timer), resolve(w)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }

  #send(line: string): void {
    this.proc.stdin.write(`${line}\n`);
  }

  /** Binds a peer's UDP socket (and, for a relay, the local port the generator sends to). */
  async addPeer(id: string, ip: string, relay: boolean): Promise<{ port: number; relayPort: number }> {
    const answer = this.#expect(`bound:${id}`, 10_000);
    this.#send(`peer ${id} ${ip} ${relay ? 1 : 0}`);
    const words = await answer;
    return { port: Number(words[2]), relayPort: Number(words[3]) };
  }

  /** Runs ICE then the DTLS handshake; resolves with the SRTP keys. */
  async connect(id: string, local: LocalIce, remote: RemoteIce, suites: SrtpSuite[], timeoutMs = 20_000): Promise<SrtpKeys> {
    const answer = this.#expect(`ready:${id}`, timeoutMs);
    const profiles = suites.map((s) => PROFILES[s]).join(':');
    this.#send(`connect ${id} ${remote.controlling ? 1 : 0} ${remote.ip} ${remote.port} ${local.ufrag} ${local.pwd} ${remote.ufrag} ${remote.pwd} ${remote.fingerprint} ${profiles}`);
    const words = await answer;
    const suite = (Object.keys(PROFILES) as SrtpSuite[]).find((s) => PROFILES[s] === words[2]);
    if (!suite) throw new Error(`endpoint: unexpected SRTP profile ${words[2]}`);
    return { suite, clientKey: words[3]!, serverKey: words[4]! };
  }

  /** Collects the lines of a multi-line answer up to `end`. */
  async #listing(command: string): Promise<string[]> {
    const lines: string[] = [];
    const done = new Promise<void>((resolve) => {
      this.#lines.push((line) => {
        if (line === 'end') {
          this.#lines.shift();
          resolve();
          return true;
        }
        // Events of other peers (ready, failed) may come in between.
        if (!/^(stream|peer|sample) /.test(line)) return false;
        lines.push(line);
        return true;
      });
    });
    this.#send(command);
    await done;
    return lines;
  }

  /** Starts a counting window at every sink. */
  async mark(): Promise<void> {
    const ok = this.#expect('ok', 10_000);
    this.#send('mark');
    await ok;
  }

  async stats(): Promise<{ streams: StreamCount[]; peers: PeerCount[] }> {
    const streams: StreamCount[] = [];
    const peers: PeerCount[] = [];
    for (const line of await this.#listing('stats')) {
      const w = line.split(' ');
      if (w[0] === 'stream') {
        streams.push({ peer: w[1]!, ssrc: Number(w[2]), pt: Number(w[3]), received: Number(w[4]), expected: Number(w[5]), bytes: Number(w[6]), total: Number(w[7]) });
      } else if (w[0] === 'peer') {
        peers.push({ peer: w[1]!, ice: Number(w[2]), dtls: Number(w[3]), rtcpIn: Number(w[4]), relayedOut: Number(w[5]), relayedIn: Number(w[6]), fullBatches: Number(w[7]) });
      }
    }
    return { streams, peers };
  }

  /** The first packets the peer received on each stream (still encrypted). */
  async samples(id: string): Promise<{ ssrc: number; packet: Buffer }[]> {
    return (await this.#listing(`samples ${id}`)).map((line) => {
      const w = line.split(' ');
      return { ssrc: Number(w[2]), packet: Buffer.from(w[3]!, 'hex') };
    });
  }

  /** Ends the process (idempotent). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.stdin.end('quit\n');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}
