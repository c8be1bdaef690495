// Which tracks of other nodes a node pipes in as soon as it learns of them, before any peer's turn
// (MediaSession.setRemoteTracks). Pure; unit-tested in test/unit/sfu/pipe-ahead.test.ts.
//
// Why: each peer's consumers are reconciled one run after the other, and a run waits for the pipes
// of the tracks it adds. After a failover the speaker republishes on a surviving node, its
// microphone a moment before its camera, and a node receiving both through a pipe asked for the
// camera only once each hall's run for the microphone had its pipe: 0.4-0.5 s later, on a home
// node busy with a hundred joins (bench:cascade's kills: the halls of the third node were always
// the last to see the programme again).
import { desiredConsumers } from './who-hears-whom.ts';
import type { PublishedTrack, RoutedPeer, RoutingState, TrackLookup } from './types.ts';

/**
 * The tracks homed on other nodes that some peer here should receive now as part of the programme
 * (on air, its audio and the chair's, the prepared next speaker, the shared screen), each once,
 * cameras and screens first; thumbnails are left to the peers' own runs (there may be hundreds,
 * and they must not stand between the home node and the programme).
 */
export function programmeTracksToPipe<T extends PublishedTrack & { home: { node: string } | { worker: number } }>(state: RoutingState, peers: Iterable<RoutedPeer>, published: TrackLookup<T>): (T & { home: { node: string } })[] {
  const out = new Map<string, T & { home: { node: string } }>();
  for (const peer of peers) {
    for (const d of desiredConsumers(state, peer, published)) {
      const track = d.track;
      if (d.slot === 'thumb' || !isRemote(track)) continue;
      out.set(track.trackId, track);
    }
  }
  const audio = (t: T): number => (t.source === 'mic' ? 1 : 0);
  return [...out.values()].sort((a, b) => audio(a) - audio(b));
}

function isRemote<T extends { home: { node: string } | { worker: number } }>(track: T): track is T & { home: { node: string } } {
  return 'node' in track.home;
}
