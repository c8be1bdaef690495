import type { ControlClient } from '../shared/ControlClient.ts';
import type { BridgeInfo } from '../shared/bridges.ts';
import { drawMaket } from '../shared/maket.ts';
import { $, errorText, h } from '../shared/ui.ts';
import { renderMaket } from '../../server/core/maket.ts';
import type { ConferencePlan } from '../../server/protocol/plan.ts';
import { chairBridgeOf } from '../../server/protocol/chair.ts';
import type { ConferenceView } from '../../server/protocol/control.ts';

type MaketTemplate = { lines: string[]; background: string; textColour: string };

/**
 * The secretary's maket and date editor. It edits the template (with {LOCALITY_UPPER},
 * {PLACE}, {DD}…, filled per hall by the server) and previews it live for any hall, as that
 * hall's display will draw it.
 */
export class MaketEditor {
  readonly #control: ControlClient;
  readonly #plan: ConferencePlan;
  readonly #storageKey: string;
  /** The template in force, as far as this page knows (see #inForce). */
  #applied: MaketTemplate;
  #dirty = false;
  #dateDirty = false;

  constructor(control: ControlClient, plan: ConferencePlan, bridges: Map<string, BridgeInfo>) {
    this.#control = control;
    this.#plan = plan;
    this.#storageKey = `diemcau.maket.${control.view?.conferenceId ?? plan.title}`;
    this.#applied = this.#planTemplate();
    const select = $<HTMLSelectElement>('maket-bridge');
    const sample = [...bridges.values()];
    const province = sample.find((b) => b.tier === 'province');
    const districts = sample.filter((b) => b.tier === 'district');
    select.replaceChildren(
      ...(province ? [h('option', { value: province.id }, `${province.name} (cấp tỉnh)`)] : []),
      h('optgroup', { label: 'Cấp huyện' }, ...districts.map((d) => h('option', { value: d.id }, d.name))),
      ...districts.map((d) =>
        h('optgroup', { label: `Cấp xã — ${d.name}` }, ...sample.filter((c) => c.parentId === d.id).map((c) => h('option', { value: c.id }, c.name))),
      ),
    );
    const lines = $<HTMLTextAreaElement>('maket-lines');
    const edited = (): void => {
      this.#dirty = true;
      this.preview();
    };
    lines.oninput = edited;
    $<HTMLInputElement>('maket-bg').oninput = edited;
    $<HTMLInputElement>('maket-fg').oninput = edited;
    $<HTMLInputElement>('meeting-date').oninput = () => {
      this.#dateDirty = true;
      this.preview();
    };
    select.onchange = () => this.preview();
    $('maket-apply').onclick = () => void this.#apply();
    $('maket-reset').onclick = () => void this.#reset();
    $('date-apply').onclick = () => void this.#setDate($<HTMLInputElement>('meeting-date').value || null);
    $('date-clear').onclick = () => void this.#setDate(null);
    control.on('event', (event) => {
      if (event.type === 'maket_changed') {
        this.#applied = { ...this.#planTemplate(), ...(event.maket ?? {}) };
        this.#remember();
        if (!this.#dirty) this.#fill();
      }
    });
    this.#applied = this.#inForce(control.view);
    this.#fill();
  }

  /** The view changed: keep the form on what is in force unless the secretary is editing. */
  update(view: ConferenceView): void {
    if (!this.#dateDirty) $<HTMLInputElement>('meeting-date').value = view.date ?? '';
    if (!this.#dirty) this.#fill();
    else this.preview();
  }

  /** Draws the edited maket for the chosen hall. */
  preview(): void {
    const template = this.#edited();
    const date = $<HTMLInputElement>('meeting-date').value || null;
    const bridgeId = $<HTMLSelectElement>('maket-bridge').value || this.#plan.bridges[0]!.id;
    drawMaket($('maket-live'), renderMaket({ ...this.#plan, date, maket: template }, bridgeId));
    $('maket-state').textContent = this.#dirty || this.#dateDirty ? 'Có thay đổi chưa áp dụng.' : 'Đang dùng trên mọi điểm cầu.';
  }

  #planTemplate(): MaketTemplate {
    return { lines: [...this.#plan.maket.lines], background: this.#plan.maket.background, textColour: this.#plan.maket.textColour };
  }

  /**
   * The template in force. The view carries the chair's hall's rendered maket, not the template,
   * so the page checks which template renders to it: the plan's, or the last one applied from
   * this PC. Otherwise it starts from the plan's lines with the colours in force.
   */
  #inForce(view: ConferenceView | null): MaketTemplate {
    const plan = this.#planTemplate();
    if (!view) return plan;
    const chair = chairBridgeOf(this.#plan) ?? this.#plan.bridges[0]!.id;
    const same = (t: MaketTemplate): boolean => {
      const r = renderMaket({ ...this.#plan, date: view.date, maket: t }, chair);
      return r.lines.join('\n') === view.maket.lines.join('\n');
    };
    const colours = { background: view.maket.background, textColour: view.maket.textColour };
    try {
      const stored = JSON.parse(localStorage.getItem(this.#storageKey) ?? 'null') as MaketTemplate | null;
      if (stored && Array.isArray(stored.lines) && same(stored)) return { ...stored, ...colours };
    } catch {
      // A damaged entry: start from the plan.
    }
    if (!same(plan)) $('maket-msg').textContent = 'Maket đã được sửa từ máy khác; các dòng dưới đây là mẫu của kế hoạch.';
    return { ...plan, ...colours };
  }

  #edited(): MaketTemplate {
    const lines = $<HTMLTextAreaElement>('maket-lines').value.split('\n').map((l) => l.trimEnd());
    while (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
    return { lines, background: $<HTMLInputElement>('maket-bg').value, textColour: $<HTMLInputElement>('maket-fg').value };
  }

  #fill(): void {
    $<HTMLTextAreaElement>('maket-lines').value = this.#applied.lines.join('\n');
    $<HTMLInputElement>('maket-bg').value = this.#applied.background;
    $<HTMLInputElement>('maket-fg').value = this.#applied.textColour;
    this.preview();
  }

  #remember(): void {
    localStorage.setItem(this.#storageKey, JSON.stringify(this.#applied));
  }

  async #apply(): Promise<void> {
    const t = this.#edited();
    if (!t.lines.some((l) => l.trim())) {
      $('maket-msg').textContent = 'Maket cần ít nhất một dòng chữ.';
      return;
    }
    if (t.lines.length > 12 || t.lines.some((l) => l.length > 200)) {
      $('maket-msg').textContent = 'Maket có tối đa 12 dòng, mỗi dòng tối đa 200 ký tự.';
      return;
    }
    const reply = await this.#control.command({ type: 'set_maket', maket: t });
    if (reply.ok) {
      this.#applied = t;
      this.#dirty = false;
      this.#remember();
      this.preview();
    }
    $('maket-msg').textContent = reply.ok ? 'Đã áp dụng maket cho mọi điểm cầu.' : errorText(reply.error);
  }

  async #reset(): Promise<void> {
    const reply = await this.#control.command({ type: 'set_maket', maket: null });
    if (reply.ok) {
      this.#applied = this.#planTemplate();
      this.#dirty = false;
      localStorage.removeItem(this.#storageKey);
      this.#fill();
    }
    $('maket-msg').textContent = reply.ok ? 'Đã khôi phục maket theo kế hoạch.' : errorText(reply.error);
  }

  async #setDate(date: string | null): Promise<void> {
    const reply = await this.#control.command({ type: 'set_date', date });
    if (reply.ok) {
      this.#dateDirty = false;
      $<HTMLInputElement>('meeting-date').value = date ?? '';
      this.preview();
    }
    $('maket-msg').textContent = reply.ok ? (date ? 'Đã lưu ngày họp.' : 'Đã bỏ ngày họp (maket hiện "ngày ...").') : errorText(reply.error);
  }
}
