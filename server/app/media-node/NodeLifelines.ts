// The control plane's lifelines to the media nodes (issue 13): one long HTTP response from each
// live node (GET /node/v1/alive), opened when the registry announces the node (an incarnation) and
// held while it lives. When one closes, the node's address is asked again at once and the answer
// judged by the one rule (server/core/node-death.ts): a SIGKILLed node's lease ends within a
// fraction of a second instead of NODE_LEASE_MS, for everyone (NodeRegistry.endLease: every
// watcher hears it as an expired lease); a node that still answers keeps it; a host that went
// silent (its network cut) is left to its lease.
import http from 'node:http';
import type { MediaNodeRecord } from '../../protocol/cluster.ts';
import type { NodeRegistry, NodeWatch } from '../../store/index.ts';
import { judgeLifeline, LIFELINE_PROBE_AGAIN_MS, LIFELINE_PROBE_TIMEOUT_MS, type LifelineProbe } from '../../core/node-death.ts';

/** After the lease was left to decide, the next try of a node's address; doubled up to LIFELINE_RETRY_MAX_MS. */
export const LIFELINE_RETRY_MS = 500;
export const LIFELINE_RETRY_MAX_MS = 5000;
/** Incarnations remembered as once held (NodeLifelines' #everHeld). */
const HELD_MEMORY = 1000;
/** The first line of a lifeline is this long at most. */
const FIRST_LINE_MAX = 1024;

/** Options of NodeLifelines.start. */
export interface NodeLifelinesOptions {
  registry: NodeRegistry;
  log: { info(data: object, message: string): void; warn(data: object, message: string): void };
  probeTimeoutMs?: number;
}

/** A node ended early by its lifeline: which run, when, why, and how long after its lifeline closed. */
export interface LifelineDeath {
  nodeId: string;
  incarnation: string;
  at: number;
  why: string;
  /** From the lifeline's close to the lease's end (ms); null when it was never held (a restart seen at once). */
  afterCloseMs: number | null;
}

/** One node's lifeline: to one incarnation at one address. */
interface Line {
  nodeId: string;
  incarnation: string;
  url: string;
  /** Its first line was read once: a refusal at this address now means the process is gone. */
  held: boolean;
  res: http.IncomingMessage | undefined;
  closedAt: number | null;
  retryMs: number;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

/** Holds a lifeline to every live media node and ends the lease of one known dead. */
export class NodeLifelines {
  readonly #o: NodeLifelinesOptions;
  readonly #lines = new Map<string, Line>();
  /**
   * The incarnations whose lifeline was held once, at their address (`nodeId|incarnation|url`):
   * a record of one that comes back (a renewal the dead node's kernel sent late, once its link was
   * back) and whose address refuses is dead at once. The most recent HELD_MEMORY only.
   */
  readonly #everHeld = new Set<string>();
  /** Nodes whose lease a lifeline ended, in order (tests, the log). */
  readonly deaths: LifelineDeath[] = [];
  #watch: NodeWatch | undefined;
  #closed = false;

  private constructor(options: NodeLifelinesOptions) {
    this.#o = options;
  }

  /** Watches the registry and opens a lifeline to each live node. */
  static async start(options: NodeLifelinesOptions): Promise<NodeLifelines> {
    const l = new NodeLifelines(options);
    l.#watch = await options.registry.watchNodes((change) => {
      if (change.kind === 'up') l.#follow(change.node);
      else l.#drop(change.nodeId);
    });
    for (const node of await options.registry.liveNodes()) l.#follow(node);
    return l;
  }

  /** The nodes whose lifeline is held now. */
  held(): string[] {
    return [...this.#lines.values()].filter((l) => l.res !== undefined).map((l) => l.nodeId).sort();
  }

  /** Closes every lifeline and stops watching; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#lines.keys()]) this.#drop(id);
    await this.#watch?.close();
  }

  /** A node announced (or renewed with a change): a lifeline to its incarnation at its address. */
  #follow(node: MediaNodeRecord): void {
    if (this.#closed) return;
    const line = this.#lines.get(node.nodeId);
    if (line && line.incarnation === node.incarnation && line.url === node.nodeApiUrl) return;
    this.#drop(node.nodeId);
    // A record without an incarnation is judged by its lease alone.
    if (!node.incarnation) return;
    const next: Line = { nodeId: node.nodeId, incarnation: node.incarnation, url: node.nodeApiUrl, held: this.#everHeld.has(heldKey(node.nodeId, node.incarnation, node.nodeApiUrl)), res: undefined, closedAt: null, retryMs: LIFELINE_RETRY_MS, timer: undefined, done: false };
    this.#lines.set(node.nodeId, next);
    void this.#try(next, 1);
  }

  #drop(nodeId: string): void {
    const line = this.#lines.get(nodeId);
    if (!line) return;
    this.#lines.delete(nodeId);
    line.done = true;
    clearTimeout(line.timer);
    line.res?.destroy();
    line.res = undefined;
  }

  /** Asks the node's address and acts on the rule's verdict. */
  async #try(line: Line, tries: number): Promise<void> {
    const { probe, res } = await probeLifeline(line.url, this.#o.probeTimeoutMs ?? LIFELINE_PROBE_TIMEOUT_MS);
    if (line.done) return void res?.destroy();
    const verdict = judgeLifeline({ nodeId: line.nodeId, incarnation: line.incarnation, held: line.held, probe, tries });
    switch (verdict.kind) {
      case 'alive':
        if (line.closedAt !== null) this.#o.log.info({ nodeId: line.nodeId, ms: Date.now() - line.closedAt }, 'media node lifeline held again: the node answers');
        line.held = true;
        this.#everHeld.add(heldKey(line.nodeId, line.incarnation, line.url));
        if (this.#everHeld.size > HELD_MEMORY) this.#everHeld.delete(this.#everHeld.values().next().value!);
        line.closedAt = null;
        line.retryMs = LIFELINE_RETRY_MS;
        line.res = res;
        res!.once('close', () => this.#lost(line));
        return;
      case 'dead':
        res?.destroy();
        return this.#dead(line, verdict.why);
      case 'probe_again':
        res?.destroy();
        line.timer = setTimeout(() => void this.#try(line, tries + 1), LIFELINE_PROBE_AGAIN_MS);
        return;
      case 'lease':
        res?.destroy();
        line.timer = setTimeout(() => void this.#try(line, 1), line.retryMs);
        line.retryMs = Math.min(line.retryMs * 2, LIFELINE_RETRY_MAX_MS);
        return;
    }
  }

  /** The held lifeline closed: ask the node's address at once. */
  #lost(line: Line): void {
    line.res = undefined;
    if (line.done) return;
    line.closedAt = Date.now();
    void this.#try(line, 1);
  }

  async #dead(line: Line, why: string): Promise<void> {
    this.#drop(line.nodeId);
    const at = Date.now();
    let ended = false;
    try {
      ended = await this.#o.registry.endLease(line.nodeId, line.incarnation);
    } catch (error) {
      this.#o.log.warn({ nodeId: line.nodeId, err: String((error as Error)?.message ?? error) }, 'ending a dead media node\'s lease failed: its lease will end it');
      return;
    }
    const death = { nodeId: line.nodeId, incarnation: line.incarnation, at, why, afterCloseMs: line.closedAt === null ? null : at - line.closedAt };
    if (ended) this.deaths.push(death);
    this.#o.log.warn({ ...death, ended }, ended ? 'media node dead: its lease ended now' : 'media node dead: its lease had already ended or a new run holds it');
  }
}

/** Opens GET /node/v1/alive at a node's API address and reads its first line: the probe and, when it answered, the open response (the lifeline). */
export function probeLifeline(baseUrl: string, timeoutMs: number): Promise<{ probe: LifelineProbe; res?: http.IncomingMessage }> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (probe: LifelineProbe, res?: http.IncomingMessage): void => {
      if (settled) return void res?.destroy();
      settled = true;
      clearTimeout(timer);
      if (!res) req.destroy();
      resolve({ probe, res });
    };
    let req: http.ClientRequest;
    try {
      req = http.get(new URL('/node/v1/alive', baseUrl), { agent: false, headers: { accept: 'application/x-ndjson' } }, (res) => {
        // Errors after the first line end the lifeline through 'close'.
        res.on('error', () => undefined);
        if (res.statusCode !== 200) {
          res.resume();
          return finish({ kind: 'silent', why: `answered ${res.statusCode}` });
        }
        res.setEncoding('utf8');
        let text = '';
        const early = (): void => finish({ kind: 'reset' });
        const onData = (chunk: string): void => {
          text += chunk;
          const end = text.indexOf('\n');
          if (end < 0) {
            if (text.length > FIRST_LINE_MAX) finish({ kind: 'silent', why: 'no lifeline line' });
            return;
          }
          res.off('data', onData);
          res.off('close', early);
          res.resume();
          const first = parseFirstLine(text.slice(0, end));
          if (!first) return finish({ kind: 'silent', why: 'a first line that is not a lifeline\'s' });
          finish({ kind: 'answered', ...first }, res);
        };
        res.on('data', onData);
        res.once('close', early);
      });
    } catch (error) {
      return resolve({ probe: { kind: 'silent', why: `bad address: ${(error as Error).message}` } });
    }
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') finish({ kind: 'refused' });
      else if (error.code === 'ECONNRESET') finish({ kind: 'reset' });
      else finish({ kind: 'silent', why: error.code ?? error.message });
    });
    const timer = setTimeout(() => finish({ kind: 'silent', why: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
}

function heldKey(nodeId: string, incarnation: string, url: string): string {
  return `${nodeId}|${incarnation}|${url}`;
}

function parseFirstLine(line: string): { nodeId: string; incarnation: string } | null {
  try {
    const v = JSON.parse(line) as { nodeId?: unknown; incarnation?: unknown };
    return typeof v.nodeId === 'string' && typeof v.incarnation === 'string' ? { nodeId: v.nodeId, incarnation: v.incarnation } : null;
  } catch {
    return null;
  }
}
