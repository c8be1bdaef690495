import type { MediaClient, ReceivedConsumer } from '../shared/MediaClient.ts';
import type { ControlClient } from '../shared/ControlClient.ts';
import type { BridgeInfo } from '../shared/bridges.ts';
import type { ConferenceView } from '../../server/protocol/control.ts';
import { $, foldVietnamese, h } from '../shared/ui.ts';
import { AUDIO_ONLY_LABEL } from '../../server/core/health.ts';

/** Communes shown (and decoded) at once: a page of the commune grid. */
export const COMMUNES_PER_PAGE = 24;

type Presence = NonNullable<ConferenceView['presence']>[string];

/** Where the wall learns which halls' links carry no video (the control client). */
type WeakLinks = Pick<ControlClient, 'audioOnly' | 'on'>;

/** What the commune grid shows: filters and page. */
export interface CommuneFilter {
  text: string;
  districtId: string;
  onlineOnly: boolean;
  page: number;
}

/**
 * The halls as low-resolution thumbnails: the 11 districts always, and one page of the
 * communes (filtered by name, district, presence). Only the halls on screen are asked for
 * (setThumbnails), so at most 11 + 24 thumbnails decode at once, never all 200 communes.
 */
export class ThumbnailWall {
  readonly #client: MediaClient;
  readonly #weak: WeakLinks;
  readonly #districts: BridgeInfo[];
  readonly #communes: BridgeInfo[];
  readonly #names: Map<string, BridgeInfo>;
  readonly #tiles = new Map<string, HTMLElement>();
  /** The thumbnail consumer of each hall, while the server sends one. */
  readonly #thumbs = new Map<string, ReceivedConsumer>();
  #presence: Record<string, Presence> = {};
  /** The halls heard now (dBov), from the SFU. */
  #levels = new Map<string, number>();
  #filter: CommuneFilter = { text: '', districtId: '', onlineOnly: false, page: 0 };
  #requested = '';
  #requestTimer?: ReturnType<typeof setTimeout>;
  /** The communes on the page now, in order. */
  visibleCommunes: string[] = [];

  /** `weak`: which halls' links carry no video (the control plane's word, wherever their media is). */
  constructor(client: MediaClient, bridges: Map<string, BridgeInfo>, weak: WeakLinks) {
    this.#client = client;
    this.#weak = weak;
    this.#names = bridges;
    this.#districts = [...bridges.values()].filter((b) => b.tier === 'district');
    // Plan order groups each district's communes together.
    this.#communes = [...bridges.values()].filter((b) => b.tier === 'commune');
    client.on('consumer', (rc) => this.#onConsumer(rc));
    client.on('consumerclosed', (rc) => this.#onClosed(rc));
    weak.on('audioonly', ({ bridgeId }) => {
      const tile = this.#tiles.get(bridgeId);
      if (tile) this.#paint(bridgeId, tile);
    });
    client.on('state', (d) => {
      if (d.state === 'live') {
        this.#requested = '';
        this.#request();
      }
    });
  }

  /** Draws the district grid once (11 halls). */
  mountDistricts(grid: HTMLElement): void {
    grid.replaceChildren(...this.#districts.map((b) => this.#tile(b.id)));
    this.#request();
  }

  /** Changes the commune filter (and page) and redraws the commune grid. */
  setFilter(change: Partial<CommuneFilter>): void {
    const pageReset = change.text !== undefined || change.districtId !== undefined || change.onlineOnly !== undefined;
    this.#filter = { ...this.#filter, ...(pageReset ? { page: 0 } : {}), ...change };
    this.renderCommunes();
  }

  get filter(): CommuneFilter {
    return this.#filter;
  }

  /** New presence from the view: tile states, and the commune list when it filters on presence. */
  setPresence(presence: Record<string, Presence>): void {
    const changedOnline = this.#filter.onlineOnly && Object.keys(presence).some((id) => presence[id]?.online !== this.#presence[id]?.online);
    this.#presence = presence;
    for (const [id, tile] of this.#tiles) this.#paint(id, tile);
    if (changedOnline) this.renderCommunes();
  }

  /** The communes matching the filter, in plan order. */
  matching(): BridgeInfo[] {
    const typed = this.#filter.text.normalize('NFC').toLocaleLowerCase('vi').trim();
    // Typed with accents: they count ("vân" is not "vạn"); typed without: any accents match.
    const exact = foldVietnamese(typed) !== typed;
    const text = exact ? typed : foldVietnamese(typed);
    const nameOf = (b: BridgeInfo): string => (exact ? b.name.normalize('NFC').toLocaleLowerCase('vi') : foldVietnamese(b.name));
    return this.#communes.filter(
      (b) =>
        (!text || nameOf(b).includes(text)) &&
        (!this.#filter.districtId || b.parentId === this.#filter.districtId) &&
        (!this.#filter.onlineOnly || this.#presence[b.id]?.online),
    );
  }

  /** Redraws the commune page: group headings per district, a tile per commune. */
  renderCommunes(): void {
    const list = this.matching();
    const pages = Math.max(1, Math.ceil(list.length / COMMUNES_PER_PAGE));
    const page = Math.min(this.#filter.page, pages - 1);
    this.#filter.page = page;
    const shown = list.slice(page * COMMUNES_PER_PAGE, (page + 1) * COMMUNES_PER_PAGE);
    this.visibleCommunes = shown.map((b) => b.id);
    const children: HTMLElement[] = [];
    let group = '';
    for (const b of shown) {
      if (b.parentId !== group) {
        group = b.parentId ?? '';
        const district = this.#names.get(group);
        const inGroup = list.filter((x) => x.parentId === group).length;
        children.push(h('h3', { class: 'group' }, `${district?.name ?? ''} (${inGroup})`));
      }
      children.push(this.#tile(b.id));
    }
    if (!shown.length) children.push(h('p', { class: 'empty' }, 'Không có điểm cầu cấp xã nào khớp với bộ lọc.'));
    $('commune-grid').replaceChildren(...children);
    $('page-info').textContent = `Trang ${page + 1}/${pages} · ${list.length} điểm cầu`;
    $<HTMLButtonElement>('page-prev').disabled = page === 0;
    $<HTMLButtonElement>('page-next').disabled = page >= pages - 1;
    // Tiles scrolled off the page let go of their video.
    for (const [id, tile] of this.#tiles) {
      if (!tile.isConnected) this.#detach(tile);
      else this.#paint(id, tile);
    }
    this.#request();
  }

  /** Asks the server for the halls on screen (debounced: paging quickly sends one request). */
  #request(): void {
    clearTimeout(this.#requestTimer);
    this.#requestTimer = setTimeout(() => {
      const ids = [...this.#districts.map((b) => b.id), ...this.visibleCommunes];
      const key = ids.join(',');
      if (key === this.#requested || this.#client.state !== 'live') return;
      this.#requested = key;
      this.#client.setThumbnails(ids).catch((e: Error) => {
        this.#requested = '';
        console.error(`diemcau: thumbnails: ${e.message}`);
      });
    }, 150);
  }

  #tile(bridgeId: string): HTMLElement {
    let tile = this.#tiles.get(bridgeId);
    if (!tile) {
      const b = this.#names.get(bridgeId);
      tile = h(
        'div',
        { class: 'tile', dataset: { bridge: bridgeId } },
        h('video', { muted: true, autoplay: true, playsInline: true }),
        h('div', { class: 'tile-empty' }),
        h('span', { class: 'att', title: 'Số đại biểu có mặt' }),
        h('div', { class: 'weak-over', hidden: true }),
        h('div', { class: 'level', title: 'Mức âm thanh đang lên hội nghị' }, h('div', { class: 'level-bar' })),
        h('div', { class: 'tile-label' }, h('span', { class: 'dot' }), h('span', { class: 'name' }, b?.name ?? bridgeId)),
      );
      this.#tiles.set(bridgeId, tile);
    }
    this.#paint(bridgeId, tile);
    return tile;
  }

  /** Presence and video of one tile. */
  #paint(bridgeId: string, tile: HTMLElement): void {
    const p = this.#presence[bridgeId];
    const state = !p?.online ? 'offline' : p.ready ? 'ready' : 'online';
    const rc = this.#thumbs.get(bridgeId);
    // Audio first: a hall whose camera does not reach the SFU keeps its last picture, marked.
    const weak = p?.online ? this.#weak.audioOnly.get(bridgeId) : undefined;
    const level = this.#levels.get(bridgeId);
    tile.className = `tile ${state}${rc ? ' has-video' : ''}${weak?.up ? ' audio-only' : ''}${level !== undefined ? ' speaking' : ''}`;
    const weakEl = tile.querySelector<HTMLElement>('.weak-over')!;
    weakEl.hidden = !weak?.up;
    weakEl.textContent = weak?.up ? AUDIO_ONLY_LABEL : '';
    paintLevel(tile, level);
    tile.title = `${this.#names.get(bridgeId)?.name ?? bridgeId}: ${state === 'offline' ? 'chưa kết nối' : state === 'ready' ? 'sẵn sàng' : 'trực tuyến, chưa báo sẵn sàng'}`;
    tile.querySelector('.tile-empty')!.textContent = state === 'offline' ? 'Chưa kết nối' : rc ? '' : 'Chưa có hình';
    tile.querySelector('.att')!.textContent = p?.attendees != null && p.online ? `${p.attendees} người` : '';
    const video = tile.querySelector('video')!;
    if (rc && tile.isConnected) {
      if ((video.srcObject as MediaStream | null)?.getVideoTracks()[0] !== rc.consumer.track) video.srcObject = new MediaStream([rc.consumer.track]);
    } else if (!rc) this.#detach(tile);
  }

  /** The halls heard now and how loud: their tiles light up with a level bar. */
  setLevels(levels: { bridgeId: string; dBov: number }[]): void {
    const before = this.#levels;
    this.#levels = new Map(levels.map((l) => [l.bridgeId, l.dBov]));
    for (const id of new Set([...before.keys(), ...this.#levels.keys()])) {
      const tile = this.#tiles.get(id);
      if (tile) this.#paint(id, tile);
    }
  }

  #detach(tile: HTMLElement): void {
    const video = tile.querySelector('video')!;
    if (video.srcObject) video.srcObject = null;
  }

  #onConsumer(rc: ReceivedConsumer): void {
    if (rc.slot !== 'thumb') return;
    this.#thumbs.set(rc.bridgeId, rc);
    const tile = this.#tiles.get(rc.bridgeId);
    if (tile) this.#paint(rc.bridgeId, tile);
  }

  #onClosed(rc: ReceivedConsumer): void {
    if (rc.slot !== 'thumb' || this.#thumbs.get(rc.bridgeId) !== rc) return;
    this.#thumbs.delete(rc.bridgeId);
    const tile = this.#tiles.get(rc.bridgeId);
    if (tile) this.#paint(rc.bridgeId, tile);
  }
}

/** A tile's level bar: -70 dBov (silence) to 0 dBov (full); no bar when the hall is not heard. */
function paintLevel(tile: HTMLElement, dBov: number | undefined): void {
  const box = tile.querySelector<HTMLElement>('.level');
  if (!box) return;
  box.hidden = dBov === undefined;
  tile.dataset.level = dBov === undefined ? '' : String(dBov);
  const pct = dBov === undefined ? 0 : Math.max(4, Math.min(100, ((dBov + 70) / 70) * 100));
  box.querySelector<HTMLElement>('.level-bar')!.style.width = `${pct.toFixed(0)}%`;
}
