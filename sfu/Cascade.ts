import type { types as ms } from 'mediasoup';
import { SfuError } from './errors.ts';
import type { RouterSet } from './RouterSet.ts';

/** One end of a pipe between two nodes: its PipeTransport, where it listens, the key it encrypts with. */
export interface PipeEnd {
  transportId: string;
  ip: string;
  port: number;
  srtpParameters: ms.SrtpParameters;
}

/** The home node's answer to a pipe request: its end and the pipe consumer's parameters. */
export interface PipeAnswer {
  end: PipeEnd;
  kind: ms.MediaKind;
  rtpParameters: ms.RtpParameters;
}

/**
 * How a node asks another node for a track (the node-to-node channel; the server signs and sends
 * it over HTTP). `pipe` is idempotent for one transport and track; `unpipe` too.
 */
export interface CascadeChannel {
  pipe(node: string, request: { trackId: string; end: PipeEnd }): Promise<PipeAnswer>;
  unpipe(node: string, request: { trackId: string; transportId: string }): Promise<void>;
}

/**
 * How the cascade asks again when a pipe request failed for a reason that passes: the first
 * retry after `firstMs`, then twice as long each time up to `maxMs`, while the track is still
 * wanted and for at most `windowMs` from the first request.
 */
export const PIPE_RETRY = { firstMs: 100, maxMs: 1000, windowMs: 10_000 };

/**
 * The node channel's refusals that pass: the home node did not answer in time or could not be
 * reached (`pipe_failed`: a home node busy with a hundred joins after a failover answered in 5 s,
 * past the channel's 3 s), or has not opened the conference yet (`unknown_conference`: it has
 * just started). A dead home's tracks are dropped when its lease ends, which ends the retries and
 * frees whoever waits for them at once (Cascade.drop); a home no longer live is not asked again.
 */
const PASSING = new Set(['pipe_failed', 'unknown_conference']);

/**
 * After the `attempt`-th failure (0: the first) of a pipe request first sent `elapsedMs` ago:
 * how long to wait before asking again, or null to give up (the error is not one that passes, or
 * the window is over). Pure (unit-tested): the cascade retries its own requests so that a slow
 * home node costs the peers waiting for the track no failure, and so no per-peer backoff (0.5 s,
 * then doubled up to 10 s each time): after three 3 s timeouts a hall asked again only 4-8 s
 * after the home node had answered (bench:cascade: a kill of 18 s, and one of 11 s).
 */
export function pipeRetryDelayMs(error: unknown, attempt: number, elapsedMs: number, policy = PIPE_RETRY): number | null {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== 'string' || !PASSING.has(code)) return null;
  const delay = Math.min(policy.maxMs, policy.firstMs * 2 ** attempt);
  return elapsedMs + delay <= policy.windowMs ? delay : null;
}

/** What the cascade needs of its session. */
export interface CascadeOptions {
  routers: RouterSet;
  channel: CascadeChannel;
  /** The worker of a track published on this node (undefined: not published here). */
  localHome: (trackId: string) => number | undefined;
  /** Tracks some peer of this node consumes now: a pipe in that nobody consumes is closed after `lingerMs`. */
  needed: () => ReadonlySet<string>;
  /** How long an unused incoming pipe stays (a speaker who comes back soon finds it there); 10 s. */
  lingerMs?: number;
  /** Whether another node's lease is alive (a node that is not is never asked again); absent: every node is. */
  isLive?: (node: string) => boolean;
}

/** What crosses between this node and one other, each way. */
export interface CascadeLinkStats {
  out: { transportId: string | null; tracks: string[]; rtpStreams: number; rtpBytes: number };
  in: { transportId: string | null; tracks: string[]; rtpStreams: number; rtpBytes: number };
}

/** Pipe transports of a node (`in`: receiving from other nodes, `out`: sending to them) and the tracks crossing them. */
export interface CascadePipeCounts {
  in: number;
  out: number;
  tracks: { in: number; out: number };
}

/** Our PipeTransport towards another node, and the other end it is connected to. */
interface Link {
  transport: ms.PipeTransport;
  /** The other node's transport this one is connected to (set once: a pipe connects once). */
  remote?: { transportId: string; connecting: Promise<void> };
}

/** A track received from another node: its pipe producer on the cascade router. */
interface Incoming {
  node: string;
  ready: Promise<void>;
  /** Settles when the track is dropped (unpublished, its node gone): its waiters stop waiting at once. */
  released: Promise<void>;
  release: () => void;
  producer?: ms.Producer;
  lastUsed: number;
}

/**
 * The media of one conference across nodes (issue 13): tracks published on other nodes are
 * received here, and tracks published here are sent to the nodes that ask. Between two nodes there
 * is one PipeTransport pair per direction, made by the receiver: it offers its end, the home node
 * connects an egress transport to it and answers with its own end and the pipe consumer's RTP
 * parameters; SRTP and RTX/NACK are on (links between hosts lose packets). One pipe consumer and
 * one pipe producer per track per node, never per hall: a received track lands on the cascade
 * router (worker 0) and RouterSet spreads it over the other workers with pipeToRouter as it does
 * for local tracks. The keyframe requests of every consumer here reach the speaker through the
 * one pipe (RTCP), so a switch costs one keyframe at the speaker as on one node.
 */
export class Cascade {
  /** The worker whose router sends and receives every pipe of this node. */
  static readonly WORKER = 0;
  readonly #o: CascadeOptions;
  readonly #lingerMs: number;
  /** Our receiving transport per home node. */
  readonly #in = new Map<string, { link: Promise<Link> }>();
  /** Our sending transport per requesting node (connected to its end `transportId`), and the pipe consumers on it by track. */
  readonly #out = new Map<string, { link: Promise<Link>; transportId: string; consumers: Map<string, Promise<ms.Consumer>> }>();
  readonly #incoming = new Map<string, Incoming>();
  readonly #sweep: NodeJS.Timeout;
  #closed = false;

  constructor(options: CascadeOptions) {
    this.#o = options;
    this.#lingerMs = options.lingerMs ?? 10_000;
    this.#sweep = setInterval(() => this.#closeUnused(), Math.max(50, this.#lingerMs / 2));
    this.#sweep.unref();
  }

  /**
   * Makes a track of another node available on the cascade router (one pipe per track, made on
   * first use); resolves with the worker whose router has it, or undefined when that router is gone.
   */
  async ensure(trackId: string, node: string): Promise<number | undefined> {
    this.#assertOpen();
    let incoming = this.#incoming.get(trackId);
    if (incoming && incoming.node !== node) {
      // The track moved home (its hall republished elsewhere): the old pipe goes.
      this.drop(trackId);
      incoming = undefined;
    }
    if (!incoming) {
      let release = (): void => undefined;
      const released = new Promise<void>((resolve) => (release = resolve));
      const entry: Incoming = { node, ready: Promise.resolve(), released, release, lastUsed: Date.now() };
      entry.ready = this.#receive(trackId, node, entry).then(
        () => {
          // Given up without a pipe (its node is gone): the next ensure asks anew.
          if (!entry.producer && this.#incoming.get(trackId) === entry) this.#incoming.delete(trackId);
        },
        (error: unknown) => {
          if (this.#incoming.get(trackId) === entry) this.#incoming.delete(trackId);
          throw error;
        },
      );
      this.#incoming.set(trackId, (incoming = entry));
    }
    incoming.lastUsed = Date.now();
    // A request to a dead or unreachable home may take seconds (a 3 s timeout, and retries): once
    // the track is dropped nobody waits for it, so that a peer's next run (the track's new home) is not held.
    await Promise.race([incoming.ready, incoming.released]);
    const producer = incoming.producer;
    return producer && !producer.closed && this.#o.routers.router(Cascade.WORKER) ? Cascade.WORKER : undefined;
  }

  /**
   * The home side of a pipe: connects (or reuses) our egress transport towards the requester's
   * end and returns our end and a pipe consumer's parameters for the track.
   */
  async serve(requester: string, request: { trackId: string; end: PipeEnd }): Promise<PipeAnswer> {
    this.#assertOpen();
    const worker = this.#o.localHome(request.trackId);
    if (worker === undefined) throw new SfuError('unknown_track', `track not published here [trackId:${request.trackId}]`);
    let out = this.#out.get(requester);
    if (!out || out.transportId !== request.end.transportId) {
      // A new end from that node (it restarted, or its cascade router was rebuilt): the old pipe is dead.
      if (out) void out.link.then((l) => l.transport.close(), () => undefined);
      const entry = { link: Promise.resolve() as unknown as Promise<Link>, transportId: request.end.transportId, consumers: new Map<string, Promise<ms.Consumer>>() };
      entry.link = this.#openLink(requester, 'out', this.#out, entry).then(async (l) => {
        await l.transport.connect({ ip: request.end.ip, port: request.end.port, srtpParameters: request.end.srtpParameters });
        return l;
      });
      entry.link.catch(() => this.#out.get(requester) === entry && this.#out.delete(requester));
      this.#out.set(requester, (out = entry));
    }
    const link = await out.link;
    let consumer = out.consumers.get(request.trackId);
    if (!consumer) {
      const consumers = out.consumers;
      consumer = (async () => {
        await this.#o.routers.makeAvailable(request.trackId, { worker }, Cascade.WORKER);
        const c = await link.transport.consume({ producerId: request.trackId });
        // The pipe closed while the worker made the consumer (a new end from that node, the node
        // forgotten, our worker lost): mediasoup hands it out open on a transport the worker no
        // longer has, and our answer would name a dead end. The requester asks again (pipe_failed).
        if (link.transport.closed) {
          c.close();
          throw new SfuError('invalid_state', `pipe closed while its consumer was made [node:${requester}, trackId:${request.trackId}]`);
        }
        c.observer.once('close', () => consumers.get(request.trackId) === consumer && consumers.delete(request.trackId));
        return c;
      })();
      consumers.set(request.trackId, consumer);
      consumer.catch(() => consumers.delete(request.trackId));
    }
    const c = await consumer;
    return { end: this.#endOf(link.transport), kind: c.kind, rtpParameters: c.rtpParameters };
  }

  /** The requester no longer needs a track: its pipe consumer goes (nothing if already gone). */
  release(requester: string, request: { trackId: string; transportId: string }): void {
    const out = this.#out.get(requester);
    if (!out || out.transportId !== request.transportId) return;
    const consumer = out.consumers.get(request.trackId);
    out.consumers.delete(request.trackId);
    void consumer?.then((c) => c.close(), () => undefined);
  }

  /** A track of another node is gone (unpublished, or its node died): its pipe producer closes. */
  drop(trackId: string): void {
    const incoming = this.#incoming.get(trackId);
    if (!incoming) return;
    this.#incoming.delete(trackId);
    incoming.release();
    incoming.producer?.close();
  }

  /** Another node died or left: every pipe to and from it closes. */
  forgetNode(node: string): void {
    const inEntry = this.#in.get(node);
    this.#in.delete(node);
    void inEntry?.link.then((l) => l.transport.close(), () => undefined);
    const out = this.#out.get(node);
    this.#out.delete(node);
    void out?.link.then((l) => l.transport.close(), () => undefined);
    for (const [trackId, incoming] of this.#incoming) if (incoming.node === node) this.drop(trackId);
  }

  /** Pipe transports to and from the other nodes, and the tracks they carry (one per track per node), now. */
  counts(): CascadePipeCounts {
    let tracksOut = 0;
    for (const out of this.#out.values()) tracksOut += out.consumers.size;
    const tracksIn = [...this.#incoming.values()].filter((i) => i.producer && !i.producer.closed).length;
    return { in: this.#in.size, out: this.#out.size, tracks: { in: tracksIn, out: tracksOut } };
  }

  /** The pipes between this node and every other, with what crosses them (streams with packets, RTP bytes). */
  async stats(): Promise<Record<string, CascadeLinkStats>> {
    const nodes = new Set([...this.#in.keys(), ...this.#out.keys()]);
    const out: Record<string, CascadeLinkStats> = {};
    for (const node of nodes) {
      const inLink = await this.#in.get(node)?.link.catch(() => undefined);
      const outEntry = this.#out.get(node);
      const outLink = await outEntry?.link.catch(() => undefined);
      const producers = [...this.#incoming.values()].filter((i) => i.node === node && i.producer && !i.producer.closed).map((i) => i.producer!);
      const consumers = (await Promise.all([...(outEntry?.consumers.values() ?? [])].map((c) => c.catch(() => undefined)))).filter((c): c is ms.Consumer => !!c && !c.closed);
      const streamsIn = await Promise.all(producers.map(async (p) => (await p.getStats().catch(() => [])).filter((s) => (s.packetCount ?? 0) > 0).length));
      const streamsOut = await Promise.all(consumers.map(async (c) => (await c.getStats().catch(() => [])).filter((s) => s.type === 'outbound-rtp' && (s.packetCount ?? 0) > 0).length));
      out[node] = {
        out: { transportId: outLink?.transport.id ?? null, tracks: consumers.map((c) => c.producerId).sort(), rtpStreams: sum(streamsOut), rtpBytes: await rtpBytes(outLink, 'rtpBytesSent') },
        in: { transportId: inLink?.transport.id ?? null, tracks: producers.map((p) => p.id).sort(), rtpStreams: sum(streamsIn), rtpBytes: await rtpBytes(inLink, 'rtpBytesReceived') },
      };
    }
    return out;
  }

  /** Closes every pipe of this conference; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const node of new Set([...this.#in.keys(), ...this.#out.keys()])) this.forgetNode(node);
  }

  /** Asks the home node for a track (again, while its refusal passes: pipeRetryDelayMs) and produces it on our receiving transport from that node. */
  async #receive(trackId: string, node: string, entry: Incoming): Promise<void> {
    const startedAt = Date.now();
    for (let attempt = 0, failures = 0; ; attempt++) {
      const link = await this.#inLink(node);
      let answer: PipeAnswer;
      try {
        answer = await this.#o.channel.pipe(node, { trackId, end: this.#endOf(link.transport) });
      } catch (error) {
        if (this.#incoming.get(trackId) !== entry || this.#closed) return;
        const delay = pipeRetryDelayMs(error, failures++, Date.now() - startedAt);
        if (delay === null) throw error;
        await Promise.race([new Promise((resolve) => setTimeout(resolve, delay)), entry.released]);
        // Dropped meanwhile (unpublished, its node gone), closed, or its node's lease ended: nobody is to wait for it.
        if (this.#incoming.get(trackId) !== entry || this.#closed || !this.#live(node)) return;
        attempt--;
        continue;
      }
      if (link.remote && link.remote.transportId !== answer.end.transportId) {
        // The home node made a new egress (it restarted): a pipe connects once, so ours is remade.
        if (attempt > 0) throw new SfuError('invalid_state', `pipe ends disagree [node:${node}]`);
        if (this.#in.get(node) !== undefined) this.#dropLink(node, link);
        continue;
      }
      link.remote ??= {
        transportId: answer.end.transportId,
        connecting: link.transport.connect({ ip: answer.end.ip, port: answer.end.port, srtpParameters: answer.end.srtpParameters }),
      };
      await link.remote.connecting;
      if (this.#incoming.get(trackId) !== entry || this.#closed) return;
      const producer = await link.transport.produce({ id: trackId, kind: answer.kind, rtpParameters: answer.rtpParameters, paused: false, appData: { node } });
      if (this.#incoming.get(trackId) !== entry || this.#closed) {
        producer.close();
        return;
      }
      if (link.transport.closed) {
        // The pipe closed while the worker made the producer (remade for another track after its
        // home node restarted, or our worker lost): mediasoup hands it out open on a transport the
        // worker no longer has; kept, the track would look here and never come. Asked again on a new pipe.
        producer.close();
        continue;
      }
      entry.producer = producer;
      producer.observer.once('close', () => this.#incoming.get(trackId) === entry && this.#incoming.delete(trackId));
      return;
    }
  }

  #live(node: string): boolean {
    return this.#o.isLive?.(node) ?? true;
  }

  #inLink(node: string): Promise<Link> {
    let entry = this.#in.get(node);
    if (!entry) {
      const made = { link: Promise.resolve() as unknown as Promise<Link> };
      made.link = this.#openLink(node, 'in', this.#in, made);
      made.link.catch(() => this.#in.get(node) === made && this.#in.delete(node));
      this.#in.set(node, (entry = made));
    }
    return entry.link;
  }

  #dropLink(node: string, link: Link): void {
    void this.#in.get(node)?.link.then((l) => l === link && this.#in.delete(node), () => undefined);
    link.transport.close();
    for (const [trackId, incoming] of this.#incoming) if (incoming.node === node && incoming.producer) this.drop(trackId);
  }

  /** A PipeTransport on the cascade router towards `node`; `map` forgets `entry` when the transport closes (its worker died). */
  async #openLink<E>(node: string, direction: 'in' | 'out', map: Map<string, E>, entry: E): Promise<Link> {
    const router = this.#o.routers.router(Cascade.WORKER);
    if (!router) throw new SfuError('invalid_state', 'no cascade router');
    const listen = this.#o.routers.listenInfo;
    const transport = await router.createPipeTransport({
      listenIp: { ip: listen.ip, announcedIp: listen.announcedIp },
      enableRtx: true,
      enableSrtp: true,
      appData: { node, direction, kind: 'pipe' },
    });
    transport.observer.once('close', () => map.get(node) === entry && map.delete(node));
    if (this.#closed) transport.close();
    return { transport };
  }

  #endOf(transport: ms.PipeTransport): PipeEnd {
    const listen = this.#o.routers.listenInfo;
    return { transportId: transport.id, ip: listen.announcedIp ?? transport.tuple.localIp, port: transport.tuple.localPort, srtpParameters: transport.srtpParameters! };
  }

  /** Closes incoming pipes nobody here has consumed for `lingerMs`, and tells their home nodes. */
  #closeUnused(): void {
    if (this.#closed || this.#incoming.size === 0) return;
    const needed = this.#o.needed();
    const now = Date.now();
    for (const [trackId, incoming] of this.#incoming) {
      if (needed.has(trackId)) incoming.lastUsed = now;
      else if (incoming.producer && now - incoming.lastUsed >= this.#lingerMs) {
        const link = this.#in.get(incoming.node)?.link;
        this.drop(trackId);
        void link?.then((l) => this.#o.channel.unpipe(incoming.node, { trackId, transportId: l.transport.id })).catch(() => undefined);
      }
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new SfuError('session_closed', 'cascade closed');
  }
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

async function rtpBytes(link: Link | undefined, field: 'rtpBytesSent' | 'rtpBytesReceived'): Promise<number> {
  if (!link || link.transport.closed) return 0;
  const [stats] = await link.transport.getStats().catch(() => []);
  return stats?.[field] ?? 0;
}
