// Who hears and sees whom: the consumers each peer should hold, from the routing state, what is
// published and the peer's role. Pure; the ConsumerReconciler makes the actual consumers follow.
import type { DesiredConsumer, MediaSource, PublishedTrack, RoutedPeer, RoutingState, TrackLookup } from './types.ts';

/**
 * The tracks a peer receives when `onAir` is on air, video first:
 * - every hall sees the bridge on air, except that hall itself, which sees the chair instead
 *   (and the chair's own hall, on air, sees nothing: it is in the room);
 * - every hall hears the bridge on air (not itself) and the chair (not itself, and once only
 *   when the chair is on air);
 * - a single-audio hall (a hardware device playing one stream) hears the chair only when it is
 *   on air itself, the speaker otherwise.
 */
export function onAirTracks<T extends PublishedTrack>(
  peer: RoutedPeer,
  onAir: string,
  chair: string,
  published: TrackLookup<T>,
): { slot: 'onair' | 'audio'; track: T }[] {
  const out: { slot: 'onair' | 'audio'; track: T }[] = [];
  const add = (slot: 'onair' | 'audio', bridgeId: string | undefined, source: MediaSource): void => {
    if (bridgeId === undefined) return;
    const track = published.get(bridgeId)?.[source];
    if (track) out.push({ slot, track });
  };
  const self = peer.bridgeId;
  add('onair', self === onAir ? (onAir === chair ? undefined : chair) : onAir, 'cam');
  if (self !== onAir) add('audio', onAir, 'mic');
  if (self !== chair && onAir !== chair && (!peer.singleAudio || self === onAir)) add('audio', chair, 'mic');
  return out;
}

/**
 * The consumers a peer should hold now: what is on air (if it receives it), the prepared next
 * speaker's tracks it does not already hold (paused, slot `next`), the shared screen (with the
 * programme: every peer that receives what is on air, except the sharing hall itself, which has
 * it on its own screen), and its chosen thumbnails (cameras, if it may see thumbnails). A track
 * that is not published yields nothing.
 */
export function desiredConsumers<T extends PublishedTrack>(state: RoutingState, peer: RoutedPeer, published: TrackLookup<T>): DesiredConsumer<T>[] {
  const desired: DesiredConsumer<T>[] = [];
  if (peer.receiveOnAir) {
    const now = onAirTracks(peer, state.onAir, state.chairBridgeId, published);
    for (const { slot, track } of now) desired.push({ key: `main:${track.trackId}`, track, slot });
    if (state.next !== undefined) {
      const held = new Set(now.map((x) => x.track.trackId));
      for (const { track } of onAirTracks(peer, state.next, state.chairBridgeId, published)) {
        if (!held.has(track.trackId)) desired.push({ key: `main:${track.trackId}`, track, slot: 'next' });
      }
    }
    const screen = state.content === undefined || state.content === peer.bridgeId ? undefined : published.get(state.content)?.screen;
    if (screen) desired.push({ key: `content:${screen.trackId}`, track: screen, slot: 'content' });
  }
  if (peer.thumbnails) {
    for (const bridgeId of peer.thumbnailChoice) {
      const track = published.get(bridgeId)?.cam;
      if (track) desired.push({ key: `thumb:${track.trackId}`, track, slot: 'thumb' });
    }
  }
  return desired;
}

/**
 * Whether a peer's desired consumers can hold a track of `bridgeId` (so whether a change of what
 * that bridge publishes, here or on another node, changes them): the programme's bridges (on air,
 * the chair, the prepared next, the shared screen) for a peer that receives it, and the peer's
 * chosen thumbnails. The one reader of desiredConsumers' inputs by bridge: a publish reconciles
 * only these peers, not every peer of the node (a failover's join storm of a hundred halls on one
 * node reconciled every peer at every publish, O(peers²), and held the node's event loop).
 */
export function receivesFrom(state: RoutingState, peer: RoutedPeer, bridgeId: string): boolean {
  if (peer.receiveOnAir && inProgramme(state, bridgeId)) return true;
  return peer.thumbnails && peer.thumbnailChoice.includes(bridgeId);
}

/** Whether a bridge's tracks are part of the programme: on air, the chair, the prepared next, the shared screen. */
export function inProgramme(state: RoutingState, bridgeId: string): boolean {
  return bridgeId === state.onAir || bridgeId === state.chairBridgeId || bridgeId === state.next || bridgeId === state.content;
}
