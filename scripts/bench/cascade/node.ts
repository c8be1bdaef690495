/**
 * A media node of bench:cascade (a child process, started inside its host's network namespace):
 * the real `media` role (startMediaNode, configured from the environment as `DIEMCAU_ROLE=media
 * npm start` is), plus the bench's hand over IPC that joins synthetic halls on its session the
 * way bench:fanout's harness does (SRTP plain transports fed by the harness's generator, sent to
 * its sinks) and reads what the node forwards: packets out to halls, packets into and out of its
 * pipes to other nodes, per track.
 */
import * as mediasoup from 'mediasoup';
import type { types as ms } from 'mediasoup';
import { loadConfig } from '../../../config/index.ts';
import { defaultPlan } from '../../../config/default-plan.ts';
import { startMediaNode } from '../../../server/app/media-node/start.ts';
import type { ConsumeRequest, ConsumerSlot, MediaPeerSink } from '../../../sfu/index.ts';
import { Cascade } from '../../../sfu/Cascade.ts';
import type { SrtpSuite } from '../fanout/srtp.ts';

type Request = { id: number; op: string; args: any };

/** Every consumer and producer of this process, told apart by whether their transport is a pipe. */
const consumers = new Set<ms.Consumer>();
const pipeConsumers = new Set<ms.Consumer>();
const producers = new Set<ms.Producer>();
const pipeProducers = new Set<ms.Producer>();
/** Every transport with a UDP socket of its own (plain and pipe: the bench's peers use no WebRTC). */
const transports = new Set<ms.Transport>();

/**
 * What happened to video tracks on this node, with the time (epoch ms), for bench:cascade's trace
 * of a failover: `consume`/`resume` (a peer's consumer made / resumed), `pipe-in` (a pipe producer:
 * the track came from another node), `pipe-out` (a pipe consumer: another node asked for it),
 * `kf-in` (a keyframe arrived through a pipe), `kf` (a keyframe from a hall's producer), `pli-out`
 * (a PLI sent to a hall), `pli-in` (a PLI from another node at a pipe consumer), `remote` (the
 * session was handed the other nodes' tracks: `producerId` lists the video ones).
 */
interface TraceEvent {
  t: number;
  ev: string;
  producerId: string;
}
const traceEvents: TraceEvent[] = [];
function trace(ev: string, producerId: string): void {
  traceEvents.push({ t: Date.now(), ev, producerId });
  if (traceEvents.length > 50_000) traceEvents.splice(0, 10_000);
}

// The cascade's first ensure of a track, and the pipe requests this node sends (sent, answered) and serves.
const ensured = new Set<string>();
const ensure = Cascade.prototype.ensure;
Cascade.prototype.ensure = function (this: Cascade, trackId: string, node: string) {
  if (!ensured.has(trackId)) {
    ensured.add(trackId);
    trace('ensure', trackId);
  }
  return ensure.call(this, trackId, node);
};
const serve = Cascade.prototype.serve;
Cascade.prototype.serve = function (this: Cascade, requester: string, request: { trackId: string; end: any }) {
  trace('serve', request.trackId);
  return serve.call(this, requester, request);
};
const fetch0 = globalThis.fetch;
globalThis.fetch = async (input: any, init?: any) => {
  const body = typeof init?.body === 'object' && init.body ? Buffer.from(init.body).toString() : '';
  const trackId = /"trackId":"([^"]+)"/.exec(body)?.[1];
  if (!trackId || !String(input).includes('/pipe')) return fetch0(input, init);
  trace('req', trackId);
  try {
    const r = await fetch0(input, init);
    trace(`res${r.status}`, trackId);
    return r;
  } catch (error) {
    trace('reqfail', trackId);
    throw error;
  }
};

// The worker's side of serving a pipe: a pipe transport asked for and made (`ptx-req`, `ptx-made`:
// a channel request queued behind a join storm shows here), a pipe consumer asked for (`pconsume`;
// `pipe-out` when made).
const createPipeTransport = mediasoup.types.Router.prototype.createPipeTransport;
(mediasoup.types.Router.prototype as any).createPipeTransport = async function (this: ms.Router, options: ms.PipeTransportOptions) {
  trace('ptx-req', '');
  const t = await createPipeTransport.call(this, options);
  trace('ptx-made', '');
  return t;
};
const pipeConsume = mediasoup.types.PipeTransport.prototype.consume;
(mediasoup.types.PipeTransport.prototype as any).consume = function (this: ms.PipeTransport, options: ms.PipeConsumerOptions<ms.AppData>) {
  trace('pconsume', options.producerId);
  return pipeConsume.call(this, options);
};

// The node process's event loop: a turn that came more than 50 ms late is traced (`lag`, its delay in ms as `producerId`).
let tickAt = Date.now();
setInterval(() => {
  const now = Date.now();
  if (now - tickAt - 20 > 50) trace('lag', String(now - tickAt - 20));
  tickAt = now;
}, 20).unref();

mediasoup.observer.on('newworker', (worker) => {
  worker.observer.on('newrouter', (router) => {
    router.observer.on('newtransport', (t) => {
      const pipe = t.constructor.name === 'PipeTransport';
      transports.add(t);
      t.observer.once('close', () => transports.delete(t));
      t.observer.on('newconsumer', (c) => {
        const set = pipe ? pipeConsumers : consumers;
        set.add(c);
        c.observer.once('close', () => set.delete(c));
        if (c.kind !== 'video') return;
        if (pipe) {
          trace('pipe-out', c.producerId);
          void c.enableTraceEvent(['pli', 'fir']).catch(() => undefined);
          c.on('trace', (x) => trace('pli-in', c.producerId));
        } else {
          trace('consume', c.producerId);
          c.observer.on('resume', () => trace('resume', c.producerId));
        }
      });
      t.observer.on('newproducer', (p) => {
        const set = pipe ? pipeProducers : producers;
        set.add(p);
        p.observer.once('close', () => set.delete(p));
        if (p.kind !== 'video') return;
        if (pipe) trace('pipe-in', p.id);
        void p.enableTraceEvent(pipe ? ['keyframe'] : ['keyframe', 'pli', 'fir']).catch(() => undefined);
        p.on('trace', (x) => trace(x.type === 'keyframe' ? (pipe ? 'kf-in' : 'kf') : 'pli-out', p.id));
      });
    });
  });
});

/** What a synthetic peer's "client" does when the session speaks to it: layers go to the harness (its generator sends them). */
class BenchSink implements MediaPeerSink {
  constructor(readonly peerId: string) {}
  consume(_request: ConsumeRequest): Promise<void> {
    return Promise.resolve();
  }
  consumerClosed(): void {}
  consumerSlot(_id: string, _slot: ConsumerSlot): void {}
  sendLayers(max: number): void {
    process.send!({ event: 'layers', peerId: this.peerId, maxLayer: max });
  }
  micState(): void {}
  restartMedia(): void {}
  replaced(): void {}
}

/** The receive side's capabilities: the router's codecs with NACK/PLI/FIR, no header extensions (as bench:fanout's). */
function receiverCaps(caps: ms.RtpCapabilities): ms.RtpCapabilities {
  return {
    codecs: caps.codecs!.map((c) => ({ ...c, rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => f.type === 'nack' || f.type === 'ccm') })),
    headerExtensions: [],
  };
}

interface Ssrcs {
  mic: { ssrc: number; pt: number };
  cam: { ssrcs: number[]; pt: number; rtxSsrcs: number[]; rtxPt: number };
}

function micParameters(id: string, h: Ssrcs): ms.RtpParameters {
  return { codecs: [{ mimeType: 'audio/opus', payloadType: h.mic.pt, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 }, rtcpFeedback: [] }], headerExtensions: [], encodings: [{ ssrc: h.mic.ssrc }], rtcp: { cname: id } };
}

function camParameters(id: string, h: Ssrcs): ms.RtpParameters {
  return {
    codecs: [
      { mimeType: 'video/VP8', payloadType: h.cam.pt, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] },
      { mimeType: 'video/rtx', payloadType: h.cam.rtxPt, clockRate: 90000, parameters: { apt: h.cam.pt }, rtcpFeedback: [] },
    ],
    headerExtensions: [],
    encodings: h.cam.ssrcs.map((ssrc, i) => ({ ssrc, rtx: { ssrc: h.cam.rtxSsrcs[i]! }, scalabilityMode: 'L1T1' })),
    rtcp: { cname: id },
  };
}

async function packetsOf(list: Iterable<ms.Consumer | ms.Producer>, kind: 'consumer' | 'producer'): Promise<number> {
  const counts = await Promise.all([...list].map(async (x) => {
    const stats = (await x.getStats().catch(() => [])) as { type: string; packetCount?: number }[];
    return stats.filter((s) => kind === 'producer' || s.type === 'outbound-rtp').reduce((n, s) => n + (s.packetCount ?? 0), 0);
  }));
  return counts.reduce((a, b) => a + b, 0);
}

async function main(): Promise<void> {
  const running = await startMediaNode(loadConfig(), defaultPlan(), { timing: { pipeLingerMs: 3000 } });
  const media = await running.ready;
  const session = media.session;
  const setRemote = session.setRemoteTracks.bind(session);
  session.setRemoteTracks = (tracks) => {
    trace('remote', tracks.filter((x) => x.kind === 'video').map((x) => x.trackId).join(' '));
    setRemote(tracks);
  };
  const ops: Record<string, (args: any) => Promise<unknown> | unknown> = {
    caps: () => ({ vp8Pt: session.rtpCapabilities.codecs!.find((c) => c.mimeType === 'video/VP8')!.preferredPayloadType }),
    /**
     * A synthetic peer: a receive transport sending to the harness's sink at `sinkIp:sinkPort`
     * (SRTP, the sink's key `recvKey`), and for a hall a send transport its generator feeds.
     */
    async join(a: { peerId: string; bridgeId?: string; group: string; sinkIp: string; sinkPort: number; suite: SrtpSuite; recvKey: string; sendKey?: string; ssrcs?: Ssrcs; thumbnails?: string[] }) {
      const publish = a.bridgeId !== undefined && a.sendKey !== undefined;
      session.join(a.peerId, { bridgeId: a.bridgeId, publish, receiveOnAir: a.group !== 'wall', thumbnails: a.group === 'console' || a.group === 'wall' }, new BenchSink(a.peerId));
      session.setRtpCapabilities(a.peerId, receiverCaps(session.rtpCapabilities));
      const recv = await session.createPlainTransport(a.peerId, 'recv', { comedia: false, srtpCryptoSuite: a.suite });
      await session.connectPlainTransport(a.peerId, recv.id, { ip: a.sinkIp, port: a.sinkPort, srtpParameters: { cryptoSuite: a.suite, keyBase64: a.recvKey } });
      let send: { ip: string; port: number; sfuKey: string } | undefined;
      if (publish) {
        const t = await session.createPlainTransport(a.peerId, 'send', { comedia: true, srtpCryptoSuite: a.suite });
        await session.connectPlainTransport(a.peerId, t.id, { srtpParameters: { cryptoSuite: a.suite, keyBase64: a.sendKey! } });
        await session.produce(a.peerId, t.id, 'audio', micParameters(a.peerId, a.ssrcs!), 'mic');
        await session.produce(a.peerId, t.id, 'video', camParameters(a.peerId, a.ssrcs!), 'cam');
        send = { ip: t.ip, port: t.port, sfuKey: t.srtpParameters!.keyBase64 };
      }
      if (a.thumbnails) session.setThumbnails(a.peerId, a.thumbnails);
      return { recv: { ip: recv.ip, port: recv.port, sfuKey: recv.srtpParameters!.keyBase64 }, send };
    },
    leave: ({ peerId }: { peerId: string }) => session.leave(peerId),
    /** The camera producer a bridge publishes on this node now, if any. */
    camOf: ({ bridgeId }: { bridgeId: string }) => [...producers].find((p) => !p.closed && p.kind === 'video' && p.appData.bridgeId === bridgeId)?.id ?? null,
    /** The trace events of a video track since `since` (epoch ms); `remote` events that list it. */
    trace: ({ since, producerId }: { since: number; producerId: string }) =>
      traceEvents.filter((e) => e.t >= since && (e.ev === 'remote' ? e.producerId.split(' ').includes(producerId) : e.ev === 'lag' || e.ev.startsWith('ptx') || e.producerId === producerId)).map((e) => ({ t: e.t, ev: e.ev === 'lag' ? `lag${e.producerId}` : e.ev })),
    /**
     * The local UDP port of each transport's socket, by what arrives there: `pipe_in` (tracks
     * from another node), `pipe_out` (RTCP from the node it sends to), `hall_in` (a hall's media,
     * from the generator), `hall_out` (the receiver reports and NACKs of a peer's sink).
     */
    udpPorts() {
      const out: Record<string, number[]> = { pipe_in: [], pipe_out: [], hall_in: [], hall_out: [] };
      for (const t of transports) {
        const tuple = (t as ms.PlainTransport | ms.PipeTransport).tuple;
        const d = t.appData.direction;
        const kind = t.appData.kind === 'pipe' ? (d === 'in' ? 'pipe_in' : 'pipe_out') : d === 'send' ? 'hall_in' : 'hall_out';
        if (tuple?.localPort) out[kind]!.push(tuple.localPort);
      }
      return out;
    },
    /** Cumulative counters (packets since the start) and what the node holds now. */
    async counters() {
      const [out, pipeOut, pipeIn, inPackets] = await Promise.all([packetsOf(consumers, 'consumer'), packetsOf(pipeConsumers, 'consumer'), packetsOf(pipeProducers, 'producer'), packetsOf(producers, 'producer')]);
      return { out, pipeOut, pipeIn, in: inPackets, consumers: consumers.size, pipeConsumers: pipeConsumers.size, workerPids: running.node.pool.pids() };
    },
    /**
     * The tracks crossing between nodes as this node sees them: per other node, the tracks it
     * sends there and receives from there (the cascade's own count), and the remote tracks its
     * local peers consume (what must come in, once each).
     */
    async pipes() {
      const links = await session.pipeStats();
      const local = new Set([...producers].map((p) => p.id));
      const needed = new Set([...consumers].map((c) => c.producerId).filter((id) => !local.has(id)));
      return { links: Object.fromEntries(Object.entries(links).map(([node, l]) => [node, { out: l.out.tracks, in: l.in.tracks }])), neededRemote: [...needed] };
    },
  };
  process.on('message', (raw) => {
    const { id, op, args } = raw as Request;
    Promise.resolve()
      .then(() => ops[op]!(args ?? {}))
      .then(
        (data) => process.send!({ id, ok: true, data }),
        (error: unknown) => process.send!({ id, ok: false, error: String((error as Error)?.message ?? error) }),
      );
  });
  process.on('SIGTERM', () => void running.close().then(() => process.exit(0)));
  process.on('disconnect', () => void running.close().then(() => process.exit(0)));
  process.send!({ ready: true, url: running.url, nodeId: running.node.nodeId, pid: process.pid });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
