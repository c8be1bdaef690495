/**
 * The peer SFU of bench:peer: Janus (Debian's package) with its VideoRoom plugin, which its docs
 * name for one publisher to many subscribers over WebRTC (Streaming takes plain RTP sources).
 * Janus runs as a plain process with a config folder written under a temp dir (no system
 * service), is driven over its REST API (HTTP transport on loopback, long poll for events) and is
 * stopped by pid. Settings: Janus's defaults (as its shipped janus.jcfg and VideoRoom config
 * describe them), plus only what the bench needs to run it: the address to gather on, no mDNS,
 * no other plugins, transports or loggers loaded (docs/benchmarks.md lists every line).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GeneratorHall } from '../fanout/protocol.ts';
import type { LocalIce, RemoteIce } from './endpoint.ts';
import { answeredPayloadTypes, mids, publisherOffer, remoteIce, subscriberAnswer } from './sdp.ts';
import type { SfuUnderTest } from './workload.ts';
import { freePortBase } from '../../../test/helpers/server.ts';

const ROOM = 1234;

/** Where Debian installs Janus's modules (its multiarch library folder). */
function janusLibDir(): string {
  const lib = '/usr/lib';
  for (const d of fs.readdirSync(lib)) if (fs.existsSync(path.join(lib, d, 'janus', 'plugins', 'libjanus_videoroom.so'))) return path.join(lib, d, 'janus');
  throw new Error('Janus is not installed (Debian package janus; scripts/setup.sh installs it)');
}

/** The options bench:peer runs Janus with, beyond its defaults; printed into the docs. */
export interface JanusOptions {
  /** The address Janus gathers ICE candidates on (ice_enforce_list). */
  ip: string;
  /** CPU Janus is pinned to from its start (all its threads), or none. */
  cpu?: number;
  /** janus.jcfg event_loops: 0 = Janus's default, a thread and loop per handle. */
  eventLoops: number;
  /** Command prefix, e.g. valgrind and its options. */
  wrapper?: string[];
  log?: (line: string) => void;
}

function config(dir: string, httpPort: number, o: JanusOptions): void {
  const lib = janusLibDir();
  const keep = { plugins: 'libjanus_videoroom.so', transports: 'libjanus_http.so' };
  const others = (sub: string, except: string): string =>
    fs.readdirSync(path.join(lib, sub)).filter((f) => /\.so$/.test(f) && f !== except).join(',');
  fs.writeFileSync(path.join(dir, 'janus.jcfg'), `general: {
  configs_folder = "${dir}"
  plugins_folder = "${lib}/plugins"
  transports_folder = "${lib}/transports"
  events_folder = "${lib}/events"
  loggers_folder = "${lib}/loggers"
  debug_level = 4
  ${o.eventLoops > 0 ? `event_loops = ${o.eventLoops}` : ''}
}
certificates: {
}
media: {
}
nat: {
  nice_debug = false
  ignore_mdns = true
  ice_enforce_list = "${o.ip}"
}
plugins: {
  disable = "${others('plugins', keep.plugins)}"
}
transports: {
  disable = "${others('transports', keep.transports)}"
}
loggers: {
  disable = "${others('loggers', '')}"
}
events: {
  broadcast = false
}
`);
  fs.writeFileSync(path.join(dir, 'janus.transport.http.jcfg'), `general: {
  json = "plain"
  base_path = "/janus"
  http = true
  port = ${httpPort}
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_http = false
  admin_https = false
}
cors: {
}
`);
  // One room: one publisher, VP8 + Opus, simulcast follows the publisher's SDP; no periodic
  // keyframe requests and no bitrate cap (the workload's encoder has its own keyframes and rate).
  fs.writeFileSync(path.join(dir, 'janus.plugin.videoroom.jcfg'), `general: {
}
room-${ROOM}: {
  description = "bench:peer"
  publishers = 1
  bitrate = 0
  fir_freq = 0
  audiocodec = "opus"
  videocodec = "vp8"
  record = false
}
`);
}

interface JanusEvent {
  janus: string;
  transaction?: string;
  sender?: number;
  plugindata?: { data: Record<string, unknown> };
  jsep?: { type: string; sdp: string };
  error?: { code: number; reason: string };
}

/** Janus's REST API: one session, handles in it, replies to async requests from a long poll. */
class JanusApi {
  readonly #base: string;
  #session = 0;
  #next = 1;
  readonly #pending = new Map<string, { resolve: (e: JanusEvent) => void; reject: (e: Error) => void }>();
  #polling = false;
  #keepalive?: NodeJS.Timeout;

  constructor(base: string) {
    this.#base = base;
  }

  async #post(url: string, body: Record<string, unknown>): Promise<JanusEvent> {
    const res = await fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const event = (await res.json()) as JanusEvent;
    if (event.janus === 'error') throw new Error(`janus: ${event.error?.reason ?? 'error'} (${event.error?.code})`);
    return event;
  }

  async info(): Promise<{ version_string: string }> {
    const res = await fetch(`${this.#base}/info`);
    return (await res.json()) as { version_string: string };
  }

  async open(): Promise<void> {
    const created = await this.#post(this.#base, { janus: 'create', transaction: 't0' });
    this.#session = (created as unknown as { data: { id: number } }).data.id;
    this.#polling = true;
    void this.#poll();
    // The session times out after 60 s without a request (Janus's default).
    this.#keepalive = setInterval(() => void this.#post(`${this.#base}/${this.#session}`, { janus: 'keepalive', transaction: `k${this.#next++}` }).catch(() => undefined), 20_000);
  }

  async #poll(): Promise<void> {
    while (this.#polling) {
      try {
        const res = await fetch(`${this.#base}/${this.#session}?maxev=50`);
        const body = (await res.json()) as JanusEvent | JanusEvent[];
        for (const e of Array.isArray(body) ? body : [body]) {
          const w = e.transaction ? this.#pending.get(e.transaction) : undefined;
          if (!w || e.janus === 'ack') continue;
          this.#pending.delete(e.transaction!);
          const data = e.plugindata?.data;
          if (e.janus === 'error' || (data && typeof data.error === 'string')) w.reject(new Error(`janus: ${String(data?.error ?? e.error?.reason)}`));
          else w.resolve(e);
        }
      } catch (error) {
        if (this.#polling) await new Promise((r) => setTimeout(r, 200));
        void error;
      }
    }
  }

  async attach(): Promise<number> {
    const e = await this.#post(`${this.#base}/${this.#session}`, { janus: 'attach', plugin: 'janus.plugin.videoroom', transaction: `a${this.#next++}` });
    return (e as unknown as { data: { id: number } }).data.id;
  }

  /** A plugin request; resolves with its (possibly asynchronous) reply. */
  async message(handle: number, body: Record<string, unknown>, jsep?: { type: string; sdp: string }, timeoutMs = 30_000): Promise<JanusEvent> {
    const transaction = `m${this.#next++}`;
    const reply = new Promise<JanusEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(transaction);
        reject(new Error(`janus: no reply to ${String(body.request)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(transaction, { resolve: (e) => (clearTimeout(timer), resolve(e)), reject: (e) => (clearTimeout(timer), reject(e)) });
    });
    const first = await this.#post(`${this.#base}/${this.#session}/${handle}`, { janus: 'message', transaction, body, ...(jsep ? { jsep } : {}) }).catch((error: Error) => {
      this.#pending.get(transaction)?.reject(error);
      throw error;
    });
    if (first.janus === 'success') {
      this.#pending.get(transaction)?.resolve(first);
      this.#pending.delete(transaction);
    }
    return reply;
  }

  close(): void {
    this.#polling = false;
    clearInterval(this.#keepalive);
    for (const w of this.#pending.values()) w.reject(new Error('janus: closed'));
    this.#pending.clear();
  }
}

/** Janus processes started and not yet stopped, by pid (killed if the bench itself is killed). */
const running = new Map<ChildProcess, string>();

/** Janus as an SFU under test. */
export class JanusSfu implements SfuUnderTest {
  /** Kills every Janus this process started that is still running (synchronous: for exit handlers). */
  static killAll(): void {
    for (const [p, dir] of running) {
      try {
        process.kill(p.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
    running.clear();
  }

  readonly label = 'janus';
  version = '';
  readonly #proc: ChildProcess;
  readonly #dir: string;
  readonly #api: JanusApi;
  #publisherId = 0;
  readonly #subscribers: { handle: number; videoMid?: string }[] = [];
  readonly #kinds = new Map<number, 'audio' | 'video'>();
  #closed = false;

  private constructor(proc: ChildProcess, dir: string, api: JanusApi) {
    this.#proc = proc;
    this.#dir = dir;
    this.#api = api;
  }

  /** Writes the config folder, starts Janus and opens an API session. */
  static async start(o: JanusOptions): Promise<JanusSfu> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-janus-'));
    const httpPort = await freePortBase(1);
    config(dir, httpPort, o);
    const logFd = fs.openSync(path.join(dir, 'janus.log'), 'a');
    const cmd = [...(o.cpu !== undefined ? ['taskset', '-c', String(o.cpu)] : []), ...(o.wrapper ?? []), 'janus', '-C', path.join(dir, 'janus.jcfg'), '-F', dir, '--disable-colors'];
    const proc = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    running.set(proc, dir);
    proc.once('exit', () => running.delete(proc));
    const api = new JanusApi(`http://127.0.0.1:${httpPort}/janus`);
    const sfu = new JanusSfu(proc, dir, api);
    try {
      const until = Date.now() + (o.wrapper ? 120_000 : 20_000);
      for (;;) {
        if (proc.exitCode !== null) throw new Error(`janus exited (${proc.exitCode}); log: ${sfu.logTail()}`);
        try {
          sfu.version = `janus ${(await api.info()).version_string}`;
          break;
        } catch {
          if (Date.now() > until) throw new Error(`janus did not answer; log: ${sfu.logTail()}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await api.open();
    } catch (error) {
      await sfu.close();
      throw error;
    }
    return sfu;
  }

  /** The Janus process itself (with valgrind as wrapper, valgrind runs Janus in the same pid). */
  get pid(): number {
    return this.#proc.pid!;
  }

  logTail(): string {
    try {
      return fs.readFileSync(path.join(this.#dir, 'janus.log'), 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '';
    }
  }

  async publish(streams: Pick<GeneratorHall, 'mic' | 'cam'>, local: LocalIce): Promise<RemoteIce> {
    const handle = await this.#api.attach();
    const joined = await this.#api.message(handle, { request: 'join', ptype: 'publisher', room: ROOM, display: 'bench' });
    this.#publisherId = Number(joined.plugindata!.data.id);
    const answer = await this.#api.message(handle, { request: 'configure', audio: true, video: true }, { type: 'offer', sdp: publisherOffer(streams, local) });
    if (!answer.jsep) throw new Error('janus: no answer to the publisher offer');
    // We offer, so we are the controlling ICE agent (Janus is a full agent, controlled).
    return remoteIce(answer.jsep.sdp, true);
  }

  async subscribe(_id: string, local: LocalIce): Promise<RemoteIce> {
    const handle = await this.#api.attach();
    const attached = await this.#api.message(handle, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: this.#publisherId }] });
    if (!attached.jsep) throw new Error('janus: no offer for the subscriber');
    const offer = attached.jsep.sdp;
    await this.#api.message(handle, { request: 'start' }, { type: 'answer', sdp: subscriberAnswer(offer, local) });
    this.#subscribers.push({ handle, videoMid: mids(offer).video });
    for (const [pt, kind] of answeredPayloadTypes(offer)) this.#kinds.set(pt, kind);
    // Janus offers, so it controls ICE (aggressive nomination); we answer its checks.
    return remoteIce(offer, false);
  }

  kindOf(pt: number): 'audio' | 'video' | undefined {
    return this.#kinds.get(pt);
  }

  /** Every subscriber on the top simulcast layer (substream 2) and all temporal layers. */
  async ready(): Promise<void> {
    await Promise.all(this.#subscribers.map((s) => this.#api.message(s.handle, { request: 'configure', streams: [{ mid: s.videoMid, substream: 2, temporal: 2 }] })));
  }

  /** Stops Janus by its pid (SIGINT: its clean shutdown; SIGKILL after 20 s), removes its folder. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#api.close();
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) {
      const exited = new Promise<void>((r) => this.#proc.once('exit', () => r()));
      this.#proc.kill('SIGINT');
      const timer = setTimeout(() => this.#proc.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    if (!process.env.DIEMCAU_PEER_KEEP_JANUS_DIR) fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}
