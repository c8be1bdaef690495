// npm run node:drain -- <nodeId> [--undo]
//
// Drains a media node for maintenance (its halls move to the other nodes one at a time, each
// opening the new node before it leaves the old one), or takes it back (--undo). It asks the
// control plane over REST with the technicians' token, trying each control instance in turn:
//   DIEMCAU_CONTROL_URLS  the control instances (default DIEMCAU_URL, else http://127.0.0.1:3000)
//   DIEMCAU_TOKEN         the technicians' access token (the #token= of their invite link)
import { ControlEndpoints } from '../client/shared/controlUrls.ts';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const undo = args.includes('--undo');
  const nodeId = args.find((a) => !a.startsWith('--'));
  const token = process.env.DIEMCAU_TOKEN ?? '';
  if (!nodeId || !token) {
    console.error('Cách dùng: DIEMCAU_TOKEN=<mã kỹ thuật viên> [DIEMCAU_CONTROL_URLS=https://a,https://b] npm run node:drain -- <mã máy chủ media> [--undo]');
    return 2;
  }
  const configured = (process.env.DIEMCAU_CONTROL_URLS ?? '').split(/[\s,]+/).filter(Boolean);
  const first = configured[0] ?? process.env.DIEMCAU_URL ?? 'http://127.0.0.1:3000';
  const control = new ControlEndpoints(first, configured);
  const res = await control.fetch(`/api/nodes/${encodeURIComponent(nodeId)}/drain`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ draining: !undo }),
  });
  const body = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!res.ok) {
    console.error(`Không thực hiện được [${res.status} ${body.error?.code ?? ''}]: ${body.error?.message ?? ''}`);
    return 1;
  }
  console.log(undo ? `Máy chủ media ${nodeId} nhận điểm cầu trở lại.` : `Đang chuyển lần lượt các điểm cầu khỏi máy chủ media ${nodeId} (xem trang kỹ thuật viên).`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`Không liên lạc được máy chủ điều khiển: ${(error as Error).message}`);
    process.exit(1);
  },
);
