// The papers of one conference at work: an upload is streamed to a temporary file with the size
// limit enforced while it streams, checked off the main thread (PdfChecker), judged by the core's
// rules, kept under a name the server chooses, and entered in the conference state through the
// core (paper_submit, with the uploader as actor), so every server instance on the same store
// knows it. A refused file is deleted whole.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, type ReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  judgePaper,
  mayReadPaper,
  maySubmitTo,
  paperById,
  paperRulesOf,
  PAPER_ID_PATTERN,
  MAX_PAPER_FILE_NAME,
  type Actor,
  type Clock,
  type PaperFault,
  type PaperVersion,
} from '../../core/conference/index.ts';
import type { ConferenceRunner } from '../conference/ConferenceRunner.ts';
import type { Principal } from '../../protocol/control.ts';
import { paperFaultText } from '../../protocol/papers.ts';
import { CheckerBusyError, PdfChecker, type PdfCheckLimits } from './PdfChecker.ts';

/** A PDF starts with this within its first kilobyte (the format allows a little junk before it). */
const PDF_MAGIC = Buffer.from('%PDF-');
const MAGIC_WINDOW = 1024;

/** Why an upload or a read was refused: a stable code, an HTTP status, a message for people (Vietnamese for file faults). */
export class PaperRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fault?: PaperFault,
  ) {
    super(message);
    this.name = 'PaperRefusal';
  }

  /** A refusal of the file itself, with its Vietnamese reason. */
  static of(fault: PaperFault): PaperRefusal {
    const status = fault.code === 'too_large' ? 413 : 422;
    return new PaperRefusal(status, fault.code, paperFaultText(fault), fault);
  }
}

/** Options of a PaperDesk. */
export interface PaperDeskOptions {
  conferenceId: string;
  /** The data directory (DIEMCAU_DATA_DIR): papers/<conferenceId>/<paperId>.pdf, and tmp/ for uploads in progress. */
  dataDir: string;
  runner: ConferenceRunner;
  /** Limits of the checker (tests lower the time limit). */
  checkLimits?: Partial<PdfCheckLimits>;
  /** The clock the checker's time limit is armed on (the system's by default). */
  clock?: Clock;
}

/** The actor of a principal, as the core knows it. */
export function actorOf(p: Principal): Actor {
  return p.role === 'operator' ? { role: 'operator', bridgeId: p.bridgeId } : { role: p.role };
}

/** Uploads, checks, keeps and serves the papers of one conference. */
export class PaperDesk {
  readonly conferenceId: string;
  readonly checker: PdfChecker;
  readonly #runner: ConferenceRunner;
  readonly #papersDir: string;
  readonly #tmpDir: string;
  #closed = false;

  constructor(options: PaperDeskOptions) {
    this.conferenceId = options.conferenceId;
    this.#runner = options.runner;
    this.#papersDir = papersDirOf(options.dataDir, options.conferenceId);
    this.#tmpDir = path.resolve(options.dataDir, 'tmp');
    this.checker = new PdfChecker(options.checkLimits, options.clock);
  }

  /** Refuses early (before a byte is read) what the core would refuse for who and where. */
  admit(principal: Principal, slotId: string, declaredBytes: number | null): void {
    const verdict = maySubmitTo(this.#runner.state.config, actorOf(principal), slotId);
    if (verdict === 'forbidden') throw new PaperRefusal(403, 'forbidden', 'a hall uploads only its own paper; the secretary any');
    if (verdict === 'unknown_slot') throw new PaperRefusal(404, 'unknown_slot', `no paper slot ${slotId}`);
    const rules = paperRulesOf(this.#runner.state.config);
    if (declaredBytes !== null && declaredBytes > rules.maxBytes) throw PaperRefusal.of({ code: 'too_large', bytes: declaredBytes, maxBytes: rules.maxBytes });
  }

  /**
   * Receives one upload for a slot: streams it to a temporary file (never more than the size
   * limit), checks it, keeps it and enters it in the state. Resolves with the new version;
   * rejects with a PaperRefusal (nothing kept) or another error.
   */
  async receive(principal: Principal, slotId: string, body: Readable, upload: { declaredBytes: number | null; fileName: string | null }): Promise<PaperVersion> {
    if (this.#closed) throw new PaperRefusal(503, 'unavailable', 'the conference is closing');
    this.admit(principal, slotId, upload.declaredBytes);
    const rules = paperRulesOf(this.#runner.state.config);
    await mkdir(this.#tmpDir, { recursive: true });
    const tmp = path.join(this.#tmpDir, `upload-${randomBytes(12).toString('base64url')}.part`);
    let kept: string | null = null;
    try {
      const received = await this.#spool(body, tmp, rules.maxBytes);
      if (received.bytes === 0) throw PaperRefusal.of({ code: 'empty_file' });
      if (!received.head.subarray(0, MAGIC_WINDOW).includes(PDF_MAGIC)) throw PaperRefusal.of({ code: 'not_pdf' });
      let measure;
      try {
        measure = await this.checker.measure(tmp, rules.maxPages);
      } catch (error) {
        if (error instanceof CheckerBusyError) throw new PaperRefusal(503, 'busy', 'Máy chủ đang kiểm tra nhiều tệp, xin thử lại sau ít phút');
        throw error;
      }
      if (!measure.ok) throw PaperRefusal.of(measure.fault);
      const fault = judgePaper(rules, { bytes: received.bytes, pageCount: measure.pageCount, pages: measure.pages });
      if (fault) throw PaperRefusal.of(fault);

      // Named by the server, never after the upload.
      const paperId = randomBytes(12).toString('base64url');
      await mkdir(this.#papersDir, { recursive: true });
      kept = this.#fileOf(paperId);
      await rename(tmp, kept);
      const fileName = cleanFileName(upload.fileName);
      const result = await this.#runner.execute({
        type: 'paper_submit',
        actor: actorOf(principal),
        slotId,
        paperId,
        pages: measure.pageCount,
        bytes: received.bytes,
        sha256: received.sha256,
        fileName,
      });
      if (!result.ok) {
        const status = result.error.code === 'forbidden' ? 403 : result.error.code === 'unknown_slot' ? 404 : 409;
        throw new PaperRefusal(status, result.error.code, result.error.message);
      }
      const paper = paperById(this.#runner.state, paperId);
      if (!paper) throw new PaperRefusal(409, 'invalid_state', 'the paper was accepted but is not in the state');
      kept = null;
      return paper;
    } finally {
      await rm(tmp, { force: true });
      if (kept) await rm(kept, { force: true });
    }
  }

  /** The metadata of a paper this principal may read; a PaperRefusal (404 unknown, 403 not allowed) otherwise. */
  paperFor(principal: Principal, paperId: string): PaperVersion {
    const paper = PAPER_ID_PATTERN.test(paperId) ? paperById(this.#runner.state, paperId) : null;
    if (!paper) throw new PaperRefusal(404, 'not_found', `no such paper [paperId:${paperId.slice(0, 40)}]`);
    if (!mayReadPaper(this.#runner.state, actorOf(principal), paperId)) {
      throw new PaperRefusal(403, 'forbidden', 'before it is shown, a paper is read only by the staff and its own hall');
    }
    return paper;
  }

  /** Opens a paper's file for reading (after paperFor allowed it). */
  async openFile(paper: PaperVersion): Promise<{ stream: ReadStream; bytes: number }> {
    const file = this.#fileOf(paper.paperId);
    try {
      const s = await stat(file);
      return { stream: createReadStream(file), bytes: s.size };
    } catch {
      // The state knows it, this instance's disk does not (DIEMCAU_DATA_DIR not shared between instances).
      throw new PaperRefusal(404, 'file_missing', `the file of paper ${paper.paperId} is not on this server's disk`);
    }
  }

  /** Kills checks in progress; idempotent. */
  close(): void {
    this.#closed = true;
    this.checker.close();
  }

  #fileOf(paperId: string): string {
    return paperFileOf(this.#papersDir, paperId);
  }

  /** Streams the body to a new file, hashing it and keeping its first kilobyte; a PaperRefusal past maxBytes. */
  async #spool(body: Readable, file: string, maxBytes: number): Promise<{ bytes: number; sha256: string; head: Buffer }> {
    const hash = createHash('sha256');
    let bytes = 0;
    let head = Buffer.alloc(0);
    const meter = new Transform({
      transform(chunk: Buffer, _enc, callback) {
        bytes += chunk.length;
        if (bytes > maxBytes) return callback(PaperRefusal.of({ code: 'too_large', bytes, maxBytes }));
        if (head.length < MAGIC_WINDOW) head = Buffer.concat([head, chunk.subarray(0, MAGIC_WINDOW - head.length)]);
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    // The body is piped, not put in the pipeline: a refusal stops reading it without destroying
    // the request, so that the refusal can still be answered on it.
    let ended = false;
    body.once('end', () => (ended = true));
    body.once('error', (error) => meter.destroy(error));
    body.once('close', () => {
      if (!ended) meter.destroy(new PaperRefusal(400, 'aborted', 'the upload was interrupted'));
    });
    body.pipe(meter);
    const handle = await open(file, 'wx', 0o600);
    try {
      await pipeline(meter, handle.createWriteStream());
    } catch (error) {
      body.unpipe(meter);
      body.pause();
      throw error;
    } finally {
      await handle.close().catch(() => undefined);
    }
    return { bytes, sha256: hash.digest('hex'), head };
  }
}

/** Where a conference's papers are kept under a data directory (DIEMCAU_DATA_DIR). */
export function papersDirOf(dataDir: string, conferenceId: string): string {
  return path.resolve(dataDir, 'papers', conferenceId);
}

/** A paper version's file in its conference's directory (named by the server's id, never by the upload). */
export function paperFileOf(papersDir: string, paperId: string): string {
  if (!PAPER_ID_PATTERN.test(paperId)) throw new Error(`bad paper id [paperId:${paperId.slice(0, 40)}]`);
  return path.join(papersDir, `${paperId}.pdf`);
}

/** The file of a paper version if it is on this machine's disk (the feed draws the page on screen from it). */
export function paperOnDisk(dataDir: string, conferenceId: string, paperId: string): string | undefined {
  if (!PAPER_ID_PATTERN.test(paperId)) return undefined;
  const file = paperFileOf(papersDirOf(dataDir, conferenceId), paperId);
  return existsSync(file) ? file : undefined;
}

/** The uploader's file name, for people only: NFC, no path, no control characters, bounded. */
export function cleanFileName(name: string | null): string | null {
  if (!name) return null;
  const base = name.normalize('NFC').split(/[\\/]/).pop() ?? '';
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, MAX_PAPER_FILE_NAME);
  return clean === '' ? null : clean;
}
