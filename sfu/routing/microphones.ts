// Whose microphone is open at the server. The rule itself lives in the conference core
// (`openMicrophones(state)` in server/core/conference/microphones.ts); the SFU is told the set.
import type { RoutingState } from './types.ts';

/** Whether a bridge's microphone producer runs (a closed one is paused at the server: it reaches no one). */
export function microphoneOpen(state: RoutingState, bridgeId: string): boolean {
  return state.openMicrophones.has(bridgeId);
}
