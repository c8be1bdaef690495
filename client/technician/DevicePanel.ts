import { h } from '../shared/ui.ts';
import { controlFetch } from '../shared/session.ts';
import type { DeviceSheet, SheetCodec, SheetKey } from '../../server/app/rtp-halls/DeviceSheet.ts';
import type { DeviceStatus } from '../../server/app/rtp-halls/RtpHallGateway.ts';
import type { RtpHallLine } from '../../server/protocol/rtp-halls.ts';

type SheetWithStatus = DeviceSheet & { device: DeviceStatus };

/** How often the open panel re-reads the device's state. */
const REFRESH_MS = 3000;

function codecText(c: SheetCodec): string {
  return `${c.name}/${c.clockRate}${c.channels ? `/${c.channels}` : ''} — payload type ${c.payloadType}${c.fmtp ? ` — fmtp: ${c.fmtp}` : ''}`;
}

function rows(pairs: [string, string | Node][]): HTMLDListElement {
  const dl = h('dl', { class: 'metrics device-values' });
  for (const [label, value] of pairs) dl.append(h('dt', {}, label), h('dd', {}, value));
  return dl;
}

function keyRows(prefix: string, key: SheetKey | null): [string, string | Node][] {
  if (!key) return [[`${prefix}`, 'Không mã hóa (RTP thường)']];
  return [
    [`${prefix}: bộ mã`, key.suite],
    [`${prefix}: khóa (base64)`, h('code', { class: 'key' }, key.keyBase64)],
    [`${prefix}: dạng SDES`, h('code', { class: 'key' }, key.inline)],
  ];
}

/**
 * "Cấu hình thiết bị": for a hardware (RTP) hall, what the technician enters on its conference
 * codec (addresses, ports, payload types, codecs, SSRCs, SRTP keys), where the device receives
 * the programme (editable), the programme's SDP file to download and an example ffmpeg command.
 */
export class DevicePanel {
  readonly #root: HTMLElement;
  readonly #token: string;
  #halls = new Set<string>();
  #bridgeId: string | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(root: HTMLElement, token: string) {
    this.#root = root;
    this.#token = token;
  }

  /** Learns which bridges are hardware halls. */
  async load(): Promise<void> {
    const res = await this.#api('GET', '/api/rtp-halls').catch(() => null);
    if (res?.ok) this.#halls = new Set(((await res.json()) as RtpHallLine[]).map((l) => l.bridgeId));
  }

  /** Whether a bridge is a hardware hall. */
  has(bridgeId: string): boolean {
    return this.#halls.has(bridgeId);
  }

  /** Shows the panel of this bridge (hidden for a browser hall). */
  async open(bridgeId: string): Promise<void> {
    this.close();
    if (!this.#halls.has(bridgeId)) return;
    this.#bridgeId = bridgeId;
    this.#root.hidden = false;
    this.#root.replaceChildren(h('h3', {}, 'Cấu hình thiết bị'), h('p', { class: 'sub' }, 'Đang tải…'));
    await this.#refresh(true);
    this.#timer = setInterval(() => void this.#refresh(false), REFRESH_MS);
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#bridgeId = null;
    this.#root.hidden = true;
    this.#root.replaceChildren();
  }

  #api(method: string, url: string, body?: unknown): Promise<Response> {
    return controlFetch(url, {
      method,
      headers: { authorization: `Bearer ${this.#token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  }

  async #refresh(full: boolean): Promise<void> {
    const bridgeId = this.#bridgeId;
    if (!bridgeId) return;
    const res = await this.#api('GET', `/api/rtp-halls/${encodeURIComponent(bridgeId)}/sheet`).catch(() => null);
    if (bridgeId !== this.#bridgeId) return;
    if (!res?.ok) {
      this.#root.querySelector('.device-state')?.replaceChildren('Không tải được phiếu cấu hình từ máy chủ.');
      if (full) this.#root.replaceChildren(h('h3', {}, 'Cấu hình thiết bị'), h('p', { class: 'device-state bad' }, 'Không tải được phiếu cấu hình từ máy chủ.'));
      return;
    }
    const sheet = (await res.json()) as SheetWithStatus;
    const shownVersion = this.#root.dataset.version;
    // A new version (address given, media rebuilt) redraws everything; otherwise only the state.
    if (full || shownVersion !== String(sheet.version)) this.#render(sheet);
    else this.#showState(sheet.device);
  }

  #showState(device: DeviceStatus): void {
    const el = this.#root.querySelector<HTMLElement>('.device-state');
    if (!el) return;
    if (device.online && device.videoProblem) {
      el.textContent = `Nhận tiếng từ thiết bị, ${device.videoProblem}.`;
      el.className = 'device-state bad';
    } else if (device.online) {
      const added = device.pictureIdsAdded > 0 ? ' Thiết bị gửi VP8 không có PictureID: máy chủ tự thêm.' : '';
      el.textContent = `Đang nhận hình và tiếng từ thiết bị (${device.packetsAccepted.toLocaleString('vi-VN')} gói đã nhận).${added}`;
      el.className = 'device-state ok';
    } else if (device.rejected) {
      el.textContent = 'Gói tin từ thiết bị tới máy chủ nhưng bị từ chối: kiểm tra khóa SRTP, SSRC và payload type.';
      el.className = 'device-state bad';
    } else {
      el.textContent = 'Chưa nhận được tín hiệu từ thiết bị (điểm cầu đang ngoại tuyến).';
      el.className = 'device-state warn';
    }
  }

  #render(sheet: SheetWithStatus): void {
    const s = sheet.send;
    const r = sheet.receive;
    const ipInput = h('input', { type: 'text', inputMode: 'decimal', value: r.ip ?? '', placeholder: '10.20.0.15', 'aria-label': 'Địa chỉ IP nhận của thiết bị' });
    const audioInput = h('input', { type: 'number', min: '1024', max: '65535', value: r.audio.port ?? '', placeholder: '5004', 'aria-label': 'Cổng nhận âm thanh' });
    const videoInput = h('input', { type: 'number', min: '1024', max: '65535', value: r.video.port ?? '', placeholder: '5006', 'aria-label': 'Cổng nhận hình ảnh' });
    const formMsg = h('span', { class: 'sub', role: 'status' });
    const save = async (e: Event): Promise<void> => {
      e.preventDefault();
      const body = { ip: ipInput.value.trim(), audioPort: Number(audioInput.value), videoPort: Number(videoInput.value) };
      formMsg.textContent = 'Đang lưu…';
      const res = await this.#api('PUT', `/api/rtp-halls/${encodeURIComponent(sheet.bridgeId)}/receive`, body).catch(() => null);
      if (res?.ok) {
        formMsg.textContent = 'Đã lưu. Máy chủ đang gửi chương trình tới địa chỉ này; khóa SRTP chiều nhận đã đổi, hãy nhập lại vào thiết bị.';
        this.#render({ ...((await res.json()) as DeviceSheet), device: sheet.device });
      } else {
        formMsg.textContent = res?.status === 400 ? 'Địa chỉ chưa đúng: cần địa chỉ IPv4 và hai cổng khác nhau từ 1024 đến 65535.' : 'Máy chủ không nhận địa chỉ này.';
      }
    };
    const download = h('button', { type: 'button', class: 'primary', disabled: sheet.programmeSdp === null }, 'Tải tệp SDP chương trình');
    download.addEventListener('click', () => {
      if (!sheet.programmeSdp) return;
      const url = URL.createObjectURL(new Blob([sheet.programmeSdp], { type: 'application/sdp' }));
      const a = h('a', { href: url, download: `programme-${sheet.bridgeId}.sdp` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    });

    this.#root.dataset.version = String(sheet.version);
    const children: (Node | string | null)[] = [
      h('h3', {}, 'Cấu hình thiết bị'),
      h('p', { class: 'sub' }, `Điểm cầu dùng thiết bị phần cứng (RTP${sheet.srtp ? ', có mã hóa SRTP' : ', không mã hóa'}). Phiếu phiên bản ${sheet.version}.`),
      h('p', { class: 'device-state' }),
      h('h4', {}, 'Thiết bị gửi lên máy chủ'),
      rows([
        ['Địa chỉ máy chủ', s.ip],
        ['Âm thanh: cổng', String(s.audio.port)],
        ['Âm thanh: codec', codecText(s.audio.codec)],
        ['Âm thanh: SSRC', String(s.audio.ssrc)],
        ['Hình ảnh: cổng', String(s.video.port)],
        ['Hình ảnh: codec', codecText(s.video.codec)],
        ['Hình ảnh: SSRC', String(s.video.ssrc)],
        ...keyRows('SRTP gửi lên', s.srtp),
      ]),
      h('h4', {}, 'Thiết bị nhận chương trình'),
      h(
        'form',
        { class: 'device-form', onsubmit: (e: Event) => void save(e) },
        h('label', {}, 'Địa chỉ IP thiết bị ', ipInput),
        h('label', {}, 'Cổng âm thanh ', audioInput),
        h('label', {}, 'Cổng hình ảnh ', videoInput),
        h('button', { type: 'submit' }, 'Lưu địa chỉ nhận'),
        formMsg,
      ),
      rows([
        ['Gửi từ máy chủ', r.fromIp],
        ['Âm thanh: codec', r.audio.codecs.map(codecText).join('; ')],
        ['Hình ảnh: codec', r.video.codecs.map(codecText).join('; ')],
        ...keyRows('SRTP âm thanh nhận', r.audio.srtp),
        ...keyRows('SRTP hình ảnh nhận', r.video.srtp),
      ]),
      h('div', { class: 'drill-test' }, download, sheet.programmeSdp ? null : h('span', { class: 'sub' }, 'Cần địa chỉ nhận của thiết bị trước.')),
      h('h4', {}, 'Lệnh ffmpeg mẫu (thay cho thiết bị)'),
      h('pre', { class: 'device-cmd' }, sheet.ffmpeg.send),
      sheet.ffmpeg.receive ? h('pre', { class: 'device-cmd' }, sheet.ffmpeg.receive) : null,
      h('h4', {}, 'Lưu ý'),
      h('ul', { class: 'device-notes' }, ...sheet.notes.map((n) => h('li', {}, n))),
    ];
    this.#root.replaceChildren(...children.filter((c): c is Node | string => c !== null));
    this.#showState(sheet.device);
  }
}
