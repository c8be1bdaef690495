/** The technicians' dashboard in Vietnamese: status names, event names, times, and a search key. */
import type { HealthStatus } from '../../server/core/health.ts';
import type { MediaPath } from '../../server/protocol/media.ts';

/** A status as a tile shows it; 'unknown' before the first sample. */
export type TileStatus = HealthStatus | 'unknown';

export const STATUS_LABEL: Record<TileStatus, string> = {
  ok: 'Tốt',
  degraded: 'Suy giảm',
  bad: 'Kém',
  offline: 'Mất kết nối',
  absent: 'Chưa kết nối',
  unknown: 'Chưa có số liệu',
};

/** How a hall's media goes, as its tile says it: straight (UDP, TCP) or relayed by the TURN server. */
export const MEDIA_PATH_SHORT: Record<MediaPath, string> = { udp: 'UDP', tcp: 'TCP', 'turn-udp': 'TURN', 'turn-tcp': 'TURN', 'turn-tls': 'TURN' };

/** The same in full, for the drill-down and the tile's tooltip. */
export const MEDIA_PATH_LABEL: Record<MediaPath, string> = {
  udp: 'UDP (trực tiếp)',
  tcp: 'TCP (trực tiếp, UDP bị chặn)',
  'turn-udp': 'TURN (chuyển tiếp) qua UDP',
  'turn-tcp': 'TURN (chuyển tiếp) qua TCP',
  'turn-tls': 'TURN (chuyển tiếp) qua TLS',
};

/** Worst first: a connected hall in trouble (red, amber), then a hall that dropped, one that never came, then the healthy ones. */
export const SEVERITY: Record<TileStatus, number> = { bad: 5, degraded: 4, offline: 3, absent: 2, unknown: 1, ok: 0 };

/** Whether a status is a connected hall's (its link is measured). */
export function connected(status: TileStatus): boolean {
  return status === 'ok' || status === 'degraded' || status === 'bad';
}

/** A connection event of a bridge, in words. */
export function eventLabel(type: string): string {
  const labels: Record<string, string> = {
    joined: 'Vào hội nghị',
    dropped: 'Mất kết nối',
    reconnected: 'Kết nối lại',
    media_lost: 'Mất đường truyền hình và tiếng',
    ice: 'Khởi động lại đường truyền (ICE)',
    device_sheet: 'Phiếu cấu hình thiết bị đổi',
  };
  return labels[type] ?? type;
}

/** Vietnamese name of a tier. */
export function tierLabel(tier: 'province' | 'district' | 'commune'): string {
  return { province: 'Điểm cầu cấp tỉnh', district: 'Điểm cầu cấp huyện', commune: 'Điểm cầu cấp xã' }[tier];
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** HH:MM:SS of an epoch time, on this PC's clock. */
export function clockTime(at: number): string {
  const d = new Date(at);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "5 phút", "1 giờ 20 phút", "40 giây": how long since `since`. */
export function durationSince(since: number, now: number): string {
  const s = Math.max(0, Math.round((now - since) / 1000));
  if (s < 60) return `${s} giây`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} phút`;
  return `${Math.floor(m / 60)} giờ ${m % 60} phút`;
}

/** Lower case, without diacritics (đ as d): "cao loc" finds "Huyện Cao Lộc". */
export function searchKey(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/đ/g, 'd')
    .replace(/Đ/g, 'D')
    .toLowerCase();
}

/** The name without its unit word, for sorting by name ("Xã Cao Minh" sorts under C). */
export function sortName(name: string): string {
  return name.replace(/^(Tỉnh|Thành phố|Huyện|Thị xã|Thị trấn|Phường|Xã)\s+/u, '');
}

/** The name as a tile has room for: the usual abbreviations of town, ward and city ("TT. Thất Khê"). */
export function shortName(name: string): string {
  return name.replace(/^Thị trấn /u, 'TT. ').replace(/^Phường /u, 'P. ').replace(/^Thành phố /u, 'TP. ');
}

/** A number with its unit, or a dash when unknown. */
export function measure(v: unknown, unit: string, digits = 0): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  const f = 10 ** digits;
  return `${(Math.round(v * f) / f).toLocaleString('vi-VN')} ${unit}`.trim();
}
