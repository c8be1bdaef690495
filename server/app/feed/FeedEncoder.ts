// The re-encode stage of the feed: one ffmpeg reads the relay's three stable RTP streams and
// makes what the halls see and hear on air: the speaker's video with the maket (red background,
// yellow text) and the lower third burned in, the speaker's microphone mixed with the chair's.
// The content on screen (a paper's page) comes in as a fourth input: the content panel, a PNG
// the size of the frame that ffmpeg reads again a few times a second (ContentPanel draws it;
// transparent when there is no content; setPanel replaces the file). Its alpha is the mask between two layouts: the speaker
// full frame, or the speaker in a box beside the page (layout.ts). Compositing costs a full
// frame's blend and merge 25 times a second (the feed's CPU went from 20 % to 42 % of a core
// with it), so it is on only while content is shown: setPanel switches the two filters that do
// it through ffmpeg's zmq filter (zmtp.ts); with them off the speaker's frame passes through.
// It writes H.264 + AAC in MPEG-TS to its stdout; the FeedOutput sends that to the press
// and to the recorder. The banner and lower-third texts are files that ffmpeg re-reads every
// frame (drawtext reload=1), so they change live without restarting the encoder.
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Clock } from '../../core/conference/index.ts';
import { FONT_BOLD, FONT_REGULAR, spawnFfmpeg, stopChild } from './ffmpeg.ts';
import type { FeedTrack } from './FeedRelay.ts';
import { contentLayout } from './layout.ts';
import { transparentPng } from './ContentPanel.ts';
import { FilterCommands } from './zmtp.ts';

/** Content panel frames per second (a page turn reaches the picture within about 2/this s). */
export const PANEL_FPS = 4;

/** Lines of the maket banner drawn (a template has four). */
export const MAKET_LINES = 5;

export interface FeedEncoderOptions {
  /** Where the relay sends each track (RTP on the port, RTCP on port + 1). */
  ports: Record<FeedTrack, number>;
  width: number;
  height: number;
  fps: number;
  /** H.264 bitrate in kbit/s. */
  videoKbps: number;
  /** x264 preset: the CPU the feed costs (see docs/benchmarks.md). */
  preset: string;
  /** Maket colours as #rrggbb (the plan's "nền đỏ, chữ vàng"). */
  maketBackground: string;
  maketText: string;
  /** Time of the encoder's stop (its kill timeout). */
  clock: Clock;
  /** The content panel at the start (PNG, width × height); null: no content (no compositing). */
  panel: Buffer | null;
  /**
   * Whether compositing can be switched live (ffmpeg has its zmq filter: ffmpegHasFilter); without,
   * it stays on (the panel transparent when there is no content).
   */
  switchable: boolean;
}

export type FeedEncoderEvents = {
  /** MPEG-TS bytes. */
  data: [chunk: Buffer];
  /** ffmpeg ended by itself (not through close). */
  exit: [{ code: number | null; signal: string | null; stderr: string }];
  /** Something went wrong that the encoder got over (a switch of the compositing that failed: ffmpeg is restarted). */
  problem: [message: string];
};

/** What is drawn over the video: the banner lines and the lower third (two lines). */
export interface Overlay {
  maket: string[];
  lowerThird: [string, string];
}

/** Runs the re-encoder ffmpeg. */
export class FeedEncoder extends EventEmitter<FeedEncoderEvents> {
  readonly dir: string;
  readonly #options: FeedEncoderOptions;
  #child: ChildProcess | undefined;
  #stderr = '';
  #closed = false;
  /** Whether the compositing filters are on (content shown). */
  #compositing: boolean;
  readonly #commands: FilterCommands | undefined;
  readonly #files: ReplacedFiles;
  #blankPng: Buffer | undefined;

  constructor(options: FeedEncoderOptions, overlay: Overlay) {
    super();
    this.#options = options;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-feed-'));
    this.#compositing = options.panel !== null || !options.switchable;
    this.#files = new ReplacedFiles((file, error) => {
      if (!this.#closed) this.emit('problem', `the re-encoder's ${path.basename(file)} could not be replaced: ${error.message}`);
    });
    // Before ffmpeg starts, written at once; later changes are written off the event loop.
    writeAtomically(this.#panelFile(), options.panel ?? this.#blank());
    if (options.switchable) this.#commands = new FilterCommands(this.#commandSocket(), options.clock);
    this.#writeOverlay(overlay, (file, data) => writeAtomically(file, data));
  }

  #blank(): Buffer {
    this.#blankPng ??= transparentPng(this.#options.width, this.#options.height);
    return this.#blankPng;
  }

  #commandSocket(): string {
    return path.join(this.dir, 'filters.sock');
  }

  /** Whether the content panel is composited now (for tests and the figures). */
  get compositing(): boolean {
    return this.#compositing;
  }

  /** The ffmpeg process id (for the CPU figures). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts ffmpeg. */
  start(): void {
    const o = this.#options;
    const sdp = path.join(this.dir, 'feed-input.sdp');
    fs.writeFileSync(sdp, feedInputSdp(o.ports));
    const args = [
      '-loglevel', 'warning',
      '-protocol_whitelist', 'file,udp,rtp',
      '-thread_queue_size', '1024',
      // A short probe: the relay sends a (slate) keyframe and both microphones at once, and a
      // recording started with the output must not lose its first seconds.
      '-analyzeduration', '500000',
      '-probesize', '1000000',
      '-reorder_queue_size', '64',
      // A speaker in another size (each simulcast layer, the slate) goes through the same graph: its
      // scale filter follows the frame size. Re-creating the graph (seven drawtext filters) at every
      // switch stalled the output and restarted its frame clock: a jump in the feed's timestamps.
      '-reinit_filter', '0',
      '-i', sdp,
      // The content panel: a PNG file that ffmpeg reads again for every panel frame (image2 opens
      // the file each time; setPanel replaces it atomically), at its own pace, one frame ahead of
      // what the graph has taken, so the speaker's frames never wait for a panel. (It used to be
      // PNGs written to stdin by a timer here: the graph then waited for each one, and the
      // feed's output came in bursts with 400 ms of silence on the wire between them.)
      '-thread_queue_size', '1', '-f', 'image2', '-loop', '1', '-framerate', String(PANEL_FPS), '-c:v', 'png', '-i', this.#panelFile(),
      // Two graphs: a change of the speaker's resolution re-creates only the video one.
      '-filter_complex', this.#videoGraph(),
      '-filter_complex', '[0:a:0][0:a:1]amix=inputs=2:duration=longest:dropout_transition=0:normalize=0,aresample=async=1000[a]',
      '-map', '[v]', '-map', '[a]',
      '-c:v', 'libx264', '-preset', o.preset, '-tune', 'zerolatency', '-profile:v', 'main', '-pix_fmt', 'yuv420p',
      // A keyframe every second: a press player or a recording joins within a second.
      '-g', String(o.fps), '-keyint_min', String(o.fps), '-sc_threshold', '0',
      '-b:v', `${o.videoKbps}k`, '-maxrate', `${o.videoKbps}k`, '-bufsize', `${o.videoKbps}k`,
      '-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2',
      '-f', 'mpegts', '-muxdelay', '0', '-muxpreload', '0', '-flush_packets', '1', 'pipe:1',
    ];
    const child = spawnFfmpeg(args, ['ignore', 'pipe', 'pipe']);
    this.#child = child;
    child.stdout!.on('data', (chunk: Buffer) => this.emit('data', chunk));
    child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-8000);
    });
    child.once('exit', (code, signal) => {
      if (!this.#closed) this.emit('exit', { code, signal, stderr: this.#stderr });
    });
  }

  /**
   * Replaces the content panel (null: no content); ffmpeg draws it from the next panel frame it
   * reads. Compositing goes on at once when content comes (until the page's panel is read, its
   * mask is still empty: the speaker full frame) and off at once when it goes.
   */
  setPanel(png: Buffer | null): void {
    if (this.#closed) return;
    this.#files.write(this.#panelFile(), png ?? this.#blank());
    const on = png !== null;
    if (!this.#commands || on === this.#compositing) return;
    this.#compositing = on;
    const enable = on ? '1' : '0';
    const commands = this.#commands;
    void Promise.all([commands.send(`overlay enable ${enable}`), commands.send(`maskedmerge enable ${enable}`)]).catch((error: Error) => {
      if (this.#closed) return;
      // ffmpeg did not take it: a new one starts with the compositing as it should be.
      this.emit('problem', `the content panel's compositing could not be switched ${on ? 'on' : 'off'}: ${error.message}; the re-encoder is restarted`);
      this.#child?.kill('SIGKILL');
    });
  }

  #panelFile(): string {
    return path.join(this.dir, 'panel.png');
  }

  /** The last lines ffmpeg wrote to stderr (warnings). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Replaces the banner and lower-third texts; ffmpeg draws them from the next frame it makes after they are written. */
  setOverlay(overlay: Overlay): void {
    if (this.#closed) return;
    this.#writeOverlay(overlay, (file, data) => this.#files.write(file, data));
  }

  /**
   * The texts as drawtext reads them: ffmpeg refuses an empty file, so nothing is written as one
   * space. NFC: the font has the precomposed Vietnamese letters, and drawtext does no shaping of
   * combining marks.
   */
  #writeOverlay(overlay: Overlay, write: (file: string, data: string) => void): void {
    const text = (t: string): string => t.normalize('NFC').replace(/\s+/g, ' ').trim() || ' ';
    for (let i = 0; i < MAKET_LINES; i++) write(this.#textFile(`maket-${i}`), text(overlay.maket[i] ?? ''));
    write(this.#textFile('lower-1'), text(overlay.lowerThird[0]));
    write(this.#textFile('lower-2'), text(overlay.lowerThird[1]));
  }

  #textFile(name: string): string {
    return path.join(this.dir, `${name}.txt`);
  }

  /**
   * Scale into the frame; with content, the speaker in its box over the panel (the panel's
   * alpha, made a mask of every plane, picks between the two pictures per pixel); then the
   * banner at the top (as in the halls: a red band with the lines centred in yellow) and the
   * lower third at the bottom left.
   */
  #videoGraph(): string {
    const { width: w, height: h, fps, maketBackground, maketText } = this.#options;
    const { speaker: s } = contentLayout(w, h);
    const u = h / 720; // sizes are designed for 720 lines
    const px = (n: number): number => Math.round(n * u);
    const colour = (c: string): string => `0x${c.replace('#', '')}`;
    const bandH = px(150);
    const sizes = [24, 22, 30, 20, 20];
    const tops = [10, 38, 66, 104, 128];
    const text = (file: string, font: string, size: number, extra: string): string =>
      `drawtext=fontfile=${font}:textfile=${this.#textFile(file)}:reload=1:expansion=none:fontsize=${px(size)}:${extra}`;
    // Off (no content): the two filters that composite pass the speaker's full frame through.
    const enable = this.#compositing ? '1' : '0';
    // Commands come in through the first filter, on a Unix socket in the encoder's directory (escaped twice: an option value in a graph).
    const zmq = this.#commands ? [`zmq=bind_address=ipc\\\\://${this.#commandSocket()}`] : [];
    const frame = [...zmq, `scale=${w}:${h}:force_original_aspect_ratio=decrease`, `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:color=black`, 'setsar=1', `fps=${fps}`, 'format=yuv420p'];
    const graph = [
      `[0:v:0]${frame.join(',')},split=2[full][sp]`,
      `[sp]scale=${s.w}:${s.h}:force_original_aspect_ratio=decrease,pad=${w}:${h}:${s.x}+(${s.w}-iw)/2:${s.y}+(${s.h}-ih)/2:color=black[small]`,
      '[1:v]format=rgba,split=2[panel][pa]',
      `[small][panel]overlay=0:0:format=yuv420:enable=${enable}[comp]`,
      `[pa]alphaextract,lut=c0='255*gt(val,0)',split=3[my][mu0][mv0]`,
      `[mu0]scale=${w / 2}:${h / 2}[mu]`,
      `[mv0]scale=${w / 2}:${h / 2}[mv]`,
      '[my][mu][mv]mergeplanes=0x001020:yuv420p[mask]',
    ];
    const parts = [
      `drawbox=x=0:y=0:w=iw:h=${bandH}:color=${colour(maketBackground)}:t=fill`,
      ...sizes.map((size, i) => text(`maket-${i}`, FONT_BOLD, size, `fontcolor=${colour(maketText)}:x=(w-text_w)/2:y=${px(tops[i]!)}`)),
      text('lower-1', FONT_BOLD, 30, `fontcolor=white:box=1:boxcolor=0x0b2a5b@0.85:boxborderw=${px(12)}:x=${px(48)}:y=h-${px(132)}`),
      text('lower-2', FONT_REGULAR, 22, `fontcolor=0xffde00:box=1:boxcolor=0x0b2a5b@0.85:boxborderw=${px(10)}:x=${px(48)}:y=h-${px(78)}`),
    ];
    graph.push(`[full][comp][mask]maskedmerge=enable=${enable},${parts.join(',')}[v]`);
    return graph.join(';');
  }

  /** Stops ffmpeg and removes its files; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#commands?.close();
    if (this.#child) await stopChild(this.#child, this.#options.clock, 2000);
    await this.#files.idle();
    this.removeAllListeners();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The SDP the re-encoder opens (its input): the relay's video (VP8) and the two microphones (Opus). */
export function feedInputSdp(ports: Record<FeedTrack, number>, host = '127.0.0.1'): string {
  return [
    'v=0',
    `o=- 0 0 IN IP4 ${host}`,
    's=diemcau feed input',
    `c=IN IP4 ${host}`,
    't=0 0',
    `m=video ${ports.video} RTP/AVP 96`,
    'a=rtpmap:96 VP8/90000',
    `m=audio ${ports.speaker} RTP/AVP 111`,
    'a=rtpmap:111 opus/48000/2',
    `m=audio ${ports.chair} RTP/AVP 111`,
    'a=rtpmap:111 opus/48000/2',
    '',
  ].join('\n');
}

/** A file ffmpeg re-reads, replaced whole (a rename: it never sees half of it). */
function writeAtomically(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/**
 * Files ffmpeg re-reads (the texts every frame, the panel a few times a second), replaced whole
 * while it runs, in the thread pool: this runs on the feed's thread, whose event loop paces the
 * press feed, and a write on a busy disk (the kernel throttles writers while much is waiting to be
 * written) can take hundreds of milliseconds. One write per file at a time, in order; a change
 * that comes while one is written is written next (only the newest of those).
 */
class ReplacedFiles {
  readonly #next = new Map<string, string | Buffer | undefined>();
  readonly #running = new Set<Promise<void>>();
  readonly #onError: (file: string, error: Error) => void;

  constructor(onError: (file: string, error: Error) => void) {
    this.#onError = onError;
  }

  write(file: string, data: string | Buffer): void {
    const writing = this.#next.has(file);
    this.#next.set(file, data);
    if (writing) return;
    const run = (async () => {
      for (let d = this.#next.get(file); d !== undefined; d = this.#next.get(file)) {
        this.#next.set(file, undefined);
        const tmp = `${file}.tmp`;
        try {
          await fsp.writeFile(tmp, d);
          await fsp.rename(tmp, file);
        } catch (error) {
          this.#onError(file, error as Error);
        }
      }
      this.#next.delete(file);
    })();
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
  }

  /** Resolves when every write has been done. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }
}
