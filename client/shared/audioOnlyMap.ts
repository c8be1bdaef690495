// The halls whose links carry no video, as a page keeps them: one map by bridge id, set hall by
// hall (the media socket's `media:audioOnly`) or replaced by a whole list (the media socket's
// join, the control socket's `link:audioOnly`), telling what changed.
import type { AudioOnlyState } from '../../server/protocol/media.ts';

/** Sets one hall's state in `map` (both false: the hall leaves it); whether its state changed. */
export function setAudioOnly(map: Map<string, AudioOnlyState>, state: AudioOnlyState): boolean {
  const before = map.get(state.bridgeId);
  if (state.up || state.down) map.set(state.bridgeId, { bridgeId: state.bridgeId, up: state.up, down: state.down });
  else map.delete(state.bridgeId);
  return (before?.up ?? false) !== state.up || (before?.down ?? false) !== state.down;
}

/** Makes `map` say the whole list `halls`; the states that changed, the halls no longer listed (cleared) first. */
export function replaceAudioOnly(map: Map<string, AudioOnlyState>, halls: readonly AudioOnlyState[]): AudioOnlyState[] {
  const listed = new Set(halls.map((h) => h.bridgeId));
  const changed: AudioOnlyState[] = [];
  const set = (state: AudioOnlyState): void => void (setAudioOnly(map, state) && changed.push(state));
  for (const bridgeId of [...map.keys()]) if (!listed.has(bridgeId)) set({ bridgeId, up: false, down: false });
  for (const { bridgeId, up, down } of halls) set({ bridgeId, up, down });
  return changed;
}
