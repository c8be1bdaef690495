import type { BridgeInfo } from '../shared/bridges.ts';
import type { LinkSample } from '../../server/core/health.ts';
import type { BridgeHealthDetail, HealthLine, LinkEvent, LinkTestResult } from '../../server/protocol/control.ts';
import { Sparkline } from './Sparkline.ts';
import { checklistElement, type ChecklistView } from './checklist.ts';
import { MEDIA_PATH_LABEL, STATUS_LABEL, clockTime, durationSince, eventLabel, measure, tierLabel, type TileStatus } from './words.ts';


/** The drill-down's elements (static in technician.html). */
export interface DrillDownElements {
  panel: HTMLElement;
  name: HTMLElement;
  where: HTMLElement;
  badge: HTMLElement;
  reasons: HTMLElement;
  since: HTMLElement;
  metrics: HTMLElement;
  sparks: HTMLElement;
  span: HTMLElement;
  lastAt: HTMLElement;
  testButton: HTMLButtonElement;
  testState: HTMLElement;
  checklist: HTMLElement;
  events: HTMLElement;
}

export interface DrillDownDeps {
  bridges: Map<string, BridgeInfo>;
  /** Asks the server for a bridge's history, events and last test. */
  load: (bridgeId: string) => Promise<BridgeHealthDetail | null>;
  /** Computes the checklist of a test result the server kept (no checklist stored with it). */
  checklistOf: (bridgeId: string, test: { at: number; result: LinkTestResult }) => ChecklistView;
  /** Starts the link test of this bridge. */
  test: (bridgeId: string) => void;
}

/** The measures of the last sample, in the order a technician reads them. */
const METRICS: { key: string; label: string; text: (s: LinkSample) => string }[] = [
  { key: 'rtt', label: 'Độ trễ khứ hồi', text: (s) => measure(s.rttMs, 'ms') },
  { key: 'jitter', label: 'Dao động trễ', text: (s) => measure(s.jitterMs, 'ms') },
  { key: 'loss-up', label: 'Mất gói chiều lên', text: (s) => measure(s.lossUpPct, '%', 1) },
  { key: 'loss-down', label: 'Mất gói chiều xuống', text: (s) => measure(s.lossDownPct, '%', 1) },
  { key: 'bitrate', label: 'Tốc độ lên / xuống', text: (s) => `${measure(s.bitrateUpKbps, '')} / ${measure(s.bitrateDownKbps, 'kbps')}` },
  { key: 'available', label: 'Băng thông lên khả dụng', text: (s) => measure(s.availableOutKbps, 'kbps') },
  { key: 'video-sent', label: 'Hình gửi đi', text: (s) => video(s.frameHeightSent, s.fpsSent) },
  { key: 'video-received', label: 'Hình nhận về', text: (s) => video(s.frameHeightReceived, s.fpsReceived) },
  { key: 'audio', label: 'Mức âm micrô', text: (s) => (typeof s.audioLevel === 'number' ? `${Math.round(s.audioLevel * 100)} %` : '—') },
  { key: 'score', label: 'Điểm chất lượng lên / xuống (0–10)', text: (s) => `${measure(s.scoreUp, '')} / ${measure(s.scoreDown, '')}` },
  { key: 'nack', label: 'Yêu cầu gửi lại (NACK)', text: (s) => measure(s.nackPerSec, 'lần/giây', 1) },
  { key: 'ice', label: 'Trạng thái ICE', text: (s) => s.iceState ?? '—' },
  { key: 'path', label: 'Kết nối media', text: (s) => (s.mediaPath && s.mediaPath in MEDIA_PATH_LABEL ? MEDIA_PATH_LABEL[s.mediaPath] : '—') },
];

function video(height: number | undefined, fps: number | undefined): string {
  if (typeof height !== 'number' && typeof fps !== 'number') return '—';
  return `${typeof height === 'number' ? `${height}p` : '—'} · ${measure(fps, 'hình/giây')}`;
}

/** How many samples the dashboard keeps for a bridge (30 minutes at 2 s, like the server). */
const HISTORY_MAX = 900;

/**
 * One bridge in detail: status and reasons since when, the last measures, sparklines of round
 * trip, loss each way and bitrate over its history, its connection events and its link test.
 * The history is loaded once and then grows from the 2-second summaries.
 */
export class DrillDown {
  readonly #el: DrillDownElements;
  readonly #deps: DrillDownDeps;
  readonly #rtt = new Sparkline('Độ trễ khứ hồi (ms)', [{ label: '', className: 'rtt' }], 50);
  readonly #loss = new Sparkline('Mất gói (%)', [{ label: 'lên', className: 'up' }, { label: 'xuống', className: 'down' }], 2);
  readonly #bitrate = new Sparkline('Tốc độ (kbps)', [{ label: 'lên', className: 'up' }, { label: 'xuống', className: 'down' }], 100);
  readonly #metricValues = new Map<string, HTMLElement>();
  #bridgeId: string | null = null;
  #history: LinkSample[] = [];
  #line: { status: TileStatus; reasons: string[]; since: number | null } | null = null;
  #loading = 0;
  #testBusy = false;

  constructor(el: DrillDownElements, deps: DrillDownDeps) {
    this.#el = el;
    this.#deps = deps;
    el.sparks.replaceChildren(this.#rtt.el, this.#loss.el, this.#bitrate.el);
    for (const m of METRICS) {
      const dt = document.createElement('dt');
      dt.textContent = m.label;
      const dd = document.createElement('dd');
      dd.dataset.metric = m.key;
      dd.textContent = '—';
      el.metrics.append(dt, dd);
      this.#metricValues.set(m.key, dd);
    }
    el.testButton.addEventListener('click', () => {
      if (this.#bridgeId) this.#deps.test(this.#bridgeId);
    });
  }

  /** The bridge shown, or null when closed. */
  get bridgeId(): string | null {
    return this.#bridgeId;
  }

  /** Shows a bridge (loading its history and events). */
  async open(bridgeId: string): Promise<void> {
    const bridge = this.#deps.bridges.get(bridgeId);
    this.#bridgeId = bridgeId;
    this.#history = [];
    this.#line = null;
    this.#el.panel.hidden = false;
    this.#el.name.textContent = bridge?.name ?? bridgeId;
    const parent = bridge?.parentId ? this.#deps.bridges.get(bridge.parentId) : undefined;
    this.#el.where.textContent = bridge ? `${tierLabel(bridge.tier)}${bridge.tier === 'commune' && parent ? ` — ${parent.name}` : ''}` : '';
    this.#el.checklist.replaceChildren();
    this.#el.testState.textContent = '';
    this.#testBusy = false;
    this.#el.events.replaceChildren();
    await this.refresh();
  }

  /** Closes the panel. */
  close(): void {
    this.#bridgeId = null;
    this.#el.panel.hidden = true;
  }

  /** Reloads the bridge's history and events from the server. */
  async refresh(): Promise<void> {
    const bridgeId = this.#bridgeId;
    if (!bridgeId) return;
    const ticket = ++this.#loading;
    const detail = await this.#deps.load(bridgeId).catch(() => null);
    if (ticket !== this.#loading || bridgeId !== this.#bridgeId || !detail) return;
    this.#history = detail.history.slice(-HISTORY_MAX);
    this.#line = { status: detail.status ?? 'unknown', reasons: detail.reasons, since: detail.since };
    this.#drawEvents(detail.events);
    if (detail.test && !this.#el.checklist.hasChildNodes()) this.showChecklist(this.#deps.checklistOf(bridgeId, detail.test));
    this.#draw();
  }

  /** Follows the 2-second summary: the bridge's status, and its newest sample added to the history. */
  onSummary(line: HealthLine): void {
    if (line.bridgeId !== this.#bridgeId) return;
    this.#line = { status: line.status, reasons: line.reasons, since: line.since };
    const last = line.last as LinkSample | null;
    const newest = this.#history[this.#history.length - 1];
    if (last && (!newest || last.at > newest.at)) {
      this.#history.push(last);
      if (this.#history.length > HISTORY_MAX) this.#history.splice(0, this.#history.length - HISTORY_MAX);
    }
    this.#draw();
  }

  /** Shows a link test's checklist of the bridge shown. */
  showChecklist(view: ChecklistView): void {
    this.#el.checklist.replaceChildren(checklistElement(view, clockTime(view.at)));
  }

  /** Says where the link test of the bridge shown stands. */
  setTestState(text: string, busy: boolean): void {
    this.#el.testState.textContent = text;
    this.#testBusy = busy;
    this.#updateTestButton();
  }

  #updateTestButton(): void {
    const status = this.#line?.status ?? 'unknown';
    const disabled = this.#testBusy || status === 'offline' || status === 'absent' || status === 'unknown';
    if (this.#el.testButton.disabled !== disabled) this.#el.testButton.disabled = disabled;
  }

  #draw(): void {
    const line = this.#line;
    const status = line?.status ?? 'unknown';
    this.#el.badge.className = `badge st-${status}`;
    this.#el.badge.textContent = STATUS_LABEL[status];
    this.#el.reasons.textContent = line && status !== 'ok' && status !== 'offline' && status !== 'absent' ? line.reasons.join('; ') : '';
    this.#el.since.textContent = line?.since ? `${STATUS_LABEL[status]} từ ${clockTime(line.since)} (${durationSince(line.since, Date.now())})` : '';
    this.#updateTestButton();

    const history = this.#history;
    const last = [...history].reverse().find((s) => s.online) ?? null;
    this.#el.lastAt.textContent = last ? `Số đo gần nhất lúc ${clockTime(last.at)}${status === 'offline' ? ', trước khi mất kết nối' : ''}` : 'Chưa có số đo.';
    for (const m of METRICS) {
      const text = last ? m.text(last) : '—';
      const dd = this.#metricValues.get(m.key)!;
      if (dd.textContent !== text) dd.textContent = text;
    }
    const times = history.map((s) => s.at);
    const value = (s: LinkSample, v: number | undefined): number | null => (s.online && typeof v === 'number' ? v : null);
    this.#rtt.draw(times, [{ label: '', className: 'rtt', values: history.map((s) => value(s, s.rttMs)) }]);
    this.#loss.draw(times, [
      { label: 'lên', className: 'up', values: history.map((s) => value(s, s.lossUpPct)) },
      { label: 'xuống', className: 'down', values: history.map((s) => value(s, s.lossDownPct)) },
    ]);
    this.#bitrate.draw(times, [
      { label: 'lên', className: 'up', values: history.map((s) => value(s, s.bitrateUpKbps)) },
      { label: 'xuống', className: 'down', values: history.map((s) => value(s, s.bitrateDownKbps)) },
    ]);
    this.#el.span.textContent = history.length ? `Diễn biến ${durationSince(history[0]!.at, history[history.length - 1]!.at)} qua (${clockTime(history[0]!.at)} – ${clockTime(history[history.length - 1]!.at)})` : 'Chưa có số liệu.';
  }

  #drawEvents(events: LinkEvent[]): void {
    if (!events.length) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.textContent = 'Chưa có sự kiện kết nối.';
      this.#el.events.replaceChildren(li);
      return;
    }
    const items = [...events].reverse().map((e) => {
      const li = document.createElement('li');
      li.className = `ev-${e.type}`;
      li.dataset.type = e.type;
      const time = document.createElement('time');
      time.textContent = clockTime(e.at);
      li.append(time, ` ${eventLabel(e.type)}${e.detail ? ` (${e.detail})` : ''}`);
      return li;
    });
    this.#el.events.replaceChildren(...items);
  }
}
