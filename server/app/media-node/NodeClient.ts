// Signed requests from this media node to another one (issue 13): the node-to-node API over HTTP
// (see node-auth.ts for the headers). Replies are checked: a successful one must be signed back
// over our nonce and parse with its schema; a refusal comes back as a NodeApiError with its code.
import type { z } from 'zod';
import type { MediaNodeRecord } from '../../protocol/cluster.ts';
import { NODE_HEADERS, NodeApiErrorCode } from '../../protocol/cluster.ts';
import { NodeApiError, replySigned, signRequest } from './node-auth.ts';

/** Options of a NodeClient. */
export interface NodeClientOptions {
  /** This node's id (the sender). */
  nodeId: string;
  secret: string;
  /** Where a node is (its registry record), or undefined when it is not live. */
  locate: (nodeId: string) => MediaNodeRecord | undefined;
  now: () => number;
  /** How long a request may take (3 s). */
  timeoutMs?: number;
}

/** Sends signed requests to other media nodes. */
export class NodeClient {
  readonly #o: NodeClientOptions;

  constructor(options: NodeClientOptions) {
    this.#o = options;
  }

  /** POSTs a JSON body to another node's API and returns its parsed reply. */
  post<T extends z.ZodType>(nodeId: string, path: string, body: unknown, reply: T): Promise<z.infer<T>> {
    return this.#request(nodeId, 'POST', path, Buffer.from(JSON.stringify(body)), reply);
  }

  /** GETs from another node's API. */
  get<T extends z.ZodType>(nodeId: string, path: string, reply: T): Promise<z.infer<T>> {
    return this.#request(nodeId, 'GET', path, Buffer.alloc(0), reply);
  }

  async #request<T extends z.ZodType>(nodeId: string, method: 'GET' | 'POST', path: string, body: Buffer, schema: T): Promise<z.infer<T>> {
    const node = this.#o.locate(nodeId);
    if (!node) throw new NodeApiError('unknown_node', 503, `node not live [nodeId:${nodeId}]`);
    const url = new URL(path, node.nodeApiUrl);
    const headers = signRequest(this.#o.secret, this.#o.nodeId, method, url.pathname + url.search, body, this.#o.now());
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { ...headers, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
        body: method === 'POST' ? new Uint8Array(body) : undefined,
        signal: AbortSignal.timeout(this.#o.timeoutMs ?? 3000),
      });
    } catch (error) {
      throw new NodeApiError('pipe_failed', 503, `node unreachable [nodeId:${nodeId}]: ${(error as Error).message}`);
    }
    const raw = Buffer.from(await response.arrayBuffer());
    let json: unknown = null;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      // Checked below.
    }
    if (!response.ok) {
      const error = (json as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      const code = NodeApiErrorCode.safeParse(error?.code);
      throw new NodeApiError(code.success ? code.data : 'pipe_failed', response.status, `node ${nodeId} refused ${path}: ${String(error?.message ?? response.status)}`);
    }
    if (!replySigned(this.#o.secret, headers[NODE_HEADERS.nonce]!, response.status, raw, response.headers.get(NODE_HEADERS.sig))) {
      throw new NodeApiError('bad_signature', 502, `reply of node ${nodeId} to ${path} is not signed`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new NodeApiError('invalid_payload', 502, `reply of node ${nodeId} to ${path} does not parse`);
    return parsed.data;
  }
}
