// The designated papers on the chair's console (the secretary's work): every slot received,
// late or missing, with when, pages, size and by whom; the halls to remind; uploading on a
// hall's behalf; putting a paper up on every screen and turning its pages.
import type { ConferenceView } from '../../server/protocol/control.ts';
import { megabytes, type PaperSlotView } from '../../server/protocol/papers.ts';
import type { ControlClient } from '../shared/ControlClient.ts';
import { openPaper, slotStateText, uploadPaper } from '../shared/papers.ts';
import { $, errorText, formatClock, h } from '../shared/ui.ts';

/** The "Tham luận" card of chair.html. */
export class PaperBoard {
  readonly #token: string;
  readonly #control: ControlClient;
  #view: ConferenceView | null = null;
  #key = '';

  constructor(token: string, control: ControlClient) {
    this.#token = token;
    this.#control = control;
    $('content-prev').onclick = () => void this.#turn(-1);
    $('content-next').onclick = () => void this.#turn(1);
    $('content-clear').onclick = () => void this.#run({ type: 'content_clear' });
  }

  /** Draws the card from the view (staff views carry every slot). */
  render(view: ConferenceView): void {
    this.#view = view;
    const papers = view.papers;
    if (!papers) return;
    const received = papers.slots.filter((s) => s.state !== 'missing').length;
    const late = papers.slots.filter((s) => s.state === 'late').length;
    const deadline = papers.deadline === null ? 'không đặt hạn' : `hạn ${new Date(papers.deadline).toLocaleString('vi-VN', { hour12: false })}`;
    $('papers-summary').textContent = `Đã nhận ${received}/${papers.slots.length} tham luận (${late} nộp muộn); ${deadline}; tối đa ${papers.maxPages} trang A4, ${megabytes(papers.maxBytes)}.`;
    const missing = papers.slots.filter((s) => s.state === 'missing');
    $('papers-remind').textContent = missing.length ? `Cần nhắc: ${missing.map((s) => `${s.bridgeName}${s.online ? '' : ' (chưa trực tuyến)'}`).join(', ')}.` : 'Đã nhận đủ tham luận.';
    // Rows keep their chosen files: rebuilt only when something received changes (or the content on screen).
    const key = JSON.stringify([papers.slots.map((s) => [s.slotId, s.current?.paperId ?? null, s.online]), view.content?.paperId ?? null, view.status]);
    if (key !== this.#key) {
      this.#key = key;
      $('papers-body').replaceChildren(...papers.slots.map((s) => this.#row(s, view)));
    }
    const content = view.content ?? null;
    $('content-now').hidden = !content;
    if (content) $('content-what').textContent = `Đang trình chiếu: tham luận của ${content.bridgeName}, trang ${content.page}/${content.pages}`;
    $<HTMLButtonElement>('content-prev').disabled = !content || content.page <= 1;
    $<HTMLButtonElement>('content-next').disabled = !content || content.page >= content.pages;
  }

  #row(slot: PaperSlotView, view: ConferenceView): HTMLElement {
    const v = slot.current;
    const input = h('input', { type: 'file', accept: 'application/pdf,.pdf', class: 'paper-file', 'aria-label': `Tệp tham luận của ${slot.bridgeName}` });
    const msg = h('div', { class: 'msg paper-msg' });
    const upload = h('button', { class: 'paper-upload' }, 'Gửi');
    upload.onclick = async () => {
      const file = input.files?.[0];
      if (!file) {
        msg.textContent = 'Chọn tệp PDF trước.';
        return;
      }
      upload.disabled = true;
      msg.textContent = 'Đang gửi và kiểm tra…';
      const result = await uploadPaper(this.#token, slot.slotId, file, this.#view?.papers?.maxBytes);
      upload.disabled = false;
      msg.className = `msg paper-msg ${result.ok ? 'ok' : 'bad'}`;
      msg.textContent = result.ok ? `Đã nhận ${result.paper.pages} trang.` : `Không nhận: ${result.message}`;
      msg.dataset.code = result.ok ? 'ok' : result.code;
    };
    const running = view.status === 'running' || view.status === 'break';
    const onScreen = v !== null && view.content?.paperId === v.paperId;
    const tone = slot.state === 'missing' ? 'bad' : slot.state === 'late' ? 'warn' : 'ok';
    return h(
      'li',
      { class: `paper-row ${slot.state}`, dataset: { slot: slot.slotId, bridge: slot.bridgeId } },
      h(
        'div',
        { class: 'paper-line' },
        h('b', { class: 'paper-hall' }, slot.bridgeName),
        h('span', { class: `tag ${tone}` }, slotStateText(slot.state)),
        h(
          'span',
          { class: 'paper-actions' },
          v && h('button', { onclick: () => void openPaper(this.#token, v.paperId).catch(() => undefined) }, 'Xem'),
          v && h('button', { class: 'primary paper-show', disabled: !running || onScreen, onclick: () => void this.#run({ type: 'content_show', paperId: v.paperId, page: 1 }) }, onScreen ? 'Đang chiếu' : 'Trình chiếu'),
        ),
      ),
      h('div', { class: 'paper-topic', title: slot.topic ?? slot.itemTitle }, slot.topic ?? slot.itemTitle),
      h(
        'div',
        { class: 'paper-version' },
        v ? `${formatClock(v.submittedAt)} ${new Date(v.submittedAt).toLocaleDateString('vi-VN')} · ${v.pages} trang · ${megabytes(v.bytes)} · ${v.by}${slot.history.length ? ` · bản ${v.version}` : ''}` : slot.online ? 'Chưa nộp — điểm cầu đang trực tuyến' : 'Chưa nộp — điểm cầu chưa trực tuyến',
      ),
      h('details', { class: 'paper-send' }, h('summary', {}, v ? 'Gửi bản mới thay điểm cầu' : 'Gửi thay điểm cầu'), h('div', { class: 'row' }, input, upload), msg),
    );
  }

  async #turn(step: number): Promise<void> {
    const content = this.#view?.content;
    if (content) await this.#run({ type: 'content_page', page: content.page + step });
  }

  async #run(command: Parameters<ControlClient['command']>[0]): Promise<void> {
    const reply = await this.#control.command(command);
    $('content-msg').textContent = reply.ok ? '' : errorText(reply.error);
  }
}
