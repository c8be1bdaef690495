// The "Chia sẻ màn hình" card of the operator panel and of the chair's console: who shares now,
// the button that shares this PC's screen, and the one that stops the share (the chair's stops
// anyone's). Whether a start is allowed is the server's: a refusal is said under the buttons.
import type { ConferenceView } from '../../server/protocol/control.ts';
import { nameInSentence } from '../../server/core/names.ts';
import { screenEndedText } from '../../server/protocol/papers.ts';
import type { ScreenShare, ShareResult } from './ScreenShare.ts';
import { $ } from './ui.ts';

/** Elements: #screen-state, #screen-start, #screen-stop, #screen-msg. */
export class ScreenShareCard {
  readonly #share: ScreenShare;
  /** The chair's console: its stop button stops any hall's share. */
  readonly #stopsAnyone: boolean;
  #view: ConferenceView | null = null;
  #mayStart = false;

  constructor(share: ScreenShare, options: { stopsAnyone: boolean }) {
    this.#share = share;
    this.#stopsAnyone = options.stopsAnyone;
    share.onChange = () => this.#draw();
    // The picker opens from this click: nothing may be awaited before start().
    $('screen-start').onclick = () => void this.#answer(share.start());
    $('screen-stop').onclick = () => void this.#answer(share.stop());
  }

  /** Draws the card from the view; `mayStart`: the start button is offered (the server still decides). */
  render(view: ConferenceView, mayStart: boolean): void {
    this.#view = view;
    this.#mayStart = mayStart;
    this.#share.follow(view);
    this.#draw();
  }

  #draw(): void {
    const screen = this.#view?.screen ?? null;
    const ours = screen !== null && screen.bridgeId === this.#share.bridgeId;
    const ended = this.#view?.screenEnded ?? null;
    const lost = ended?.reason === 'source_lost' && (this.#stopsAnyone || ended.bridgeId === this.#share.bridgeId) ? ended : null;
    const start = $<HTMLButtonElement>('screen-start');
    const stop = $<HTMLButtonElement>('screen-stop');
    const state = $('screen-state');
    let text: string;
    let tone = '';
    if (this.#share.sharing) [text, tone] = ['Đang chia sẻ màn hình của máy này lên màn hình các điểm cầu.', 'ok'];
    else if (this.#share.starting) text = 'Đang chờ chọn cửa sổ hoặc màn hình để chia sẻ…';
    else if (ours && !this.#stopsAnyone) [text, tone] = ['Điểm cầu đang chia sẻ màn hình từ một máy khác.', 'ok'];
    else if (screen) [text, tone] = [`Điểm cầu ${nameInSentence(screen.bridgeName)} đang chia sẻ màn hình.`, 'warn'];
    // A share that ended by itself (the sharing PC's picture was lost): its hall and the chair are told why, until the next share.
    else if (lost) [text, tone] = [screenEndedText(lost.bridgeName, lost.reason), 'warn'];
    else text = this.#mayStart ? 'Có thể chia sẻ một cửa sổ hoặc cả màn hình của máy này lên màn hình các điểm cầu.' : 'Chỉ chia sẻ được màn hình khi điểm cầu đang phát biểu.';
    state.textContent = text;
    state.className = `state ${tone}`;
    start.hidden = this.#share.sharing || ours;
    start.disabled = !this.#mayStart || this.#share.starting;
    const canStop = this.#share.sharing || ours || (this.#stopsAnyone && screen !== null);
    stop.hidden = !canStop;
    stop.textContent = screen && this.#stopsAnyone && !this.#share.sharing ? `Dừng chia sẻ màn hình của điểm cầu ${nameInSentence(screen.bridgeName)}` : 'Dừng chia sẻ';
  }

  async #answer(result: Promise<ShareResult>): Promise<void> {
    const done = await result;
    const msg = $('screen-msg');
    msg.textContent = done.ok ? '' : done.text;
    msg.dataset.code = done.ok ? '' : done.code;
    this.#draw();
  }
}
