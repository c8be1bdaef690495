// A media node's link samples for the control plane (issue 13): every 2 s, the link counters of
// every bridge whose hall is on this node, in one message on the conference's links channel. The
// control plane's health monitor reads them through LinkSampleFeed.
import type { MediaSession } from '../../../sfu/index.ts';
import type { Clock, ClockTimer } from '../../core/conference/index.ts';
import type { LinkSampleMessage } from '../../protocol/cluster.ts';
import type { LinkChannel } from '../../store/index.ts';

/** How often a node publishes its halls' links (the health monitor's sampling period). */
export const LINK_SAMPLE_MS = 2000;

/** Options of publishLinkSamples. */
export interface LinkSamplesOptions {
  conferenceId: string;
  nodeId: string;
  session: MediaSession;
  bridgeIds: readonly string[];
  links: LinkChannel;
  clock: Clock;
  intervalMs?: number;
  problem: (message: string, error: unknown) => void;
}

/** Publishes the node's link counters every interval; returns the function that stops it. */
export function publishLinkSamples(o: LinkSamplesOptions): () => void {
  let running = false;
  const sample = async (): Promise<void> => {
    if (running || o.session.closed) return;
    running = true;
    try {
      const all = await Promise.all(o.bridgeIds.map((id) => o.session.linkCounters(id).catch(() => null)));
      const links: LinkSampleMessage['links'] = {};
      all.forEach((counters, i) => {
        if (counters) links[o.bridgeIds[i]!] = counters;
      });
      if (Object.keys(links).length > 0) await o.links.publishLinks(o.conferenceId, { nodeId: o.nodeId, at: o.clock.now(), links });
    } catch (error) {
      o.problem('publishing link samples failed', error);
    } finally {
      running = false;
    }
  };
  const timer: ClockTimer = o.clock.setInterval(() => void sample(), o.intervalMs ?? LINK_SAMPLE_MS, { background: true });
  return () => o.clock.clearInterval(timer);
}
