// The back-channel on the pages: a hall's operator signals "Không nghe rõ", "Mất tiếng", "Mất hình"
// with one click or writes a line to the organisers; the chair, the secretary and the technicians
// read every hall's messages and answer one hall or write to each other. The messages go through
// the server's core (send_message) and come back in the view; nothing is kept on the page.
import type { ConferenceView } from '../../server/protocol/control.ts';
// From the core, not the protocol module: the protocol would bring zod into these pages.
import { MAX_MESSAGE_TEXT, QUICK_MESSAGE_TEXT, STAFF, type MessageKind } from '../../server/core/conference/messages.ts';
import type { ControlClient } from './ControlClient.ts';
import { errorText, formatClock, h } from './ui.ts';

type MessageView = NonNullable<ConferenceView['messages']>[number];

/** A message marked new for this long after it arrived. */
const NEW_MS = 15_000;

const SENDER: Record<string, string> = { chair: 'Chủ tọa', secretary: 'Thư ký', technician: 'Kỹ thuật viên Viễn thông' };

/** Who wrote a message, as a person reads it on this page. */
function senderName(m: MessageView, ownBridge: string | null): string {
  if (m.fromBridgeId && m.fromBridgeId === ownBridge) return 'Điểm cầu này';
  return m.fromName ?? SENDER[m.fromRole] ?? m.fromRole;
}

/**
 * The back-channel box of one page: the hall's (quick signals, a line to the organisers, its own
 * conversation) or the organisers' (every hall's messages, an answer to one hall or to the organisers).
 */
export class BackChannel {
  readonly #root: HTMLElement;
  readonly #control: ControlClient;
  /** The operator's own hall, or null on a staff page. */
  readonly #bridgeId: string | null;
  readonly #list = h('ol', { class: 'bc-list', 'aria-live': 'polite' });
  readonly #input = h('input', { type: 'text', maxLength: MAX_MESSAGE_TEXT, 'aria-label': 'Nội dung tin nhắn', autocomplete: 'off' });
  readonly #target = h('select', { 'aria-label': 'Gửi tới' });
  readonly #msg = h('p', { class: 'msg', role: 'status' });
  readonly #count: HTMLElement | null;
  /** When each message was first shown (0: it was there when the page opened). */
  readonly #seen = new Map<string, number>();
  #shown: string | null = null;

  constructor(root: HTMLElement, control: ControlClient, options: { bridgeId?: string | null; count?: HTMLElement | null } = {}) {
    this.#root = root;
    this.#control = control;
    this.#bridgeId = options.bridgeId ?? null;
    this.#count = options.count ?? null;
    this.#input.placeholder = this.#bridgeId ? 'Nhắn ban tổ chức, kỹ thuật viên…' : 'Trả lời điểm cầu, hoặc nhắn ban tổ chức…';
    const form = h('form', { class: 'bc-form', onsubmit: (e: Event) => void this.#submit(e) });
    if (!this.#bridgeId) form.append(this.#target);
    form.append(this.#input, h('button', { type: 'submit', class: 'primary' }, 'Gửi'));
    const quick = this.#bridgeId
      ? h(
          'div',
          { class: 'bc-quick' },
          ...(Object.entries(QUICK_MESSAGE_TEXT) as [Exclude<MessageKind, 'text'>, string][]).map(([kind, text]) =>
            h('button', { type: 'button', class: 'danger quick', dataset: { kind }, onclick: () => void this.#send(kind, this.#input.value) }, text),
          ),
        )
      : null;
    this.#setTargets([]);
    const parts: HTMLElement[] = [form, this.#msg, this.#list];
    if (quick) parts.unshift(quick);
    root.replaceChildren(...parts);
  }

  /** Shows the messages of a new view (only when they changed). */
  update(view: ConferenceView): void {
    const messages = view.messages ?? [];
    const key = messages.map((m) => m.id).join(',');
    if (key === this.#shown) return;
    this.#shown = key;
    const now = Date.now();
    const first = this.#seen.size === 0;
    for (const m of messages) if (!this.#seen.has(m.id)) this.#seen.set(m.id, first ? 0 : now);
    const fromHalls = messages.filter((m) => m.fromBridgeId && m.fromBridgeId !== this.#bridgeId);
    if (this.#count) this.#count.textContent = messages.length ? `(${messages.length})` : '';
    this.#list.replaceChildren(
      ...(messages.length === 0
        ? [h('li', { class: 'empty' }, this.#bridgeId ? 'Chưa có tin nhắn. Các nút trên gửi ngay tới chủ tọa và kỹ thuật viên.' : 'Chưa có tin nhắn từ các điểm cầu.')]
        : [...messages].reverse().map((m) => {
            const mine = this.#bridgeId !== null && m.fromBridgeId === this.#bridgeId;
            const fresh = now - (this.#seen.get(m.id) ?? 0) < NEW_MS;
            const to = m.to === STAFF ? '' : ` → ${m.toName ?? m.to}`;
            return h(
              'li',
              { class: `${m.fromBridgeId ? 'from-hall' : 'from-staff'}${mine ? ' mine' : ''}${fresh ? ' new' : ''}`, dataset: { id: m.id, kind: m.kind } },
              // Spaces between the parts: the line reads (and copies) as one sentence, not "09:12Xã…:Không…".
              h('time', {}, formatClock(m.at)),
              ' ',
              h('span', { class: 'who' }, `${senderName(m, this.#bridgeId)}${this.#bridgeId ? '' : to}:`),
              ' ',
              m.text,
              !this.#bridgeId && m.fromBridgeId
                ? h('button', { type: 'button', class: 'reply secondary', onclick: () => this.#replyTo(m.fromBridgeId!) }, 'Trả lời')
                : null,
            );
          })),
    );
    if (!this.#bridgeId) this.#setTargets(fromHalls);
  }

  /** The staff's "send to" choice: the organisers, or a hall that wrote. */
  #setTargets(fromHalls: MessageView[]): void {
    if (this.#bridgeId) return;
    const chosen = this.#target.value || STAFF;
    const halls = new Map<string, string>();
    for (const m of [...fromHalls].reverse()) if (m.fromBridgeId && !halls.has(m.fromBridgeId)) halls.set(m.fromBridgeId, m.fromName ?? m.fromBridgeId);
    this.#target.replaceChildren(
      h('option', { value: STAFF }, 'Ban tổ chức (chủ tọa, thư ký, kỹ thuật viên)'),
      ...[...halls].map(([id, name]) => h('option', { value: id }, `Điểm cầu: ${name}`)),
    );
    this.#target.value = [...this.#target.options].some((o) => o.value === chosen) ? chosen : STAFF;
  }

  #replyTo(bridgeId: string): void {
    this.#target.value = bridgeId;
    this.#input.focus();
  }

  async #submit(e: Event): Promise<void> {
    e.preventDefault();
    if (!this.#input.value.trim()) {
      this.#msg.textContent = 'Xin nhập nội dung tin nhắn.';
      this.#input.focus();
      return;
    }
    await this.#send('text', this.#input.value);
  }

  async #send(kind: MessageKind, text: string): Promise<void> {
    const to = this.#bridgeId ? STAFF : this.#target.value || STAFF;
    const note = text.trim();
    const reply = await this.#control.command({ type: 'send_message', to, kind, text: note || null });
    if (reply.ok) {
      this.#input.value = '';
      this.#msg.textContent = `Đã gửi lúc ${formatClock(this.#control.serverNow())}.`;
    } else this.#msg.textContent = errorText(reply.error);
  }

  /** The root element (tests, layout). */
  get element(): HTMLElement {
    return this.#root;
  }
}
