/**
 * Entry point: starts diemcau on the embedded default conference (Lạng Sơn 2021) or on a plan
 * file given with --plan FILE (JSON or YAML), in the role DIEMCAU_ROLE says (both, control or
 * media), and prints where to go.
 */
import path from 'node:path';
import { loadConfig } from '../config/index.ts';
import { SQLITE_FILE } from './store/index.ts';
import { defaultPlan } from '../config/default-plan.ts';
import { loadPlanFile } from '../config/plan-file.ts';
import { PlanError } from '../server/protocol/plan.ts';
import { startServer } from './app/server.ts';
import { startMediaNode } from './app/media-node/start.ts';
import { INVITE_PATHS } from './app/conference/tokens.ts';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const planAt = args.indexOf('--plan');
  const plan = planAt >= 0 && args[planAt + 1] ? await loadPlanFile(args[planAt + 1]!) : defaultPlan();
  const config = loadConfig();
  if (config.role === 'media') {
    const media = await startMediaNode(config, plan);
    console.log(['', `diemcau — nút media ${media.node.nodeId} · ${media.node.pool.size} mediasoup worker`, `  /media và API giữa các nút: ${media.url}`, ''].join('\n'));
    onSignals(() => media.close());
    return;
  }
  const server = await startServer(config, plan);
  const base = config.publicUrl ?? server.url;
  const invites = await server.conference.tokens.inviteList(base, INVITE_PATHS);
  const staff = (role: string): string => invites.find((r) => r.role === role)?.url ?? '';
  const operators = invites.filter((r) => r.role === 'operator');
  const firstOf = (prefix: string) => operators.find((r) => r.bridgeId?.startsWith(prefix));
  const sample = [firstOf('p-'), firstOf('d-'), firstOf('c-'), operators.find((r) => r.bridgeName === 'Xã Cao Minh')].filter((r) => r !== undefined);
  const secretaryToken = staff('secretary').split('#token=')[1];
  const lines = [
    '',
    `diemcau — ${plan.title}`,
    `  ${plan.bridges.length} điểm cầu · ${server.node ? `${server.node.pool.size} mediasoup ${server.node.pool.size === 1 ? 'worker' : 'workers'}` : 'điều khiển (không có media)'} · trạng thái: ${storeText(server.stores.kind, config.dataDir)}`,
    '',
    `  Chủ tọa:        ${staff('chair')}`,
    `  Thư ký:         ${staff('secretary')}`,
    `  Kỹ thuật viên:  ${staff('technician')}`,
    `  Báo chí:        ${staff('viewer')}`,
    ...sample.map((r) => `  ${(r.bridgeName ?? '').padEnd(22)}  ${r.url}`),
    '',
    `  Danh sách đủ ${operators.length} liên kết điểm cầu (in để gửi các điểm cầu):`,
    `    ${base}/invites.html#token=${secretaryToken}`,
    '',
    // Hardware halls: where their devices send; the full sheet (keys, SDP) is on the technicians' page.
    ...(server.conference.local?.rtpHalls?.bridgeIds ?? []).map((id) => {
      const s = server.conference.rtpHalls.sheet(id);
      return `  Thiết bị RTP ${s.bridgeName}: gửi tới ${s.send.ip}, âm thanh cổng ${s.send.audio.port}, hình ảnh cổng ${s.send.video.port}${s.srtp ? ' (SRTP)' : ''}`;
    }),
    ...(server.turn ? [`  TURN cho điểm cầu sau tường lửa: ${server.turn.urls.join(', ')}`] : []),
    ...publicUrlNote(config.publicUrl),
    '',
    '  Ctrl+C để dừng máy chủ.',
  ];
  console.log(lines.join('\n'));
  onSignals(() => server.close());
}

/** An orderly shutdown on SIGINT and SIGTERM (a media node withdraws its lease). */
function onSignals(close: () => Promise<void>): void {
  const stop = (): void => {
    void close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

/**
 * Browsers give a page the camera and microphone only over https (or on this machine): links for
 * real halls need the server behind a TLS proxy, named by DIEMCAU_PUBLIC_URL.
 */
function publicUrlNote(publicUrl: string | undefined): string[] {
  if (publicUrl?.startsWith('https://')) return [];
  return [
    '',
    publicUrl
      ? `  Lưu ý: DIEMCAU_PUBLIC_URL (${publicUrl}) không phải https: trình duyệt của các điểm cầu sẽ không cho dùng camera và micrô.`
      : '  Lưu ý: các liên kết trên chỉ dùng được trên máy này. Để các điểm cầu thật vào được, đặt máy chủ sau một proxy https',
    ...(publicUrl ? [] : ['  và khởi động với DIEMCAU_PUBLIC_URL=https://tên-máy-chủ (trình duyệt chỉ cho dùng camera, micrô qua https).']),
  ];
}

/** Where the conference is kept, said to the person who started the server. */
function storeText(kind: string, dataDir: string): string {
  if (kind === 'redis') return 'redis';
  if (kind === 'sqlite') return `tệp ${path.join(dataDir, SQLITE_FILE)} (giữ nguyên liên kết và hội nghị khi khởi động lại)`;
  return 'bộ nhớ (mất khi tắt máy chủ)';
}

main().catch((error: unknown) => {
  if (error instanceof PlanError) {
    console.error('Kế hoạch hội nghị không hợp lệ:');
    for (const e of error.errors) console.error(`  ${e.path || '(kế hoạch)'}: ${e.message}`);
  } else {
    console.error(error instanceof Error ? error.message : error);
  }
  process.exit(1);
});
