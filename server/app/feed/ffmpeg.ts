// Running ffmpeg children: one place that spawns them, makes sure they die with the server, and
// reads their CPU time. Also the slate picture and free UDP ports the re-encoder listens on.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { promisify } from 'node:util';
import type { Clock } from '../../core/conference/index.ts';

const run = promisify(execFile);

export const FFMPEG = process.env.FFMPEG_PATH ?? 'ffmpeg';

/**
 * The feed's burned-in text in Noto Sans (Debian's fonts-noto-core, installed by setup), the font
 * of the pages: every Vietnamese letter (precomposed Ư, Ờ, Ậ ...) in one face. DejaVu is the fallback.
 */
export const FONT_BOLD = firstExisting(['/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf']);
export const FONT_REGULAR = firstExisting(['/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf']);

function firstExisting(paths: string[]): string {
  return paths.find((p) => fs.existsSync(p)) ?? paths[0]!;
}

/** Children alive in this process: killed when it exits, whichever way. */
const children = new Set<ChildProcess>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const killAll = (): void => {
    for (const c of children) c.kill('SIGKILL');
  };
  // A signal that ends the server without its orderly close still runs 'exit' handlers when the
  // server handles the signal (main.ts does); children that survive anyway lose their pipes to
  // this process and stop on the next write or read (EPIPE, end of input).
  process.on('exit', killAll);
}

/** Spawns ffmpeg; the child is killed if this process exits first. */
export function spawnFfmpeg(args: string[], stdio: ('pipe' | 'ignore')[] = ['ignore', 'pipe', 'pipe']): ChildProcess {
  hookExit();
  const child = spawn(FFMPEG, ['-hide_banner', '-nostats', ...(stdio[0] === 'pipe' ? [] : ['-nostdin']), ...args], {
    stdio: stdio as ['pipe' | 'ignore', 'pipe' | 'ignore', 'pipe' | 'ignore'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Stops a child: SIGTERM (ffmpeg finishes its file), SIGKILL after `graceMs` of the clock. Resolves when it is gone. */
export function stopChild(child: ChildProcess, clock: Clock, graceMs = 3000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clock.clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

const filters = new Map<string, Promise<boolean>>();

/** Whether this ffmpeg has a filter (Debian's has zmq, a build without libzmq does not); asked once per name. */
export function ffmpegHasFilter(name: string): Promise<boolean> {
  let known = filters.get(name);
  if (!known) {
    known = run(FFMPEG, ['-hide_banner', '-h', `filter=${name}`]).then(
      ({ stdout }) => stdout.startsWith(`Filter ${name}\n`),
      () => false,
    );
    filters.set(name, known);
  }
  return known;
}

/** CPU time (user + system) of a process in seconds, from /proc/<pid>/stat; null when gone. */
export function cpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the command name.
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** An even UDP port on loopback with the next `count - 1` ports free too (RTP on p, RTCP on p + 1). */
export async function freeUdpPorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 2 * Math.floor((30000 + Math.random() * 25000) / 2);
    const sockets: dgram.Socket[] = [];
    let ok = true;
    for (let p = base; p < base + count && ok; p++) {
      const s = dgram.createSocket('udp4');
      ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.bind(p, '127.0.0.1', () => resolve(true));
      });
      sockets.push(s);
    }
    await Promise.all(sockets.map((s) => new Promise<void>((r) => { try { s.close(() => r()); } catch { r(); } })));
    if (ok) return base;
  }
  throw new Error('no free UDP ports on loopback');
}

/**
 * A VP8 frame that shows the previous picture again: an inter frame whose every macroblock is
 * "no motion from the last frame, nothing to add" (libvpx makes it from a still picture, error
 * resilient: it changes no probability the next frames decode with). Its bytes depend only on the
 * frame size, so one per size serves any stream of that size. The relay fills the gaps of the
 * speaker's video with it (a switch waits for the new speaker's keyframe), so that the feed's
 * re-encoder reads a steady 25 frames a second and never jumps.
 */
export async function renderHoldFrame(width: number, height: number): Promise<Buffer> {
  const { stdout } = await run(
    FFMPEG,
    [
      '-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=1`, '-vf', 'fps=25', '-frames:v', '4',
      '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-error-resilient', '1', '-auto-alt-ref', '0', '-lag-in-frames', '0', '-b:v', '300k',
      '-f', 'ivf', 'pipe:1',
    ],
    { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 },
  );
  // IVF: a 32-byte file header, then per frame a 12-byte header (size, pts) and the frame: the last one.
  let at = 32;
  let frame: Buffer | undefined;
  while (at + 12 <= stdout.length) {
    const size = stdout.readUInt32LE(at);
    frame = Buffer.from(stdout.subarray(at + 12, at + 12 + size));
    at += 12 + size;
  }
  if (!frame || (frame[0]! & 0x01) === 0) throw new Error(`no VP8 inter frame for ${width}x${height}`);
  return frame;
}

/**
 * One VP8 keyframe of the slate shown when no speaker video arrives: the waiting picture of the
 * halls, dark with "Chờ tín hiệu" (waiting for the signal). The maket and the lower third are
 * drawn over it by the re-encoder like over any video.
 */
export async function renderSlateKeyframe(width: number, height: number): Promise<Buffer> {
  const text = 'Đang chờ tín hiệu hình ảnh';
  const dir = fs.mkdtempSync('/tmp/diemcau-slate-');
  try {
    const textFile = `${dir}/text.txt`;
    fs.writeFileSync(textFile, text);
    const { stdout } = await run(
      FFMPEG,
      [
        '-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', `color=c=0x1b2333:s=${width}x${height}:r=1`,
        '-vf', `drawtext=fontfile=${FONT_REGULAR}:textfile=${textFile}:expansion=none:fontsize=${Math.round(height / 20)}:fontcolor=0xd0d4dc:x=(w-text_w)/2:y=(h-text_h)/2+${Math.round(height / 10)}`,
        '-frames:v', '1', '-c:v', 'libvpx', '-b:v', '1M', '-f', 'ivf', 'pipe:1',
      ],
      { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 },
    );
    // IVF: a 32-byte file header, then per frame a 12-byte header (size, pts) and the frame.
    const size = stdout.readUInt32LE(32);
    return Buffer.from(stdout.subarray(44, 44 + size));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
