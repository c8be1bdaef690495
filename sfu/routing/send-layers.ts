// Which simulcast layers each hall sends: all of them where someone watches it full size.
import { TOP_SPATIAL_LAYER } from '../codecs.ts';
import type { RoutingState } from './types.ts';

/**
 * The highest spatial layer a bridge should send: the top one for the bridge on air, the chair
 * and the prepared next speaker (so that a switch finds the high layer already flowing); the low
 * layer (0) for everyone else, which only thumbnails show.
 */
export function maxSpatialLayer(state: RoutingState, bridgeId: string): number {
  return bridgeId === state.onAir || bridgeId === state.chairBridgeId || bridgeId === state.next ? TOP_SPATIAL_LAYER : 0;
}
