/**
 * The harness's media: a 10-second clip encoded once by Debian's ffmpeg (VP8 at three simulcast
 * sizes, Opus 20 ms frames), cached under ~/.cache/diemcau/bench-media, and read back as frames
 * (IVF) and packets (Ogg) that the generator packetises into RTP.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface VideoFrame {
  data: Buffer;
  key: boolean;
}

/** One simulcast layer of the clip. */
export interface VideoLayer {
  width: number;
  height: number;
  kbps: number;
  frames: VideoFrame[];
  /** Indices of keyframes, ascending. */
  keyframes: number[];
}

export interface Clip {
  fps: number;
  layers: VideoLayer[];
  /** Opus packets of 20 ms. */
  audio: Buffer[];
}

export const CLIP_SECONDS = 10;
export const FPS = 30;
/** The layers of a programme camera: ~2.5 Mbps in all, as a hall's browser sends. */
export const LAYERS = [
  { width: 320, height: 180, kbps: 150 },
  { width: 640, height: 360, kbps: 500 },
  { width: 1280, height: 720, kbps: 1850 },
] as const;
/** A keyframe every 4 s in the clip (hardware encoders refresh periodically; PLIs add more). */
const GOP = 4 * FPS;

export function cacheDir(): string {
  const dir = path.join(os.homedir(), '.cache', 'diemcau', 'bench-media', `v2-${CLIP_SECONDS}s-${FPS}fps-gop${GOP}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function ffmpeg(args: string[]): void {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: 'inherit' });
}

/** Encodes the clip if it is not cached yet, then reads it. */
export function loadClip(): Clip {
  const dir = cacheDir();
  const layers: VideoLayer[] = [];
  for (const l of LAYERS) {
    const file = path.join(dir, `${l.width}x${l.height}.ivf`);
    if (!fs.existsSync(file)) {
      // Noise on the test pattern keeps the encoder at its bitrate (a bare pattern compresses to
      // almost nothing); CBR, no alt-ref or lag, as a real-time encoder would.
      ffmpeg([
        '-f', 'lavfi', '-i', `testsrc2=size=${l.width}x${l.height}:rate=${FPS},noise=alls=6:allf=t`,
        '-t', String(CLIP_SECONDS),
        '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8',
        '-b:v', `${l.kbps}k`, '-minrate', `${l.kbps}k`, '-maxrate', `${l.kbps}k`,
        '-g', String(GOP), '-keyint_min', String(GOP), '-max-intra-rate', '1000', '-auto-alt-ref', '0', '-lag-in-frames', '0', '-error-resilient', '1',
        `${file}.tmp.ivf`,
      ]);
      fs.renameSync(`${file}.tmp.ivf`, file);
    }
    const frames = readIvf(fs.readFileSync(file));
    layers.push({ ...l, frames, keyframes: frames.flatMap((f, i) => (f.key ? [i] : [])) });
  }
  const audioFile = path.join(dir, 'tone.ogg');
  if (!fs.existsSync(audioFile)) {
    ffmpeg([
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', String(CLIP_SECONDS), '-c:a', 'libopus', '-b:a', '32k', '-frame_duration', '20', '-application', 'voip',
      `${audioFile}.tmp.ogg`,
    ]);
    fs.renameSync(`${audioFile}.tmp.ogg`, audioFile);
  }
  return { fps: FPS, layers, audio: readOggOpus(fs.readFileSync(audioFile)) };
}

/** Frames of an IVF file (VP8: the frame is a keyframe when bit 0 of its first byte is 0). */
export function readIvf(file: Buffer): VideoFrame[] {
  if (file.toString('ascii', 0, 4) !== 'DKIF') throw new Error('not an IVF file');
  const headerLen = file.readUInt16LE(6);
  const frames: VideoFrame[] = [];
  for (let at = headerLen; at + 12 <= file.length; ) {
    const size = file.readUInt32LE(at);
    const data = file.subarray(at + 12, at + 12 + size);
    frames.push({ data, key: (data[0]! & 0x01) === 0 });
    at += 12 + size;
  }
  return frames;
}

/** Opus packets of an Ogg file, without the OpusHead and OpusTags header packets. */
export function readOggOpus(file: Buffer): Buffer[] {
  const packets: Buffer[] = [];
  let partial: Buffer[] = [];
  for (let at = 0; at + 27 <= file.length; ) {
    if (file.toString('ascii', at, at + 4) !== 'OggS') throw new Error(`bad Ogg page at ${at}`);
    const segments = file[at + 26]!;
    const table = file.subarray(at + 27, at + 27 + segments);
    let data = at + 27 + segments;
    for (const lace of table) {
      partial.push(file.subarray(data, data + lace));
      data += lace;
      if (lace < 255) {
        packets.push(Buffer.concat(partial));
        partial = [];
      }
    }
    at = data;
  }
  return packets.filter((p) => !p.toString('ascii', 0, 8).startsWith('Opus'));
}
