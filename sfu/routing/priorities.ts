// How a short downlink is shared among the video a peer receives. mediasoup 3.12's bandwidth
// estimation (transport-cc, per WebRTC transport) hands the estimate to that transport's video
// consumers layer by layer: first one layer each, highest priority first, then up to `priority`
// layers per round, highest first; a consumer whose lowest layer does not fit gets none (its
// `layerschange` goes to null). Audio consumers are outside that game: mediasoup forwards them
// whatever the estimate, so audio is the last thing a weak hall loses and their priority is moot.
import type { ConsumerSlot } from './types.ts';

/**
 * The priority of a video consumer by slot: the programme (and the prepared next speaker, which
 * becomes it, and a shared screen shown with it) above thumbnails. Above the number of layers a simulcast producer has (3 spatial ×
 * 3 temporal), so that the programme takes every layer it can before any thumbnail takes a second.
 */
export const VIDEO_PRIORITY: Record<ConsumerSlot, number> = { onair: 16, next: 16, content: 16, audio: 16, thumb: 1 };

/** mediasoup's default priority: a consumer at it needs no request to the worker. */
export const DEFAULT_PRIORITY = 1;

/** The priority to give a new consumer, or null when mediasoup's default serves (thumbnails, and audio, which the estimate never limits). */
export function consumerPriority(slot: ConsumerSlot, kind: 'audio' | 'video'): number | null {
  if (kind === 'audio') return null;
  const p = VIDEO_PRIORITY[slot];
  return p === DEFAULT_PRIORITY ? null : p;
}
