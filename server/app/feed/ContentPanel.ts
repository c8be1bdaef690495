// The content panel of the programme picture: the page on screen drawn for the feed's
// re-encoder (a PNG the size of the frame, see content-panel.mjs and layout.ts). Each page is
// drawn once by a child process under an address-space, CPU and wall-clock limit (the paper was
// checked at upload; this is the backstop), and kept while it may be shown again.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import zlib from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../../core/conference/index.ts';
import { contentLayout, type Box, type ContentLayout } from './layout.ts';

const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'content-panel.mjs');
const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => existsSync(p));

/** How far one drawing may go. */
export const PANEL_LIMITS = Object.freeze({
  timeMs: 10_000,
  // V8 with the native canvas needs a large reservation to start; the memory used is far less.
  addressSpaceMb: 4096,
  heapMb: 256,
});

/** Pages kept drawn (a paper of 4 pages, and the one before it). */
const CACHE = 8;

/** Draws content panels for one frame size. */
export class ContentPanel {
  readonly layout: ContentLayout;
  readonly #dir: string;
  readonly #clock: Clock;
  readonly #cache = new Map<string, Promise<Buffer>>();
  readonly #children = new Set<ReturnType<typeof spawn>>();
  #blank: Buffer | undefined;
  #closed = false;

  constructor(width: number, height: number, clock: Clock) {
    if (!PRLIMIT) throw new Error('prlimit (util-linux) not found: the content panel needs it (scripts/setup.sh installs it)');
    this.layout = contentLayout(width, height);
    this.#clock = clock;
    this.#dir = mkdtempSync(path.join(os.tmpdir(), 'diemcau-panel-'));
  }

  /** The panel with no content (transparent: the encoder shows the speaker full frame). Made here: it never fails. */
  blank(): Promise<Buffer> {
    this.#blank ??= transparentPng(this.layout.width, this.layout.height);
    return Promise.resolve(this.#blank);
  }

  /** The panel of one page of a paper file (`key` names the paper version: its id). */
  page(key: string, file: string, page: number): Promise<Buffer> {
    return this.#cached(`${key}-${page}`, [file, String(page)]);
  }

  #cached(name: string, extra: string[]): Promise<Buffer> {
    let drawn = this.#cache.get(name);
    if (!drawn) {
      drawn = this.#draw(name, extra);
      drawn.catch(() => this.#cache.delete(name));
      this.#cache.set(name, drawn);
      for (const old of this.#cache.keys()) {
        if (this.#cache.size <= CACHE) break;
        this.#cache.delete(old);
      }
    }
    return drawn;
  }

  #draw(name: string, extra: string[]): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new Error('content panel closed'));
    const out = path.join(this.#dir, `${name.replace(/[^A-Za-z0-9_-]/g, '_')}.png`);
    const { width, height, speaker, page } = this.layout;
    const b = (x: Box): string => `${x.x},${x.y},${x.w},${x.h}`;
    const args = [
      `--as=${PANEL_LIMITS.addressSpaceMb * 1024 * 1024}`,
      `--cpu=${Math.ceil(PANEL_LIMITS.timeMs / 1000) + 1}`,
      '--',
      process.execPath,
      `--max-old-space-size=${PANEL_LIMITS.heapMb}`,
      SCRIPT,
      out,
      String(width),
      String(height),
      b(speaker),
      b(page),
      ...extra,
    ];
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    return new Promise<Buffer>((resolve, reject) => {
      const child = spawn(PRLIMIT!, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
      this.#children.add(child);
      let stdout = '';
      let stderr = '';
      child.stdout!.setEncoding('utf8').on('data', (s: string) => void (stdout = (stdout + s).slice(-4096)));
      child.stderr!.setEncoding('utf8').on('data', (s: string) => void (stderr = (stderr + s).slice(-4096)));
      const timer = this.#clock.setTimeout(() => child.kill('SIGKILL'), PANEL_LIMITS.timeMs);
      child.on('error', (error) => {
        this.#clock.clearTimeout(timer);
        this.#children.delete(child);
        reject(error);
      });
      child.on('close', (code, signal) => {
        this.#clock.clearTimeout(timer);
        this.#children.delete(child);
        if (/^\{"ok":true\}/m.test(stdout) && existsSync(out)) {
          resolve(readFileSync(out));
          rmSync(out, { force: true });
          return;
        }
        reject(new Error(`content panel not drawn [page:${name}, exit:${code ?? signal}] ${stdout.trim().slice(-200)} ${stderr.trim().slice(-200)}`));
      });
    });
  }

  /** Kills drawings in progress and removes the files; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const child of this.#children) child.kill('SIGKILL');
    this.#cache.clear();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** A fully transparent RGBA PNG of width × height (no canvas needed). */
export function transparentPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(zlib.crc32(body) >>> 0, 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  // Every row: filter byte 0, then zeros (transparent black).
  const raw = Buffer.alloc((1 + width * 4) * height);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
