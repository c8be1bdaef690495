// A media node's link samples for the control plane (issue 13): every 2 s, the link counters of
// every bridge whose hall is on this node, in one message on the conference's links channel, with
// the node's halls whose links carry no video (issue 17: also at once when that list changes) and
// who is heard how loud (the chair's tiles: also at once when that changes). The control plane's
// health monitor and its pages read them through LinkSampleFeed.
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

/**
 * Publishes the node's link counters every interval, with the node's whole list of halls whose
 * links carry no video (weak links); and that list alone, at once, whenever it changes (the
 * changes of one tick go out as one message). Returns the function that stops it.
 */
export function publishLinkSamples(o: LinkSamplesOptions): () => void {
  let running = false;
  let stopped = false;
  // Messages go out one after another, in the order they were made (a list never overtakes a newer one).
  let queue: Promise<void> = Promise.resolve();
  // `last`: the message that says the conference left the node (sent while the session closes; a channel closing too is no problem).
  const publish = (make: () => LinkSampleMessage | null, last = false): void => {
    if (stopped) return;
    queue = queue
      .then(async () => {
        const message = o.session.closed && !last ? null : make();
        if (message) await o.links.publishLinks(o.conferenceId, message);
      })
      .catch((error: unknown) => {
        if (!last) o.problem('publishing link samples failed', error);
      });
  };
  // Who is heard on this node and how loud, as its session last said (sfu/AudioLevels: at most every 400 ms, when it changes).
  let levels: NonNullable<LinkSampleMessage['levels']> = [];
  const audioOnly = (): NonNullable<LinkSampleMessage['audioOnly']> => o.session.audioOnly().map(({ bridgeId, up, down }) => ({ bridgeId, up, down }));
  const sample = async (): Promise<void> => {
    if (running || o.session.closed) return;
    running = true;
    try {
      const all = await Promise.all(o.bridgeIds.map((id) => o.session.linkCounters(id).catch(() => null)));
      const links: LinkSampleMessage['links'] = {};
      all.forEach((counters, i) => {
        if (counters) links[o.bridgeIds[i]!] = counters;
      });
      // The list is read when the message goes: never older than a change published before it.
      publish(() => {
        const weak = audioOnly();
        return Object.keys(links).length > 0 || weak.length > 0 || levels.length > 0 ? { nodeId: o.nodeId, at: o.clock.now(), links, audioOnly: weak, levels } : null;
      });
      await queue;
    } finally {
      running = false;
    }
  };
  let changed = false;
  const onAudioOnly = (): void => {
    if (changed) return;
    changed = true;
    queueMicrotask(() => {
      changed = false;
      publish(() => ({ nodeId: o.nodeId, at: o.clock.now(), links: {}, audioOnly: audioOnly() }));
    });
  };
  const onLevels = ({ levels: now }: { levels: { bridgeId: string; dBov: number }[] }): void => {
    levels = now.map(({ bridgeId, dBov }) => ({ bridgeId, dBov: Math.max(-127, Math.min(0, Math.round(dBov))) }));
    const told = levels;
    publish(() => ({ nodeId: o.nodeId, at: o.clock.now(), links: {}, levels: told }));
  };
  o.session.on('audioonly', onAudioOnly);
  o.session.on('audiolevels', onLevels);
  const timer: ClockTimer = o.clock.setInterval(() => void sample(), o.intervalMs ?? LINK_SAMPLE_MS, { background: true });
  return () => {
    if (stopped) return;
    o.session.off('audioonly', onAudioOnly);
    o.session.off('audiolevels', onLevels);
    o.clock.clearInterval(timer);
    // The conference leaves this node: none of its halls is audio only here any more.
    publish(() => ({ nodeId: o.nodeId, at: o.clock.now(), links: {}, audioOnly: [], levels: [] }), true);
    stopped = true;
  };
}
