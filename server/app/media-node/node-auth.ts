// The node-to-node channel's authentication (issue 13): every request between media nodes is
// signed with the secret the nodes of a deployment share (DIEMCAU_NODE_SECRET):
//   x-node-id     the sender's node id (it must be live in the registry)
//   x-node-ts     the sender's clock, ms (within ±30 s of ours)
//   x-node-nonce  128 random bits, hex (never twice within the window: no replay)
//   x-node-sig    hex HMAC-SHA256(secret, method \n path \n node id \n ts \n nonce \n sha256(body))
// (the node id is signed too, unlike the first draft of the design: a request cannot be passed off
// as another node's)
// and every successful reply is signed back over the request's nonce, so a requester knows the
// answer (the other end's address and keys) came from a node that holds the secret.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { NODE_HEADERS, type NodeApiErrorCode } from '../../protocol/cluster.ts';

/** How far a request's time may be from ours. */
export const NODE_CLOCK_WINDOW_MS = 30_000;

const NONCE = /^[0-9a-f]{32}$/;

/** A refusal of the node channel: its HTTP status and stable code. */
export class NodeApiError extends Error {
  readonly code: NodeApiErrorCode;
  readonly status: number;
  constructor(code: NodeApiErrorCode, status: number, message: string) {
    super(message);
    this.name = 'NodeApiError';
    this.code = code;
    this.status = status;
  }
}

function hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text).digest('hex');
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** The headers that sign a request from `nodeId`. */
export function signRequest(secret: string, nodeId: string, method: string, path: string, body: Buffer, now: number): Record<string, string> {
  const ts = String(Math.round(now));
  const nonce = randomBytes(16).toString('hex');
  const sig = hmac(secret, [method.toUpperCase(), path, nodeId, ts, nonce, hex(body)].join('\n'));
  return { [NODE_HEADERS.node]: nodeId, [NODE_HEADERS.ts]: ts, [NODE_HEADERS.nonce]: nonce, [NODE_HEADERS.sig]: sig };
}

/** The signature of a reply to the request that carried `nonce`. */
export function replySignature(secret: string, nonce: string, status: number, body: Buffer): string {
  return hmac(secret, ['reply', nonce, String(status), hex(body)].join('\n'));
}

/** Whether a reply's signature is right. */
export function replySigned(secret: string, nonce: string, status: number, body: Buffer, signature: string | null): boolean {
  return signature !== null && sameHex(signature, replySignature(secret, nonce, status, body));
}

/** Nonces seen within the window, forgotten once their request could no longer be fresh. */
export class NonceBook {
  readonly #seen = new Map<string, number>();
  readonly #windowMs: number;
  #sweptAt = 0;

  constructor(windowMs = NODE_CLOCK_WINDOW_MS) {
    this.#windowMs = windowMs;
  }

  /** How many nonces are remembered now. */
  get size(): number {
    return this.#seen.size;
  }

  /** Records a nonce; false when it was already seen (a replay). */
  record(nonce: string, now: number): boolean {
    if (now - this.#sweptAt > this.#windowMs) this.#sweep(now);
    if (this.#seen.has(nonce)) return false;
    // A request is fresh for ±window around its time: its nonce must be remembered that long.
    this.#seen.set(nonce, now + 2 * this.#windowMs);
    return true;
  }

  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [nonce, until] of this.#seen) if (until < now) this.#seen.delete(nonce);
  }
}

/** What verifyRequest reads from an HTTP request. */
export interface SignedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * Checks a request's signature, time and nonce, and that its node is live; returns the sender's
 * node id or throws NodeApiError. The nonce is recorded only for a request that passed every other
 * check, so forged requests cannot fill the book.
 */
export async function verifyRequest(
  request: SignedRequest,
  options: { secret: string; now: number; nonces: NonceBook; knownNode: (nodeId: string) => Promise<boolean> },
): Promise<string> {
  const header = (name: string): string | undefined => {
    const v = request.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const nodeId = header(NODE_HEADERS.node);
  const ts = header(NODE_HEADERS.ts);
  const nonce = header(NODE_HEADERS.nonce);
  const sig = header(NODE_HEADERS.sig);
  if (!nodeId || !ts || !nonce || !sig || !/^\d{1,16}$/.test(ts) || !NONCE.test(nonce) || !/^[0-9a-f]{64}$/.test(sig)) {
    throw new NodeApiError('missing_auth', 401, 'missing or malformed x-node-* headers');
  }
  if (Math.abs(options.now - Number(ts)) > NODE_CLOCK_WINDOW_MS) {
    throw new NodeApiError('stale_request', 401, `request time outside ±${NODE_CLOCK_WINDOW_MS / 1000} s [ts:${ts}]`);
  }
  const expected = hmac(options.secret, [request.method.toUpperCase(), request.path, nodeId, ts, nonce, hex(request.body)].join('\n'));
  if (!sameHex(sig, expected)) throw new NodeApiError('bad_signature', 401, 'signature does not match');
  if (!(await options.knownNode(nodeId))) throw new NodeApiError('unknown_node', 403, `no live node with this id [nodeId:${nodeId.slice(0, 64)}]`);
  if (!options.nonces.record(nonce, options.now)) throw new NodeApiError('replayed_request', 401, `nonce already used [nonce:${nonce}]`);
  return nodeId;
}
