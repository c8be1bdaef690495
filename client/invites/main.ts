import { chairBridgeOf } from '../../server/protocol/chair.ts';
import { hallPhrase } from '../../server/core/names.ts';
import { loadBridges } from '../shared/bridges.ts';
import { controlFetch, roleName, signIn } from '../shared/session.ts';

interface InviteRow {
  role: 'chair' | 'secretary' | 'technician' | 'viewer' | 'operator';
  bridgeId?: string;
  bridgeName?: string;
  url: string;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

function table(rows: [string, string][]): HTMLTableElement {
  const t = document.createElement('table');
  const head = t.createTHead().insertRow();
  for (const h of ['Điểm cầu / vai trò', 'Liên kết']) {
    const th = document.createElement('th');
    th.textContent = h;
    head.append(th);
  }
  const body = t.createTBody();
  for (const [name, url] of rows) {
    const tr = body.insertRow();
    tr.insertCell().textContent = name;
    const cell = tr.insertCell();
    cell.className = 'url';
    cell.textContent = url;
  }
  return t;
}

/** The printable list of invite links: staff first, then the halls grouped by district. */
async function main(): Promise<void> {
  const session = await signIn();
  if (!session) return;
  const { token, me } = session;
  const res = await controlFetch('/api/invites', { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) {
    $('content').textContent = res.status === 403 ? 'Chỉ chủ tọa và thư ký được xem danh sách này.' : `Lỗi ${res.status}`;
    return;
  }
  const rows = (await res.json()) as InviteRow[];
  const bridges = await loadBridges();
  $('title').textContent = `Danh sách liên kết — ${me.title}`;
  const content = $('content');
  content.replaceChildren();
  const h = (text: string): HTMLElement => {
    const el = document.createElement('h2');
    el.textContent = text;
    return el;
  };
  content.append(h('Cấp tỉnh và ban tổ chức'));
  const chairBridge = chairBridgeOf({ bridges: [...bridges.values()] });
  content.append(table(rows.filter((r) => r.role !== 'operator' || r.bridgeId === chairBridge).map((r) => [r.role === 'operator' ? hallPhrase(r.bridgeName ?? '') : roleName(r.role), r.url])));
  for (const district of [...bridges.values()].filter((b) => b.tier === 'district')) {
    const inDistrict = rows.filter((r) => r.bridgeId === district.id || bridges.get(r.bridgeId ?? '')?.parentId === district.id);
    content.append(h(`${district.name} (${inDistrict.length} điểm cầu)`));
    content.append(table(inDistrict.map((r) => [r.bridgeName ?? '', r.url])));
  }
  $('csv').onclick = async () => {
    const csv = await controlFetch('/api/invites?format=csv', { headers: { authorization: `Bearer ${token}` } });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(await csv.blob());
    a.download = 'lien-ket-diem-cau.csv';
    a.click();
  };
}

void main();
