// A share of sim:national's 10,000 halls (a child process; several of them): each hall opens
// /control with its operator token on one of the control instances (alternating), is online in
// the roll-call on connect, and times its first view showing a new floor holder. Times are
// absolute (performance.timeOrigin + now, one clock on this machine) so that the orchestrator
// compares them across processes. The event loop's delay is measured per phase: a process late
// by more than the limits of validity.ts times its own queueing, not the servers'.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import type { ConferenceView } from '../../../server/protocol/control.ts';

export type HallsRequest =
  | { type: 'connect'; id: number; urls: string[]; halls: { bridgeId: string; token: string; url: number }[] }
  | { type: 'ask'; id: number; bridgeId: string }
  | { type: 'watch'; id: number; requestId: string }
  | { type: 'seen'; id: number }
  | { type: 'phase'; id: number }
  | { type: 'close'; id: number };

const now = (): number => performance.timeOrigin + performance.now();
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
interface Hall { bridgeId: string; socket: Socket; onlineAt: number; viewAt: number }
const halls = new Map<string, Hall>();
let watching = '';
const errors: string[] = [];

process.on('message', (raw) => {
  const m = raw as HallsRequest;
  const reply = (data: Record<string, unknown> = {}): void => void process.send!({ id: m.id, ...data });
  switch (m.type) {
    case 'connect':
      for (const h of m.halls) {
        const socket = io(`${m.urls[h.url]}/control`, { auth: { token: h.token }, transports: ['websocket'], forceNew: true, reconnection: false, timeout: 120_000 });
        const hall: Hall = { bridgeId: h.bridgeId, socket, onlineAt: NaN, viewAt: NaN };
        socket.on('connect_error', (e) => errors.push(`${h.bridgeId} connect_error ${e.message}`));
        socket.on('control:view', (v: ConferenceView) => {
          if (Number.isNaN(hall.onlineAt) && v.mine?.online) hall.onlineAt = now();
          if (watching && Number.isNaN(hall.viewAt) && v.floor?.requestId === watching) hall.viewAt = now();
        });
        halls.set(h.bridgeId, hall);
      }
      reply();
      break;
    case 'ask': {
      const h = halls.get(m.bridgeId)!;
      void (h.socket.timeout(30_000).emitWithAck('control:command', { type: 'request_floor', bridgeId: m.bridgeId, speakerName: 'Đại biểu', speakerTitle: 'Đại biểu Quốc hội' }) as Promise<{ ok: boolean }>).then(
        (r) => reply({ ok: r.ok }),
        (e: Error) => reply({ ok: false, error: e.message }),
      );
      break;
    }
    case 'watch':
      watching = m.requestId;
      for (const h of halls.values()) h.viewAt = NaN;
      reply();
      break;
    case 'seen': {
      const all = [...halls.values()];
      reply({ online: all.filter((h) => !Number.isNaN(h.onlineAt)).length, onlineAt: all.map((h) => h.onlineAt), viewed: all.filter((h) => !Number.isNaN(h.viewAt)).length, viewAt: all.map((h) => h.viewAt), errors: errors.splice(0) });
      break;
    }
    case 'phase': {
      // The loop's delay since the last phase mark, then a new phase.
      const out = { loopP99Ms: lag.percentile(99) / 1e6, loopMaxMs: lag.max / 1e6 };
      lag.reset();
      reply(out);
      break;
    }
    case 'close':
      for (const h of halls.values()) h.socket.close();
      reply();
      setTimeout(() => process.exit(0), 100);
      break;
  }
});
process.on('disconnect', () => process.exit(0));
