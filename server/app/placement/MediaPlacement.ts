// Where each peer's media goes, as the control plane tells the pages (issue 13). Two kinds:
// LocalPlacement, the embedded default (this process's own media is the only node: every page
// opens /media where it reached the control plane), and ClusterPlacement (the live nodes of the
// shared registry, placements stored with compare-and-set). The conference and the transport
// see only this interface.
import { EventEmitter } from 'node:events';
import type { ClusterSummary, MediaPlacementMessage, NodeLineView, Principal } from '../../protocol/control.ts';

/** Where a peer's media goes: the node, and the URL its browser opens `/media` at (null: the control instance it reached). */
export type MediaWhere = MediaPlacementMessage;

/** One media node as the technicians see it. */
export type NodeLine = NodeLineView;

export type MediaPlacementEvents = {
  /** A peer's media goes somewhere else now (pushed to its pages). */
  moved: [where: MediaWhere];
  /** Nodes or placements changed (the technicians' panel). */
  changed: [];
};

/** A refusal of a placement command, with a stable code. */
export class PlacementError extends Error {
  readonly code: 'not_clustered' | 'unknown_node';

  constructor(code: PlacementError['code'], message: string) {
    super(message);
    this.name = 'PlacementError';
    this.code = code;
  }
}

/** Where peers' media goes. */
export interface MediaPlacement extends EventEmitter<MediaPlacementEvents> {
  readonly mode: 'local' | 'cluster';
  /** Where the peer's media goes now, placing it (or moving it off a lost node) first if needed; null when no node can take it. */
  where(peerKey: string): Promise<MediaWhere | null>;
  /** The node a peer is placed on, as known here (no I/O). */
  nodeOf(peerKey: string): string | null;
  /** Every node, as known here (no I/O). */
  nodes(): NodeLine[];
  /** Marks a node draining (its peers leave one by one) or takes the mark off. */
  setDraining(nodeId: string, draining: boolean): Promise<void>;
  /** Stops; idempotent. */
  close(): Promise<void>;
}

/** The id the embedded default's only node goes by. */
export const LOCAL_NODE_ID = 'local';

/** The load of this process's own media. */
export interface LocalLoad {
  peers: number;
  consumers: number;
  workers: number;
}

/** The embedded default: this process's media is the only node. */
export class LocalPlacement extends EventEmitter<MediaPlacementEvents> implements MediaPlacement {
  readonly mode = 'local' as const;
  readonly #load: () => LocalLoad;

  constructor(load: () => LocalLoad) {
    super();
    this.#load = load;
  }

  async where(peerKey: string): Promise<MediaWhere> {
    return { peerKey, nodeId: LOCAL_NODE_ID, mediaUrl: null, epoch: 0, reason: 'placed' };
  }

  nodeOf(): string {
    return LOCAL_NODE_ID;
  }

  nodes(): NodeLine[] {
    const load = this.#load();
    return [
      {
        nodeId: LOCAL_NODE_ID,
        mediaUrl: null,
        alive: true,
        draining: false,
        drainMarked: false,
        labels: {},
        workers: load.workers,
        load: { peers: load.peers, consumers: load.consumers, cpu: 0 },
        capacity: null,
        placed: load.peers,
        pipes: null,
      },
    ];
  }

  async setDraining(): Promise<void> {
    throw new PlacementError('not_clustered', 'one media node (this server): nothing to drain to');
  }

  async close(): Promise<void> {
    this.removeAllListeners();
  }
}

/** The placement key of a page: its bridge for a hall's operator, its role for the staff and the press. */
export function peerKeyOf(principal: Principal): string {
  return principal.role === 'operator' ? principal.bridgeId : principal.role;
}

/** The technicians' view of the nodes and of where each bridge's media is. */
export function clusterSummary(placement: MediaPlacement, bridgeIds: readonly string[], now: number): ClusterSummary {
  const bridges: Record<string, string> = {};
  for (const id of bridgeIds) {
    const nodeId = placement.nodeOf(id);
    if (nodeId) bridges[id] = nodeId;
  }
  return { at: now, mode: placement.mode, nodes: placement.nodes(), bridges };
}
