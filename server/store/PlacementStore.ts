// Where each peer's media goes (issue 13): the control plane assigns every hall (and every staff
// and press peer) to a media node; the assignment is conference state, the same on every control
// instance and kept across restarts. Moves are compare-and-set on the record's epoch, so two
// control instances reacting to the same dead node never place one hall twice; a group (a district
// and its communes) is written all or nothing, so two instances never split it between them.
import type { PlacementRecord } from '../protocol/cluster.ts';

/** A watch on a conference's placements; close() is idempotent. */
export interface PlacementWatch {
  close(): Promise<void>;
}

/** Storage of placements. */
export interface PlacementStore {
  /** Every placement of a conference, by peer key. */
  placements(conferenceId: string): Promise<Map<string, PlacementRecord>>;

  /**
   * Places a peer if its stored epoch is still `expectedEpoch` (0: not placed yet); the record
   * is stored with epoch expectedEpoch + 1. The stored record, or null when another writer won.
   */
  place(conferenceId: string, record: Omit<PlacementRecord, 'epoch'>, expectedEpoch: number): Promise<PlacementRecord | null>;

  /**
   * Places several peers at once, all or nothing: every one's stored epoch must still be its
   * expected epoch. The stored records, or null when another writer changed any of them.
   */
  placeAll(conferenceId: string, moves: readonly { record: Omit<PlacementRecord, 'epoch'>; expectedEpoch: number }[]): Promise<PlacementRecord[] | null>;

  /** Calls listener with each placement written, on every process. */
  watchPlacements(conferenceId: string, listener: (record: PlacementRecord) => void): Promise<PlacementWatch>;

  /**
   * Marks a node draining for this conference (a technician's command): placement takes no new
   * peer there and moves its peers off one by one, as when the node's own record says draining.
   */
  setDraining(conferenceId: string, nodeId: string, draining: boolean): Promise<void>;

  /** The nodes marked draining for this conference. */
  drainingNodes(conferenceId: string): Promise<Set<string>>;

  /** Deletes every placement and drain mark of a conference. */
  dropPlacements(conferenceId: string): Promise<void>;
}
