import { checklistElement, type ChecklistView } from './checklist.ts';
import { clockTime } from './words.ts';
import type { TestMark } from './TileBoard.ts';

/** What the server pushes when a hall finished its link test ('health:test'). */
export interface LinkTestMessage {
  bridgeId: string;
  bridgeName: string;
  at: number;
  checklist: { item: string; label: string; ok: boolean }[];
  ready: boolean;
}

/** How long a hall has to answer (the test runs 8 s on the hall). */
const ANSWER_WITHIN_MS = 25_000;

interface Row {
  el: HTMLElement;
  state: HTMLElement;
  body: HTMLElement;
  timer?: ReturnType<typeof setTimeout>;
  mark: TestMark;
}

/**
 * The pre-meeting link test as the technicians run it: which halls were asked, which answered,
 * and each one's ready checklist (newest on top), with a count of the ready ones.
 */
export class LinkTests {
  readonly #list: HTMLElement;
  readonly #summary: HTMLElement;
  readonly #rows = new Map<string, Row>();
  readonly #names: (bridgeId: string) => string;
  readonly #onMark: (bridgeId: string, mark: TestMark) => void;
  readonly #onSelect: (bridgeId: string) => void;

  constructor(list: HTMLElement, summary: HTMLElement, deps: { name: (bridgeId: string) => string; onMark: (bridgeId: string, mark: TestMark) => void; onSelect: (bridgeId: string) => void }) {
    this.#list = list;
    this.#summary = summary;
    this.#names = deps.name;
    this.#onMark = deps.onMark;
    this.#onSelect = deps.onSelect;
  }

  /** Whether a bridge's test is under way. */
  pending(bridgeId: string): boolean {
    return this.#rows.get(bridgeId)?.mark === 'pending';
  }

  /** The halls were asked to run the test. */
  started(bridgeIds: string[]): void {
    for (const id of [...bridgeIds].reverse()) {
      const row = this.#row(id);
      clearTimeout(row.timer);
      row.timer = setTimeout(() => this.#noAnswer(id), ANSWER_WITHIN_MS);
      row.state.textContent = 'Đang kiểm tra…';
      row.el.className = 'test-row pending';
      row.body.replaceChildren();
      this.#setMark(id, row, 'pending');
      this.#list.prepend(row.el);
    }
    this.#count();
  }

  /** A hall answered. */
  result(msg: LinkTestMessage): ChecklistView {
    const view: ChecklistView = { items: msg.checklist, ready: msg.ready, at: msg.at };
    const row = this.#row(msg.bridgeId);
    clearTimeout(row.timer);
    row.el.className = `test-row ${msg.ready ? 'ready' : 'not-ready'}`;
    row.state.textContent = msg.ready ? 'Sẵn sàng' : `Chưa sẵn sàng (${msg.checklist.filter((i) => !i.ok).length} mục chưa đạt)`;
    row.body.replaceChildren(checklistElement(view, clockTime(msg.at)));
    this.#setMark(msg.bridgeId, row, msg.ready ? 'ready' : 'not-ready');
    this.#list.prepend(row.el);
    this.#count();
    return view;
  }

  /** The request was refused (by the server): the rows say so. */
  failed(bridgeIds: string[], message: string): void {
    for (const id of bridgeIds) {
      const row = this.#row(id);
      clearTimeout(row.timer);
      row.el.className = 'test-row no-answer';
      row.state.textContent = message;
      this.#setMark(id, row, null);
    }
    this.#count();
  }

  #noAnswer(bridgeId: string): void {
    const row = this.#rows.get(bridgeId);
    if (!row || row.mark !== 'pending') return;
    row.el.className = 'test-row no-answer';
    row.state.textContent = 'Không nhận được kết quả (điểm cầu mất kết nối hoặc chưa mở trang điểm cầu)';
    this.#setMark(bridgeId, row, 'no-answer');
    this.#count();
  }

  #setMark(bridgeId: string, row: Row, mark: TestMark): void {
    row.mark = mark;
    row.el.dataset.state = mark ?? 'none';
    this.#onMark(bridgeId, mark);
  }

  #row(bridgeId: string): Row {
    let row = this.#rows.get(bridgeId);
    if (row) return row;
    const el = document.createElement('li');
    el.className = 'test-row';
    el.dataset.bridgeId = bridgeId;
    const head = document.createElement('div');
    head.className = 'test-head';
    const name = document.createElement('button');
    name.type = 'button';
    name.className = 'a-name';
    name.textContent = this.#names(bridgeId);
    name.addEventListener('click', () => this.#onSelect(bridgeId));
    const state = document.createElement('span');
    state.className = 'test-state';
    head.append(name, state);
    const body = document.createElement('div');
    body.className = 'test-body';
    el.append(head, body);
    row = { el, state, body, mark: null };
    this.#rows.set(bridgeId, row);
    return row;
  }

  #count(): void {
    let pending = 0;
    let ready = 0;
    let notReady = 0;
    let silent = 0;
    for (const r of this.#rows.values()) {
      if (r.mark === 'pending') pending++;
      else if (r.mark === 'ready') ready++;
      else if (r.mark === 'not-ready') notReady++;
      else if (r.mark === 'no-answer') silent++;
    }
    const parts = [`Sẵn sàng ${ready}`, `Chưa sẵn sàng ${notReady}`];
    if (pending) parts.push(`Đang kiểm tra ${pending}`);
    if (silent) parts.push(`Không trả lời ${silent}`);
    this.#summary.textContent = parts.join(' · ');
  }
}
