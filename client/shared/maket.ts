import type { ConferenceView } from '../../server/protocol/control.ts';

/**
 * Draws a maket (red background, yellow text by default) into an element: first the organiser
 * line, then "HỘI NGHỊ TRỰC TUYẾN", the title lines, and the place-and-date line in italics.
 */
export function drawMaket(el: HTMLElement, maket: ConferenceView['maket']): void {
  el.style.setProperty('--maket-bg', maket.background);
  el.style.setProperty('--maket-fg', maket.textColour);
  el.style.background = maket.background;
  el.style.color = maket.textColour;
  el.replaceChildren(
    ...maket.lines.map((line, i) => {
      const div = document.createElement('div');
      div.textContent = line;
      const last = i === maket.lines.length - 1;
      div.className = i === 0 ? 'l0' : i === 1 ? 'l1' : last ? 'place' : 'title';
      return div;
    }),
  );
}
