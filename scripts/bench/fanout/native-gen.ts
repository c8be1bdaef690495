/**
 * The native load generator (scripts/bench/native/rtp-gen.c) seen from Node: writes the clip
 * in the binary's format next to the cached clip, starts the binary, speaks its line protocol,
 * and returns stats in the shape of the Node generator's (protocol.ts).
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cacheDir, loadClip, type Clip } from './media.ts';
import { LineProcess } from './line-process.ts';
import { nativeDir } from './native-sink.ts';
import type { GeneratorHall, GeneratorStats } from './protocol.ts';

/** The clip as rtp-gen reads it: "DCLP", version 1, fps, layers (kbps, frames: key, length, bytes), Opus packets; little-endian. */
export function writeClipFile(clip: Clip, file: string): void {
  const parts: Buffer[] = [];
  const u32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    return b;
  };
  parts.push(Buffer.from('DCLP'), u32(1), u32(clip.fps), u32(clip.layers.length));
  for (const l of clip.layers) {
    parts.push(u32(l.kbps), u32(l.frames.length));
    for (const f of l.frames) parts.push(Buffer.from([f.key ? 1 : 0]), u32(f.data.length), f.data);
  }
  parts.push(u32(clip.audio.length));
  for (const a of clip.audio) parts.push(u32(a.length), a);
  fs.writeFileSync(`${file}.tmp`, Buffer.concat(parts));
  fs.renameSync(`${file}.tmp`, file);
}

/** The stats of the native generator: the Node generator's, plus its socket drops, send errors and CPU. */
export interface NativeGeneratorStats extends GeneratorStats {
  socketDrops: number;
  sendErrors: number;
  cpuSeconds: number;
  keyframeLog: (GeneratorStats['keyframeLog'][number] & { sentAt: number })[];
}

export class NativeGenerator {
  readonly proc: ChildProcess;
  readonly #helper: LineProcess;

  /** `bindIp`: the address the SFU reaches the generator at (bench:cascade's nodes are other hosts); loopback by default. */
  constructor(options: { bindIp?: string } = {}) {
    const file = path.join(cacheDir(), 'clip-v1.bin');
    if (!fs.existsSync(file)) writeClipFile(loadClip(), file);
    this.#helper = new LineProcess('rtp-gen', path.join(nativeDir(), 'rtp-gen'), [file], options.bindIp ? { DIEMCAU_BENCH_BIND_IP: options.bindIp } : {});
    this.proc = this.#helper.proc;
  }

  get pid(): number {
    return this.proc.pid!;
  }

  /**
   * Adds halls and starts sending (every hall from its first frame). A hall it has already has
   * moved to the transport given: it starts over there (new keys, sequence numbers, a keyframe).
   */
  async addHalls(halls: GeneratorHall[]): Promise<void> {
    const hex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');
    await Promise.all(halls.map(async (h) => {
      const suite = h.suite === 'AEAD_AES_128_GCM' ? 'gcm' : 'cm';
      const m = await this.#helper.request<{ ok: boolean }>(
        `hall ${h.id} ${h.ip} ${h.port} ${suite} ${hex(h.myKey)} ${hex(h.sfuKey)} ${h.mic.ssrc} ${h.mic.pt} ${h.cam.pt} ${h.cam.rtxPt} ${h.cam.ssrcs.join(' ')} ${h.cam.rtxSsrcs.join(' ')} ${h.maxLayer}`,
      );
      if (!m.ok) throw new Error(`rtp-gen: hall ${h.id} refused`);
    }));
    await this.#helper.request('start');
  }

  async setLayers(hall: string, maxLayer: number): Promise<void> {
    await this.#helper.request(`layers ${hall} ${maxLayer}`);
  }

  /** Counters since the start; lateness, skips and socket drops since the last call. */
  async stats(): Promise<NativeGeneratorStats> {
    return this.#helper.request<NativeGeneratorStats>('stats');
  }

  /** Stops the generator; idempotent. */
  close(): Promise<void> {
    return this.#helper.close();
  }
}
