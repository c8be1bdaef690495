import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** Flags for a headless Debian Chromium with fake camera/microphone on a loopback-only network. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--headless=new',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  '--disable-features=CalculateNativeWinOcclusion',
];

/** A Chromium with its own throwaway profile; `close()` removes both. */
export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

/** Where and how a test Chromium runs. */
export interface ChromiumOptions {
  /**
   * Run it inside this network namespace (a host of the network rig): launched through a wrapper
   * that does `ip netns exec`, with DevTools over a pipe so puppeteer needs no network to reach it.
   */
  netns?: string;
  /**
   * Origins served over plain http from an address that is not loopback (a server on the rig's
   * bridge): Chromium treats them as secure, so the camera and microphone may be used there.
   */
  secureOrigins?: string[];
  /** More command-line flags. */
  args?: string[];
}

/** Launches Debian's Chromium (CHROMIUM_PATH, default /usr/bin/chromium). */
export async function launchChromium(options: ChromiumOptions = {}): Promise<TestBrowser> {
  const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!fs.existsSync(chromium)) throw new Error(`Chromium not found at ${chromium} (run npm run setup)`);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-chromium-'));
  let executablePath = chromium;
  if (options.netns) {
    // Outside the profile directory: Chromium must not find it there.
    executablePath = `${userDataDir}.netns`;
    fs.writeFileSync(executablePath, `#!/bin/sh\nexec ip netns exec '${options.netns}' '${chromium}' "$@"\n`, { mode: 0o755 });
  }
  const args = [...CHROMIUM_FLAGS];
  if (options.secureOrigins?.length) args.push(`--unsafely-treat-insecure-origin-as-secure=${options.secureOrigins.join(',')}`);
  args.push(...(options.args ?? []));
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      userDataDir,
      args,
      pipe: !!options.netns,
      defaultViewport: { width: 960, height: 540 },
      protocolTimeout: 60_000,
    });
  } catch (error) {
    fs.rmSync(userDataDir, { recursive: true, force: true });
    if (options.netns) fs.rmSync(executablePath, { force: true });
    throw error;
  }
  let closed = false;
  return {
    browser,
    async close() {
      if (closed) return;
      closed = true;
      await browser.close().catch(() => undefined);
      fs.rmSync(userDataDir, { recursive: true, force: true });
      if (options.netns) fs.rmSync(executablePath, { force: true });
    },
  };
}

/** Opens a page and collects its console errors (printed on failure by the caller). */
export async function openPage(browser: Browser, url: string, log: string[] = []): Promise<Page> {
  const page = await browser.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') log.push(`[${url}] ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => log.push(`[${url}] pageerror: ${(e as Error).message}`));
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  return page;
}

/**
 * Opens a page in a window of its own: every display and console is on screen at once, as on
 * separate PCs (a background tab gets no animation frames, so it would never present a paint).
 */
export async function openWindow(chromium: TestBrowser, url: string, log: string[], size: { width: number; height: number }): Promise<Page> {
  const page = await chromium.browser.newPage({ type: 'window', windowBounds: { ...size, left: 0, top: 0 } });
  await page.setViewport(size);
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') log.push(`[${url.split('#')[0]}] ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => log.push(`[${url.split('#')[0]}] pageerror: ${(e as Error).message}`));
  await page.goto(url, { waitUntil: 'domcontentloaded' });
  return page;
}

/** Polls until `check` returns a truthy value, or throws with the label after `timeoutMs`. */
export async function waitFor<T>(label: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await check();
      if (v) return v;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${label}${last ? `: ${String(last)}` : ''}`);
}
