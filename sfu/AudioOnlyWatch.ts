import { EventEmitter } from 'node:events';
import { AudioOnlyHysteresis, audioOnlyNow, type LinkVideoFacts } from './audio-only.ts';
import type { MediaPeer } from './MediaPeer.ts';
import type { AudioOnlyState } from './types.ts';

export type AudioOnlyWatchEvents = {
  /** A hall's link stopped or started carrying video (up, down, or both false: video again). */
  change: [AudioOnlyState];
};

/** What the SFU sees of a hall's video now, read from mediasoup's objects (no worker request). */
export function linkVideoFacts(peer: MediaPeer, now: number, downHeld = false): LinkVideoFacts {
  const cam = peer.publication('cam');
  const producer = cam?.producer;
  const onAir = [...peer.consumers.values()].find((c) => c.slot === 'onair' && c.consumer.kind === 'video' && !c.consumer.closed && c.ready);
  const c = onAir?.consumer;
  return {
    reportedAudioOnly: peer.sendMode === 'audio-only',
    downHeld,
    cam: producer && !producer.closed ? { paused: producer.paused, ageMs: now - cam.epoch, scores: producer.score.map((s) => s.score) } : undefined,
    onAirVideo: c
      ? {
          resumed: !c.paused && !c.producerPaused,
          sourceSending: c.score.producerScores.some((s) => s > 0),
          // Only simulcast consumers follow the estimate layer by layer; a plain one always has its only layer.
          hasLayers: c.type !== 'simulcast' || c.currentLayers !== undefined,
        }
      : undefined,
  };
}

/**
 * Watches the publishing halls twice a second and tells when a hall's link stops carrying video
 * (its camera no longer reaches the SFU, or the SFU's estimate of its downlink fits no layer of the
 * programme, or the SFU holds its video: DownlinkHold) and when it carries video again. The rule
 * and its hysteresis are in audio-only.ts.
 */
export class AudioOnlyWatch extends EventEmitter<AudioOnlyWatchEvents> {
  readonly #peers: () => Iterable<MediaPeer>;
  readonly #downHeld: (peer: MediaPeer) => boolean;
  readonly #book = new AudioOnlyHysteresis();
  readonly #timer: ReturnType<typeof setInterval>;
  #closed = false;

  /** `downHeld`: whether the SFU holds a hall's video (DownlinkHold), which is then audio only downwards. */
  constructor(halls: () => Iterable<MediaPeer>, intervalMs = 500, downHeld: (peer: MediaPeer) => boolean = () => false) {
    super();
    this.#peers = halls;
    this.#downHeld = downHeld;
    this.#timer = setInterval(() => this.tick(), intervalMs);
    this.#timer.unref();
  }

  /** Looks at every hall once (the interval calls it; tests and a hall's own report may too). */
  tick(now = Date.now()): void {
    if (this.#closed) return;
    const seen = new Set<string>();
    for (const peer of this.#peers()) {
      const bridgeId = peer.bridgeId;
      if (bridgeId === undefined || peer.closed) continue;
      seen.add(bridgeId);
      const changed = this.#book.step(bridgeId, audioOnlyNow(linkVideoFacts(peer, now, this.#downHeld(peer))), now);
      if (changed) this.emit('change', { bridgeId, ...changed });
    }
    for (const bridgeId of this.#book.bridges()) {
      if (seen.has(bridgeId)) continue;
      const changed = this.#book.forget(bridgeId);
      if (changed) this.emit('change', { bridgeId, ...changed });
    }
  }

  /** The halls whose links carry no video now. */
  audioOnly(): AudioOnlyState[] {
    return this.#book.audioOnly();
  }

  /** One hall's state (both false: video, or unknown). */
  of(bridgeId: string): AudioOnlyState {
    return { bridgeId, ...this.#book.flags(bridgeId) };
  }

  /** Stops watching; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.removeAllListeners();
  }
}
