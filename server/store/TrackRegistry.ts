// The tracks each media node publishes, per conference (issue 13): when a hall publishes its
// microphone or camera on one node, the other nodes learn where to pipe it from. Entries of a
// node whose lease ended are ignored by readers (the node registry says who is alive).
import type { TrackRecord } from '../protocol/cluster.ts';

/** A watch on a conference's tracks; close() is idempotent. */
export interface TrackWatch {
  close(): Promise<void>;
}

/** Storage of published tracks. */
export interface TrackRegistry {
  /** Records a publication; an older epoch of the same bridge and source is replaced, a newer one kept. */
  publishTrack(conferenceId: string, record: TrackRecord): Promise<void>;

  /** Removes a publication (the producer closed); a no-op when another producer replaced it. */
  unpublishTrack(conferenceId: string, bridgeId: string, source: TrackRecord['source'], producerId: string): Promise<void>;

  /** Every recorded track of a conference (readers drop those of dead nodes). */
  tracks(conferenceId: string): Promise<TrackRecord[]>;

  /** Removes every track a node published (a node that died or shut down). */
  dropNodeTracks(conferenceId: string, nodeId: string): Promise<void>;

  /** Calls listener after every change of the conference's tracks, on every process. */
  watchTracks(conferenceId: string, listener: () => void): Promise<TrackWatch>;

  /** Deletes every track of a conference. */
  dropTracks(conferenceId: string): Promise<void>;
}
