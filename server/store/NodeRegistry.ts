// The registry of media nodes (issue 13): every media node announces itself under a lease it
// renews (about every second); control instances and the other nodes read the live ones and are
// told when one comes, changes or goes. A node whose lease ran out is dead to everyone.
import type { MediaNodeRecord } from '../protocol/cluster.ts';

/** What changed in the registry: a node came or was renewed with a change, or its lease ended. */
export type NodeChange = { kind: 'up'; node: MediaNodeRecord } | { kind: 'down'; nodeId: string };

/** A watch on the registry; close() is idempotent. */
export interface NodeWatch {
  close(): Promise<void>;
}

/** Storage of the media nodes' leases. */
export interface NodeRegistry {
  /** Announces (or renews) a node for ttlMs. */
  announce(record: MediaNodeRecord, ttlMs: number): Promise<void>;

  /** Removes a node at once (an orderly shutdown). */
  withdraw(nodeId: string): Promise<void>;

  /**
   * Ends a node's lease at once, as if it had expired, if the record held is still of this
   * incarnation (a node restarted meanwhile keeps its new lease); true when it ended one. Watchers
   * are told as of an expired lease. For a node known dead before its lease runs out
   * (server/core/node-death.ts).
   */
  endLease(nodeId: string, incarnation: string): Promise<boolean>;

  /** The nodes whose lease is alive now. */
  liveNodes(): Promise<MediaNodeRecord[]>;

  /**
   * Calls listener when a node comes, changes or goes (lease ended or withdrawn), on every
   * process sharing the registry. A 'down' may arrive up to one polling period after the lease
   * ended.
   */
  watchNodes(listener: (change: NodeChange) => void): Promise<NodeWatch>;
}
