import { ControlClient } from '../shared/ControlClient.ts';
import { loadBridges } from '../shared/bridges.ts';
import { controlEndpoints, controlFetch, roleName, signIn } from '../shared/session.ts';
import { stopOnRefusal } from '../shared/refusal.ts';
import { linkChecklist } from '../../server/core/health.ts';
import type { ControlRequest, ControlRequestName, HealthLine, LinkTestResult } from '../../server/protocol/control.ts';
import { AlertFeed, type HealthAlertMessage } from './AlertFeed.ts';
import { DrillDown } from './DrillDown.ts';
import { LinkTests, type LinkTestMessage } from './LinkTests.ts';
import { TileBoard, type SortMode } from './TileBoard.ts';
import { DevicePanel } from './DevicePanel.ts';
import { NodePanel, nodeLabel, nodeName } from './NodePanel.ts';
import type { ClusterSummary } from '../../server/protocol/control.ts';
import { clockTime, type TileStatus } from './words.ts';
import { BackChannel } from '../shared/BackChannel.ts';
import { ConnectionNotice } from '../shared/ConnectionNotice.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no element #${id}`);
  return el as T;
};

/** A summary older than this means the dashboard no longer hears the server. */
const STALE_MS = 7000;

/**
 * The technicians' dashboard: the 212 links at a glance (tiles by tier and district, coloured by
 * status, with the reason), a drill-down with history and events, the alert feed and the
 * pre-meeting link test. Staff only (technician, chair, secretary).
 */
async function main(): Promise<void> {
  const session = await signIn();
  if (!session) return;
  const { token, me } = session;
  if (me.role !== 'technician' && me.role !== 'chair' && me.role !== 'secretary') {
    $('title').textContent = 'Trang này dành cho kỹ thuật viên Viễn thông';
    $('updated').textContent = `Liên kết của bạn là của ${roleName(me.role).toLowerCase()}.`;
    return;
  }
  $('subtitle').textContent = `${me.title} · ${roleName(me.role)}`;
  const bridges = await loadBridges();
  const control = new ControlClient(controlEndpoints(), token);
  stopOnRefusal(control);

  const backChannel = new BackChannel($('messages'), control, { count: $('messages-count') });
  control.on('view', (view) => backChannel.update(view));
  const notice = new ConnectionNotice({ lost: $('conn-lost'), back: $('conn-back') });
  const request = <N extends ControlRequestName>(name: N, payload: ControlRequest<N>) => control.request(name, payload, 10_000, 'Máy chủ không trả lời');
  const nameOf = (id: string): string => bridges.get(id)?.name ?? id;
  /** The media nodes and each hall's node, as the server last said. */
  let nodes: ClusterSummary | null = null;

  // Hardware (RTP) halls get the device sheet in their drill-down.
  const device = new DevicePanel($('device-panel'), token);
  void device.load();
  const select = (bridgeId: string): void => {
    board.select(bridgeId);
    $('drill-node').textContent = nodeLabel(nodes, nodes?.bridges[bridgeId]);
    void device.open(bridgeId);
    void drill.open(bridgeId).then(() => {
      if (tests.pending(bridgeId)) drill.setTestState('Đang kiểm tra…', true);
    });
  };
  const board = new TileBoard($('board'), [...bridges.values()], select);
  const feed = new AlertFeed($('alert-feed'), $('alert-count'), select);
  const tests = new LinkTests($('tests-list'), $('tests-summary'), {
    name: nameOf,
    onSelect: select,
    onMark: (id, mark) => {
      board.markTest(id, mark);
      if (drill.bridgeId !== id) return;
      if (mark === 'pending') drill.setTestState('Đang kiểm tra… (khoảng 8 giây)', true);
      else if (mark === 'no-answer') drill.setTestState('Điểm cầu không trả lời yêu cầu kiểm tra.', false);
      else drill.setTestState('', false);
    },
  });

  /** Asks these halls to run the link test. */
  const startTest = async (bridgeIds: string[]): Promise<void> => {
    if (!bridgeIds.length) {
      $('toolbar-msg').textContent = 'Không có điểm cầu nào đang trực tuyến để kiểm tra.';
      return;
    }
    tests.started(bridgeIds);
    const ack = await request('health:startTest', { bridgeIds });
    if (!ack.ok) tests.failed(bridgeIds, ack.error.code === 'forbidden' ? 'Vai trò của bạn không được yêu cầu kiểm tra.' : 'Máy chủ không nhận yêu cầu kiểm tra.');
    else $('toolbar-msg').textContent = `Đã yêu cầu ${bridgeIds.length} điểm cầu kiểm tra đường truyền lúc ${clockTime(Date.now())}.`;
  };

  const drill = new DrillDown(
    {
      panel: $('drill'),
      name: $('drill-name'),
      where: $('drill-where'),
      badge: $('drill-badge'),
      reasons: $('drill-reasons'),
      since: $('drill-since'),
      metrics: $('drill-metrics'),
      sparks: $('drill-sparks'),
      span: $('drill-span'),
      lastAt: $('drill-last'),
      testButton: $<HTMLButtonElement>('drill-test'),
      testState: $('drill-test-state'),
      checklist: $('drill-checklist'),
      events: $('drill-events'),
    },
    {
      bridges,
      load: async (bridgeId) => {
        const ack = await request('health:bridge', { bridgeId });
        return ack.ok ? ack.data : null;
      },
      checklistOf: (bridgeId, test: { at: number; result: LinkTestResult }) => {
        const reportedReady = control.view?.presence?.[bridgeId]?.ready ?? false;
        const { items, ready } = linkChecklist({ ...test.result, reportedReady });
        return { items, ready, at: test.at };
      },
      test: (bridgeId) => void startTest([bridgeId]),
    },
  );
  $('drill-close').addEventListener('click', () => {
    device.close();
    drill.close();
    board.select(null);
  });
  addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && drill.bridgeId) {
      device.close();
      drill.close();
      board.select(null);
    }
  });

  // Filters and sorting.
  const applyFilter = (): void => board.setFilter({ problemsOnly: $<HTMLInputElement>('problems-only').checked, query: $<HTMLInputElement>('search').value });
  $('problems-only').addEventListener('change', applyFilter);
  $('search').addEventListener('input', applyFilter);
  $('sort').addEventListener('change', () => board.setSort($<HTMLSelectElement>('sort').value as SortMode));
  $('test-all').addEventListener('click', () => void startTest(board.onlineIds()));

  // The counts in the header, touched only when they change.
  const shownCounts = new Map<string, string>();
  const setText = (id: string, text: string): void => {
    if (shownCounts.get(id) === text) return;
    shownCounts.set(id, text);
    $(id).textContent = text;
  };
  const showCounts = (): void => {
    const counts = board.counts();
    for (const s of ['ok', 'degraded', 'bad', 'offline', 'absent', 'unknown'] as TileStatus[]) setText(`count-${s}`, String(counts[s]));
    $('count-unknown-wrap').hidden = counts.unknown === 0;
  };

  let lastSummaryAt = 0;
  /** How long applying a summary takes (the dashboard must stay responsive with 212 bridges). */
  const timing = { summaries: 0, lastMs: 0, maxMs: 0 };
  // Weak links from the control plane, at once (the summary's marks come every 2 s); the client took the list first.
  control.onServer('link:audioOnly', () => board.setAudioOnly(control.audioOnly));
  const applySummary = (summary: { at: number; bridges: HealthLine[] }): void => {
    const t0 = performance.now();
    board.update(summary.bridges);
    showCounts();
    if (drill.bridgeId) {
      const line = summary.bridges.find((l) => l.bridgeId === drill.bridgeId);
      if (line) drill.onSummary(line);
    }
    lastSummaryAt = Date.now();
    setText('updated', `Cập nhật lúc ${clockTime(summary.at)}`);
    timing.summaries++;
    timing.lastMs = performance.now() - t0;
    timing.maxMs = Math.max(timing.maxMs, timing.lastMs);
  };
  control.onServer('health:summary', applySummary);
  control.onServer('health:alert', (alert: HealthAlertMessage) => {
    feed.add(alert);
    // The status change comes with a connection event (joined, dropped): reload the drill-down's.
    if (alert.bridgeId === drill.bridgeId) void drill.refresh();
  });
  control.onServer('health:test', (msg: LinkTestMessage) => {
    const view = tests.result(msg);
    if (msg.bridgeId === drill.bridgeId) drill.showChecklist(view);
  });
  control.on('connection', (detail) => {
    const connected = detail.connected;
    const el = $('conn-state');
    el.textContent = connected ? 'Đã kết nối máy chủ' : 'Mất kết nối máy chủ — đang kết nối lại…';
    el.className = `conn ${connected ? 'ok' : 'bad'}`;
    notice.update(connected);
  });
  control.on('error', (detail) => console.warn(`diemcau: ${detail.message}`));
  let ticks = 0;
  setInterval(() => {
    if (lastSummaryAt && Date.now() - lastSummaryAt > STALE_MS) setText('updated', `Số liệu cũ — lần cập nhật cuối lúc ${clockTime(lastSummaryAt)}`);
    // Events (joined, dropped) may come without a status change: refresh the drill-down now and then.
    if (drill.bridgeId && ++ticks % 15 === 0) void drill.refresh();
  }, 1000);

  // The media nodes: a panel of them, each hall's node on its tile and in the drill-down.
  const drain = async (nodeId: string, draining: boolean): Promise<string | null> => {
    const res = await controlFetch(`/api/nodes/${encodeURIComponent(nodeId)}/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ draining }),
    }).catch(() => null);
    if (res?.ok) return null;
    return res?.status === 403 ? 'Chỉ kỹ thuật viên được chuyển điểm cầu giữa các máy chủ.' : res?.status === 404 ? 'Máy chủ này không còn hoạt động.' : 'Máy chủ điều khiển không nhận lệnh.';
  };
  const nodePanel = new NodePanel($('nodes'), me.role === 'technician' ? drain : null);
  const applyNodes = (summary: ClusterSummary): void => {
    nodes = summary;
    nodePanel.update(summary);
    // With one node (this server) every hall is on it: the tiles need not say so.
    board.setNodes((id) => (summary.mode === 'cluster' && summary.bridges[id] ? nodeName(summary.bridges[id]) : ''));
    if (drill.bridgeId) $('drill-node').textContent = nodeLabel(summary, summary.bridges[drill.bridgeId]);
  };
  control.onServer('cluster:nodes', applyNodes);
  control.on('connection', ({ connected }) => {
    if (connected) void request('cluster:nodes', {}).then((ack) => ack.ok && applyNodes(ack.data));
  });

  (window as unknown as { diemcau: unknown }).diemcau = { control, board, drill, device, me, timing, nodes: () => nodes };

  // The first picture without waiting for the next 2-second summary.
  const res = await controlFetch('/api/health', { headers: { authorization: `Bearer ${token}` } }).catch(() => null);
  if (res?.ok && !lastSummaryAt) applySummary((await res.json()) as { at: number; bridges: HealthLine[] });
  else showCounts();
}

void main();
