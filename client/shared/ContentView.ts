// The content on screen, drawn: a paper's page rendered in the browser with PDF.js, into a
// canvas that fits its box. Used by the hall display (beside the speaker) and as a preview on
// the consoles. PDF.js, its worker and its font data are served by this server
// (scripts/build-client.mjs copies them to /build/pdfjs/); nothing comes from the internet.
//
// "Painted" means: PDF.js's render of the page finished drawing into an off-screen canvas, that
// canvas replaced the previous one in the page, and the next animation frame ran (the frame that
// presents it). Each paint is recorded in `painted` with its epoch time (for tests and the bench).
// While idle, the pages before and after the shown one are rendered ahead, so that a page turn
// is usually a swap of canvases rather than a render.
import type { PDFDocumentProxy, RenderTask } from 'pdfjs-dist';
import { MAX_PAPER_IMAGE_PIXELS } from '../../server/core/conference/papers.ts';
import type { ContentView as Content } from '../../server/protocol/papers.ts';

/** Where the build puts PDF.js's worker and data files. */
const PDFJS_BASE = '/build/pdfjs/';

type PdfJs = typeof import('pdfjs-dist');

/** Rendered pages kept (the shown page, the ones around it, a few recent). */
const RENDERED_KEPT = 6;

const cacheKey = (paperId: string, page: number, width: number, height: number): string => `${paperId}:${page}:${width}x${height}`;
let pdfjs: Promise<PdfJs> | undefined;

/** Loads PDF.js once (its own chunk: pages that never show a paper never load it). */
function loadPdfJs(): Promise<PdfJs> {
  return (pdfjs ??= import('pdfjs-dist/legacy/build/pdf.mjs').then((m) => {
    const lib = m as unknown as PdfJs;
    lib.GlobalWorkerOptions.workerSrc = `${PDFJS_BASE}pdf.worker.min.mjs`;
    return lib;
  }));
}

/** One paint of a page. */
export interface Paint {
  paperId: string;
  page: number;
  /** Epoch milliseconds (performance.timeOrigin + performance.now()). */
  at: number;
}

/** Draws the content on screen into a box; show() it each time the view changes. */
export class ContentView {
  readonly box: HTMLElement;
  readonly #token: string;
  readonly #docs = new Map<string, Promise<PDFDocumentProxy>>();
  #want: { paperId: string; page: number } | null = null;
  #drawing: Promise<void> | null = null;
  #task: RenderTask | null = null;
  #taskFor: { paperId: string; page: number } | null = null;
  #shown: { paperId: string; page: number; width: number; height: number } | null = null;
  /** Pages rendered at the current size, newest last (the shown one and its neighbours). */
  readonly #rendered = new Map<string, HTMLCanvasElement>();
  /** Every paint, oldest first (kept short). */
  readonly painted: Paint[] = [];
  /** Called after each paint. */
  onPaint: (paint: Paint) => void = () => undefined;
  /** Called when a paper cannot be shown (with a Vietnamese message). */
  onError: (message: string) => void = () => undefined;

  constructor(box: HTMLElement, token: string) {
    this.box = box;
    this.#token = token;
    new ResizeObserver(() => this.#redrawIfResized()).observe(box);
  }

  /** Shows this content (null: nothing). Cheap when nothing changed. */
  show(content: Pick<Content, 'paperId' | 'page'> | null): void {
    if (!content) {
      this.#want = null;
      this.#task?.cancel();
      this.box.replaceChildren();
      this.#shown = null;
      return;
    }
    if (this.#want?.paperId === content.paperId && this.#want.page === content.page) return;
    this.#want = { paperId: content.paperId, page: content.page };
    // A render of another page in progress gives way (one of this page, rendered ahead, goes on).
    if (this.#taskFor?.paperId !== content.paperId || this.#taskFor.page !== content.page) this.#task?.cancel();
    this.#drawing ??= this.#drawLoop().finally(() => (this.#drawing = null));
  }

  /** Draws until what is shown is what is wanted; then renders the neighbouring pages ahead. */
  async #drawLoop(): Promise<void> {
    for (;;) {
      const want = this.#want;
      if (!want) return;
      const { width, height } = this.#boxSize();
      const shown = this.#shown;
      try {
        if (shown && shown.paperId === want.paperId && shown.page === want.page && shown.width === width && shown.height === height) {
          // Idle: the pages a speaker turns to next are drawn now, so that the turn is a swap.
          await this.#renderAhead(want.paperId, want.page, width, height);
          if (this.#want === want) return;
          continue;
        }
        const key = cacheKey(want.paperId, want.page, width, height);
        const canvas = this.#rendered.get(key) ?? (await this.#render(want.paperId, want.page, width, height));
        // Superseded while drawing: do not show a stale page.
        if (this.#want !== want) continue;
        await this.#present(canvas, want.paperId, want.page, width, height);
      } catch (error) {
        if ((error as Error)?.name === 'RenderingCancelledException') continue;
        this.onError(`Không hiển thị được tham luận: ${(error as Error)?.message ?? error}`);
        return;
      }
    }
  }

  /** Renders a page into a new canvas (off screen) and keeps it for a while. */
  async #render(paperId: string, pageNo: number, width: number, height: number): Promise<HTMLCanvasElement> {
    const doc = await this.#doc(paperId);
    const page = await doc.getPage(Math.min(pageNo, doc.numPages));
    const unscaled = page.getViewport({ scale: 1 });
    const scale = Math.max(0.1, Math.min(width / unscaled.width, height / unscaled.height));
    const ratio = window.devicePixelRatio || 1;
    const viewport = page.getViewport({ scale: scale * ratio });
    const canvas = document.createElement('canvas');
    canvas.width = Math.floor(viewport.width);
    canvas.height = Math.floor(viewport.height);
    canvas.style.width = `${Math.floor(viewport.width / ratio)}px`;
    canvas.style.height = `${Math.floor(viewport.height / ratio)}px`;
    this.#task = page.render({ canvas, viewport });
    this.#taskFor = { paperId, page: pageNo };
    try {
      await this.#task.promise;
    } finally {
      this.#task = null;
      this.#taskFor = null;
    }
    const key = cacheKey(paperId, pageNo, width, height);
    this.#rendered.delete(key);
    this.#rendered.set(key, canvas);
    while (this.#rendered.size > RENDERED_KEPT) this.#rendered.delete(this.#rendered.keys().next().value!);
    return canvas;
  }

  /** Puts a rendered page on screen and records the paint at the next frame. */
  async #present(canvas: HTMLCanvasElement, paperId: string, pageNo: number, width: number, height: number): Promise<void> {
    canvas.dataset.paperId = paperId;
    canvas.dataset.page = String(pageNo);
    this.box.replaceChildren(canvas);
    this.#shown = { paperId, page: pageNo, width, height };
    await new Promise((r) => requestAnimationFrame(r));
    const paint = { paperId, page: pageNo, at: performance.timeOrigin + performance.now() };
    this.painted.push(paint);
    if (this.painted.length > 500) this.painted.splice(0, 100);
    this.box.dataset.paintedPage = String(pageNo);
    this.box.dataset.paintedPaper = paperId;
    this.onPaint(paint);
  }

  /** Renders the next and the previous page, unless a turn comes first (show() cancels it). */
  async #renderAhead(paperId: string, pageNo: number, width: number, height: number): Promise<void> {
    const doc = await this.#doc(paperId);
    for (const n of [pageNo + 1, pageNo - 1]) {
      if (n < 1 || n > doc.numPages || this.#rendered.has(cacheKey(paperId, n, width, height))) continue;
      if (this.#want?.paperId !== paperId || this.#want.page !== pageNo) return;
      await this.#render(paperId, n, width, height);
    }
  }

  /** The document of a paper version, fetched once with this page's token. */
  #doc(paperId: string): Promise<PDFDocumentProxy> {
    let doc = this.#docs.get(paperId);
    if (!doc) {
      doc = (async () => {
        const [lib, res] = await Promise.all([loadPdfJs(), fetch(`/api/papers/${encodeURIComponent(paperId)}/file`, { headers: { authorization: `Bearer ${this.#token}` } })]);
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const data = new Uint8Array(await res.arrayBuffer());
        return lib.getDocument({
          data,
          maxImageSize: MAX_PAPER_IMAGE_PIXELS,
          standardFontDataUrl: `${PDFJS_BASE}standard_fonts/`,
          cMapUrl: `${PDFJS_BASE}cmaps/`,
          cMapPacked: true,
          wasmUrl: `${PDFJS_BASE}wasm/`,
        }).promise;
      })();
      // A failed fetch is tried again next time.
      doc.catch(() => this.#docs.delete(paperId));
      this.#docs.set(paperId, doc);
    }
    return doc;
  }

  #boxSize(): { width: number; height: number } {
    const r = this.box.getBoundingClientRect();
    return { width: Math.max(50, Math.floor(r.width)), height: Math.max(50, Math.floor(r.height)) };
  }

  #redrawIfResized(): void {
    if (!this.#want || !this.#shown) return;
    const { width, height } = this.#boxSize();
    if (width === this.#shown.width && height === this.#shown.height) return;
    this.#drawing ??= this.#drawLoop().finally(() => (this.#drawing = null));
  }
}
