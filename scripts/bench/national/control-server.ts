// A control instance of sim:national's real part (the `control` role, state in redis), as its own
// process so that its CPU and memory are its own. Started by national/control.ts under
// `ulimit -n` and a heap limit; answers with its URL, its pid and (the first one) every access
// token, then runs until the parent sends 'close' or goes away.
import { loadConfig } from '../../../config/index.ts';
import { startServer } from '../../../server/app/server.ts';
import { nationalPlan } from './plan.ts';

const plan = nationalPlan(Number(process.env.BENCH_BRIDGES ?? '10000'));
const server = await startServer(
  loadConfig({}, { role: 'control', redisUrl: process.env.BENCH_REDIS_URL!, conferenceId: 'national', listenIp: '127.0.0.1', httpPort: 0, logLevel: 'error', nodeSecret: 'sim-national-node-secret-of-32-characters-or-more' }),
  plan,
);
const tokens = process.env.BENCH_TOKENS === '1' ? Object.fromEntries((await server.stores.tokens.listTokens('national')).map((r) => [r.grant, r.token])) : {};
process.send!({ type: 'ready', url: server.url, pid: process.pid, tokens });

let closing = false;
const close = async (): Promise<void> => {
  if (closing) return;
  closing = true;
  await server.close().catch(() => undefined);
  process.exit(0);
};
process.on('message', (m: { type?: string }) => {
  if (m?.type === 'close') void close();
});
process.on('disconnect', () => void close());
