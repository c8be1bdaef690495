import type { ConferenceView } from '../../server/protocol/control.ts';

/** The element with this id (the pages are static; a missing id is a bug in the page). */
export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`no element #${id}`);
  return el as T;
};

type Child = Node | string | null | undefined | false;

/** Builds an element: h('button', { class: 'x', onclick }, 'text'). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, unknown>> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value as EventListener);
    else if (key in el) (el as unknown as Record<string, unknown>)[key] = value;
    else el.setAttribute(key, String(value));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** Vietnamese for the meeting status. */
export function statusText(status: ConferenceView['status']): string {
  return { waiting: 'Chưa bắt đầu', running: 'Đang họp', break: 'Giải lao', ended: 'Đã kết thúc' }[status];
}

/** Vietnamese for an agenda item kind. */
export function kindText(kind: string): string {
  const names: Record<string, string> = {
    opening: 'Khai mạc',
    report: 'Báo cáo',
    directive: 'Triển khai văn bản',
    designated_paper: 'Tham luận',
    discussion: 'Thảo luận',
    break: 'Giải lao',
    conclusion: 'Kết luận',
    other: 'Nội dung khác',
  };
  return names[kind] ?? kind;
}

/** A refused command, said to a person in Vietnamese. */
export function errorText(error: { code: string; message: string }): string {
  const texts: Record<string, string> = {
    forbidden: 'Vai trò của bạn không được làm việc này.',
    invalid_state: 'Không thực hiện được ở trạng thái hiện tại của hội nghị.',
    invalid_argument: 'Thông tin nhập chưa đúng.',
    invalid_payload: 'Thông tin nhập chưa đúng.',
    unknown_bridge: 'Không có điểm cầu này trong hội nghị.',
    not_in_queue: 'Đăng ký này không còn trong danh sách chờ.',
    already_requested: 'Điểm cầu đã đăng ký phát biểu hoặc đang phát biểu.',
    queue_empty: 'Danh sách chờ phát biểu đang trống.',
    floor_not_held: 'Hiện không có ai đang phát biểu.',
    bridge_offline: 'Điểm cầu đang mất kết nối.',
    unknown_paper: 'Không có tham luận này.',
    unknown_slot: 'Không có tham luận này trong chương trình.',
    content_busy: 'Đang có nội dung khác trên màn hình (một điểm cầu đang chia sẻ màn hình hoặc một tài liệu đang trình chiếu).',
    rate_limited: 'Gửi quá nhiều lần. Xin chờ một phút rồi thử lại.',
    closed: 'Hội nghị đã đóng trên máy chủ.',
    internal: 'Máy chủ không trả lời. Xin thử lại.',
  };
  return texts[error.code] ?? `Lỗi: ${error.message}`;
}

/** m:ss (or h:mm:ss) of a number of seconds. */
export function formatDuration(totalSec: number): string {
  const t = Math.max(0, Math.floor(totalSec));
  const s = String(t % 60).padStart(2, '0');
  const m = Math.floor(t / 60) % 60;
  const hours = Math.floor(t / 3600);
  return hours > 0 ? `${hours}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** HH:MM:SS of an epoch time, on this PC's time zone. */
export function formatClock(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString('vi-VN', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** Lower case without diacritics, for searching names typed with or without accents ("cao minh" finds "Xã Cao Minh"). */
export function foldVietnamese(s: string): string {
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .toLowerCase()
    .trim();
}

/** Countdown class of the speaking timer: normal, warning (at or under the longest warning mark), overtime. */
export function countdownClass(leftMs: number, warningMarksSec: number[]): 'normal' | 'warning' | 'overtime' {
  const warnAt = Math.max(0, ...warningMarksSec) * 1000;
  return leftMs < 0 ? 'overtime' : leftMs <= warnAt ? 'warning' : 'normal';
}
