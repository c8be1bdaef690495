import { DEFAULT_AUDIO, DEFAULT_VIDEO, MediaClient, leaveOnPageHide, pageClientId } from '../shared/MediaClient.ts';
import { DisplayEnd, hallChannelName, loadDeviceChoice, saveDeviceChoice, type DisplayStatus } from '../shared/HallLink.ts';
import { LinkMeter, type LinkQuality } from '../shared/linkQuality.ts';
import { startLinkReporter } from '../shared/linkReporter.ts';
import { ControlClient, formatCountdown, remainingMs } from '../shared/ControlClient.ts';
import { connectionText, loadBridges } from '../shared/bridges.ts';
import { drawMaket } from '../shared/maket.ts';
import { controlEndpoints, signIn } from '../shared/session.ts';
import { stopOnRefusal } from '../shared/refusal.ts';
import { ContentView } from '../shared/ContentView.ts';
import { reconnectNow } from '../shared/iceRecovery.ts';
import { AUDIO_ONLY_LABEL } from '../../server/core/health.ts';
import { ConnectionNotice } from '../shared/ConnectionNotice.ts';
import { hallPhrase } from '../../server/core/names.ts';
import { SCREEN_LOST_NOTICE_MS, screenEndedText } from '../../server/protocol/papers.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** The hall display: the programme full-screen with its audio, the maket, the speaker and the countdown. */
async function main(): Promise<void> {
  const slate = $('slate');
  const slateText = $('slate-text');
  const session = await signIn();
  if (!session) return;
  const { token, me } = session;
  const bridges = await loadBridges();
  const bridgeId = me.bridgeId ?? me.chairBridgeId;
  const hallName = me.bridgeName ?? 'Báo chí — tín hiệu chương trình';
  document.title = `${hallName} — Hội nghị trực tuyến`;
  $('bridge-name').textContent = me.bridgeName ? hallPhrase(me.bridgeName) : hallName;

  // The operator's camera and microphone choice on this PC (ideal: a device unplugged since falls back to another).
  const choice = me.role === 'operator' ? loadDeviceChoice(bridgeId) : {};
  const control = new ControlClient(controlEndpoints(), token);
  // The control plane says which media node this hall's media goes to (and when it moves).
  const client = new MediaClient({
    placement: control.mediaTargets(),
    token,
    publish: me.role === 'operator',
    video: choice.videoId ? { ...DEFAULT_VIDEO, deviceId: { ideal: choice.videoId } } : DEFAULT_VIDEO,
    audio: choice.audioId ? { ...DEFAULT_AUDIO, deviceId: { ideal: choice.audioId } } : DEFAULT_AUDIO,
    clientId: pageClientId(),
  });
  stopOnRefusal(control, client);
  leaveOnPageHide(client);
  // The hall reports its link to the technicians every 2 s and answers their link tests.
  const stopLinkReporter = me.role === 'operator' ? startLinkReporter(client, control) : undefined;
  // A paper (or any document the secretary puts up), beside the speaker.
  const content = new ContentView($('content'), token);
  content.onError = (message) => console.error(`diemcau: ${message}`);
  (window as unknown as { diemcau: unknown }).diemcau = { client, control, bridgeId, me, stopLinkReporter, content };

  const video = $<HTMLVideoElement>('program');
  const notice = new ConnectionNotice({ back: $('notice') });
  setupFullscreen($<HTMLButtonElement>('fullscreen'));
  const audioBox = $('audio');
  const audioEls = new Map<string, HTMLAudioElement>();
  // The loudspeaker the operator chose for the programme (an audio output of this PC).
  const speaker = { id: choice.speakerId ?? '' };
  const playOn = (el: HTMLAudioElement): void => {
    if (speaker.id && 'setSinkId' in el) void (el as HTMLAudioElement & { setSinkId(id: string): Promise<void> }).setSinkId(speaker.id).catch(() => undefined);
  };
  let mediaState = 'connecting';
  /** The person answered "Không" to taking the hall over from the other PC. */
  let declined = false;
  /** The slate says "Đang chờ điểm cầu … kết nối lại" (its seconds are counted down between views). */
  let waitingShown = false;
  $('take-over').onclick = () => {
    declined = false;
    client.takeOver();
  };
  $('stay-away').onclick = () => {
    declined = true;
    render();
  };

  /** What the big screen shows: the programme, or a slate (waiting, break, ended, no signal). */
  const render = (): void => {
    const view = control.view;
    const program = [...client.consumers.values()].filter((c) => c.slot === 'onair' && c.consumer.kind === 'video').pop();
    // A hall's shared screen: the content track the SFU gives every hall while the view says a hall shares.
    const shared = view?.screen ? [...client.consumers.values()].filter((c) => c.slot === 'content' && c.consumer.kind === 'video').pop() : undefined;
    const selfOnAir = client.onAir === bridgeId && client.localStream && me.role === 'operator';
    let slateMessage: string | null = null;
    waitingShown = false;
    // Another PC has this hall: ask before taking it over, and say who lost it and when.
    let takeOver: string | null = null;
    if (mediaState === 'in_use') {
      slateMessage = declined ? 'Điểm cầu vẫn chạy trên máy kia. Màn hình này không gửi hình, tiếng lên hội nghị.' : 'Điểm cầu này đang mở trên một máy khác. Tiếp quản?';
      takeOver = 'Tiếp quản';
    } else if (mediaState === 'replaced') {
      const at = client.replacedAt ? ` lúc ${new Date(client.replacedAt - control.offsetMs).toLocaleTimeString('vi-VN', { hour12: false })}` : '';
      slateMessage = `Điểm cầu này đã được một máy khác tiếp quản${at}. Màn hình này đã ngừng gửi hình và tiếng.`;
      takeOver = 'Lấy lại điểm cầu';
    } else if (mediaState === 'reconnecting' || !control.connected) slateMessage = 'Mất kết nối tới máy chủ — đang kết nối lại…';
    else if (view?.status === 'waiting') slateMessage = 'Hội nghị sắp bắt đầu';
    else if (view?.status === 'break') slateMessage = 'Giải lao';
    else if (view?.status === 'ended') slateMessage = 'Hội nghị đã kết thúc';
    else if (view?.floor?.suspended === 'reconnecting' && view.floor.bridgeId !== bridgeId) {
      slateMessage = waitingText(view.floor.bridgeName, view.floor.reconnectingUntil);
      waitingShown = true;
    }
    // With a paper on screen, the paper is shown while the speaker's picture is awaited; while the
    // link recovers (an ICE restart), the last picture stays up.
    else if (!program && !selfOnAir && !view?.content && !shared && mediaState !== 'recovering') slateMessage = 'Đang chờ tín hiệu chương trình…';
    slate.hidden = slateMessage === null;
    if (slateMessage) slateText.textContent = slateMessage;
    notice.update(mediaState === 'live' && control.connected);
    showMic();
    $('slate-actions').hidden = takeOver === null;
    $('take-over').textContent = takeOver ?? '';
    $('stay-away').hidden = mediaState !== 'in_use' || declined;
    if (program) {
      if ((video.srcObject as MediaStream | null)?.getVideoTracks()[0] !== program.consumer.track) video.srcObject = new MediaStream([program.consumer.track]);
    } else if (selfOnAir) {
      const own = client.localStream!.getVideoTracks()[0];
      if (own && (video.srcObject as MediaStream | null)?.getVideoTracks()[0] !== own) video.srcObject = new MediaStream([own]);
    }
    if (view) {
      drawMaket($('maket'), view.maket);
      drawMaket($('slate-maket'), view.maket);
      // The slate shows the maket large; over a picture it is a band above it, thin while someone speaks.
      $('maket').hidden = !slate.hidden;
      $('maket').classList.toggle('compact', !!view.floor);
      slate.style.background = view.maket.background;
      const floor = view.floor;
      $('lower-third').hidden = !floor || !slate.hidden;
      if (floor) {
        $('speaker-name').textContent = floor.speakerName;
        $('speaker-title').textContent = floor.speakerTitle;
        $('speaker-bridge').textContent = hallPhrase(floor.bridgeName);
        $('speaker-muted').hidden = !floor.muted;
      }
      $('program-name').textContent = `Đang phát: ${view.programme.bridgeName}`;
      const shown = slate.hidden ? (view.content ?? null) : null;
      const screen = slate.hidden && shared && view.screen ? { track: shared.consumer.track, bridgeName: view.screen.bridgeName } : null;
      document.body.classList.toggle('with-content', shown !== null || screen !== null);
      $('content').hidden = shown === null;
      $('content-caption').hidden = shown === null && screen === null;
      if (shown) $('content-caption').textContent = `Tham luận — ${shown.bridgeName} · Trang ${shown.page}/${shown.pages}`;
      else if (screen) $('content-caption').textContent = `Màn hình chia sẻ — ${screen.bridgeName}`;
      content.show(shown);
      showScreen(screen?.track ?? null);
    }
    weakLink();
    tick();
  };

  /** A share that ended by itself (its picture was lost) is said for a while where the content was. */
  const screenLost = (): void => {
    const view = control.view;
    const ended = view?.screenEnded;
    const el = $('screen-lost');
    const show = !!ended && ended.reason === 'source_lost' && !view!.screen && slate.hidden && control.serverNow() - ended.at < SCREEN_LOST_NOTICE_MS;
    el.hidden = !show;
    if (show) el.textContent = screenEndedText(ended!.bridgeName, ended!.reason);
  };

  /** The shared screen in the content pane (null: none). */
  const screenVideo = $<HTMLVideoElement>('screen-share');
  const showScreen = (track: MediaStreamTrack | null): void => {
    screenVideo.hidden = track === null;
    if (!track) {
      if (screenVideo.srcObject) screenVideo.srcObject = null;
      return;
    }
    if ((screenVideo.srcObject as MediaStream | null)?.getVideoTracks()[0] !== track) {
      screenVideo.srcObject = new MediaStream([track]);
      void screenVideo.play().catch(() => undefined);
    }
  };

  /**
   * Audio first, said on the big screen: this hall's own link carries no video (the others only
   * hear it, or it only hears), or the speaker's does (its picture stays still, its voice goes on).
   */
  const weakLink = (): void => {
    // From the control plane: it knows every hall's link, whichever media node carries it.
    const own = me.role === 'operator' ? control.audioOnly.get(bridgeId) : undefined;
    const speaker = control.view?.programme.bridgeId ?? client.onAir;
    const theirs = speaker !== bridgeId ? control.audioOnly.get(speaker) : undefined;
    let detail: string | null = null;
    let scope = '';
    if (own?.up && own.down) [detail, scope] = ['Điểm cầu chỉ gửi và nhận được âm thanh', 'self'];
    else if (own?.up) [detail, scope] = ['Các điểm cầu khác chỉ nghe được tiếng của điểm cầu này', 'self'];
    else if (own?.down) [detail, scope] = ['Điểm cầu chỉ nhận được âm thanh', 'self'];
    else if (theirs?.up) [detail, scope] = [`Điểm cầu ${control.view?.programme.bridgeName ?? speaker}: hình ảnh tạm dừng, tiếng vẫn phát`, 'speaker'];
    const el = $('weak-link');
    el.hidden = detail === null || !slate.hidden;
    el.dataset.scope = scope;
    $('weak-link-text').textContent = detail === null ? '' : AUDIO_ONLY_LABEL;
    $('weak-link-detail').textContent = detail ?? '';
  };

  /** "Đang chờ điểm cầu … kết nối lại" with the seconds of grace left. */
  const waitingText = (name: string, until: number | null): string => {
    const left = until === null ? null : Math.max(0, Math.ceil((until - control.serverNow()) / 1000));
    return `Đang chờ điểm cầu ${name} kết nối lại…${left === null ? '' : ` (còn ${left} giây)`}`;
  };

  /** The countdown, from the deadline on the server's clock. */
  const tick = (): void => {
    const view = control.view;
    screenLost();
    if (waitingShown && view?.floor?.suspended === 'reconnecting') slateText.textContent = waitingText(view.floor.bridgeName, view.floor.reconnectingUntil);
    const el = $('countdown');
    const left = view ? remainingMs(view, control.serverNow()) : null;
    if (left === null || !slate.hidden) {
      el.hidden = true;
      return;
    }
    const warnAt = Math.max(0, ...view!.floor!.timer.warningMarksSec) * 1000;
    el.hidden = false;
    el.textContent = left < 0 ? `Quá giờ ${formatCountdown(-left)}` : formatCountdown(left);
    el.className = `countdown ${left < 0 ? 'overtime' : left <= warnAt ? 'warning' : 'normal'}${view!.floor!.timer.paused ? ' paused' : ''}`;
    el.dataset.remainingMs = String(Math.round(left));
  };
  setInterval(tick, 200);

  const tryPlay = (el: HTMLMediaElement): void => {
    el.play().catch(() => {
      const start = $<HTMLButtonElement>('start');
      start.hidden = false;
      start.onclick = () => {
        start.hidden = true;
        for (const a of audioEls.values()) void a.play();
        void video.play();
      };
    });
  };

  client.on('consumer', (rc) => {
    if (rc.consumer.kind === 'audio') {
      const el = document.createElement('audio');
      el.autoplay = true;
      el.srcObject = new MediaStream([rc.consumer.track]);
      playOn(el);
      audioBox.append(el);
      audioEls.set(rc.consumer.id, el);
      tryPlay(el);
    } else {
      render();
      tryPlay(video);
    }
  });
  client.on('consumerclosed', (rc) => {
    audioEls.get(rc.consumer.id)?.remove();
    audioEls.delete(rc.consumer.id);
    render();
  });
  client.on('consumerslot', render);
  client.on('onair', render);
  control.on('audioonly', render);
  // The network changed under the media's socket: the control socket went with it.
  client.on('recovery', (event) => {
    if (event.type === 'signalling-lost') reconnectNow(control.socket);
  });
  client.on('localstream', render);
  client.on('error', (detail) => console.error(`diemcau: ${detail.message}`));
  /** The hall's microphone as the server has it: open or closed while connected, unknown (not open) while not. */
  const showMic = (): void => {
    const el = $('mic-state');
    const live = client.state === 'live' && control.connected;
    el.textContent = !live ? 'Micrô: mất kết nối' : client.micOpen ? 'Micrô đang mở' : 'Micrô đang tắt';
    el.className = `mic ${!live ? 'unknown' : client.micOpen ? 'open' : 'closed'}`;
  };
  client.on('mic', showMic);
  client.on('state', (detail) => {
    mediaState = detail.state;
    $('conn-state').textContent = connectionText(mediaState);
    render();
  });
  control.on('view', render);
  control.on('connection', render);
  if (me.role !== 'operator') $('mic-state').hidden = true;
  else
    servePanel(client, me.conferenceId, bridgeId, () => !$('start').hidden, {
      get: () => speaker.id || null,
      set: async (id) => {
        await Promise.all([...audioEls.values()].map((el) => (el as HTMLAudioElement & { setSinkId(id: string): Promise<void> }).setSinkId(id)));
        speaker.id = id;
      },
    });
  void bridges;
}

/** The full-screen button of the projector's window (F11 does the same). */
function setupFullscreen(button: HTMLButtonElement): void {
  const label = (): void => {
    button.textContent = document.fullscreenElement ? 'Thoát toàn màn hình' : 'Toàn màn hình';
  };
  button.onclick = () => {
    const done = document.fullscreenElement ? document.exitFullscreen() : document.documentElement.requestFullscreen({ navigationUI: 'hide' });
    void done.catch(() => undefined).then(label);
  };
  document.addEventListener('fullscreenchange', label);
  label();
}

/**
 * The display is the hall's only media page; the operator panel (operator.html, same PC) sees
 * its status and switches its devices through the hall link.
 */
function servePanel(client: MediaClient, conferenceId: string, bridgeId: string, needsClick: () => boolean, speaker: { get(): string | null; set(id: string): Promise<void> }): void {
  const link = new DisplayEnd(hallChannelName(conferenceId, bridgeId));
  const meter = new LinkMeter();
  let quality: LinkQuality = meter.push(null);
  const status = (): DisplayStatus => {
    const v = client.localStream?.getVideoTracks()[0];
    const a = client.localStream?.getAudioTracks()[0];
    return {
      type: 'status',
      mediaState: client.state,
      micOpen: client.micOpen,
      publishing: client.publishing,
      devices: { videoId: v?.getSettings().deviceId ?? null, videoLabel: v?.label ?? '', audioId: a?.getSettings().deviceId ?? null, audioLabel: a?.label ?? '', speakerId: speaker.get() },
      link: quality,
      onAir: client.onAir,
      needsClick: needsClick(),
    };
  };
  const send = (): void => link.post(status());
  link.onMessage((msg) => {
    if (msg.type === 'hello') send();
    else if (msg.type === 'use-device') {
      const done = msg.kind === 'speaker' ? speaker.set(msg.deviceId) : useDevice(client, msg.kind, msg.deviceId);
      void done.then(
        () => {
          saveDeviceChoice(bridgeId, msg.kind, msg.deviceId);
          link.post({ type: 'device-result', reqId: msg.reqId, ok: true });
          send();
        },
        (err: Error) => link.post({ type: 'device-result', reqId: msg.reqId, ok: false, error: err.message }),
      );
    }
  });
  for (const ev of ['state', 'mic', 'localstream', 'onair'] as const) client.on(ev, send);
  setInterval(send, 1000);
  setInterval(() => {
    void client.linkStats().then((sample) => {
      quality = meter.push(sample);
    });
  }, 2000);
  addEventListener('pagehide', () => link.post({ type: 'bye' }));
  send();
}

/** Opens the chosen device and puts it on the air in place of the current one. */
async function useDevice(client: MediaClient, kind: 'audio' | 'video', deviceId: string): Promise<void> {
  const constraints = { ...(kind === 'audio' ? DEFAULT_AUDIO : DEFAULT_VIDEO), deviceId: { exact: deviceId } };
  const stream = await navigator.mediaDevices.getUserMedia(kind === 'audio' ? { audio: constraints } : { video: constraints });
  const track = kind === 'audio' ? stream.getAudioTracks()[0] : stream.getVideoTracks()[0];
  if (!track) throw new Error('no track');
  // Later restarts (worker loss, reconnect) capture the same device.
  if (kind === 'audio') client.options.audio = { ...DEFAULT_AUDIO, deviceId: { ideal: deviceId } };
  else client.options.video = { ...DEFAULT_VIDEO, deviceId: { ideal: deviceId } };
  await client.replaceTrack(kind, track);
}

void main();
