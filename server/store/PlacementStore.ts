// Where each peer's media goes (issue 13): the control plane assigns every hall (and every staff
// and press peer) to a media node; the assignment is conference state, the same on every control
// instance and kept across restarts. Moves are compare-and-set on the record's epoch, so two
// control instances reacting to the same dead node never place one hall twice.
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

  /** Calls listener with each placement written, on every process. */
  watchPlacements(conferenceId: string, listener: (record: PlacementRecord) => void): Promise<PlacementWatch>;

  /** Deletes every placement of a conference. */
  dropPlacements(conferenceId: string): Promise<void>;
}
