import { EventEmitter } from 'node:events';
import type { LinkCounters } from '../../sfu/index.ts';
import type { LinkCounterSource } from './LinkSampleFeed.ts';
import { systemClock, type Clock, type ClockTimer } from '../core/conference/index.ts';
import { audioOnlyDirection, HealthBook, type HealthAlert, type HealthThresholds, type LinkSample } from '../core/health.ts';
import type { ClientLinkReport, LinkEvent, LinkTestResult } from '../protocol/control.ts';

export type { LinkEvent };

export type HealthMonitorEvents = {
  alert: [alert: HealthAlert];
  sampled: [];
};

export interface HealthMonitorOptions {
  bridgeIds: readonly string[];
  /** Where the links' counters come from: this process's media session, or the media nodes' samples. */
  links: () => LinkCounterSource;
  /** Whether a bridge's link carries video each way, wherever its media is (the conference's weak links; undefined: not known). */
  audioOnlyOf?: (bridgeId: string) => { up: boolean; down: boolean } | undefined;
  /** Whether the bridge's hall is connected (roll-call presence). */
  online: (bridgeId: string) => boolean;
  /** Whether the hall has ever connected in this conference (a hall that never did is absent, not dropped). */
  joined?: (bridgeId: string) => boolean;
  /** What makes a connected hall's link useless whatever its figures (a hardware hall's picture nobody gets), or null. */
  problem?: (bridgeId: string) => string | null;
  /**
   * Whether a bridge with a media peer counts as online (default: yes). No for a hardware hall:
   * its peer is always there, and it is online only while its device's media arrives.
   */
  presenceFromMedia?: (bridgeId: string) => boolean;
  intervalMs?: number;
  thresholds?: HealthThresholds;
  /** A client report older than this is ignored. */
  clientReportTtlMs?: number;
  /** Time of the samples and the interval (the system clock by default). */
  clock?: Clock;
}

const MAX_EVENTS = 200;

/**
 * Samples every bridge's link every 2 seconds: the server's counters (deltas of packets and
 * losses each way, jitter, round trip, NACKs, keyframe requests, scores) completed by what the
 * hall's browser last reported; keeps the health book and raises an alert on every confirmed
 * status change (the book's hysteresis: a flapping link raises one, not one every 2 s).
 */
export class HealthMonitor extends EventEmitter<HealthMonitorEvents> {
  readonly book: HealthBook;
  readonly #options: HealthMonitorOptions;
  readonly #previous = new Map<string, LinkCounters>();
  readonly #client = new Map<string, ClientLinkReport & { at: number }>();
  readonly #events = new Map<string, LinkEvent[]>();
  readonly #tests = new Map<string, { at: number; result: LinkTestResult }>();
  readonly #clock: Clock;
  #timer: ClockTimer | undefined;
  #running = false;
  #closed = false;

  constructor(options: HealthMonitorOptions) {
    super();
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.book = new HealthBook({ thresholds: options.thresholds });
  }

  /** Starts sampling every interval. */
  start(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = this.#clock.setInterval(() => void this.sampleAll(), this.#options.intervalMs ?? 2000, { background: true });
  }

  /** What a hall's browser measured (validated by the transport). */
  reportFromClient(bridgeId: string, report: ClientLinkReport, now = this.#clock.now()): void {
    this.#client.set(bridgeId, { ...report, at: now });
  }

  /** Records a connection event of a bridge (kept across its reconnections). */
  event(bridgeId: string, event: LinkEvent): void {
    let list = this.#events.get(bridgeId);
    if (!list) this.#events.set(bridgeId, (list = []));
    list.push(event);
    if (list.length > MAX_EVENTS) list.splice(0, list.length - MAX_EVENTS);
  }

  /** Keeps a hall's latest link test result. */
  testResult(bridgeId: string, result: LinkTestResult, now = this.#clock.now()): void {
    this.#tests.set(bridgeId, { at: now, result });
  }

  /** A hall's latest link test result, if any. */
  lastTest(bridgeId: string): { at: number; result: LinkTestResult } | null {
    return this.#tests.get(bridgeId) ?? null;
  }

  /** The events of a bridge, oldest first. */
  events(bridgeId: string): LinkEvent[] {
    return this.#events.get(bridgeId) ?? [];
  }

  /** Samples every bridge once (the interval calls it; tests may too). */
  async sampleAll(): Promise<void> {
    if (this.#running || this.#closed) return;
    this.#running = true;
    try {
      const links = this.#options.links();
      // All bridges' counters at once: 212 halls × a few worker requests must fit in one interval.
      const ids = this.#options.bridgeIds;
      const all = await Promise.all(ids.map((id) => links.linkCounters(id).catch(() => null)));
      for (const [i, bridgeId] of ids.entries()) {
        const counters = all[i]!;
        const sample = this.#sample(bridgeId, counters);
        const alert = this.book.record(bridgeId, sample);
        if (alert && !this.#closed) this.emit('alert', alert);
      }
      if (!this.#closed) this.emit('sampled');
    } finally {
      this.#running = false;
    }
  }

  #sample(bridgeId: string, now: LinkCounters | null): LinkSample {
    const at = now?.at ?? this.#clock.now();
    const online = this.#options.online(bridgeId) || (now !== null && (this.#options.presenceFromMedia?.(bridgeId) ?? true));
    const sample: LinkSample = { at, online };
    if (!online && this.#options.joined) sample.joined = this.#options.joined(bridgeId);
    const problem = online ? this.#options.problem?.(bridgeId) : null;
    if (problem) sample.problem = problem;
    const before = this.#previous.get(bridgeId);
    if (now) {
      this.#previous.set(bridgeId, now);
      sample.iceState = now.iceState;
      sample.bitrateUpKbps = Math.round(now.up.bitrate / 1000);
      sample.bitrateDownKbps = Math.round(now.down.bitrate / 1000);
      sample.jitterMs = Math.round(now.up.jitterMax);
      sample.scoreUp = now.up.scoreMin;
      sample.scoreDown = now.down.scoreMin;
      const rtt = Math.max(now.up.rttMsMax ?? 0, now.down.rttMsMax ?? 0);
      if (rtt > 0) sample.rttMs = Math.round(rtt);
      // Counters restart when the hall rejoins: only a delta over the same peer counts.
      if (before && now.up.packets >= before.up.packets && now.down.packets >= before.down.packets) {
        const seconds = Math.max(0.001, (now.at - before.at) / 1000);
        const lossPct = (lost: number, got: number): number | undefined => (lost + got > 0 ? (100 * Math.max(0, lost)) / (Math.max(0, lost) + got) : undefined);
        sample.lossUpPct = lossPct(now.up.lost - before.up.lost, now.up.packets - before.up.packets);
        sample.lossDownPct = lossPct(now.down.lost - before.down.lost, now.down.packets - before.down.packets);
        sample.nackPerSec = Math.round(((now.up.nacks - before.up.nacks + now.down.nacks - before.down.nacks) / seconds) * 10) / 10;
        sample.keyframeRequestsPerSec = Math.round(((now.up.keyframeRequests - before.up.keyframeRequests) / seconds) * 10) / 10;
      }
      const flags = this.#options.audioOnlyOf?.(bridgeId);
      if (flags) sample.audioOnly = audioOnlyDirection(flags);
    } else {
      this.#previous.delete(bridgeId);
    }
    const client = this.#client.get(bridgeId);
    if (client && at - client.at <= (this.#options.clientReportTtlMs ?? 6000)) {
      sample.fpsSent = client.fpsSent ?? undefined;
      sample.fpsReceived = client.fpsReceived ?? undefined;
      sample.frameHeightSent = client.frameHeightSent ?? undefined;
      sample.frameHeightReceived = client.frameHeightReceived ?? undefined;
      sample.availableOutKbps = client.availableOutKbps ?? undefined;
      sample.audioLevel = client.audioLevel ?? undefined;
      sample.mediaPath = client.mediaPath ?? undefined;
      if (client.jitterMs != null) sample.jitterMs = Math.max(sample.jitterMs ?? 0, client.jitterMs);
      if (sample.rttMs === undefined && client.rttMs != null) sample.rttMs = client.rttMs;
      // The browser sees what it lost of what we sent: trust it over our receiver-report counters when worse.
      if (client.lossDownPct != null) sample.lossDownPct = Math.max(sample.lossDownPct ?? 0, client.lossDownPct);
      if (client.lossUpPct != null && sample.lossUpPct === undefined) sample.lossUpPct = client.lossUpPct;
    }
    return sample;
  }

  /** Stops sampling; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearInterval(this.#timer);
    this.removeAllListeners();
  }
}
