import type { BridgeInfo } from '../shared/bridges.ts';
import type { HealthLine } from '../../server/protocol/control.ts';
import type { MediaPath } from '../../server/protocol/media.ts';
import { audioOnlyDirection } from '../../server/core/health.ts';
import { MEDIA_PATH_LABEL, MEDIA_PATH_SHORT, SEVERITY, STATUS_LABEL, clockTime, connected, searchKey, shortName, sortName, type TileStatus } from './words.ts';

export type SortMode = 'plan' | 'severity' | 'name';

/** A tile's mark from the pre-meeting link test. */
export type TestMark = 'pending' | 'ready' | 'not-ready' | 'no-answer' | null;

const TEST_MARK: Record<Exclude<TestMark, null>, { text: string; title: string }> = {
  pending: { text: '⋯', title: 'Đang kiểm tra đường truyền' },
  ready: { text: '✓', title: 'Kiểm tra đường truyền: sẵn sàng' },
  'not-ready': { text: '✗', title: 'Kiểm tra đường truyền: chưa sẵn sàng' },
  'no-answer': { text: '?', title: 'Kiểm tra đường truyền: điểm cầu không trả lời' },
};

/** One bridge's tile and what it shows now (to touch the DOM only when something changed). */
interface Tile {
  bridge: BridgeInfo;
  index: number;
  el: HTMLButtonElement;
  status: HTMLElement;
  reason: HTMLElement;
  mark: HTMLElement;
  /** The media node the hall's media is on (shown when there are several). */
  node: HTMLElement;
  /** How its media goes (UDP, TCP, TURN), while connected. */
  path: HTMLElement;
  group: Group;
  key: string;
  shown: { status: TileStatus; reason: string; title: string; test: TestMark; hidden: boolean; dropped: boolean; node: string; path: MediaPath | null; audioOnly: string };
  line: HealthLine | null;
  /** Seen connected since the dashboard opened: going offline is then a drop, marked on the tile. */
  wasOnline: boolean;
}

/** A district with its own hall and its communes (or the province alone). */
interface Group {
  id: string;
  name: string;
  index: number;
  el: HTMLElement;
  grid: HTMLElement;
  count: HTMLElement;
  key: string;
  tiles: Tile[];
  shownCount: string;
  hidden: boolean;
}

/** What a tile says after its status: why it is not ok; since when a hall that was seen online dropped; a healthy hall's round trip. */
function reasonOf(line: HealthLine | null, dropped: boolean): string {
  if (!line) return '';
  if (line.status === 'offline') return dropped ? `từ ${clockTime(line.since).slice(0, 5)}` : '';
  if (line.status === 'ok') {
    const rtt = line.last?.rttMs;
    return typeof rtt === 'number' ? `trễ ${Math.round(rtt)} ms` : '';
  }
  return line.reasons.join('; ');
}

/**
 * All the bridges as tiles, grouped by tier and district (the province, then each district hall
 * followed by its communes), coloured by status. Tiles are built once and updated in place;
 * they move only when the order really changes.
 */
export class TileBoard {
  readonly #tiles = new Map<string, Tile>();
  /** The control plane's weak links (undefined until told: the health lines' mark then). */
  #audioOnly: ReadonlyMap<string, { up: boolean; down: boolean }> | undefined;
  readonly #groups: Group[] = [];
  readonly #root: HTMLElement;
  readonly #empty: HTMLElement;
  #sort: SortMode = 'plan';
  #problemsOnly = false;
  #query = '';
  #selected: string | null = null;

  constructor(root: HTMLElement, bridges: BridgeInfo[], onSelect: (bridgeId: string) => void) {
    this.#root = root;
    const byId = new Map(bridges.map((b) => [b.id, b]));
    const groupOf = new Map<string, Group>();
    const makeGroup = (id: string, name: string, label: string): Group => {
      const grid = document.createElement('div');
      grid.className = 'grid';
      const count = document.createElement('span');
      count.className = 'g-count';
      const head = document.createElement('h3');
      head.className = 'g-head';
      const title = document.createElement('span');
      title.className = 'g-name';
      title.textContent = label;
      head.append(title, count);
      const el = document.createElement('section');
      el.className = 'group';
      el.dataset.group = id;
      el.append(head, grid);
      const group: Group = { id, name, index: this.#groups.length, el, grid, count, key: searchKey(name), tiles: [], shownCount: '', hidden: false };
      this.#groups.push(group);
      groupOf.set(id, group);
      return group;
    };
    bridges.forEach((bridge, index) => {
      let group: Group;
      if (bridge.tier === 'province') group = groupOf.get(bridge.id) ?? makeGroup(bridge.id, bridge.name, `Cấp tỉnh — ${bridge.name}`);
      else if (bridge.tier === 'district') group = groupOf.get(bridge.id) ?? makeGroup(bridge.id, bridge.name, bridge.name);
      else {
        const parent = bridge.parentId ? byId.get(bridge.parentId) : undefined;
        group = groupOf.get(bridge.parentId ?? '') ?? makeGroup(bridge.parentId ?? 'other', parent?.name ?? 'Khác', parent?.name ?? 'Điểm cầu khác');
      }
      const el = document.createElement('button');
      el.type = 'button';
      el.className = `tile tier-${bridge.tier} st-unknown`;
      el.dataset.bridgeId = bridge.id;
      el.dataset.status = 'unknown';
      const name = document.createElement('span');
      name.className = 't-name';
      name.textContent = shortName(bridge.name);
      const status = document.createElement('span');
      status.className = 't-status';
      status.textContent = STATUS_LABEL.unknown;
      const reason = document.createElement('span');
      reason.className = 't-reason';
      const detail = document.createElement('span');
      detail.className = 't-line';
      detail.append(status, reason);
      const mark = document.createElement('span');
      mark.className = 't-test';
      mark.hidden = true;
      const node = document.createElement('span');
      node.className = 't-node';
      node.hidden = true;
      const path = document.createElement('span');
      path.className = 't-path';
      path.hidden = true;
      el.append(name, detail, node, mark, path);
      el.title = bridge.name;
      el.addEventListener('click', () => onSelect(bridge.id));
      const tile: Tile = {
        bridge,
        index,
        el,
        status,
        reason,
        mark,
        node,
        path,
        group,
        key: searchKey(bridge.name),
        shown: { status: 'unknown', reason: '', title: bridge.name, test: null, hidden: false, dropped: false, node: '', path: null, audioOnly: '' },
        line: null,
        wasOnline: false,
      };
      group.tiles.push(tile);
      group.grid.append(el);
      this.#tiles.set(bridge.id, tile);
    });
    this.#empty = document.createElement('p');
    this.#empty.className = 'board-empty';
    this.#empty.textContent = 'Không có điểm cầu nào khớp với bộ lọc.';
    this.#empty.hidden = true;
    root.replaceChildren(...this.#groups.map((g) => g.el), this.#empty);
    this.#refreshGroups();
  }

  /**
   * The halls whose links carry no video, as the control plane tells them (at once when it
   * changes, wherever the hall's media is): the tiles' marks follow it rather than the 2-second
   * health summary.
   */
  setAudioOnly(halls: ReadonlyMap<string, { up: boolean; down: boolean }>): void {
    this.#audioOnly = halls;
    for (const tile of this.#tiles.values()) this.#paintAudioOnly(tile);
  }

  /** Audio first: its link carries speech only (the reason says which way); marked on the tile. */
  #paintAudioOnly(tile: Tile): void {
    const line = tile.line;
    const flags = this.#audioOnly?.get(tile.bridge.id);
    const live = flags ? (audioOnlyDirection(flags) ?? '') : '';
    const audioOnly = !line || line.status === 'offline' ? '' : this.#audioOnly ? live : (line.last?.audioOnly ?? '');
    const shown = tile.shown;
    if (shown.audioOnly !== audioOnly) {
      tile.el.classList.toggle('audio-only', audioOnly !== '');
      tile.el.dataset.audioOnly = audioOnly;
      shown.audioOnly = audioOnly;
    }
  }

  /** Applies every bridge's health line (the 2-second summary); returns whether any status changed. */
  update(lines: HealthLine[]): boolean {
    let statusChanged = false;
    for (const line of lines) {
      const tile = this.#tiles.get(line.bridgeId);
      if (!tile) continue;
      tile.line = line;
      const shown = tile.shown;
      if (shown.status !== line.status) {
        tile.el.classList.replace(`st-${shown.status}`, `st-${line.status}`);
        tile.el.dataset.status = line.status;
        tile.status.textContent = STATUS_LABEL[line.status];
        shown.status = line.status;
        statusChanged = true;
      }
      if (connected(line.status)) tile.wasOnline = true;
      const dropped = line.status === 'offline' && tile.wasOnline;
      if (shown.dropped !== dropped) {
        tile.el.classList.toggle('dropped', dropped);
        shown.dropped = dropped;
      }
      const reason = reasonOf(line, dropped);
      if (shown.reason !== reason) {
        tile.reason.textContent = reason;
        shown.reason = reason;
      }
      this.#paintAudioOnly(tile);
      const reported = line.last?.mediaPath;
      const path = connected(line.status) && typeof reported === 'string' && reported in MEDIA_PATH_SHORT ? (reported as MediaPath) : null;
      if (shown.path !== path) {
        tile.path.hidden = path === null;
        tile.path.textContent = path ? MEDIA_PATH_SHORT[path] : '';
        tile.path.className = `t-path${path ? ` path-${path.startsWith('turn') ? 'turn' : path}` : ''}`;
        tile.el.dataset.path = path ?? '';
        shown.path = path;
      }
      const title = `${tile.bridge.name}\n${STATUS_LABEL[line.status]}${line.reasons.length && connected(line.status) ? ` — ${line.reasons.join('; ')}` : ''}\ntừ ${clockTime(line.since)}${path ? `\nKết nối: ${MEDIA_PATH_LABEL[path]}` : ''}`;
      if (shown.title !== title) {
        tile.el.title = title;
        shown.title = title;
      }
    }
    if (statusChanged) {
      this.#applyFilter();
      if (this.#sort === 'severity') this.#applyOrder();
    }
    this.#refreshGroups();
    return statusChanged;
  }

  /** The status of a bridge's tile now. */
  statusOf(bridgeId: string): TileStatus {
    return this.#tiles.get(bridgeId)?.shown.status ?? 'unknown';
  }

  /** The latest health line of a bridge. */
  lineOf(bridgeId: string): HealthLine | null {
    return this.#tiles.get(bridgeId)?.line ?? null;
  }

  /** How many bridges are in each status. */
  counts(): Record<TileStatus, number> {
    const counts: Record<TileStatus, number> = { ok: 0, degraded: 0, bad: 0, offline: 0, absent: 0, unknown: 0 };
    for (const t of this.#tiles.values()) counts[t.shown.status]++;
    return counts;
  }

  /** Bridges that are connected (for the link test of every online hall). */
  onlineIds(): string[] {
    return [...this.#tiles.values()].filter((t) => connected(t.shown.status)).map((t) => t.bridge.id);
  }

  setSort(mode: SortMode): void {
    if (mode === this.#sort) return;
    this.#sort = mode;
    this.#applyOrder();
  }

  /** Shows only what is not ok, and/or what matches the search (by bridge or district name, without diacritics). */
  setFilter(filter: { problemsOnly: boolean; query: string }): void {
    this.#problemsOnly = filter.problemsOnly;
    this.#query = searchKey(filter.query.trim());
    this.#applyFilter();
    this.#refreshGroups();
  }

  /** Marks the tile shown in the drill-down. */
  select(bridgeId: string | null): void {
    if (this.#selected) this.#tiles.get(this.#selected)?.el.classList.remove('selected');
    this.#selected = bridgeId;
    if (bridgeId) this.#tiles.get(bridgeId)?.el.classList.add('selected');
  }

  /** Shows on each tile the media node its hall is on (names by bridge; '' hides it). */
  setNodes(nodeOf: (bridgeId: string) => string): void {
    for (const tile of this.#tiles.values()) {
      const text = nodeOf(tile.bridge.id);
      if (tile.shown.node === text) continue;
      tile.shown.node = text;
      tile.node.hidden = text === '';
      tile.node.textContent = text ? `▣ ${text}` : '';
      tile.node.title = text ? `Máy chủ media: ${text}` : '';
      tile.el.dataset.node = text;
    }
  }

  /** Shows the link test's outcome on a tile. */
  markTest(bridgeId: string, mark: TestMark): void {
    const tile = this.#tiles.get(bridgeId);
    if (!tile || tile.shown.test === mark) return;
    tile.shown.test = mark;
    tile.mark.hidden = mark === null;
    tile.mark.className = `t-test${mark ? ` test-${mark}` : ''}`;
    tile.mark.textContent = mark ? TEST_MARK[mark].text : '';
    tile.mark.title = mark ? TEST_MARK[mark].title : '';
  }

  #visible(tile: Tile): boolean {
    if (this.#problemsOnly && tile.shown.status === 'ok') return false;
    if (this.#query && !tile.key.includes(this.#query) && !tile.group.key.includes(this.#query)) return false;
    return true;
  }

  #applyFilter(): void {
    let any = false;
    for (const group of this.#groups) {
      let groupVisible = false;
      for (const tile of group.tiles) {
        const hidden = !this.#visible(tile);
        if (tile.shown.hidden !== hidden) {
          tile.el.hidden = hidden;
          tile.shown.hidden = hidden;
        }
        groupVisible ||= !hidden;
      }
      if (group.hidden === groupVisible) {
        group.hidden = !groupVisible;
        group.el.hidden = group.hidden;
      }
      any ||= groupVisible;
    }
    this.#empty.hidden = any;
  }

  /** Puts the tiles (and the districts) in the chosen order; the district's own hall stays first. */
  #applyOrder(): void {
    const byName = (a: Tile, b: Tile): number => sortName(a.bridge.name).localeCompare(sortName(b.bridge.name), 'vi');
    const compare = (a: Tile, b: Tile): number => {
      if (a.bridge.tier !== b.bridge.tier) return a.bridge.tier === 'commune' ? 1 : b.bridge.tier === 'commune' ? -1 : 0;
      if (this.#sort === 'severity') return SEVERITY[b.shown.status] - SEVERITY[a.shown.status] || a.index - b.index;
      if (this.#sort === 'name') return byName(a, b) || a.index - b.index;
      return a.index - b.index;
    };
    const worst = (g: Group): number[] => {
      let max = 0;
      let problems = 0;
      for (const t of g.tiles) {
        max = Math.max(max, SEVERITY[t.shown.status]);
        if (SEVERITY[t.shown.status] >= SEVERITY.degraded) problems++;
      }
      return [max, problems];
    };
    const groupCompare = (a: Group, b: Group): number => {
      if (a.index === 0 || b.index === 0) return a.index - b.index; // the province first
      if (this.#sort === 'severity') {
        const [wa, pa] = worst(a);
        const [wb, pb] = worst(b);
        return wb! - wa! || pb! - pa! || a.index - b.index;
      }
      if (this.#sort === 'name') return sortName(a.name).localeCompare(sortName(b.name), 'vi') || a.index - b.index;
      return a.index - b.index;
    };
    for (const group of this.#groups) {
      const order = [...group.tiles].sort(compare);
      if (!sameOrder(group.grid.children, order.map((t) => t.el))) group.grid.append(...order.map((t) => t.el));
    }
    const groups = [...this.#groups].sort(groupCompare);
    const wanted = [...groups.map((g) => g.el), this.#empty];
    if (!sameOrder(this.#root.children, wanted)) this.#root.append(...wanted);
  }

  /** Each group's head: how many of its halls are online, and how many are in trouble. */
  #refreshGroups(): void {
    for (const group of this.#groups) {
      let online = 0;
      let degraded = 0;
      let bad = 0;
      for (const t of group.tiles) {
        const s = t.shown.status;
        if (connected(s)) online++;
        if (s === 'degraded') degraded++;
        if (s === 'bad') bad++;
      }
      const parts = [`${online}/${group.tiles.length} trực tuyến`];
      if (bad) parts.push(`${bad} kém`);
      if (degraded) parts.push(`${degraded} suy giảm`);
      const text = parts.join(' · ');
      if (text !== group.shownCount) {
        group.count.textContent = text;
        group.count.classList.toggle('trouble', bad + degraded > 0);
        group.shownCount = text;
      }
    }
  }
}

function sameOrder(current: HTMLCollection, wanted: Element[]): boolean {
  if (current.length !== wanted.length) return false;
  for (let i = 0; i < wanted.length; i++) if (current[i] !== wanted[i]) return false;
  return true;
}
