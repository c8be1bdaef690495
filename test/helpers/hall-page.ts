import type { Page } from 'puppeteer-core';
import { waitFor } from './chromium.ts';

/** What a hall or console page reports about the video it receives. */
export interface PageVideo {
  consumerId: string;
  bridgeId: string;
  slot: string;
  kind: string;
  framesDecoded: number;
  frameHeight: number;
  bytesReceived: number;
}

/** The page's media client state. */
export function pageState(page: Page): Promise<{ state: string; onAir: string; micOpen: boolean; publishing: { mic: boolean; cam: boolean } }> {
  return page.evaluate(() => {
    const c = (window as any).diemcau?.client;
    return c ? { state: c.state, onAir: c.onAir, micOpen: c.micOpen, publishing: c.publishing } : { state: 'none', onAir: '', micOpen: false, publishing: { mic: false, cam: false } };
  });
}

/** Receiver statistics of every consumer the page holds. */
export function pageVideo(page: Page): Promise<PageVideo[]> {
  return page.evaluate(async () => {
    const c = (window as any).diemcau?.client;
    return c ? await c.receiverStats() : [];
  });
}

/** First-decoded-frame times (wall clock) of the page's programme video consumers, by bridge. */
export function pageFirstFrames(page: Page): Promise<{ bridgeId: string; slot: string; receivedAt: number; activatedAt?: number; firstDecodedAt?: number }[]> {
  return page.evaluate(() => {
    const c = (window as any).diemcau?.client;
    if (!c) return [];
    return [...c.consumers.values()].map((rc: any) => ({ bridgeId: rc.bridgeId, slot: rc.slot, receivedAt: rc.receivedAt, activatedAt: rc.activatedAt, firstDecodedAt: rc.firstDecodedAt }));
  });
}

/** Waits until a hall page is live and publishing its camera and microphone. */
export async function waitLive(page: Page, label: string, timeoutMs = 40_000): Promise<void> {
  await waitFor(`${label} live and publishing`, async () => {
    const s = await pageState(page);
    return s.state === 'live' && s.publishing.mic && s.publishing.cam;
  }, timeoutMs);
}
