import type { ConferenceView } from '../../server/protocol/control.ts';

/**
 * Draws a maket (red background, yellow text by default) into an element: the organiser line and
 * "HỘI NGHỊ TRỰC TUYẾN" (group m-org), the title lines (group m-title), and the place-and-date
 * line in italics. The groups let a thin banner set each group on one line while someone speaks.
 */
export function drawMaket(el: HTMLElement, maket: ConferenceView['maket']): void {
  el.style.setProperty('--maket-bg', maket.background);
  el.style.setProperty('--maket-fg', maket.textColour);
  el.style.background = maket.background;
  el.style.color = maket.textColour;
  const line = (text: string, className: string): HTMLDivElement => {
    const div = document.createElement('div');
    div.textContent = text;
    div.className = className;
    return div;
  };
  const group = (className: string, lines: HTMLElement[]): HTMLDivElement => {
    const div = document.createElement('div');
    div.className = className;
    div.append(...lines);
    return div;
  };
  const lines = maket.lines;
  const last = lines.length - 1;
  const org = lines.slice(0, Math.min(2, lines.length)).map((t, i) => line(t, i === 0 ? 'l0' : 'l1'));
  const titles = lines.slice(2, Math.max(2, last)).map((t) => line(t, 'title'));
  const place = lines.length > 2 ? [line(lines[last]!, 'place')] : [];
  el.replaceChildren(group('m-org', org), group('m-title', titles), ...place);
}
