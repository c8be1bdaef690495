// The archive recording: the re-encoder's MPEG-TS into Matroska (a cluster written every second), the video copied (no second
// encode), the audio as Opus (20 ms frames keep whole-millisecond Matroska timestamps exact; AAC's
// 21.33 ms frames rounded to milliseconds make players see timestamps step back). A
// Matroska file written as it goes stays playable up to its last cluster if the process is
// killed, which a MP4 without its index would not. Chapters are added when the recording stops.
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { sleep, type Clock } from '../../core/conference/index.ts';
import { FFMPEG, spawnFfmpeg, stopChild } from './ffmpeg.ts';
import { ffmetadata, type Chapter } from './chapters.ts';

const run = promisify(execFile);

/** Records the feed's MPEG-TS to a .mkv file. */
export class Recorder {
  readonly file: string;
  readonly #partFile: string;
  readonly #child: ChildProcess;
  readonly #clock: Clock;
  /** Wall-clock time of the content of the file's first frame: its time zero (chapters count from it). */
  firstFrameAt: number | undefined;
  #stopping: Promise<void> | undefined;
  #stderr = '';

  constructor(file: string, clock: Clock) {
    this.file = file;
    this.#clock = clock;
    this.#partFile = file.replace(/\.mkv$/, '.part.mkv');
    this.#child = spawnFfmpeg(
      // A short probe: the file exists (and plays) a second after the start, not five.
      ['-loglevel', 'error', '-probesize', '500000', '-analyzeduration', '1000000', '-f', 'mpegts', '-i', 'pipe:0', '-map', '0', '-c:v', 'copy', '-af', 'asetpts=N/SR/TB+STARTPTS', '-c:a', 'libopus', '-b:a', '128k', '-cluster_time_limit', '1000', '-flush_packets', '1', '-f', 'matroska', '-y', this.#partFile],
      ['pipe', 'ignore', 'pipe'],
    );
    this.#child.stdin!.on('error', () => undefined); // a dead recorder is seen at stop
    this.#child.stderr!.on('data', (c: Buffer) => {
      this.#stderr = (this.#stderr + c.toString()).slice(-4000);
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Takes whole TS packets; the FeedOutput starts it with the PAT, the PMT and a keyframe. */
  write(packets: Buffer): void {
    if (!this.#stopping) this.#child.stdin!.write(packets);
  }

  /**
   * Ends the file (end of input: ffmpeg writes the Matroska index), adds the chapters and the
   * metadata, and moves it to its final name. Idempotent.
   */
  stop(chapters: Chapter[], title: string): Promise<void> {
    this.#stopping ??= this.#finish(chapters, title);
    return this.#stopping;
  }

  async #finish(chapters: Chapter[], title: string): Promise<void> {
    const exited = new Promise<void>((resolve) => {
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) resolve();
      else this.#child.once('exit', () => resolve());
    });
    this.#child.stdin!.end();
    await Promise.race([exited, sleep(this.#clock, 5000)]);
    await stopChild(this.#child, this.#clock, 2000);
    if (!fs.existsSync(this.#partFile)) throw new Error(`recording produced no file [file:${this.file}] ${this.#stderr.trim()}`);
    const meta = `${this.file}.ffmetadata.txt`;
    fs.writeFileSync(meta, ffmetadata(title, chapters));
    try {
      await run(FFMPEG, ['-hide_banner', '-v', 'error', '-y', '-i', this.#partFile, '-i', meta, '-map', '0', '-map_metadata', '1', '-map_chapters', '1', '-c', 'copy', this.file]);
      fs.rmSync(this.#partFile, { force: true });
    } catch {
      // The recording itself is fine; keep it without chapters rather than lose it.
      fs.renameSync(this.#partFile, this.file);
    } finally {
      fs.rmSync(meta, { force: true });
    }
  }

  /** Kills the recorder without finishing (the server is going away); the .part.mkv stays playable. */
  kill(): void {
    this.#child.kill('SIGKILL');
  }
}
