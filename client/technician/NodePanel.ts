import type { ClusterSummary, NodeLineView } from '../../server/protocol/control.ts';
import { h } from '../shared/ui.ts';

/** A node's name as technicians read it ('local' is this server, the only node of the embedded default). */
export function nodeName(nodeId: string): string {
  return nodeId === 'local' ? 'Máy chủ này' : nodeId;
}

/** Labels in words: "region: dong-bac". */
function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k === 'region' ? 'khu vực' : k}: ${v}`)
    .join(', ');
}

/** A node's state in words and its CSS class. */
function stateOf(n: NodeLineView): [string, string] {
  if (!n.alive) return ['Mất kết nối', 'lost'];
  if (n.draining) return [n.drainMarked ? 'Đang chuyển điểm cầu đi (bảo trì)' : 'Đang chuyển điểm cầu đi', 'draining'];
  return ['Hoạt động', 'ok'];
}

/** How a node is described beside a hall (the drill-down). */
export function nodeLabel(summary: ClusterSummary | null, nodeId: string | undefined): string {
  if (!summary || !nodeId) return 'Máy chủ media: chưa phân bổ';
  const n = summary.nodes.find((x) => x.nodeId === nodeId);
  const labels = n && Object.keys(n.labels).length ? ` (${labelText(n.labels)})` : '';
  const state = n && stateOf(n)[1] !== 'ok' ? ` — ${stateOf(n)[0].toLowerCase()}` : '';
  return `Máy chủ media: ${nodeName(nodeId)}${labels}${state}`;
}

/**
 * The media nodes (SFU): each one's state, halls placed and capacity, connected peers and
 * consumers, CPU, pipes to and from the other nodes; a technician can drain one for maintenance.
 */
export class NodePanel {
  readonly #root: HTMLElement;
  readonly #drain: ((nodeId: string, draining: boolean) => Promise<string | null>) | null;
  #shown = '';
  #message = '';

  /** `drain` (technicians only) asks the server to drain a node or take it back; resolves with an error text or null. */
  constructor(root: HTMLElement, drain: ((nodeId: string, draining: boolean) => Promise<string | null>) | null) {
    this.#root = root;
    this.#drain = drain;
  }

  /** Draws the nodes (only when something shown changed). */
  update(summary: ClusterSummary): void {
    const key = JSON.stringify([summary.mode, summary.nodes, this.#message]);
    if (key === this.#shown) return;
    this.#shown = key;
    const rows = summary.nodes.map((n) => {
      const [state, cls] = stateOf(n);
      const load = n.capacity === null ? `${n.placed} điểm cầu` : `${n.placed} / ${n.capacity} điểm cầu`;
      const cpu = summary.mode === 'cluster' ? ` · CPU ${Math.round(n.load.cpu * 100)} %` : '';
      const carried = (k: 'in' | 'out'): string => (n.pipes?.tracks ? ` (${n.pipes.tracks[k]} luồng)` : '');
      const pipes = n.pipes ? `Đường nối giữa các máy: nhận ${n.pipes.in}${carried('in')} · gửi ${n.pipes.out}${carried('out')}` : summary.mode === 'local' ? 'Một máy chủ: không có đường nối' : 'Đường nối giữa các máy: —';
      const action =
        this.#drain && summary.mode === 'cluster' && n.alive
          ? h(
              'button',
              {
                type: 'button',
                class: n.drainMarked ? 'node-undrain' : 'node-drain',
                dataset: { node: n.nodeId },
                onclick: () => void this.#toggle(n.nodeId, !n.drainMarked),
              },
              n.drainMarked ? 'Nhận điểm cầu trở lại' : 'Chuyển hết điểm cầu khỏi máy này',
            )
          : null;
      return h(
        'li',
        { class: `node node-${cls}`, dataset: { node: n.nodeId } },
        h('div', { class: 'node-head' }, h('b', {}, nodeName(n.nodeId)), h('span', { class: 'node-state' }, state)),
        Object.keys(n.labels).length ? h('div', { class: 'sub' }, labelText(n.labels)) : null,
        h('div', { class: 'node-load' }, `${load} · ${n.load.peers} kết nối · ${n.load.consumers} luồng nhận${cpu}`),
        h('div', { class: 'node-pipes' }, pipes),
        action,
      );
    });
    this.#root.replaceChildren(...rows, ...(this.#message ? [h('p', { class: 'msg' }, this.#message)] : []));
  }

  async #toggle(nodeId: string, draining: boolean): Promise<void> {
    if (!this.#drain) return;
    const error = await this.#drain(nodeId, draining);
    this.#message = error ?? (draining ? `Đang chuyển lần lượt các điểm cầu khỏi ${nodeName(nodeId)}.` : `${nodeName(nodeId)} nhận điểm cầu trở lại.`);
    this.#shown = '';
  }
}
