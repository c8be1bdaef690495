/** A bridge as the apps show it. */
export interface BridgeInfo {
  id: string;
  name: string;
  tier: 'province' | 'district' | 'commune';
  parentId: string | null;
}

import { controlFetch } from './session.ts';

/** Loads the conference's bridges (names for the screens). */
export async function loadBridges(): Promise<Map<string, BridgeInfo>> {
  const res = await controlFetch('/api/plan/bridges');
  if (!res.ok) throw new Error(`bridges: HTTP ${res.status}`);
  const list = (await res.json()) as BridgeInfo[];
  return new Map(list.map((b) => [b.id, b]));
}

/** Vietnamese text for a connection state. */
export function connectionText(state: string): string {
  switch (state) {
    case 'live': return 'Đã kết nối';
    case 'joining': return 'Đang vào hội nghị…';
    case 'reconnecting': return 'Mất kết nối — đang kết nối lại…';
    case 'restarting': return 'Đang khôi phục đường truyền…';
    case 'recovering': return 'Đang khôi phục đường truyền…';
    case 'closed': return 'Đã rời hội nghị';
    case 'replaced': return 'Điểm cầu này đã được mở trên một máy khác';
    case 'in_use': return 'Điểm cầu này đang mở trên một máy khác';
    case 'refused': return 'Liên kết đã bị thu hồi hoặc không hợp lệ';
    default: return 'Đang kết nối…';
  }
}
