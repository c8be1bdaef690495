// What the weak-link tests and bench:weaklink read: the audio a page receives from a bridge (after
// FEC and concealment, from the browser's own receiver statistics), the layers the SFU receives of
// a bridge's camera, the floor given to a hall, and the Vietnamese indications on every screen.
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import type { Page } from 'puppeteer-core';
import type { RunningServer } from '../../server/app/server.ts';
import type { TrialReading, TrialRecord } from '../../sfu/routing/index.ts';

/** Cumulative receiver counters of the audio a page receives from one bridge (summed over its consumers of it). */
export interface AudioReceived {
  at: number;
  packetsReceived: number;
  packetsLost: number;
  /** Samples the decoder had to invent (loss concealment), and of them those that were silence anyway. */
  concealedSamples: number;
  silentConcealedSamples: number;
  totalSamplesReceived: number;
}

/** The audio counters of what `page` receives from `bridgeId` now (zeros before a consumer exists). */
export function audioFrom(page: Page, bridgeId: string): Promise<AudioReceived> {
  return page.evaluate(async (from: string) => {
    const out = { at: Date.now(), packetsReceived: 0, packetsLost: 0, concealedSamples: 0, silentConcealedSamples: 0, totalSamplesReceived: 0 };
    const client = (window as any).diemcau?.client;
    for (const rc of client ? client.consumers.values() : []) {
      if (rc.bridgeId !== from || rc.consumer.kind !== 'audio') continue;
      const report = await rc.consumer.getStats();
      report.forEach((s: any) => {
        if (s.type !== 'inbound-rtp') return;
        out.packetsReceived += s.packetsReceived ?? 0;
        out.packetsLost += Math.max(0, s.packetsLost ?? 0);
        out.concealedSamples += s.concealedSamples ?? 0;
        out.silentConcealedSamples += s.silentConcealedSamples ?? 0;
        out.totalSamplesReceived += s.totalSamplesReceived ?? 0;
      });
    }
    return out;
  }, bridgeId);
}

/** Between two readings: packets per second, packets lost on the way (%), and audio lost after FEC (concealed, %). */
export function audioBetween(a: AudioReceived, b: AudioReceived): { packetsPerSec: number; networkLossPct: number; concealedPct: number; seconds: number } {
  const seconds = Math.max(0.001, (b.at - a.at) / 1000);
  const received = b.packetsReceived - a.packetsReceived;
  const lost = Math.max(0, b.packetsLost - a.packetsLost);
  const samples = b.totalSamplesReceived - a.totalSamplesReceived;
  const concealed = b.concealedSamples - a.concealedSamples - (b.silentConcealedSamples - a.silentConcealedSamples);
  return {
    seconds,
    packetsPerSec: received / seconds,
    networkLossPct: received + lost > 0 ? (100 * lost) / (received + lost) : 0,
    concealedPct: samples > 0 ? Math.max(0, (100 * concealed) / samples) : 0,
  };
}

/** Frames the page decoded of a bridge's video (every consumer of it). */
export function framesFrom(page: Page, bridgeId: string): Promise<number> {
  return page.evaluate(async (from: string) => {
    let frames = 0;
    const client = (window as any).diemcau?.client;
    for (const rc of client ? client.consumers.values() : []) {
      if (rc.bridgeId !== from || rc.consumer.kind !== 'video') continue;
      (await rc.consumer.getStats()).forEach((s: any) => {
        if (s.type === 'inbound-rtp') frames += s.framesDecoded ?? 0;
      });
    }
    return frames;
  }, bridgeId);
}

/** Bytes of video a page has received so far (every video consumer, retransmissions and padding included). */
export function videoReceived(page: Page): Promise<number> {
  return page.evaluate(async () => {
    let bytes = 0;
    const client = (window as any).diemcau?.client;
    for (const rc of client ? client.consumers.values() : []) {
      if (rc.consumer.kind !== 'video') continue;
      (await rc.consumer.getStats()).forEach((s: any) => {
        if (s.type === 'inbound-rtp') bytes += (s.bytesReceived ?? 0) + (s.headerBytesReceived ?? 0);
      });
    }
    return bytes;
  });
}

/** What a page's receivers show of the video they get (every video consumer summed): packets, packets lost, NACKs sent, frames decoded. */
export function videoInbound(page: Page): Promise<{ at: number; received: number; lost: number; nacks: number; frames: number }> {
  return page.evaluate(async () => {
    const out = { at: Date.now(), received: 0, lost: 0, nacks: 0, frames: 0 };
    const client = (window as any).diemcau?.client;
    for (const rc of client ? client.consumers.values() : []) {
      if (rc.consumer.kind !== 'video') continue;
      (await rc.consumer.getStats()).forEach((s: any) => {
        if (s.type !== 'inbound-rtp') return;
        out.received += s.packetsReceived ?? 0;
        out.lost += s.packetsLost ?? 0;
        out.nacks += s.nackCount ?? 0;
        out.frames += s.framesDecoded ?? 0;
      });
    }
    return out;
  });
}

/**
 * What a page's receive side sends back up its link, cumulative: the NACK and PLI packets of each
 * of its receivers (by kind and SSRC), and the bytes its receive transport sent (its RTCP, STUN).
 */
export function receiveFeedback(page: Page): Promise<{ at: number; bytesSent: number; packetsSent: number; receivers: Record<string, { nacks: number; plis: number; received: number }> }> {
  return page.evaluate(async () => {
    const out = { at: Date.now(), bytesSent: 0, packetsSent: 0, receivers: {} as Record<string, { nacks: number; plis: number; received: number }> };
    const client = (window as any).diemcau?.client;
    const seen = new Set<unknown>();
    for (const rc of client ? client.consumers.values() : []) {
      (await rc.consumer.getStats()).forEach((s: any) => {
        if (s.type === 'inbound-rtp') out.receivers[`${s.kind} ${s.ssrc} ${rc.bridgeId}/${rc.slot}`] = { nacks: s.nackCount ?? 0, plis: s.pliCount ?? 0, received: s.packetsReceived ?? 0 };
        else if (s.type === 'transport' && !seen.has(s.id)) {
          seen.add(s.id);
          out.bytesSent += s.bytesSent ?? 0;
          out.packetsSent += s.packetsSent ?? 0;
        }
      });
    }
    return out;
  });
}

/** The difference of two receiveFeedback readings, as one line. */
export function feedbackText(a: Awaited<ReturnType<typeof receiveFeedback>>, b: Awaited<ReturnType<typeof receiveFeedback>>): string {
  const s = Math.max(0.001, (b.at - a.at) / 1000);
  const parts = Object.entries(b.receivers).map(([k, v]) => {
    const o = a.receivers[k] ?? { nacks: 0, plis: 0, received: 0 };
    return `${k}: ${v.nacks - o.nacks} NACKs, ${v.plis - o.plis} PLIs, ${v.received - o.received} packets in`;
  });
  return `${((b.packetsSent - a.packetsSent) / s).toFixed(1)} packets/s and ${(((b.bytesSent - a.bytesSent) * 8) / s / 1000).toFixed(1)} kbit/s up from its receive transport; ${parts.join('; ')}`;
}

/** A trial's record, short: how it ended, when, and each reading (ms: estimate kbit/s, layers, score, sent/NACKed/retransmitted/lost since it began). */
export function trialText(t: TrialRecord & { slot?: string }): string {
  const first = t.readings.find((r) => r.sent !== undefined);
  const d = (r: TrialReading, k: 'sent' | 'nacked' | 'retransmitted' | 'lost'): string => (r[k] === undefined || first?.[k] === undefined ? '?' : String(r[k]! - first[k]!));
  const readings = t.readings.map((r) => `${r.ms}:${r.kbps === null ? '-' : Math.round(r.kbps)}${r.layers ? 'L' : ''} s${r.score ?? '-'} ${d(r, 'sent')}/${d(r, 'nacked')}/${d(r, 'retransmitted')}/${d(r, 'lost')}`);
  return `[${t.why} at ${t.ms} ms, ${t.slot ?? '?'}; ms:kbps score sent/nacked/rtx/lost: ${readings.join(' | ')}]`;
}

/** The server's producers of every bridge, seen through mediasoup's observer (start before the server). */
export class ProducerWatch {
  readonly #byBridge = new Map<string, ms.Producer[]>();
  readonly #onWorker = (worker: ms.Worker): void => {
    worker.observer.on('newrouter', (router) =>
      router.observer.on('newtransport', (transport) =>
        transport.observer.on('newproducer', (producer) => {
          const bridgeId = String(producer.appData.bridgeId ?? '');
          this.#byBridge.set(bridgeId, [...(this.#byBridge.get(bridgeId) ?? []), producer]);
        }),
      ),
    );
  };

  constructor() {
    mediasoup.observer.on('newworker', this.#onWorker);
  }

  /** The bridge's live producer of a source. */
  producer(bridgeId: string, source: 'mic' | 'cam'): ms.Producer | undefined {
    return (this.#byBridge.get(bridgeId) ?? []).filter((p) => !p.closed && p.appData.source === source).at(-1);
  }

  /** Packets the server received so far from a bridge's source. */
  async packets(bridgeId: string, source: 'mic' | 'cam'): Promise<number> {
    const p = this.producer(bridgeId, source);
    return p ? (await p.getStats()).reduce((n, s) => n + (s.packetCount ?? 0), 0) : 0;
  }

  /** The camera's simulcast layers the SFU receives now: rid → bitrate (bit/s) and score. */
  async camLayers(bridgeId: string): Promise<Record<string, { bitrate: number; score: number }>> {
    const p = this.producer(bridgeId, 'cam');
    const out: Record<string, { bitrate: number; score: number }> = {};
    for (const s of p ? await p.getStats() : []) out[s.rid ?? String(s.ssrc)] = { bitrate: s.bitrate ?? 0, score: s.score ?? 0 };
    return out;
  }

  /** The highest layer arriving now (bitrate over 5 kbit/s), -1 for none. */
  async topLayer(bridgeId: string): Promise<number> {
    const layers = await this.camLayers(bridgeId);
    let top = -1;
    for (const [rid, l] of Object.entries(layers)) if (l.bitrate > 5000 && l.score > 0) top = Math.max(top, Number(rid.replace(/\D/g, '')) || 0);
    return top;
  }

  close(): void {
    mediasoup.observer.off('newworker', this.#onWorker);
  }
}

/** Starts the meeting (if need be) and gives the floor to a hall: it is on air and its microphone open. */
export async function giveFloor(server: RunningServer, bridgeId: string, speakerName: string, speakerTitle: string): Promise<void> {
  const chair = { role: 'chair' as const };
  if (server.conference.runner.state.status === 'waiting') {
    const started = await server.conference.execute(chair, { type: 'start_meeting' });
    if (!started.ok) throw new Error(`start_meeting: ${JSON.stringify(started)}`);
  }
  const asked = await server.conference.execute({ role: 'operator', bridgeId }, { type: 'request_floor', bridgeId, speakerName, speakerTitle });
  if (!asked.ok) throw new Error(`request_floor: ${JSON.stringify(asked)}`);
  const request = server.conference.runner.state.queue.find((r) => r.bridgeId === bridgeId);
  if (!request) throw new Error('no floor request');
  const granted = await server.conference.execute(chair, { type: 'grant_floor', requestId: request.id });
  if (!granted.ok) throw new Error(`grant_floor: ${JSON.stringify(granted)}`);
}

/** What a hall display says about a link without video (empty when nothing). */
export function hallWeakText(page: Page): Promise<{ text: string; detail: string; scope: string }> {
  return page.$eval('#weak-link', (el) => ({
    text: (el as HTMLElement).hidden ? '' : (el.querySelector('#weak-link-text') as HTMLElement).innerText.trim(),
    detail: (el as HTMLElement).hidden ? '' : (el.querySelector('#weak-link-detail') as HTMLElement).innerText.trim(),
    scope: (el as HTMLElement).dataset.scope ?? '',
  }));
}

/** What the chair's console says of a hall: on the programme preview (when it is on air) and on its thumbnail. */
export function chairWeakText(page: Page, bridgeId: string): Promise<{ preview: string; tile: string }> {
  // No helper functions inside: the test runner's transform would name them with a function the page lacks.
  return page.evaluate((id: string) => {
    const preview = document.getElementById('program-weak') as HTMLElement | null;
    const tile = document.querySelector(`.tile[data-bridge="${id}"] .weak-over`) as HTMLElement | null;
    return { preview: preview && !preview.hidden ? preview.innerText.trim() : '', tile: tile && !tile.hidden ? tile.innerText.trim() : '' };
  }, bridgeId);
}

/** What the technicians' tile of a hall says: its audio-only mark and its reasons. */
export function technicianTile(page: Page, bridgeId: string): Promise<{ audioOnly: string; reason: string; status: string }> {
  return page.$eval(`.tile[data-bridge-id="${bridgeId}"]`, (el) => ({
    audioOnly: (el as HTMLElement).dataset.audioOnly ?? '',
    reason: (el.querySelector('.t-reason') as HTMLElement).innerText.trim(),
    status: (el as HTMLElement).dataset.status ?? '',
  }));
}

/**
 * When a bridge's microphone is back at the SFU after a break that began at `since`: readings
 * every 50 ms; a reading whose count did not grow over the last 250 ms is a stall; the first
 * reading above the last stall's count is the return, once 1.5 s pass without another stall.
 * A flow that never stalls within 3 s was not broken (returns `since`). Throws after `timeoutMs`.
 */
export async function micBackAfter(watch: ProducerWatch, bridgeId: string, since: number, timeoutMs: number): Promise<number> {
  const readings: { at: number; packets: number }[] = [];
  let stalled: number | null = null;
  let back: number | null = null;
  while (Date.now() - since < timeoutMs) {
    const now = { at: Date.now(), packets: await watch.packets(bridgeId, 'mic') };
    readings.push(now);
    const earlier = [...readings].reverse().find((r) => r.at <= now.at - 250);
    if (earlier && now.packets === earlier.packets) {
      stalled = now.packets;
      back = null;
    } else if (stalled !== null && back === null && now.packets > stalled) {
      back = now.at;
    }
    if (stalled === null && now.at - since >= 3000) return since;
    if (back !== null && now.at - back >= 1500) return back;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${bridgeId}: its microphone did not come back within ${timeoutMs} ms [stalled:${stalled !== null}]`);
}

/** Keeps the page's RTCPeerConnections in `window.__pcs` (for their getStats: ports, SSRCs), from its first script on. */
export function recordPeerConnections(page: Page): Promise<unknown> {
  return page.evaluateOnNewDocument(() => {
    const w = window as any;
    w.__pcs = [];
    const Native = w.RTCPeerConnection;
    w.RTCPeerConnection = function (...args: unknown[]) {
      const pc = new Native(...args);
      w.__pcs.push(pc);
      return pc;
    };
    w.RTCPeerConnection.prototype = Native.prototype;
  });
}
