// The operator panel of one hall. A little over 400 lines: the page's wiring and its device
// panel (preview, meter, switching the display's devices) share the hall link; the paper card,
// the speakers and the screen-share card are files of their own.
import { ControlClient, formatCountdown, remainingMs } from '../shared/ControlClient.ts';
// The limits straight from the core: the protocol module would bring zod into this page.
import { MAX_ATTENDEES, MAX_SPEAKER_NAME, MAX_SPEAKER_TITLE, MAX_TOPIC } from '../../server/core/conference/validate.ts';
import { PanelEnd, hallChannelName, loadDeviceChoice, saveDeviceChoice, type DisplayStatus } from '../shared/HallLink.ts';
import { LevelMeter, levelDb } from '../shared/LevelMeter.ts';
import { connectionText } from '../shared/bridges.ts';
import { linkLevelText } from '../shared/linkQuality.ts';
import { drawMaket } from '../shared/maket.ts';
import { controlEndpoints, roleName, signIn } from '../shared/session.ts';
import { stopOnRefusal } from '../shared/refusal.ts';
import { startHardwareHall } from './HardwareHall.ts';
import { hallPhrase } from '../../server/core/names.ts';
import { PaperPanel } from './PaperPanel.ts';
import { $, countdownClass, errorText, statusText } from '../shared/ui.ts';
import { BackChannel } from '../shared/BackChannel.ts';
import { ConnectionNotice } from '../shared/ConnectionNotice.ts';
import { Speakers } from './Speakers.ts';
import { ScreenShare } from '../shared/ScreenShare.ts';
import { ScreenShareCard } from '../shared/ScreenShareCard.ts';

/** A display not heard from for this long is taken as closed. */
const DISPLAY_STALE_MS = 3500;

/**
 * The operator panel of one hall. It holds no conference media: the hall's display (hall.html,
 * opened from here onto the projector) publishes and plays; this page steers it through the
 * hall link, and shows its own preview of the chosen camera and a level meter of the chosen
 * microphone.
 */
async function main(): Promise<void> {
  const session = await signIn();
  if (!session) return;
  const { token, me } = session;
  if (me.role !== 'operator' || !me.bridgeId) {
    $('title').textContent = `Trang này dành cho kỹ thuật viên điểm cầu; liên kết của bạn là của ${roleName(me.role)}.`;
    $('panel').hidden = true;
    return;
  }
  const bridgeId = me.bridgeId;
  document.title = `${me.bridgeName} — Bảng điều khiển điểm cầu`;
  $('title').textContent = `${hallPhrase(me.bridgeName ?? '')} — Bảng điều khiển`;

  const control = new ControlClient(controlEndpoints(), token);
  stopOnRefusal(control);
  const link = new PanelEnd(hallChannelName(me.conferenceId, bridgeId));
  const devices = new DevicePanel(bridgeId, link);
  const speakers = new Speakers(bridgeId, link);
  const backChannel = new BackChannel($('back-channel'), control, { bridgeId });
  const notice = new ConnectionNotice({ lost: $('conn-lost'), back: $('conn-back') });
  const papers = new PaperPanel(token, control);
  // The panel shares this PC's screen itself (the click opens the picker here), beside the display's media.
  const screen = new ScreenShare(control, token, bridgeId);
  const screenCard = new ScreenShareCard(screen, { stopsAnyone: false });
  (window as unknown as { diemcau: unknown }).diemcau = { control, link, devices, speakers, backChannel, me, papers, screen };
  // A hardware hall's media comes from its device: no display window, no camera here.
  const hardware = me.bridgeKind === 'rtp';
  if (hardware) {
    $('display-card').hidden = true;
    $('camera-card').hidden = true;
    startHardwareHall($('hardware-card'), token, bridgeId);
  }

  // --- the display on the projector -------------------------------------------------------
  let display: DisplayStatus | null = null;
  let displaySeenAt = 0;
  let displayWindow: Window | null = null;
  const displayAlive = (): boolean => display !== null && Date.now() - displaySeenAt < DISPLAY_STALE_MS;
  link.onMessage((msg) => {
    if (msg.type === 'status') {
      display = msg;
      displaySeenAt = Date.now();
      devices.onDisplay(msg);
      speakers.onDisplay(msg);
      renderDisplay();
    } else if (msg.type === 'bye') {
      display = null;
      renderDisplay();
    } else if (msg.type === 'device-result') devices.onResult(msg);
  });
  link.post({ type: 'hello' });

  const renderDisplay = (): void => {
    const state = $('display-state');
    const button = $<HTMLButtonElement>('open-display');
    const alive = displayAlive();
    let text: string;
    let tone: 'ok' | 'warn' | 'bad';
    if (!alive) {
      text = 'Chưa mở trên máy này: điểm cầu chưa gửi hình và tiếng lên hội nghị.';
      tone = 'bad';
    } else if (display!.mediaState === 'live' && display!.publishing.cam) {
      text = display!.needsClick ? 'Đang chạy, nhưng chờ một cú bấm trên màn hình trình chiếu để bật âm thanh.' : 'Đang chạy: đang gửi hình và tiếng của điểm cầu.';
      tone = display!.needsClick ? 'warn' : 'ok';
    } else {
      text = `Màn hình trình chiếu: ${connectionText(display!.mediaState)}`;
      tone = display!.mediaState === 'replaced' ? 'bad' : 'warn';
    }
    state.textContent = text;
    state.className = `state ${tone}`;
    button.textContent = alive ? 'Đưa màn hình trình chiếu lên trước' : 'Mở màn hình trình chiếu';
    button.className = alive ? 'secondary' : 'primary big';

    const mic = $('mic-air');
    if (alive) {
      const mutedHere = control.view?.mine?.muted ?? false;
      mic.textContent = display!.micOpen ? 'Đang mở: tiếng của hội trường đang lên hội nghị' : mutedHere ? 'Đang tắt tạm thời (bấm "Bật lại micrô")' : 'Đang tắt (chỉ mở khi được phát biểu)';
      mic.className = `mic ${display!.micOpen ? 'open' : 'closed'}`;
    } else {
      mic.textContent = '—';
      mic.className = 'mic closed';
    }
    const level = alive ? display!.link.level : 'unknown';
    $('link-level').textContent = linkLevelText(level);
    $('link-level').className = `link-level ${level}`;
    const q = display?.link;
    const parts: string[] = [];
    if (alive && q) {
      if (q.rttMs !== null) parts.push(`trễ ${Math.round(q.rttMs)} ms`);
      const loss = Math.max(q.lossUpPct ?? 0, q.lossDownPct ?? 0);
      if (q.lossUpPct !== null || q.lossDownPct !== null) parts.push(`mất gói ${loss.toLocaleString('vi-VN', { maximumFractionDigits: 1 })} %`);
      if (q.sendKbps !== null) parts.push(`gửi ${Math.round(q.sendKbps)} kbit/s`);
    } else parts.push('(mở màn hình trình chiếu để đo)');
    $('link-detail').textContent = parts.join(' · ');
  };
  setInterval(renderDisplay, 1000);
  renderDisplay();

  $('open-display').onclick = () => {
    if (displayWindow && !displayWindow.closed) {
      displayWindow.focus();
      return;
    }
    if (displayAlive()) {
      // Opened earlier (by hand, or before this panel was reloaded): a second one would take the hall's media over.
      $('device-msg').textContent = 'Màn hình trình chiếu đang chạy ở một cửa sổ khác trên máy này.';
      return;
    }
    displayWindow = window.open(`/hall.html#token=${token}`, `diemcau-display-${bridgeId}`, 'popup=yes,width=1280,height=720');
    if (!displayWindow) $('device-msg').textContent = 'Trình duyệt đã chặn cửa sổ mới. Hãy cho phép cửa sổ bật lên (pop-up) cho trang này rồi bấm lại.';
  };

  // --- roll-call ------------------------------------------------------------------------
  const attendees = $<HTMLInputElement>('attendees');
  // The fields take what the server accepts (the limits have one source, the core).
  attendees.max = String(MAX_ATTENDEES);
  $<HTMLInputElement>('speaker-name').maxLength = MAX_SPEAKER_NAME;
  $<HTMLInputElement>('speaker-title').maxLength = MAX_SPEAKER_TITLE;
  $<HTMLInputElement>('topic').maxLength = MAX_TOPIC;
  const sendReady = async (ready: boolean): Promise<void> => {
    const n = Number(attendees.value);
    if (attendees.value.trim() === '' || !Number.isInteger(n) || n < 0 || n > MAX_ATTENDEES) {
      $('ready-msg').textContent = `Xin nhập số đại biểu có mặt (số nguyên từ 0 đến ${MAX_ATTENDEES}).`;
      attendees.focus();
      return;
    }
    const reply = await control.command({ type: 'report_ready', bridgeId, attendees: n, ready });
    $('ready-msg').textContent = reply.ok ? '' : errorText(reply.error);
  };
  $('ready').onclick = () => void sendReady(true);
  $('not-ready').onclick = () => void sendReady(false);

  // --- the floor ------------------------------------------------------------------------
  const form = $<HTMLFormElement>('request-form');
  const remembered = JSON.parse(localStorage.getItem(`diemcau.speaker.${bridgeId}`) ?? '{}') as { name?: string; title?: string };
  $<HTMLInputElement>('speaker-name').value = remembered.name ?? '';
  $<HTMLInputElement>('speaker-title').value = remembered.title ?? '';
  form.onsubmit = async (e) => {
    e.preventDefault();
    const speakerName = $<HTMLInputElement>('speaker-name').value.trim();
    const speakerTitle = $<HTMLInputElement>('speaker-title').value.trim();
    const topic = $<HTMLInputElement>('topic').value.trim();
    if (!speakerName || !speakerTitle) {
      $('floor-msg').textContent = 'Xin nhập họ tên và chức vụ của người phát biểu.';
      return;
    }
    $<HTMLButtonElement>('request').disabled = true;
    const reply = await control.command({ type: 'request_floor', bridgeId, speakerName, speakerTitle, topic: topic || null });
    $<HTMLButtonElement>('request').disabled = false;
    if (reply.ok) {
      localStorage.setItem(`diemcau.speaker.${bridgeId}`, JSON.stringify({ name: speakerName, title: speakerTitle }));
      $<HTMLInputElement>('topic').value = '';
    }
    $('floor-msg').textContent = reply.ok ? '' : errorText(reply.error);
  };
  $('cancel').onclick = async () => {
    const mine = control.view?.queue.find((r) => r.bridgeId === bridgeId);
    if (!mine) return;
    const reply = await control.command({ type: 'cancel_request', requestId: mine.requestId });
    $('floor-msg').textContent = reply.ok ? 'Đã hủy đăng ký phát biểu.' : errorText(reply.error);
  };
  // "Tắt micrô tạm thời": the server's rule still decides who may be open at all; this only closes.
  $('mute').onclick = async () => {
    const muted = control.view?.mine?.muted ?? false;
    const reply = await control.command({ type: 'mute_hall', bridgeId, muted: !muted });
    $('floor-msg').textContent = reply.ok ? '' : errorText(reply.error);
  };
  $('yield').onclick = async () => {
    const reply = await control.command({ type: 'yield_floor' });
    $('floor-msg').textContent = reply.ok ? 'Đã kết thúc phát biểu.' : errorText(reply.error);
  };

  // --- the view ---------------------------------------------------------------------------
  const render = (): void => {
    const view = control.view;
    $('conn-state').textContent = control.connected ? 'Đã kết nối máy chủ' : 'Mất kết nối máy chủ — đang kết nối lại…';
    $('conn-state').className = `conn ${control.connected ? 'ok' : 'bad'}`;
    notice.update(control.connected);
    if (!view) return;
    backChannel.update(view);
    $('meeting-status').textContent = statusText(view.status);
    $('meeting-status').className = `badge ${view.status}`;
    const mine = view.mine;
    if (mine) {
      if (document.activeElement !== attendees && mine.attendees !== null && attendees.value === '') attendees.value = String(mine.attendees);
      $('ready-state').textContent = mine.ready ? `Đã báo sẵn sàng với ${mine.attendees ?? 0} đại biểu.` : 'Chưa báo sẵn sàng.';
      $('ready-state').className = `state ${mine.ready ? 'ok' : 'warn'}`;
      $('ready').textContent = mine.ready ? 'Cập nhật số đại biểu' : 'Sẵn sàng';
      $('not-ready').hidden = !mine.ready;
    }
    const speaking = view.floor?.bridgeId === bridgeId;
    const request = view.queue.find((r) => r.bridgeId === bridgeId);
    form.hidden = speaking || !!request;
    $<HTMLButtonElement>('request').disabled = view.status === 'ended';
    $('queued').hidden = speaking || !request;
    $('speaking').hidden = !speaking;
    if (request) {
      $('queued-speaker').textContent = `${request.speakerName}, ${request.speakerTitle}`;
      $('queue-position').textContent = mine?.queuePosition ? String(mine.queuePosition) : '—';
    }
    if (speaking) {
      const floor = view.floor!;
      $('speaking-who').textContent = `${floor.speakerName}, ${floor.speakerTitle}`;
      // Holding the floor is not being heard: a break or the hall's own mute closes the microphone.
      $('on-air').textContent =
        floor.suspended === 'break' ? 'TẠM DỪNG — GIẢI LAO (micrô đã tắt, giờ tạm dừng)'
        : floor.suspended === 'reconnecting' ? 'ĐANG CHỜ KẾT NỐI LẠI (giờ tạm dừng)'
        : floor.muted ? 'ĐANG PHÁT BIỂU — MICRÔ TẠM TẮT'
        : 'ĐANG PHÁT BIỂU';
      $('on-air').className = `on-air${floor.suspended || floor.muted ? ' held' : ''}`;
    }
    const muted = mine?.muted ?? false;
    $('mute').textContent = muted ? 'Bật lại micrô' : 'Tắt micrô tạm thời';
    $('mute').className = muted ? 'danger' : 'secondary';
    $('mute-state').textContent = muted ? 'Micrô của hội trường đang tạm tắt trên hội nghị.' : '';
    $('mute-state').className = `state${muted ? ' bad' : ''}`;
    const item = view.agenda.items[view.agenda.index];
    $('agenda-item').textContent = item ? `${view.agenda.index + 1}. ${item.title}` : '—';
    $('program-now').textContent = view.programme.bridgeName;
    $('floor-now').textContent = view.floor ? `${view.floor.speakerName} — ${view.floor.bridgeName}` : 'Không có';
    drawMaket($('maket-preview'), view.maket);
    papers.render(view);
    screenCard.render(view, view.mine?.mayShareScreen === true);
    tick();
  };
  const tick = (): void => {
    const view = control.view;
    const left = view ? remainingMs(view, control.serverNow()) : null;
    const el = $('op-countdown');
    if (left === null || view?.floor?.bridgeId !== bridgeId) return;
    el.textContent = left < 0 ? `Quá giờ ${formatCountdown(-left)}` : formatCountdown(left);
    el.className = `countdown-box ${countdownClass(left, view.floor.timer.warningMarksSec)}${view.floor.timer.paused ? ' paused' : ''}`;
  };
  setInterval(tick, 200);
  control.on('view', render);
  control.on('connection', render);
  render();
  if (!hardware) {
    await devices.start();
    await speakers.list();
  }
}

/**
 * Camera and microphone choice: a preview of the chosen camera, a meter on the chosen
 * microphone, and the switch of the display's producers (through the hall link).
 */
class DevicePanel {
  readonly #bridgeId: string;
  readonly #link: PanelEnd;
  readonly #meter = new LevelMeter();
  readonly #pending = new Map<string, (r: { ok: boolean; error?: string }) => void>();
  #video?: MediaStreamTrack;
  #audio?: MediaStreamTrack;
  /** The operator changed a select and the display has not confirmed yet. */
  #switching = false;
  #reqNo = 0;

  constructor(bridgeId: string, link: PanelEnd) {
    this.#bridgeId = bridgeId;
    this.#link = link;
  }

  /** Opens the preview on the remembered devices, lists the devices and starts the meter. */
  async start(): Promise<void> {
    const choice = loadDeviceChoice(this.#bridgeId);
    await this.#open('video', choice.videoId);
    await this.#open('audio', choice.audioId);
    await this.#list();
    navigator.mediaDevices.addEventListener('devicechange', () => void this.#list());
    addEventListener('pointerdown', () => void this.#meter.resume());
    const bar = $('meter-bar');
    setInterval(() => {
      const db = levelDb(this.#meter.level());
      const pct = ((db + 60) / 60) * 100;
      bar.style.width = `${pct.toFixed(0)}%`;
      bar.className = `meter-bar ${db > -6 ? 'hot' : db > -30 ? 'ok' : 'low'}`;
      bar.dataset.db = db.toFixed(1);
      bar.title = this.#meter.suspended ? 'Bấm vào trang để bật đồng hồ âm lượng' : `${db.toFixed(0)} dBFS`;
    }, 100);
    $<HTMLSelectElement>('camera').onchange = (e) => void this.choose('video', (e.target as HTMLSelectElement).value);
    $<HTMLSelectElement>('microphone').onchange = (e) => void this.choose('audio', (e.target as HTMLSelectElement).value);
  }

  /** The operator picked a device: preview it here and put it on the air at the display. */
  async choose(kind: 'audio' | 'video', deviceId: string): Promise<void> {
    const msg = $('device-msg');
    this.#switching = true;
    try {
      await this.#open(kind, deviceId);
      saveDeviceChoice(this.#bridgeId, kind, deviceId);
      const reqId = `d${++this.#reqNo}`;
      const result = await new Promise<{ ok: boolean; error?: string } | null>((resolve) => {
        this.#pending.set(reqId, resolve);
        this.#link.post({ type: 'use-device', reqId, kind, deviceId });
        setTimeout(() => resolve(null), 10_000);
      });
      this.#pending.delete(reqId);
      const what = kind === 'audio' ? 'micrô' : 'camera';
      if (result === null) msg.textContent = `Đã chọn ${what}; màn hình trình chiếu chưa mở nên sẽ dùng ${what} này khi mở.`;
      else if (result.ok) msg.textContent = `Đã chuyển ${what} trên hội nghị.`;
      else msg.textContent = `Không chuyển được ${what}: ${result.error ?? ''}`;
    } catch (err) {
      msg.textContent = `Không mở được thiết bị: ${(err as Error).message}`;
    } finally {
      this.#switching = false;
    }
  }

  onResult(msg: { reqId: string; ok: boolean; error?: string }): void {
    this.#pending.get(msg.reqId)?.(msg);
  }

  /** Keeps the selects on what the display really uses (unless the operator is switching). */
  onDisplay(status: DisplayStatus): void {
    if (this.#switching) return;
    const set = (id: string, deviceId: string | null): void => {
      const select = $<HTMLSelectElement>(id);
      if (!deviceId || document.activeElement === select || select.value === deviceId) return;
      if ([...select.options].some((o) => o.value === deviceId)) {
        select.value = deviceId;
        void this.#open(id === 'camera' ? 'video' : 'audio', deviceId);
      }
    };
    set('camera', status.devices.videoId);
    set('microphone', status.devices.audioId);
  }

  /** Opens a preview track of this kind on this device (or the default one). */
  async #open(kind: 'audio' | 'video', deviceId: string | undefined): Promise<void> {
    const current = kind === 'audio' ? this.#audio : this.#video;
    if (current && current.readyState === 'live' && deviceId && current.getSettings().deviceId === deviceId) return;
    const constraints: MediaTrackConstraints =
      kind === 'video' ? { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15 } } : { echoCancellation: true, noiseSuppression: true };
    if (deviceId) constraints.deviceId = { exact: deviceId };
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia(kind === 'video' ? { video: constraints } : { audio: constraints });
    } catch (err) {
      if (!deviceId) throw err;
      // The remembered device is gone: take the default one.
      delete constraints.deviceId;
      stream = await navigator.mediaDevices.getUserMedia(kind === 'video' ? { video: constraints } : { audio: constraints });
    }
    current?.stop();
    if (kind === 'video') {
      this.#video = stream.getVideoTracks()[0];
      $<HTMLVideoElement>('self-view').srcObject = stream;
    } else {
      this.#audio = stream.getAudioTracks()[0];
      this.#meter.attach(this.#audio);
    }
    const select = $<HTMLSelectElement>(kind === 'video' ? 'camera' : 'microphone');
    const id = stream.getTracks()[0]?.getSettings().deviceId;
    if (id && [...select.options].some((o) => o.value === id)) select.value = id;
  }

  async #list(): Promise<void> {
    const all = await navigator.mediaDevices.enumerateDevices();
    const fill = (id: string, kind: MediaDeviceKind, current: MediaStreamTrack | undefined, fallback: string): void => {
      const select = $<HTMLSelectElement>(id);
      const list = all.filter((d) => d.kind === kind && d.deviceId);
      select.replaceChildren(
        ...list.map((d, i) => {
          const o = document.createElement('option');
          o.value = d.deviceId;
          o.textContent = d.label || `${fallback} ${i + 1}`;
          return o;
        }),
      );
      const using = current?.getSettings().deviceId;
      if (using) select.value = using;
      select.disabled = list.length === 0;
    };
    fill('camera', 'videoinput', this.#video, 'Camera');
    fill('microphone', 'audioinput', this.#audio, 'Micrô');
  }
}

void main();
