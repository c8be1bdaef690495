// The chair's console (also the secretary's). Over 400 lines: the page's wiring and its console
// panel (queue, timer, agenda, roll-call, alerts) live together; the wall and the maket editor
// are their own files.
import { MediaClient, leaveOnPageHide } from '../shared/MediaClient.ts';
import { ControlClient, formatCountdown, remainingMs } from '../shared/ControlClient.ts';
import { connectionText, loadBridges, type BridgeInfo } from '../shared/bridges.ts';
import { controlEndpoints, controlFetch, roleName, signIn, type Me } from '../shared/session.ts';
import { stopOnRefusal } from '../shared/refusal.ts';
import { $, countdownClass, errorText, formatClock, formatDuration, h, kindText, statusText } from '../shared/ui.ts';
import { ThumbnailWall } from './ThumbnailWall.ts';
import { AUDIO_ONLY_LABEL } from '../../server/core/health.ts';
import { hallPhrase } from '../../server/core/names.ts';
import { BackChannel } from '../shared/BackChannel.ts';
import { ConnectionNotice } from '../shared/ConnectionNotice.ts';
import { PaperBoard } from './PaperBoard.ts';
import { ScreenShare } from '../shared/ScreenShare.ts';
import { ScreenShareCard } from '../shared/ScreenShareCard.ts';
import { screenEndedText } from '../../server/protocol/papers.ts';
import { sharerBridge } from '../../server/core/conference/screen.ts';
import type { MaketEditor } from './MaketEditor.ts';
import { COMMAND_ROLES } from '../../server/core/conference/access.ts';
import type { ClientCommand, ConferenceView } from '../../server/protocol/control.ts';
import type { ConferencePlan } from '../../server/protocol/plan.ts';

/** Alerts kept on screen. */
const MAX_ALERTS = 60;

/** Words for a hall's link status in the technicians' alerts. */
const LINK_STATUS_TEXT: Record<string, string> = {
  ok: 'đường truyền đã tốt trở lại',
  degraded: 'đường truyền kém',
  bad: 'đường truyền rất kém',
  offline: 'mất kết nối',
};

/** The chair console (also the secretary's): programme, floor, agenda, roll-call, halls, alerts, maket. */
async function main(): Promise<void> {
  const session = await signIn();
  if (!session) return;
  const { token, me } = session;
  if (me.role !== 'chair' && me.role !== 'secretary') {
    $('title').textContent = `Trang này dành cho chủ tọa và thư ký; liên kết của bạn là của ${roleName(me.role)}.`;
    $('console').hidden = true;
    return;
  }
  document.body.classList.add(me.role);
  $('title').textContent = me.role === 'chair' ? 'Bàn điều hành chủ tọa' : 'Bàn điều hành — Thư ký hội nghị';
  document.title = `${$('title').textContent} — Hội nghị trực tuyến`;
  const bridges = await loadBridges();
  const plan = (await controlFetch('/api/plan').then((r) => r.json())) as ConferencePlan;

  const control = new ControlClient(controlEndpoints(), token);
  const client = new MediaClient({ placement: control.mediaTargets(), token, publish: false });
  leaveOnPageHide(client);
  stopOnRefusal(control, client);
  const wall = new ThumbnailWall(client, bridges, control);
  const console_ = new ChairConsole(me, control, bridges);
  const backChannel = new BackChannel($('messages'), control, { count: $('messages-count') });
  const notice = new ConnectionNotice({ lost: $('conn-lost'), back: $('conn-back') });
  const papers = new PaperBoard(token, control);
  // The console shares this PC's screen as the province's (the chair's hall); its stop button stops anyone's share.
  const screen = new ScreenShare(control, token, sharerBridge(me, me.chairBridgeId)!);
  const screenCard = new ScreenShareCard(screen, { stopsAnyone: true });
  (window as unknown as { diemcau: unknown }).diemcau = { client, control, wall, me, backChannel, papers, screen, api: controlFetch };

  // --- media: programme preview, its sound (muted by default), thumbnails -----------------
  const video = $<HTMLVideoElement>('program');
  const audioEls = new Map<string, HTMLAudioElement>();
  const sound = $<HTMLInputElement>('program-sound');
  const showProgram = (): void => {
    const program = [...client.consumers.values()].filter((c) => c.slot === 'onair' && c.consumer.kind === 'video').pop();
    if (program && (video.srcObject as MediaStream | null)?.getVideoTracks()[0] !== program.consumer.track) {
      video.srcObject = new MediaStream([program.consumer.track]);
    } else if (!program && video.srcObject) video.srcObject = null;
    $('program-empty').hidden = !!program;
    showShared();
  };
  // The shared screen every hall shows beside the speaker, as the console receives it (the content track).
  const shared = $<HTMLVideoElement>('screen-preview');
  const showShared = (): void => {
    const track = control.view?.screen ? [...client.consumers.values()].filter((c) => c.slot === 'content' && c.consumer.kind === 'video').pop()?.consumer.track : undefined;
    if (track && (shared.srcObject as MediaStream | null)?.getVideoTracks()[0] !== track) shared.srcObject = new MediaStream([track]);
    else if (!track && shared.srcObject) shared.srcObject = null;
    $('screen-preview-box').hidden = !track;
  };
  control.on('view', showShared);
  client.on('consumer', (rc) => {
    if (rc.consumer.kind === 'audio') {
      const el = h('audio', { autoplay: true, muted: !sound.checked });
      el.srcObject = new MediaStream([rc.consumer.track]);
      $('audio').append(el);
      audioEls.set(rc.consumer.id, el);
    }
    showProgram();
  });
  client.on('consumerslot', showProgram);
  // Audio first: the speaker's link carries no video; the preview keeps its last picture and says so.
  const showWeak = (): void => {
    const onAir = control.view?.programme.bridgeId ?? client.onAir;
    const weak = control.audioOnly.get(onAir);
    const el = $('program-weak');
    el.hidden = !weak?.up;
    el.textContent = weak?.up ? `${control.view?.programme.bridgeName ?? onAir}: ${AUDIO_ONLY_LABEL}` : '';
  };
  control.on('audioonly', showWeak);
  client.on('onair', showWeak);
  control.on('view', showWeak);
  client.on('consumerclosed', (rc) => {
    audioEls.get(rc.consumer.id)?.remove();
    audioEls.delete(rc.consumer.id);
    showProgram();
  });
  client.on('state', (d) => {
    const state = d.state;
    $('conn-state').textContent = control.connected ? connectionText(state) : 'Mất kết nối máy chủ — đang kết nối lại…';
    $('conn-state').className = `conn ${state === 'live' && control.connected ? 'ok' : 'bad'}`;
  });
  client.on('error', (d) => console.error(`diemcau: ${d.message}`));
  sound.onchange = () => {
    for (const el of audioEls.values()) {
      el.muted = !sound.checked;
      if (sound.checked) void el.play().catch(() => undefined);
    }
  };
  showProgram();

  // --- hall grids ---------------------------------------------------------------------
  wall.mountDistricts($('district-grid'));
  const districtSelect = $<HTMLSelectElement>('commune-district');
  for (const d of [...bridges.values()].filter((b) => b.tier === 'district')) districtSelect.append(h('option', { value: d.id }, d.name));
  $<HTMLInputElement>('commune-filter').oninput = (e) => wall.setFilter({ text: (e.target as HTMLInputElement).value });
  districtSelect.onchange = () => wall.setFilter({ districtId: districtSelect.value });
  $<HTMLInputElement>('commune-online').onchange = (e) => wall.setFilter({ onlineOnly: (e.target as HTMLInputElement).checked });
  $('page-prev').onclick = () => wall.setFilter({ page: wall.filter.page - 1 });
  $('page-next').onclick = () => wall.setFilter({ page: wall.filter.page + 1 });
  wall.renderCommunes();
  console_.onDistrictClick = (districtId) => {
    districtSelect.value = districtId;
    wall.setFilter({ districtId });
    $('communes-card').scrollIntoView({ behavior: 'smooth', block: 'start' });
  };

  // --- the view -----------------------------------------------------------------------
  // The maket editor (and the plan schemas it renders with) loads when it is opened: at once for the secretary.
  let editor: MaketEditor | undefined;
  let loading: Promise<void> | undefined;
  const details = $<HTMLDetailsElement>('maket-details');
  const openEditor = (): Promise<void> =>
    (loading ??= import('./MaketEditor.ts').then(({ MaketEditor }) => {
      editor = new MaketEditor(control, plan, bridges);
      if (control.view) editor.update(control.view);
    }));
  details.ontoggle = () => {
    if (details.open && control.view) void openEditor();
  };
  if (me.role === 'secretary') {
    details.open = true;
    $('col-mid').prepend($('maket-card'));
  }
  control.on('view', (view) => {
    if (details.open) void openEditor();
    editor?.update(view);
    if (view.presence) wall.setPresence(view.presence);
    console_.render(view);
    backChannel.update(view);
    papers.render(view);
    screenCard.render(view, view.status === 'running' || view.status === 'break');
  });
  control.on('event', (e) => console_.onEvent(e));
  // The technicians' link monitor: a hall's link changed status (staff only).
  control.onServer('health:alert', (alert) => console_.onHealthAlert(alert));
  // Who is heard now and how loud (the SFU's measure): lit tiles, and one line under the programme.
  control.onServer('audio:levels', ({ levels }) => {
    wall.setLevels(levels);
    $('heard').textContent = `Đang nghe: ${levels.length ? levels.map((l) => `${bridges.get(l.bridgeId)?.name ?? l.bridgeId} (${l.dBov} dB)`).join(', ') : '—'}`;
  });
  control.on('connection', () => {
    $('conn-state').textContent = control.connected ? connectionText(client.state) : 'Mất kết nối máy chủ — đang kết nối lại…';
    $('conn-state').className = `conn ${control.connected && client.state === 'live' ? 'ok' : 'bad'}`;
    // The commands go over the control link: its loss is what the chair must see.
    notice.update(control.connected);
  });
  setInterval(() => console_.tick(), 250);
}

type ConferenceEvent = { type: string; seq: number; at: number; bridgeId?: string } & Record<string, unknown>;

/** Everything on the console that follows the control view: floor, queue, agenda, roll-call, alerts. */
class ChairConsole {
  readonly #me: Me;
  readonly #control: ControlClient;
  readonly #bridges: Map<string, BridgeInfo>;
  #endArmed?: ReturnType<typeof setTimeout>;
  #msgTimer?: ReturnType<typeof setTimeout>;
  onDistrictClick: (districtId: string) => void = () => undefined;

  constructor(me: Me, control: ControlClient, bridges: Map<string, BridgeInfo>) {
    this.#me = me;
    this.#control = control;
    this.#bridges = bridges;
    for (const el of document.querySelectorAll<HTMLElement>('.chair-only')) el.hidden = !this.#may('grant_floor');
    $('start-meeting').onclick = () => void this.#run({ type: 'start_meeting' });
    $('break-start').onclick = () => void this.#run({ type: 'break_start' });
    $('break-end').onclick = () => void this.#endBreak();
    $('end-meeting').onclick = () => this.#endMeeting();
    $('timer-pause').onclick = () => void this.#run({ type: 'timer_pause' });
    $('timer-resume').onclick = () => void this.#run({ type: 'timer_resume' });
    for (const b of document.querySelectorAll<HTMLButtonElement>('button.extend')) {
      b.onclick = () => void this.#run({ type: 'timer_extend', seconds: Number(b.dataset.seconds) });
    }
    $('revoke').onclick = () => void this.#run({ type: 'revoke_floor' });
    $('grant-next').onclick = () => void this.#run({ type: 'grant_next' });
    // The archive recording: the secretary (and the chair) start and stop it.
    $('recording-toggle').onclick = () => void this.#run({ type: this.#control.view?.recording ? 'recording_stop' : 'recording_start' });
    $('agenda-prev').onclick = () => void this.#run({ type: 'agenda_prev' });
    $('agenda-next').onclick = () => void this.#run({ type: 'agenda_next' });
    $<HTMLButtonElement>('agenda-prev').disabled = !this.#may('agenda_prev');
    $<HTMLButtonElement>('agenda-next').disabled = !this.#may('agenda_next');
  }

  #may(type: ClientCommand['type']): boolean {
    return (COMMAND_ROLES[type] as readonly string[]).includes(this.#me.role);
  }

  #name(bridgeId: string | undefined): string {
    return (bridgeId && this.#bridges.get(bridgeId)?.name) || bridgeId || '';
  }

  /** Sends a command and says so when it is refused. */
  async #run(command: ClientCommand): Promise<boolean> {
    const reply = await this.#control.command(command);
    if (!reply.ok) this.#say(errorText(reply.error));
    return reply.ok;
  }

  #say(text: string): void {
    const el = $('action-msg');
    el.textContent = text;
    el.hidden = false;
    clearTimeout(this.#msgTimer);
    this.#msgTimer = setTimeout(() => (el.hidden = true), 8000);
  }

  /** Ends a break: an explicit one with break_end, a break item by moving to the next item. */
  async #endBreak(): Promise<void> {
    const view = this.#control.view;
    const onBreakItem = view?.agenda.items[view.agenda.index]?.kind === 'break';
    const reply = await this.#control.command({ type: 'break_end' });
    if (reply.ok) return;
    if (onBreakItem && reply.error.code === 'invalid_state') await this.#run({ type: 'agenda_next' });
    else this.#say(errorText(reply.error));
  }

  /** Ending is final: the first click arms the button, a second within 5 s ends the meeting. */
  #endMeeting(): void {
    const button = $<HTMLButtonElement>('end-meeting');
    if (this.#endArmed) {
      clearTimeout(this.#endArmed);
      this.#endArmed = undefined;
      button.textContent = 'Kết thúc hội nghị';
      void this.#run({ type: 'end_meeting' });
      return;
    }
    button.textContent = 'Bấm lần nữa để kết thúc hội nghị';
    this.#endArmed = setTimeout(() => {
      this.#endArmed = undefined;
      button.textContent = 'Kết thúc hội nghị';
    }, 5000);
  }

  render(view: ConferenceView): void {
    const status = view.status;
    $('meeting-status').textContent = statusText(status);
    $('meeting-status').className = `badge ${status}`;
    $('start-meeting').hidden = status !== 'waiting' || !this.#may('start_meeting');
    $('break-start').hidden = status !== 'running' || !this.#may('break_start');
    $('break-end').hidden = status !== 'break' || !this.#may('break_end');
    $('end-meeting').hidden = (status !== 'running' && status !== 'break') || !this.#may('end_meeting');
    $('program-name').textContent = `— ${view.programme.bridgeName}`;
    const recording = view.recording ?? null;
    $('recording').hidden = !recording;
    const toggle = $<HTMLButtonElement>('recording-toggle');
    toggle.hidden = !this.#may(recording ? 'recording_stop' : 'recording_start');
    toggle.textContent = recording ? 'Dừng ghi hình' : 'Bắt đầu ghi hình';
    toggle.className = recording ? 'danger' : '';
    this.#renderFloor(view);
    this.#renderQueue(view);
    this.#renderAgenda(view);
    this.#renderRollCall(view);
    this.tick();
  }

  #renderFloor(view: ConferenceView): void {
    const floor = view.floor;
    $('floor-none').hidden = !!floor;
    $('floor-on').hidden = !floor;
    if (!floor) return;
    $('floor-speaker').textContent = floor.speakerName;
    $('floor-title').textContent = floor.speakerTitle;
    $('floor-bridge').textContent = hallPhrase(floor.bridgeName);
    $('floor-topic').textContent = floor.topic ? `Nội dung: ${floor.topic}` : '';
    $('timer-pause').hidden = floor.timer.paused;
    // A break or a reconnection holds the clock by itself: it runs again when they end.
    $('timer-resume').hidden = !floor.timer.paused || floor.suspended !== null;
    this.#renderSuspended(view);
  }

  /** Why the holder is not heard now: the break, its link (with the grace left), its operator's mute. */
  #renderSuspended(view: ConferenceView): void {
    const floor = view.floor;
    const el = $('floor-suspended');
    let text = '';
    if (floor?.suspended === 'break') text = 'Giải lao: micrô của điểm cầu đã tắt, giờ phát biểu tạm dừng.';
    else if (floor?.suspended === 'reconnecting') {
      const left = floor.reconnectingUntil === null ? 0 : Math.max(0, Math.ceil((floor.reconnectingUntil - this.#control.serverNow()) / 1000));
      text = `Đang chờ điểm cầu ${floor.bridgeName} kết nối lại… (còn ${left} giây, giờ phát biểu tạm dừng)`;
    } else if (floor?.muted) text = 'Kỹ thuật viên điểm cầu đã tạm tắt micrô.';
    el.textContent = text;
    el.hidden = text === '';
  }

  #renderQueue(view: ConferenceView): void {
    const chair = this.#may('grant_floor');
    const presence = view.presence ?? {};
    $('queue-count').textContent = view.queue.length ? `(${view.queue.length})` : '';
    $('queue-empty').hidden = view.queue.length > 0;
    $<HTMLButtonElement>('grant-next').disabled = view.queue.length === 0 || view.status === 'waiting' || view.status === 'ended';
    const last = view.queue.length - 1;
    $('queue').replaceChildren(
      ...view.queue.map((r, i) => {
        const offline = presence[r.bridgeId] && !presence[r.bridgeId]!.online;
        return h(
          'li',
          { class: `request${offline ? ' offline' : ''}`, dataset: { request: r.requestId, bridge: r.bridgeId } },
          h(
            'div',
            { class: 'q-main' },
            h('div', { class: 'q-hall' }, `${i + 1}. ${r.bridgeName}`, r.designated && h('span', { class: 'tag' }, 'Tham luận'), offline && h('span', { class: 'tag bad' }, 'Mất kết nối')),
            h('div', { class: 'q-who' }, `${r.speakerName}, ${r.speakerTitle}`),
            r.topic && h('div', { class: 'q-topic' }, `Nội dung: ${r.topic}`),
          ),
          h(
            'div',
            { class: 'q-actions' },
            chair && h('button', { class: 'primary grant', onclick: () => void this.#run({ type: 'grant_floor', requestId: r.requestId }), disabled: view.status === 'waiting' || view.status === 'ended' }, 'Cho phát biểu'),
            chair && h('button', { class: 'up', title: 'Đưa lên trước', 'aria-label': 'Đưa lên trước', disabled: i === 0, onclick: () => void this.#run({ type: 'move_request', requestId: r.requestId, toIndex: i - 1 }) }, '▲ Lên'),
            chair && h('button', { class: 'down', title: 'Đưa xuống sau', 'aria-label': 'Đưa xuống sau', disabled: i === last, onclick: () => void this.#run({ type: 'move_request', requestId: r.requestId, toIndex: i + 1 }) }, '▼ Xuống'),
            h('button', { class: 'remove', title: 'Hủy đăng ký này', 'aria-label': `Hủy đăng ký của ${r.bridgeName}`, onclick: () => void this.#run({ type: 'cancel_request', requestId: r.requestId }) }, 'Hủy'),
          ),
        );
      }),
    );
  }

  #shownIndex = -1;

  #renderAgenda(view: ConferenceView): void {
    const may = this.#may('agenda_goto');
    const started = view.status !== 'waiting' && view.status !== 'ended';
    $<HTMLButtonElement>('agenda-prev').disabled = !may || !started || view.agenda.index <= 0;
    $<HTMLButtonElement>('agenda-next').disabled = !may || !started || view.agenda.index >= view.agenda.items.length - 1;
    $('agenda').replaceChildren(
      ...view.agenda.items.map((item, i) => {
        const current = i === view.agenda.index && view.status !== 'waiting';
        return h(
          'li',
          { class: `item${current ? ' current' : ''}${i < view.agenda.index ? ' done' : ''}`, dataset: { index: String(i), item: item.id } },
          h('span', { class: 'no' }, String(i + 1)),
          h(
            'div',
            { class: 'a-main' },
            h('div', { class: 'a-title' }, item.title),
            h('div', { class: 'a-meta' }, `${kindText(item.kind)} · `, h('span', { class: 'elapsed', dataset: { sec: String(item.elapsedSec) } }, formatDuration(item.elapsedSec)), ` / ${item.plannedMinutes} phút`),
          ),
          may && started && !current && h('button', { class: 'goto', onclick: () => void this.#run({ type: 'agenda_goto', index: i }) }, 'Chuyển đến'),
        );
      }),
    );
    // Keep the current item in sight when the agenda moves (not on every view: the chair may be scrolling).
    if (this.#shownIndex !== view.agenda.index) {
      this.#shownIndex = view.agenda.index;
      const list = $('agenda');
      const li = list.querySelector<HTMLElement>('li.current');
      if (li) list.scrollTop += li.getBoundingClientRect().top - list.getBoundingClientRect().top - list.clientHeight / 3;
    }
  }

  #renderRollCall(view: ConferenceView): void {
    const r = view.rollCall;
    $('rollcall-summary').textContent =
      `Huyện: ${r.districts.online}/${r.districts.total} trực tuyến, ${r.districts.ready} sẵn sàng · ` +
      `Xã: ${r.communes.online}/${r.communes.total} trực tuyến, ${r.communes.ready} sẵn sàng · ` +
      `Tỉnh: ${r.province.online}/${r.province.total} · Đại biểu: ${r.attendees}`;
    $('rollcall-body').replaceChildren(
      ...(r.byDistrict ?? []).map((d) => {
        const hall = !d.online ? ['Chưa kết nối', 'bad'] : d.ready ? ['Sẵn sàng', 'ok'] : ['Trực tuyến', 'warn'];
        const att = view.presence?.[d.districtId]?.attendees;
        return h(
          'tr',
          { dataset: { district: d.districtId }, title: 'Bấm để xem các xã của huyện này', onclick: () => this.onDistrictClick(d.districtId) },
          h('td', {}, d.name),
          h('td', { class: hall[1] }, hall[0]!, d.online && att != null ? ` (${att})` : ''),
          h('td', { class: d.communesOnline === d.communesTotal ? 'ok' : d.communesOnline === 0 ? 'bad' : 'warn' }, `${d.communesOnline}/${d.communesTotal}`),
          h('td', {}, `${d.communesReady}/${d.communesTotal}`),
        );
      }),
    );
  }

  /** The clock, the countdown and the current item's elapsed time, between views. */
  tick(): void {
    const view = this.#control.view;
    const now = this.#control.serverNow();
    $('clock').textContent = formatClock(now);
    if (!view) return;
    if (view.recording) $('recording-elapsed').textContent = formatDuration(Math.max(0, (now - view.recording.startedAt) / 1000));
    if (view.floor?.suspended === 'reconnecting') this.#renderSuspended(view);
    const left = remainingMs(view, now);
    const el = $('chair-countdown');
    // The countdown is also in the header, in sight whatever the columns are scrolled to.
    $('bar-floor').hidden = left === null || !view.floor;
    if (left !== null && view.floor) {
      const text = left < 0 ? `Quá giờ ${formatCountdown(-left)}` : formatCountdown(left);
      const tone = countdownClass(left, view.floor.timer.warningMarksSec);
      el.textContent = text;
      el.className = `countdown-box ${tone}${view.floor.timer.paused ? ' paused' : ''}`;
      el.dataset.remainingMs = String(Math.round(left));
      $('bar-speaker').textContent = view.floor.bridgeName;
      $('bar-countdown').textContent = text;
      $('bar-countdown').className = `countdown-chip ${tone}`;
    }
    if (view.status === 'running') {
      const current = document.querySelector<HTMLElement>('#agenda li.current .elapsed');
      const base = Number(current?.dataset.sec ?? 0);
      if (current) current.textContent = formatDuration(base + Math.max(0, (now - view.serverNow) / 1000));
    }
  }

  /** Events worth the chair's eye go to the alerts; technicians' to their own list. */
  onEvent(e: ConferenceEvent): void {
    const name = this.#name(e.bridgeId);
    let alert: [string, 'info' | 'warn' | 'bad' | 'ok'] | null = null;
    switch (e.type) {
      case 'timer_warning': {
        const sec = Number(e.remainingSec);
        alert = [`${name}: còn ${sec >= 120 ? `${Math.round(sec / 60)} phút` : `${sec} giây`} phát biểu`, 'warn'];
        break;
      }
      case 'timer_expired':
        alert = [`${name}: đã hết thời gian phát biểu`, 'bad'];
        break;
      case 'bridge_offline':
        alert = e.dropOut ? [`${name} mất kết nối`, 'bad'] : [`${name} đã ngắt kết nối`, 'info'];
        break;
      case 'bridge_online':
        if (e.rejoin) alert = [`${name} đã kết nối lại`, 'ok'];
        else if (e.late) alert = [`${name} vào muộn`, 'info'];
        break;
      case 'floor_requested':
        alert = [`${name} xin phát biểu: ${String(e.speakerName)}`, 'info'];
        break;
      case 'holder_reconnecting':
        alert = [`${name} mất kết nối khi đang phát biểu — chờ kết nối lại đến ${formatClock(Number(e.until))}`, 'bad'];
        break;
      case 'holder_returned':
        alert = [`${name} đã kết nối lại, tiếp tục phát biểu`, 'ok'];
        break;
      case 'hall_muted':
        alert = [`${name}: micrô ${e.muted ? 'đã tạm tắt' : 'đã bật lại'}`, 'info'];
        break;
      case 'floor_ended':
        if (e.reason === 'offline') alert = [`${name} mất quyền phát biểu vì mất kết nối`, 'bad'];
        else if (e.reason === 'yielded') alert = [`${name} đã kết thúc phát biểu`, 'info'];
        break;
      case 'screen_share_stopped':
        // The share ended by itself: the sharing PC's picture was lost (the chair did not stop it).
        if (e.reason === 'source_lost') alert = [screenEndedText(name, 'source_lost'), 'bad'];
        break;
    }
    if (alert) this.#addAlert('alerts', alert[0], alert[1], e.at);
  }

  /** A hall's link changed status (the technicians' link monitor): shown apart from the meeting's alerts. */
  onHealthAlert(a: { bridgeId: string; bridgeName: string; at: number; from: string | null; to: string; reasons: string[] }): void {
    // News for the chair: a hall that was on line getting worse, or a poor link recovering. Halls
    // joining (from nothing or offline) are not: 212 of them join before the meeting.
    const worse = a.to !== 'ok' && (a.from === 'ok' || a.from === 'degraded' || (a.from === 'bad' && a.to === 'offline'));
    const recovered = a.to === 'ok' && (a.from === 'degraded' || a.from === 'bad');
    if (!worse && !recovered) return;
    const tone = a.to === 'ok' ? 'ok' : a.to === 'degraded' ? 'warn' : 'bad';
    const status = LINK_STATUS_TEXT[a.to] ?? a.to;
    const reasons = a.to === 'ok' ? [] : a.reasons.filter((r) => r !== status);
    const why = reasons.length ? ` (${reasons.join('; ')})` : '';
    this.#addAlert('tech-alerts', `${a.bridgeName}: ${status}${why}`, tone, a.at);
  }

  #addAlert(listId: string, text: string, tone: string, at: number): void {
    const list = $(listId);
    list.querySelector('.empty')?.remove();
    list.prepend(h('li', { class: `alert ${tone}` }, h('time', {}, formatClock(at || this.#control.serverNow())), ' ', text));
    while (list.children.length > MAX_ALERTS) list.lastElementChild!.remove();
  }
}

void main();
