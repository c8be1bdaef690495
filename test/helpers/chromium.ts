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

/** Launches Debian's Chromium (CHROMIUM_PATH, default /usr/bin/chromium). */
export async function launchChromium(): Promise<TestBrowser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath} (run npm run setup)`);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-chromium-'));
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    userDataDir,
    args: CHROMIUM_FLAGS,
    defaultViewport: { width: 960, height: 540 },
    protocolTimeout: 60_000,
  });
  let closed = false;
  return {
    browser,
    async close() {
      if (closed) return;
      closed = true;
      await browser.close().catch(() => undefined);
      fs.rmSync(userDataDir, { recursive: true, force: true });
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
