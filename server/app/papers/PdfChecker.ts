// Checks an uploaded PDF off the main thread: each file is measured by a child process
// (pdf-measure.mjs, pdfjs-dist's legacy build) started under an address-space limit and a CPU
// limit (prlimit), with a wall-clock limit enforced here by SIGKILL. A malformed or hostile
// file can use up the child, never the server: the server only waits for one line of JSON.
//
// Why a child process and not a worker thread: a worker's resourceLimits cap the V8 heap only,
// while a decompression bomb grows ArrayBuffers outside it; the address-space limit of a
// process caps everything, and a crash of the parser (native or not) stays in the child.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MAX_PAPER_IMAGE_PIXELS, SystemClock, type Clock, type MeasuredPage, type PaperFault } from '../../core/conference/index.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const MEASURE_SCRIPT = path.join(here, 'pdf-measure.mjs');

/** How far one check may go, and how many run and wait at once. */
export interface PdfCheckLimits {
  /** Wall-clock time of one check (the child is killed past it). */
  timeMs: number;
  /**
   * Address space of the child. Node itself takes about 730 MB of it to start and V8 reserves
   * more as its young generation grows: at 1 GiB, 2 to 20 in 100 checks of a valid 4-page paper
   * died with "NewSpace::EnsureCurrentCapacity Allocation failed" and the paper was refused as
   * check_memory. 2 GiB: none in 60; a compression bomb still hits the limit.
   */
  addressSpaceMb: number;
  /** V8 heap of the child. */
  heapMb: number;
  /** The largest image (pixels) the checker decodes. */
  maxImagePixels: number;
  /** Checks running at once (the machine's cores are the media's first). */
  concurrency: number;
  /** Checks waiting; more are refused as busy. */
  queue: number;
}

/** 10 s, 2 GiB of address space, 192 MB of heap, the core's largest image, one check at a time, eight waiting. */
export const DEFAULT_CHECK_LIMITS: Readonly<PdfCheckLimits> = Object.freeze({
  timeMs: 10_000,
  addressSpaceMb: 2048,
  heapMb: 192,
  maxImagePixels: MAX_PAPER_IMAGE_PIXELS,
  concurrency: 1,
  queue: 8,
});

/** What the checker measured, or why the file cannot be read. */
export type PdfMeasure = { ok: true; pageCount: number; pages: MeasuredPage[]; ms: number; vmPeakMb?: number } | { ok: false; fault: PaperFault; ms: number; detail?: string };

/** Raised when too many checks wait already. */
export class CheckerBusyError extends Error {
  readonly code = 'busy' as const;
  constructor() {
    super('too many papers are being checked; try again shortly');
  }
}

const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => existsSync(p));

/** Measures PDFs in limited child processes, a few at a time. */
export class PdfChecker {
  readonly limits: PdfCheckLimits;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #children = new Set<ReturnType<typeof spawn>>();
  readonly #clock: Clock;
  #closed = false;

  /** The wall-clock limit is armed through the clock. */
  constructor(limits: Partial<PdfCheckLimits> = {}, clock: Clock = new SystemClock()) {
    this.limits = { ...DEFAULT_CHECK_LIMITS, ...limits };
    this.#clock = clock;
    if (!PRLIMIT) throw new Error('prlimit (util-linux) not found: the paper checker needs it (scripts/setup.sh installs it)');
  }

  /** Measures a file: page count, and each page's box (only when it has at most maxPages). Throws CheckerBusyError when the queue is full. */
  async measure(file: string, maxPages: number): Promise<PdfMeasure> {
    if (this.#closed) throw new Error('paper checker closed');
    if (this.#running >= this.limits.concurrency) {
      if (this.#waiting.length >= this.limits.queue) throw new CheckerBusyError();
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#running++;
    try {
      return await this.#run(file, maxPages);
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  /** Checks running or waiting now. */
  get load(): { running: number; waiting: number } {
    return { running: this.#running, waiting: this.#waiting.length };
  }

  /** Kills the checks in progress; idempotent. */
  close(): void {
    this.#closed = true;
    for (const child of this.#children) child.kill('SIGKILL');
    for (const wake of this.#waiting.splice(0)) wake();
  }

  #run(file: string, maxPages: number): Promise<PdfMeasure> {
    const l = this.limits;
    const clock = this.#clock;
    const started = clock.now();
    const args = [
      `--as=${l.addressSpaceMb * 1024 * 1024}`,
      // CPU seconds: a backstop behind the wall clock below.
      `--cpu=${Math.ceil(l.timeMs / 1000) + 1}`,
      '--',
      process.execPath,
      `--max-old-space-size=${l.heapMb}`,
      MEASURE_SCRIPT,
      file,
      String(maxPages),
      String(l.maxImagePixels),
    ];
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    return new Promise((resolve) => {
      const child = spawn(PRLIMIT!, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
      this.#children.add(child);
      let out = '';
      let err = '';
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        if (out.length < 65_536) out += s;
      });
      child.stderr!.setEncoding('utf8').on('data', (s: string) => {
        if (err.length < 16_384) err += s;
      });
      let timedOut = false;
      const timer = clock.setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, l.timeMs);
      const done = (measure: PdfMeasure): void => {
        clock.clearTimeout(timer);
        this.#children.delete(child);
        resolve(measure);
      };
      child.on('error', (error) => done({ ok: false, fault: { code: 'pdf_damaged', detail: `checker failed to start: ${error.message}` }, ms: clock.now() - started }));
      child.on('close', (code, signal) => {
        const ms = clock.now() - started;
        if (timedOut || signal === 'SIGXCPU') return done({ ok: false, fault: { code: 'check_timeout', limitMs: l.timeMs }, ms });
        const answer = lastJson(out);
        if (answer && answer.ok === true && Number.isInteger(answer.pageCount) && Array.isArray(answer.pages)) {
          return done({ ok: true, pageCount: answer.pageCount as number, pages: (answer.pages as MeasuredPage[]).map(pageOf), ms, ...(typeof answer.vmPeakMb === 'number' ? { vmPeakMb: answer.vmPeakMb } : {}) });
        }
        if (answer && answer.ok === false) {
          const detail = String(answer.detail ?? '');
          if (answer.code === 'pdf_encrypted') return done({ ok: false, fault: { code: 'pdf_encrypted' }, ms, detail });
          if (answer.code === 'image_too_large') return done({ ok: false, fault: { code: 'image_too_large', maxPixels: l.maxImagePixels }, ms, detail });
          if (answer.code === 'check_memory') return done({ ok: false, fault: { code: 'check_memory', limitMb: l.addressSpaceMb }, ms, detail });
          return done({ ok: false, fault: { code: 'pdf_damaged', detail }, ms, detail });
        }
        // No answer: the child died. Out of memory (heap or address space) says so on stderr.
        const detail = `exit ${code ?? signal}: ${err.slice(-300)}`;
        if (/out of memory|OOM|allocation failed|Cannot allocate|Failed to reserve/i.test(err) || signal === 'SIGABRT' || signal === 'SIGSEGV' || signal === 'SIGBUS') {
          return done({ ok: false, fault: { code: 'check_memory', limitMb: l.addressSpaceMb }, ms, detail });
        }
        done({ ok: false, fault: { code: 'pdf_damaged', detail }, ms, detail });
      });
    });
  }
}

function lastJson(text: string): Record<string, unknown> | null {
  const line = text.trim().split('\n').at(-1);
  if (!line) return null;
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

// Only finite numbers leave the child.
function pageOf(p: MeasuredPage): MeasuredPage {
  const num = (v: unknown, fallback: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  return { widthPt: num(p.widthPt, 0), heightPt: num(p.heightPt, 0), rotate: num(p.rotate, 0), userUnit: num(p.userUnit, 1) };
}
