// One diemcau server for the control-plane benchmark, as its own process so that its CPU is
// measured apart from the clients'. Started by scripts/bench/control.ts through fork (IPC): it
// answers with its URL, its pid, its mediasoup workers' pids and every access token, then runs
// until the parent sends 'close' (or goes away).
import { startTestServer } from '../../../test/helpers/server.ts';

/** What the server process tells the benchmark once it listens. */
export interface ServerReady {
  type: 'ready';
  url: string;
  pid: number;
  workerPids: number[];
  /** grant key ('chair', 'operator:<bridgeId>', …) → token. */
  tokens: Record<string, string>;
  bridges: { id: string; tier: string }[];
}

const workers = Number(process.env.BENCH_WORKERS ?? '2');
const redisUrl = process.env.BENCH_REDIS_URL || undefined;
const server = await startTestServer(workers, redisUrl ? { redisUrl } : {});
const tokens = Object.fromEntries((await server.stores.tokens.listTokens(server.conference.conferenceId)).map((r) => [r.grant, r.token]));
const ready: ServerReady = {
  type: 'ready',
  url: server.url,
  pid: process.pid,
  workerPids: server.pool.slots.map((s) => s.worker.pid),
  tokens,
  bridges: server.plan.bridges.map((b) => ({ id: b.id, tier: b.tier })),
};
process.send!(ready);

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
