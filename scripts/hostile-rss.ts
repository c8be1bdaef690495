// Measures the server process's memory (RSS) while the hostile-input corpus is sent to it again
// and again (issue 18, item 8: "RSS rose from 144 to 209 MiB over the malformed corpus and stayed
// there"). A real server process on redis; the corpus of test/integration/hostile over socket.io
// and HTTP, `--rounds N` times (5 by default); RSS before, after each round, and 20 s after.
// Run after `npm test` has set the machine up: bash scripts/with-env.sh node --import tsx scripts/hostile-rss.ts
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { io, type Socket } from 'socket.io-client';
import { ControlRequests } from '../server/protocol/control.ts';
import { MediaRequests } from '../server/protocol/media.ts';
import { RedisStore } from '../server/store/index.ts';
import { junk, REQUEST_CORPUS, restCorpus, ROUTE_CASES, type CorpusContext } from '../test/integration/hostile/corpus.ts';
import { startRedisServer } from '../test/integration/store/redis-server.ts';
import { killAll, serverEnv, spawnServerProcess } from '../test/helpers/server-process.ts';

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 5;
const mib = (kb: number): string => `${(kb / 1024).toFixed(0)} MiB`;
const rssOf = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

function send(url: string, method: string, headers: Record<string, string>, body?: string | Uint8Array): Promise<number> {
  return new Promise((resolve) => {
    const req = http.request(url, { method, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

async function main(): Promise<void> {
  const redis = await startRedisServer();
  const conferenceId = `rss-${Date.now()}`;
  const server = await spawnServerProcess(await serverEnv({ REDIS_URL: redis.url, DIEMCAU_CONFERENCE_ID: conferenceId }));
  const store = await RedisStore.create({ url: redis.url });
  const sockets: Socket[] = [];
  try {
    const pid = server.child.pid!;
    const tokens = await store.listTokens(conferenceId);
    const tokenOf = (grant: string): string => tokens.find((t) => t.grant === grant)!.token;
    const open = async (ns: string, grant: string): Promise<Socket> => {
      const s = io(`${server.url}${ns}`, { auth: { token: tokenOf(grant) }, transports: ['websocket'], forceNew: true });
      sockets.push(s);
      await new Promise<void>((r) => s.once('connect', () => r()));
      return s;
    };
    const control = { chair: await open('/control', 'chair'), operator: await open('/control', 'operator:c-06010'), technician: await open('/control', 'technician') };
    const media = await open('/media', 'operator:p-20');
    await media.timeout(5000).emitWithAck('media:join', {});
    const transport = (await media.timeout(5000).emitWithAck('media:createTransport', { direction: 'send' })) as { data: { id: string } };
    const ctx: CorpusContext = { offlineBridge: 'c-05974', ownBridge: 'c-06010', otherBridge: 'd-178', transportId: transport.data.id, unknownToken: 'Zz9_-Zz9_-Zz9_-Zz9_-Zz', paperSlot: 'tham-luan-cap-xa.c-06010' };
    const routes = Object.keys(ROUTE_CASES).map((k) => k.split(' ') as [string, string]);
    const before = rssOf(pid);
    console.log(`server pid ${pid}: RSS before ${mib(before)}`);
    for (let round = 1; round <= rounds; round++) {
      let n = 0;
      for (const name of [...Object.keys(ControlRequests), ...Object.keys(MediaRequests)]) {
        const socket = name.startsWith('media:') ? media : name.startsWith('health:report') || name === 'health:testResult' ? control.operator : name.startsWith('health:') ? control.technician : control.chair;
        const payloads = [...junk(), ...REQUEST_CORPUS[name]!(ctx)];
        await Promise.all(payloads.map(([, v]) => socket.timeout(10_000).emitWithAck(name, v).catch(() => null)));
        n += payloads.length;
      }
      for (const [method, path] of routes) {
        const requests = restCorpus(method, path, ROUTE_CASES[`${method} ${path}`]!, tokenOf('chair'), tokenOf('viewer'), ctx);
        for (let i = 0; i < requests.length; i += 25) await Promise.all(requests.slice(i, i + 25).map((r) => send(`${server.url}${r.path}`, r.method, r.headers, r.body)));
        n += requests.length;
      }
      console.log(`round ${round}: ${n} payloads, RSS ${mib(rssOf(pid))}`);
    }
    await new Promise((r) => setTimeout(r, 20_000));
    console.log(`20 s later: RSS ${mib(rssOf(pid))} (before ${mib(before)})`);
  } finally {
    for (const s of sockets) s.close();
    await store.close();
    await killAll();
    await redis.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
