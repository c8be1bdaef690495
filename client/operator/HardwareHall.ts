import { h } from '../shared/ui.ts';
import { controlFetch } from '../shared/session.ts';
import type { DeviceSheet } from '../../server/app/rtp-halls/DeviceSheet.ts';
import type { DeviceStatus } from '../../server/app/rtp-halls/RtpHallGateway.ts';

/** How often the card re-reads the device's state. */
const REFRESH_MS = 3000;

/**
 * The operator panel of a hardware (RTP) hall: its media comes from its conference codec, not
 * from a display window, so the panel shows the device's state and where it sends and receives
 * in place of the display and camera cards. The floor, roll-call and meeting cards stay as they are.
 */
export function startHardwareHall(card: HTMLElement, token: string, bridgeId: string): void {
  card.hidden = false;
  const state = h('p', { class: 'state warn' }, 'Đang tải…');
  const values = h('dl', { class: 'hw-values' });
  card.replaceChildren(
    h('h2', {}, 'Thiết bị hội nghị của điểm cầu'),
    state,
    values,
    h('p', { class: 'hint' }, 'Điểm cầu này dùng thiết bị phần cứng (RTP): thiết bị gửi hình, tiếng và nhận chương trình trực tiếp với máy chủ. Phiếu cấu hình đầy đủ (khóa SRTP, tệp SDP) có trên trang của kỹ thuật viên Viễn thông. Xin phát biểu và điểm danh vẫn làm trên bảng điều khiển này.'),
  );
  const show = (sheet: DeviceSheet & { device: DeviceStatus }): void => {
    const d = sheet.device;
    if (d.online) {
      state.textContent = 'Đang nhận hình và tiếng từ thiết bị: điểm cầu đang trực tuyến.';
      state.className = 'state ok';
    } else if (d.rejected) {
      state.textContent = 'Thiết bị có gửi nhưng máy chủ không nhận được (sai khóa SRTP, SSRC hoặc payload type): báo kỹ thuật viên Viễn thông.';
      state.className = 'state bad';
    } else {
      state.textContent = 'Chưa nhận được tín hiệu từ thiết bị: điểm cầu đang ngoại tuyến.';
      state.className = 'state bad';
    }
    const r = sheet.receive;
    const pairs: [string, string][] = [
      ['Gửi lên máy chủ', `${sheet.send.ip} — âm thanh cổng ${sheet.send.audio.port}, hình ảnh cổng ${sheet.send.video.port}`],
      ['Nhận chương trình', r.ip ? `${r.ip} — âm thanh cổng ${r.audio.port}, hình ảnh cổng ${r.video.port}` : 'Chưa có địa chỉ nhận của thiết bị'],
      ['Mã hóa', sheet.srtp ? 'SRTP' : 'Không (RTP thường)'],
    ];
    values.replaceChildren(...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  };
  const refresh = async (): Promise<void> => {
    const res = await controlFetch(`/api/rtp-halls/${encodeURIComponent(bridgeId)}/sheet`, { headers: { authorization: `Bearer ${token}` } }).catch(() => null);
    if (res?.ok) show((await res.json()) as DeviceSheet & { device: DeviceStatus });
    else {
      state.textContent = 'Không đọc được trạng thái thiết bị từ máy chủ.';
      state.className = 'state warn';
    }
  };
  void refresh();
  setInterval(() => void refresh(), REFRESH_MS);
}
