// The 212 halls and the chair of the control-plane benchmark, in their own process (one clock:
// performance.now() here). Each hall opens /control with its operator token (online in roll-call
// on connect), reports ready, and opens /media: join, capabilities, a send and a receive WebRTC
// transport (ICE/DTLS cannot complete without a WebRTC stack in Node, so the storm stops at
// transport creation). Then the chair starts the meeting and grants the floor N times, each
// after a hall asked for it, and every hall's receipt of the grant is timed.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { io, type Socket } from 'socket.io-client';
import type { ConferenceView } from '../../../server/protocol/control.ts';

/** What the benchmark sends to start a run. */
export interface ClientsJob {
  type: 'run';
  /** The server instances; hall i connects to urls[i % urls.length], the chair to urls[0]. */
  urls: string[];
  tokens: Record<string, string>;
  bridges: { id: string; tier: string }[];
  grants: number;
  /** Also open /media and create both WebRTC transports per hall. */
  media: boolean;
}

/** A phase boundary, so that the benchmark samples the servers' CPU there. */
export interface PhaseMark {
  type: 'phase';
  name: 'storm-start' | 'storm-end' | 'grants-start' | 'grants-end';
}

/** One grant: when the chair sent it, when its ack came, and each hall's receipts (ms after the send). */
export interface GrantSample {
  bridgeId: string;
  ackMs: number;
  /** The control:event floor_granted, per hall (NaN: not sent to halls). */
  eventMs: number[];
  /** The first control:view showing the new floor holder, per hall (what the displays draw). */
  viewMs: number[];
}

/** What the clients process reports at the end. */
export interface ClientsResult {
  type: 'result';
  /** ms from the storm's start until every hall saw itself online in its view. */
  allOnlineMs: number;
  /** … until every hall also had both transports (= the storm's end when media is on). */
  allJoinedMs: number;
  /** … until the chair's roll-call showed every bridge online. */
  chairSawAllMs: number;
  /** … until every hall's ready was acknowledged. */
  allReadyMs: number;
  /** Per hall: ms until online and until its transports existed. */
  onlineMs: number[];
  transportsMs: number[];
  grants: GrantSample[];
  errors: string[];
  clientCpuMs: number;
  /** This process's own headroom per phase: event-loop delay (p99, max) and CPU, so a late receipt is told from a slow client. */
  storm: ClientHeadroom;
  grantsPhase: ClientHeadroom;
}

export interface ClientHeadroom {
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  cpuPct: number;
}

type Reply = { ok: true; data: unknown } | { ok: false; error: { code: string; message: string } };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until cond() holds, polling; throws after timeoutMs. */
async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await sleep(2);
  }
}

function request(socket: Socket, name: string, payload: object, timeoutMs = 30_000): Promise<Reply> {
  return socket.timeout(timeoutMs).emitWithAck(name, payload) as Promise<Reply>;
}

function connect(url: string, nsp: string, token: string): Socket {
  // One connection per socket, as separate browser pages would have; no reconnection in a benchmark.
  return io(`${url}${nsp}`, { auth: { token }, transports: ['websocket'], forceNew: true, reconnection: false, timeout: 60_000 });
}

/** A hall: its control socket (and media socket), and the receipts of the current grant. */
interface Hall {
  bridgeId: string;
  control: Socket;
  media?: Socket;
  onlineAt: number;
  transportsAt: number;
  readyAt: number;
  /** The grant being timed: its requestId and its receipts. */
  watch: { requestId: string; eventAt: number; viewAt: number } | null;
}

async function run(job: ClientsJob): Promise<ClientsResult> {
  const errors: string[] = [];
  const cpu0 = process.cpuUsage();
  const chair = connect(job.urls[0]!, '/control', job.tokens.chair!);
  let chairView: ConferenceView | null = null;
  const chairEvents: { type: string; [k: string]: unknown }[] = [];
  chair.on('control:view', (v: ConferenceView) => (chairView = v));
  chair.on('control:event', (e: { type: string }) => chairEvents.push(e));
  await until('chair view', () => chairView !== null, 20_000);
  const onlineCount = (): number => {
    const r = chairView!.rollCall;
    return r.province.online + r.districts.online + r.communes.online;
  };

  // This process's headroom, per phase.
  const lag = monitorEventLoopDelay({ resolution: 5 });
  let phaseCpu = process.cpuUsage();
  let phaseAt = performance.now();
  const startPhase = (): void => {
    lag.reset();
    lag.enable();
    phaseCpu = process.cpuUsage();
    phaseAt = performance.now();
  };
  const endPhase = (): ClientHeadroom => {
    lag.disable();
    const c = process.cpuUsage(phaseCpu);
    return { loopDelayP99Ms: Math.round(lag.percentile(99) / 1e4) / 100, loopDelayMaxMs: Math.round(lag.max / 1e4) / 100, cpuPct: Math.round(((c.user + c.system) / 1000 / (performance.now() - phaseAt)) * 1000) / 10 };
  };

  // The storm: every hall at once, from cold.
  process.send!({ type: 'phase', name: 'storm-start' } satisfies PhaseMark);
  startPhase();
  const t0 = performance.now();
  let chairSawAllAt = NaN;
  chair.on('control:view', () => {
    if (Number.isNaN(chairSawAllAt) && onlineCount() === job.bridges.length) chairSawAllAt = performance.now();
  });
  const halls: Hall[] = job.bridges.map((b, i) => {
    const url = job.urls[i % job.urls.length]!;
    const token = job.tokens[`operator:${b.id}`]!;
    const hall: Hall = { bridgeId: b.id, control: connect(url, '/control', token), onlineAt: NaN, transportsAt: job.media ? NaN : 0, readyAt: NaN, watch: null };
    hall.control.on('connect_error', (e) => errors.push(`${b.id} control connect_error ${e.message}`));
    hall.control.on('control:view', (v: ConferenceView) => {
      const now = performance.now();
      if (Number.isNaN(hall.onlineAt) && v.mine?.online) {
        hall.onlineAt = now;
        // The operator confirms the hall is ready with its headcount.
        void request(hall.control, 'control:command', { type: 'report_ready', bridgeId: b.id, attendees: 20 }).then((r) => {
          if (r.ok) hall.readyAt = performance.now();
          else errors.push(`${b.id} report_ready ${r.error.code}`);
        }, (e: Error) => errors.push(`${b.id} report_ready ${e.message}`));
      }
      const w = hall.watch;
      if (w && Number.isNaN(w.viewAt) && v.floor?.requestId === w.requestId) w.viewAt = now;
    });
    hall.control.on('control:event', (e: { type: string; requestId?: string }) => {
      const w = hall.watch;
      if (w && Number.isNaN(w.eventAt) && e.type === 'floor_granted' && e.requestId === w.requestId) w.eventAt = performance.now();
    });
    if (job.media) {
      const media = connect(url, '/media', token);
      hall.media = media;
      media.on('connect_error', (e) => errors.push(`${b.id} media connect_error ${e.message}`));
      // No stack to receive media with: consumers are acknowledged and dropped.
      media.on('media:consume', (_msg: unknown, ack: (r: { ok: boolean }) => void) => ack({ ok: true }));
      media.once('connect', async () => {
        try {
          const joined = await request(media, 'media:join', {});
          if (!joined.ok) throw new Error(`join ${joined.error.code}`);
          const rtpCapabilities = (joined.data as { rtpCapabilities: unknown }).rtpCapabilities;
          const caps = await request(media, 'media:capabilities', { rtpCapabilities });
          if (!caps.ok) throw new Error(`capabilities ${caps.error.code}`);
          for (const direction of ['send', 'recv']) {
            const t = await request(media, 'media:createTransport', { direction });
            if (!t.ok) throw new Error(`createTransport ${direction} ${t.error.code}`);
          }
          hall.transportsAt = performance.now();
        } catch (error) {
          errors.push(`${b.id} media ${(error as Error).message}`);
        }
      });
    }
    return hall;
  });
  await until('every hall online and its transports created', () => halls.every((h) => !Number.isNaN(h.onlineAt) && !Number.isNaN(h.transportsAt)), 120_000);
  const joinedAt = performance.now();
  await until('the chair to see every hall online', () => !Number.isNaN(chairSawAllAt), 30_000);
  await until('every hall ready', () => halls.every((h) => !Number.isNaN(h.readyAt)), 30_000);
  const storm = endPhase();
  process.send!({ type: 'phase', name: 'storm-end' } satisfies PhaseMark);

  // Let the last views go out, then the meeting starts.
  await sleep(1000);
  const started = await request(chair, 'control:command', { type: 'start_meeting' });
  if (!started.ok) throw new Error(`start_meeting ${started.error.code}`);
  await sleep(500);

  // Grants alternate between a district and a commune, as the chair's console sends them.
  const districts = job.bridges.filter((b) => b.tier === 'district');
  const communes = job.bridges.filter((b) => b.tier === 'commune');
  const byId = new Map(halls.map((h) => [h.bridgeId, h]));
  const grants: GrantSample[] = [];
  process.send!({ type: 'phase', name: 'grants-start' } satisfies PhaseMark);
  startPhase();
  for (let g = 0; g < job.grants; g++) {
    const target = g % 2 === 0 ? districts[(g / 2) % districts.length]! : communes[(((g - 1) / 2) * 13) % communes.length]!;
    const hall = byId.get(target.id)!;
    // The hall asks; the chair sees the request arrive and grants it.
    const asked = chairEvents.length;
    const req = await request(hall.control, 'control:command', { type: 'request_floor', bridgeId: target.id, speakerName: `Đại biểu ${g + 1}`, speakerTitle: 'Đại biểu HĐND' });
    if (!req.ok) throw new Error(`request_floor ${target.id} ${req.error.code}`);
    let requestId = '';
    await until(`the chair to see ${target.id}'s request`, () => {
      const e = chairEvents.slice(asked).find((x) => x.type === 'floor_requested' && x.bridgeId === target.id);
      requestId = (e?.requestId as string) ?? '';
      return requestId !== '';
    }, 10_000);
    // The queue's views settle before the grant, as they would while the chair reads the queue.
    await sleep(250);
    for (const h of halls) h.watch = { requestId, eventAt: NaN, viewAt: NaN };
    const sentAt = performance.now();
    const ack = await request(chair, 'control:command', { type: 'grant_floor', requestId });
    const ackMs = performance.now() - sentAt;
    if (!ack.ok) throw new Error(`grant_floor ${requestId} ${ack.error.code}`);
    // A socket's messages arrive in order: a hall that is sent the event has it before the view.
    await until(`grant ${g + 1} at every hall`, () => halls.every((h) => !Number.isNaN(h.watch!.viewAt)), 10_000);
    grants.push({ bridgeId: target.id, ackMs, eventMs: halls.map((h) => h.watch!.eventAt - sentAt), viewMs: halls.map((h) => h.watch!.viewAt - sentAt) });
    for (const h of halls) h.watch = null;
    await sleep(250);
  }
  const grantsPhase = endPhase();
  process.send!({ type: 'phase', name: 'grants-end' } satisfies PhaseMark);

  for (const h of halls) {
    h.control.close();
    h.media?.close();
  }
  chair.close();
  const cpu = process.cpuUsage(cpu0);
  return {
    type: 'result',
    allOnlineMs: Math.max(...halls.map((h) => h.onlineAt)) - t0,
    allJoinedMs: joinedAt - t0,
    chairSawAllMs: chairSawAllAt - t0,
    allReadyMs: Math.max(...halls.map((h) => h.readyAt)) - t0,
    onlineMs: halls.map((h) => h.onlineAt - t0),
    transportsMs: halls.map((h) => h.transportsAt - t0),
    grants,
    errors,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    storm,
    grantsPhase,
  };
}

// The benchmark went away: so do the halls.
process.on('disconnect', () => process.exit(1));
process.once('message', (job: ClientsJob) => {
  run(job).then(
    (result) => {
      process.send!(result, () => process.exit(0));
    },
    (error: Error) => {
      process.send!({ type: 'error', message: error.stack ?? error.message }, () => process.exit(1));
    },
  );
});
