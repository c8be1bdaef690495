/**
 * Entry point: starts diemcau on the embedded default conference (Lạng Sơn 2021) or on a plan
 * file given with --plan FILE (JSON or YAML), and prints where to go.
 */
import { loadConfig } from '../config/index.ts';
import { defaultPlan } from '../config/default-plan.ts';
import { loadPlanFile } from '../config/plan-file.ts';
import { startServer, chairBridgeOf } from './app/server.ts';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const planAt = args.indexOf('--plan');
  const plan = planAt >= 0 && args[planAt + 1] ? await loadPlanFile(args[planAt + 1]!) : defaultPlan();
  const config = loadConfig();
  const server = await startServer(config, plan);
  const chair = chairBridgeOf(plan);
  const sample = plan.bridges.filter((b) => b.tier !== 'province').slice(0, 3);
  const lines = [
    '',
    `diemcau — ${plan.title}`,
    `  ${plan.bridges.length} điểm cầu, ${server.pool.size} mediasoup worker(s)`,
    `  Điểm cầu tỉnh (chủ tọa):  ${server.url}/hall.html?bridge=${chair}`,
    `  Chủ tọa — xem điểm cầu:   ${server.url}/monitor.html?kind=chair&bridges=${sample.map((b) => b.id).join(',')}`,
    `  Kỹ thuật viên:            ${server.url}/monitor.html?kind=technician&bridges=${plan.bridges.filter((b) => b.tier === 'district').map((b) => b.id).join(',')}`,
    ...sample.map((b) => `  ${b.name.padEnd(24)} ${server.url}/hall.html?bridge=${b.id}`),
    `  Danh sách đủ ${plan.bridges.length} điểm cầu:  ${server.url}/api/plan/bridges`,
    '',
  ];
  console.log(lines.join('\n'));
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
