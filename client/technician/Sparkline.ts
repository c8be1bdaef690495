const SVG = 'http://www.w3.org/2000/svg';
const W = 300;
const H = 48;

/** One line of a sparkline: its samples (null where unknown or the hall was offline) and its colour class. */
export interface SparkSeries {
  label: string;
  className: string;
  values: (number | null)[];
}

/**
 * The path of a series over time: x from `t0` to `t1`, y from 0 (bottom) to `max` (top); an
 * unknown value breaks the line, so a hall that was offline shows a gap.
 */
export function sparkPath(times: number[], values: (number | null)[], t0: number, t1: number, max: number, width = W, height = H): string {
  const span = Math.max(1, t1 - t0);
  const top = Math.max(max, 1e-9);
  let d = '';
  let pen = false;
  for (let i = 0; i < times.length; i++) {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v)) {
      pen = false;
      continue;
    }
    const x = ((times[i]! - t0) / span) * width;
    const y = height - 1 - (Math.min(v, top) / top) * (height - 2);
    d += `${pen ? 'L' : 'M'}${x.toFixed(1)} ${y.toFixed(1)}`;
    pen = true;
  }
  return d;
}

/** A small chart of a measure over the bridge's history, with its current and highest values in words. */
export class Sparkline {
  readonly el: HTMLElement;
  readonly #svg: SVGSVGElement;
  readonly #paths: SVGPathElement[] = [];
  readonly #caption: HTMLElement;
  readonly #floor: number;

  /** `floor`: the least top of the scale (so 0.3 % of loss is not drawn as a wall). */
  constructor(title: string, series: { label: string; className: string }[], floor: number) {
    this.#floor = floor;
    this.el = document.createElement('figure');
    this.el.className = 'spark';
    const head = document.createElement('figcaption');
    const name = document.createElement('span');
    name.className = 's-title';
    name.textContent = title;
    this.#caption = document.createElement('span');
    this.#caption.className = 's-values';
    head.append(name, this.#caption);
    this.#svg = document.createElementNS(SVG, 'svg');
    this.#svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    this.#svg.setAttribute('preserveAspectRatio', 'none');
    this.#svg.setAttribute('role', 'img');
    this.#svg.setAttribute('aria-label', title);
    for (const s of series) {
      const path = document.createElementNS(SVG, 'path');
      path.setAttribute('class', `line ${s.className}`);
      path.setAttribute('vector-effect', 'non-scaling-stroke');
      path.dataset.label = s.label;
      this.#svg.append(path);
      this.#paths.push(path);
    }
    this.el.append(head, this.#svg);
  }

  /** Redraws from the samples' times and each series' values. */
  draw(times: number[], series: SparkSeries[]): void {
    const t0 = times[0] ?? 0;
    const t1 = times[times.length - 1] ?? 1;
    let max = this.#floor;
    for (const s of series) for (const v of s.values) if (v !== null && Number.isFinite(v)) max = Math.max(max, v);
    const words: string[] = [];
    series.forEach((s, i) => {
      this.#paths[i]?.setAttribute('d', sparkPath(times, s.values, t0, t1, max));
      const known = s.values.filter((v): v is number => v !== null && Number.isFinite(v));
      const fmt = (v: number | undefined): string => (v === undefined ? '—' : (v >= 10 || Number.isInteger(v) ? Math.round(v) : Math.round(v * 10) / 10).toLocaleString('vi-VN'));
      const last = known[known.length - 1];
      words.push(`${s.label ? `${s.label} ` : ''}${fmt(last)}${known.length ? ` (cao nhất ${fmt(Math.max(...known))})` : ''}`);
    });
    this.#caption.textContent = words.join(' · ');
  }
}
