/**
 * Link health of the bridges, for the technicians: pure rules (no clock, no I/O). A sample of a
 * bridge's link is assessed against thresholds into ok / degraded / bad / offline / absent with
 * reasons in Vietnamese; a book keeps each bridge's status, since when, and its recent history.
 * The book's status has hysteresis: a link that flaps between two states every sample shows the
 * worse one steadily (one alert), and a single bad sample raises none.
 */

import type { MediaPath } from '../protocol/media.ts';

/**
 * 'offline': the hall was connected in this conference and is not now (it dropped); 'absent': it
 * has never connected (the chair's "Chưa kết nối").
 */
export type HealthStatus = 'ok' | 'degraded' | 'bad' | 'offline' | 'absent';

/** Every status, best first. */
export const HEALTH_STATUSES = ['ok', 'degraded', 'bad', 'offline', 'absent'] as const satisfies readonly HealthStatus[];

/** Limits of a link; at or above `degraded` the link is degraded, at or above `bad` it is bad. */
export interface HealthThresholds {
  degraded: { lossPct: number; rttMs: number; jitterMs: number };
  bad: { lossPct: number; rttMs: number; jitterMs: number };
}

export const DEFAULT_THRESHOLDS: HealthThresholds = {
  degraded: { lossPct: 2, rttMs: 250, jitterMs: 60 },
  bad: { lossPct: 8, rttMs: 600, jitterMs: 150 },
};

/** One measurement of a bridge's link (server side, completed by what the hall's browser reports). */
export interface LinkSample {
  at: number;
  /** The hall is connected (control or media). */
  online: boolean;
  /** Whether the hall has ever connected in this conference (false: it is absent, not dropped). Unknown counts as yes. */
  joined?: boolean;
  /** ICE state of its transports as the server sees it ('connected', 'completed', 'disconnected'…). */
  iceState?: string;
  lossUpPct?: number;
  lossDownPct?: number;
  rttMs?: number;
  jitterMs?: number;
  bitrateUpKbps?: number;
  bitrateDownKbps?: number;
  nackPerSec?: number;
  keyframeRequestsPerSec?: number;
  /** mediasoup's scores (0–10) of its producers (up) and consumers (down), the lowest. */
  scoreUp?: number;
  scoreDown?: number;
  /** From the hall's browser. */
  fpsSent?: number;
  fpsReceived?: number;
  frameHeightSent?: number;
  frameHeightReceived?: number;
  availableOutKbps?: number;
  audioLevel?: number;
  /** How the hall's media reaches the SFU (UDP, TCP, TURN over UDP/TCP/TLS), as its browser reports it. */
  mediaPath?: MediaPath;
  /**
   * The link carries no video: `up` the hall's camera does not reach the SFU (the others only
   * hear it), `down` it receives no video (it only hears), `both`. Absent: video flows.
   */
  audioOnly?: AudioOnlyDirection;
  /** Something that makes the link useless whatever its figures say (a device's picture nobody gets), in words. */
  problem?: string;
}

/** Which way a link without video fails: see `LinkSample.audioOnly`. */
export type AudioOnlyDirection = 'up' | 'down' | 'both';

/** What every screen says of a hall whose link carries audio only (its display, its tile, the chair's console). */
export const AUDIO_ONLY_LABEL = 'Đường truyền yếu — chỉ âm thanh';

/** The direction of a link without video, from the SFU's two flags; undefined while video flows. */
export function audioOnlyDirection(flags: { up: boolean; down: boolean }): AudioOnlyDirection | undefined {
  return flags.up && flags.down ? 'both' : flags.up ? 'up' : flags.down ? 'down' : undefined;
}

/** A bridge's status with the reasons, in words a technician reads. */
export interface Assessment {
  status: HealthStatus;
  reasons: string[];
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
/** A number as Vietnamese writes it (decimal comma): 5,2. */
const vn = (x: number): string => String(round1(x)).replace('.', ',');

/** Assesses one sample: the worst of loss (each way), round trip and jitter; offline when not connected. */
export function assess(sample: LinkSample, t: HealthThresholds = DEFAULT_THRESHOLDS): Assessment {
  if (!sample.online) return sample.joined === false ? { status: 'absent', reasons: ['chưa kết nối'] } : { status: 'offline', reasons: ['mất kết nối'] };
  if (sample.problem) return { status: 'bad', reasons: [sample.problem] };
  if (sample.iceState === 'disconnected' || sample.iceState === 'closed') {
    return { status: 'bad', reasons: [`đường truyền media bị ngắt (ICE ${sample.iceState})`] };
  }
  let status: HealthStatus = 'ok';
  const reasons: string[] = [];
  const check = (value: number | undefined, key: keyof HealthThresholds['bad'], words: (v: number) => string): void => {
    if (value === undefined || !Number.isFinite(value)) return;
    if (value >= t.bad[key]) {
      status = 'bad';
      reasons.push(words(value));
    } else if (value >= t.degraded[key]) {
      if (status === 'ok') status = 'degraded';
      reasons.push(words(value));
    }
  };
  check(sample.lossUpPct, 'lossPct', (v) => `mất gói ${vn(v)}% chiều lên`);
  check(sample.lossDownPct, 'lossPct', (v) => `mất gói ${vn(v)}% chiều xuống`);
  check(sample.rttMs, 'rttMs', (v) => `độ trễ ${Math.round(v)} ms`);
  check(sample.jitterMs, 'jitterMs', (v) => `dao động trễ ${Math.round(v)} ms`);
  // Audio first: the link still carries speech, but a technician must see that it carries nothing else.
  if (sample.audioOnly) {
    if (status === 'ok') status = 'degraded';
    const way = sample.audioOnly === 'up' ? ' (chiều lên)' : sample.audioOnly === 'down' ? ' (chiều xuống)' : '';
    reasons.unshift(`${AUDIO_ONLY_LABEL}${way}`);
  }
  return { status, reasons };
}

/** A status change of a bridge. */
export interface HealthAlert {
  bridgeId: string;
  at: number;
  from: HealthStatus | null;
  to: HealthStatus;
  reasons: string[];
}

/** What the book knows of one bridge. */
export interface BridgeHealth {
  bridgeId: string;
  status: HealthStatus;
  reasons: string[];
  since: number;
  last: LinkSample | null;
  history: LinkSample[];
}

/**
 * How a connected link's status is confirmed: over the last `window` samples, the worst status
 * that at least `confirm` of them reached (so with 2 of 5 at 2 s a sample: a worse status shows
 * after two samples, a better one after four, and a link flapping every sample stays at the
 * worse). Offline and absent come from the hall's presence, which is debounced already: at once.
 */
export interface Hysteresis {
  window: number;
  confirm: number;
}

export const DEFAULT_HYSTERESIS: Hysteresis = { window: 5, confirm: 2 };

/** Severity of a connected status (for the hysteresis window). */
const LINK_SEVERITY = { ok: 0, degraded: 1, bad: 2 } as const;

/** A bridge's recent raw assessments while connected (reset when it goes offline). */
type Recent = { status: 'ok' | 'degraded' | 'bad'; reasons: string[] }[];

/** The confirmed status of a window of raw assessments, with the reasons of the latest sample at it or worse. */
export function confirmedStatus(recent: Recent, h: Hysteresis = DEFAULT_HYSTERESIS): Assessment {
  for (const status of ['bad', 'degraded'] as const) {
    const at = recent.filter((r) => LINK_SEVERITY[r.status] >= LINK_SEVERITY[status]);
    if (at.length >= h.confirm) return { status, reasons: at.at(-1)!.reasons };
  }
  return { status: 'ok', reasons: recent.at(-1)?.reasons ?? [] };
}

/** Keeps every bridge's status and history (a ring of the last `historySize` samples: 900 × 2 s = 30 min). */
export class HealthBook {
  readonly #thresholds: HealthThresholds;
  readonly #hysteresis: Hysteresis;
  readonly #historySize: number;
  readonly #bridges = new Map<string, BridgeHealth>();
  readonly #recent = new Map<string, Recent>();

  constructor(options: { thresholds?: HealthThresholds; historySize?: number; hysteresis?: Hysteresis } = {}) {
    this.#thresholds = options.thresholds ?? DEFAULT_THRESHOLDS;
    this.#hysteresis = options.hysteresis ?? DEFAULT_HYSTERESIS;
    this.#historySize = options.historySize ?? 900;
  }

  /**
   * Records a sample of a bridge; returns the alert when its confirmed status changed (see
   * Hysteresis). History survives reconnections.
   */
  record(bridgeId: string, sample: LinkSample): HealthAlert | null {
    const raw = assess(sample, this.#thresholds);
    let recent = this.#recent.get(bridgeId) ?? [];
    let confirmed: Assessment;
    if (raw.status === 'offline' || raw.status === 'absent') {
      recent = [];
      confirmed = raw;
    } else {
      recent = [...recent, { status: raw.status, reasons: raw.reasons }].slice(-this.#hysteresis.window);
      confirmed = confirmedStatus(recent, this.#hysteresis);
    }
    this.#recent.set(bridgeId, recent);
    const { status, reasons } = confirmed;
    let b = this.#bridges.get(bridgeId);
    const from = b?.status ?? null;
    if (!b) {
      b = { bridgeId, status, reasons, since: sample.at, last: null, history: [] };
      this.#bridges.set(bridgeId, b);
    }
    b.history.push(sample);
    if (b.history.length > this.#historySize) b.history.splice(0, b.history.length - this.#historySize);
    b.last = sample;
    b.reasons = reasons;
    if (from === status) return null;
    b.status = status;
    b.since = sample.at;
    return { bridgeId, at: sample.at, from, to: status, reasons };
  }

  /** One bridge's health (null before its first sample). */
  get(bridgeId: string): BridgeHealth | null {
    return this.#bridges.get(bridgeId) ?? null;
  }

  /** Every bridge's status, without histories. */
  summary(): { bridgeId: string; status: HealthStatus; reasons: string[]; since: number; last: LinkSample | null }[] {
    return [...this.#bridges.values()].map(({ bridgeId, status, reasons, since, last }) => ({ bridgeId, status, reasons, since, last }));
  }
}

/** The ready checklist of a hall from its link test (and its roll-call readiness). */
export interface LinkTestInput {
  rttMs?: number | null;
  lossPct?: number | null;
  bitrateKbps?: number | null;
  camera: boolean;
  microphone: boolean;
  mediaConnected: boolean;
  reportedReady: boolean;
}

/** What a programme in 720p needs of a hall's uplink, with margin. */
export const LINK_TEST_MIN_KBPS = 1500;

/** The per-bridge ready checklist, in Vietnamese; ready when every item is ok. */
export function linkChecklist(input: LinkTestInput, t: HealthThresholds = DEFAULT_THRESHOLDS): { items: { item: string; label: string; ok: boolean }[]; ready: boolean } {
  const items = [
    { item: 'camera', label: 'Camera hoạt động', ok: input.camera },
    { item: 'microphone', label: 'Micrô hoạt động', ok: input.microphone },
    { item: 'media', label: 'Kết nối hình và tiếng tới máy chủ', ok: input.mediaConnected },
    { item: 'rtt', label: input.rttMs != null ? `Độ trễ ${Math.round(input.rttMs)} ms (dưới ${t.degraded.rttMs} ms)` : 'Độ trễ: chưa đo được', ok: input.rttMs != null && input.rttMs < t.degraded.rttMs },
    { item: 'loss', label: input.lossPct != null ? `Mất gói ${vn(input.lossPct)}% (dưới ${t.degraded.lossPct}%)` : 'Mất gói: chưa đo được', ok: input.lossPct != null && input.lossPct < t.degraded.lossPct },
    { item: 'bitrate', label: input.bitrateKbps != null ? `Băng thông lên ${Math.round(input.bitrateKbps)} kbps (cần ${LINK_TEST_MIN_KBPS} kbps)` : 'Băng thông: chưa đo được', ok: input.bitrateKbps != null && input.bitrateKbps >= LINK_TEST_MIN_KBPS },
    { item: 'ready', label: 'Điểm cầu đã báo sẵn sàng', ok: input.reportedReady },
  ];
  return { items, ready: items.every((i) => i.ok) };
}
