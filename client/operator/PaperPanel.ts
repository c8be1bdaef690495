// The hall's paper on the operator panel: its submission (upload, what was received, the reason
// of a refusal) and, while the hall speaks, putting it up on every screen and turning its pages.
import type { ConferenceView } from '../../server/protocol/control.ts';
import type { PaperSlotView } from '../../server/protocol/papers.ts';
import type { ControlClient } from '../shared/ControlClient.ts';
import { slotStateText, uploadPaper, versionLine } from '../shared/papers.ts';
import { $, errorText, h } from '../shared/ui.ts';

/** The "Tham luận" card of operator.html. */
export class PaperPanel {
  readonly #token: string;
  readonly #control: ControlClient;
  #view: ConferenceView | null = null;
  /** The last answer per slot: kept when the slot's row is drawn again. */
  readonly #answers = new Map<string, { text: string; tone: string; code: string }>();

  constructor(token: string, control: ControlClient) {
    this.#token = token;
    this.#control = control;
    $('paper-show').onclick = () => void this.#show();
    $('paper-prev').onclick = () => void this.#turn(-1);
    $('paper-next').onclick = () => void this.#turn(1);
    $('paper-clear').onclick = () => void this.#command({ type: 'content_clear' });
  }

  /** Draws the card from the view. */
  render(view: ConferenceView): void {
    this.#view = view;
    const slots = view.mine?.papers ?? [];
    $('paper-card').hidden = slots.length === 0;
    const list = $('paper-slots');
    // The upload forms keep their chosen file: rebuilt only when the slots' versions change.
    const key = JSON.stringify(slots.map((s) => [s.slotId, s.current?.paperId ?? null]));
    if (list.dataset.key !== key) {
      list.dataset.key = key;
      list.replaceChildren(...slots.map((s) => this.#slotRow(s)));
    }
    const mine = view.mine?.bridgeId;
    const speaking = view.floor?.bridgeId === mine;
    const content = view.content ?? null;
    const own = content !== null && content.bridgeId === mine;
    const current = slots.find((s) => s.current)?.current ?? null;
    $('paper-present').hidden = !speaking && !own;
    $<HTMLButtonElement>('paper-show').hidden = own || !current;
    $<HTMLButtonElement>('paper-show').disabled = !speaking;
    const turning = own && view.mine?.mayTurnPages === true;
    for (const id of ['paper-prev', 'paper-next', 'paper-clear']) $(id).hidden = !turning;
    $<HTMLButtonElement>('paper-prev').disabled = !content || content.page <= 1;
    $<HTMLButtonElement>('paper-next').disabled = !content || content.page >= content.pages;
    $('paper-page').textContent = own ? `Đang trình chiếu: trang ${content.page}/${content.pages}` : speaking && current ? 'Có thể trình chiếu tham luận lên màn hình các điểm cầu.' : '';
  }

  #slotRow(slot: PaperSlotView): HTMLElement {
    const input = h('input', { type: 'file', accept: 'application/pdf,.pdf', class: 'paper-file', dataset: { slot: slot.slotId } });
    const last = this.#answers.get(slot.slotId);
    const msg = h('p', { class: `msg paper-msg ${last?.tone ?? ''}`, role: 'status', dataset: last ? { code: last.code } : {} }, last?.text ?? '');
    const send = h('button', { class: 'primary paper-upload', dataset: { slot: slot.slotId } }, slot.current ? 'Gửi bản mới' : 'Gửi tham luận');
    send.onclick = async () => {
      const file = input.files?.[0];
      if (!file) {
        msg.textContent = 'Xin chọn tệp PDF của tham luận.';
        return;
      }
      send.disabled = true;
      msg.className = 'msg paper-msg';
      msg.textContent = 'Đang gửi và kiểm tra tệp…';
      const result = await uploadPaper(this.#token, slot.slotId, file);
      send.disabled = false;
      const answer = {
        text: result.ok ? `Đã nhận: ${result.paper.pages} trang${result.paper.late ? ' (nộp sau hạn)' : ''}.` : `Không nhận: ${result.message}`,
        tone: result.ok ? 'ok' : 'bad',
        code: result.ok ? 'ok' : result.code,
      };
      this.#answers.set(slot.slotId, answer);
      // The row may have been drawn again meanwhile (the view announced the new version).
      for (const el of document.querySelectorAll<HTMLElement>(`.paper-slot[data-slot="${slot.slotId}"] .paper-msg`)) {
        el.className = `msg paper-msg ${answer.tone}`;
        el.textContent = answer.text;
        el.dataset.code = answer.code;
      }
    };
    return h(
      'div',
      { class: `paper-slot ${slot.state}`, dataset: { slot: slot.slotId } },
      h('div', { class: 'paper-head' }, h('b', {}, slot.itemTitle), ' ', h('span', { class: `tag ${slot.state === 'missing' ? 'bad' : slot.state === 'late' ? 'warn' : 'ok'}` }, slotStateText(slot.state))),
      slot.topic && h('div', { class: 'sub' }, `Chủ đề: ${slot.topic}`),
      h('div', { class: 'paper-version' }, versionLine(slot)),
      h('div', { class: 'row' }, input, send),
      msg,
    );
  }

  async #show(): Promise<void> {
    const current = (this.#view?.mine?.papers ?? []).find((s) => s.current)?.current;
    if (current) await this.#command({ type: 'content_show', paperId: current.paperId, page: 1 });
  }

  async #turn(step: number): Promise<void> {
    const content = this.#view?.content;
    if (content) await this.#command({ type: 'content_page', page: content.page + step });
  }

  async #command(command: Parameters<ControlClient['command']>[0]): Promise<void> {
    const reply = await this.#control.command(command);
    $('paper-present-msg').textContent = reply.ok ? '' : errorText(reply.error);
  }
}
