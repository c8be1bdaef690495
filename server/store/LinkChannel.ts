// The link samples media nodes send the control plane (issue 13): every 2 s each media node
// publishes the link counters of the halls on it; the control plane's health monitor reads them.
// Fire and forget, like the samples themselves: a sample missed is followed by the next one.
import type { LinkSampleMessage } from '../protocol/cluster.ts';

/** A watch on a conference's link samples; close() is idempotent. */
export interface LinkWatch {
  close(): Promise<void>;
}

/** The channel of link samples. */
export interface LinkChannel {
  /** Sends a node's samples to every watcher of the conference (in every process). */
  publishLinks(conferenceId: string, message: LinkSampleMessage): Promise<void>;

  /** Calls listener with every valid sample message of the conference. */
  watchLinks(conferenceId: string, listener: (message: LinkSampleMessage) => void): Promise<LinkWatch>;
}
