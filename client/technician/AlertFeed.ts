import { STATUS_LABEL, clockTime, type TileStatus } from './words.ts';

/** A status change of a bridge, as the server pushes it ('health:alert'). */
export interface HealthAlertMessage {
  bridgeId: string;
  bridgeName: string;
  at: number;
  from: string | null;
  to: string;
  reasons: string[];
}

const KEEP = 200;
const label = (s: string | null): string => (s && s in STATUS_LABEL ? STATUS_LABEL[s as TileStatus] : (s ?? '—'));

/** The alert feed: every status change, newest first, with time, bridge, from → to and reasons. */
export class AlertFeed {
  readonly #list: HTMLElement;
  readonly #count: HTMLElement;
  readonly #onSelect: (bridgeId: string) => void;
  #total = 0;

  constructor(list: HTMLElement, count: HTMLElement, onSelect: (bridgeId: string) => void) {
    this.#list = list;
    this.#count = count;
    this.#onSelect = onSelect;
    this.#showEmpty();
  }

  /** Adds an alert on top. A bridge's first status (from nothing) is not news and is left out. */
  add(alert: HealthAlertMessage): void {
    if (alert.from === null) return;
    if (this.#total === 0) this.#list.replaceChildren();
    this.#total++;
    const li = document.createElement('li');
    li.className = `alert to-${alert.to}`;
    li.dataset.bridgeId = alert.bridgeId;
    const time = document.createElement('time');
    time.textContent = clockTime(alert.at);
    const name = document.createElement('button');
    name.type = 'button';
    name.className = 'a-name';
    name.textContent = alert.bridgeName;
    name.addEventListener('click', () => this.#onSelect(alert.bridgeId));
    const change = document.createElement('span');
    change.className = 'a-change';
    const from = document.createElement('span');
    from.className = `pill st-${alert.from}`;
    from.textContent = label(alert.from);
    const to = document.createElement('span');
    to.className = `pill st-${alert.to}`;
    to.textContent = label(alert.to);
    change.append(from, ' → ', to);
    li.append(time, name, change);
    if (alert.reasons.length && alert.to !== 'offline' && alert.to !== 'absent' && alert.to !== 'ok') {
      const reasons = document.createElement('span');
      reasons.className = 'a-reasons';
      reasons.textContent = alert.reasons.join('; ');
      li.append(reasons);
    }
    this.#list.prepend(li);
    while (this.#list.childElementCount > KEEP) this.#list.lastElementChild?.remove();
    this.#count.textContent = `(${this.#total})`;
  }

  #showEmpty(): void {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = 'Chưa có cảnh báo. Mỗi lần một điểm cầu đổi trạng thái sẽ hiện ở đây.';
    this.#list.replaceChildren(li);
  }
}
