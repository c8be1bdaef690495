import { MediaClient, type ReceivedConsumer } from '../shared/MediaClient.ts';
import { connectionText, loadBridges } from '../shared/bridges.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** The hall display: the programme full-screen with its audio, for one bridge. */
async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const bridgeId = params.get('bridge') ?? '';
  const bridges = await loadBridges();
  const me = bridges.get(bridgeId);
  if (!me) {
    $('slate').textContent = 'Liên kết không hợp lệ: không tìm thấy điểm cầu.';
    return;
  }
  document.title = `${me.name} — Hội nghị trực tuyến`;
  $('bridge-name').textContent = `Điểm cầu: ${me.name}`;

  const client = new MediaClient({ url: location.origin, auth: { role: 'hall', bridgeId }, publish: true });
  (window as unknown as { diemcau: unknown }).diemcau = { client, bridgeId };

  const video = $<HTMLVideoElement>('program');
  const slate = $('slate');
  const audioBox = $('audio');
  const audioEls = new Map<string, HTMLAudioElement>();

  const showProgram = (): void => {
    // The newest programme consumer wins: the previous one is closed just after.
    const program = [...client.consumers.values()].filter((c) => c.slot === 'program' && c.consumer.kind === 'video').pop();
    if (program) {
      video.srcObject = new MediaStream([program.consumer.track]);
      slate.hidden = true;
    } else if (client.program === bridgeId && client.localStream) {
      // This hall is on the programme: show its own camera so the room sees what is sent.
      video.srcObject = new MediaStream(client.localStream.getVideoTracks());
      slate.hidden = true;
    } else {
      slate.hidden = false;
      slate.textContent = 'Đang chờ tín hiệu chương trình…';
    }
    const name = bridges.get(client.program)?.name ?? '';
    $('program-name').textContent = name ? `Đang phát: ${name}` : '';
  };

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

  client.on('consumer', (detail) => {
    const rc = detail as ReceivedConsumer;
    if (rc.consumer.kind === 'audio') {
      const el = document.createElement('audio');
      el.autoplay = true;
      el.srcObject = new MediaStream([rc.consumer.track]);
      audioBox.append(el);
      audioEls.set(rc.consumer.id, el);
      tryPlay(el);
    } else {
      showProgram();
      tryPlay(video);
    }
  });
  client.on('consumerslot', showProgram);
  client.on('consumerclosed', (detail) => {
    const rc = detail as ReceivedConsumer;
    audioEls.get(rc.consumer.id)?.remove();
    audioEls.delete(rc.consumer.id);
    if (rc.slot === 'program') showProgram();
  });
  client.on('program', showProgram);
  client.on('localstream', showProgram);
  client.on('mic', (detail) => {
    const open = (detail as { open: boolean }).open;
    const el = $('mic-state');
    el.textContent = open ? 'Micrô đang mở' : 'Micrô đang tắt';
    el.className = `mic ${open ? 'open' : 'closed'}`;
  });
  client.on('error', (detail) => console.error(`diemcau: ${(detail as { message: string }).message}`));
  client.on('state', (detail) => {
    const state = (detail as { state: string }).state;
    $('conn-state').textContent = connectionText(state);
    if (state === 'reconnecting' || state === 'replaced') {
      slate.hidden = false;
      slate.textContent =
        state === 'replaced'
          ? 'Điểm cầu này đã được mở trên một máy khác. Màn hình này đã ngừng kết nối.'
          : 'Mất kết nối tới máy chủ — đang kết nối lại…';
    }
  });
}

void main();
