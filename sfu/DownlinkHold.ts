import { EventEmitter } from 'node:events';
import type { types as ms } from 'mediasoup';
import { noLayerFits } from './audio-only.ts';
import { linkVideoFacts } from './AudioOnlyWatch.ts';
import { TOP_SPATIAL_LAYER } from './codecs.ts';
import type { HeldConsumer, MediaPeer } from './MediaPeer.ts';
import { DownlinkVideoRule, type ConsumerSlot, type DownlinkDecision, type DownlinkFacts, type DownlinkState, type TrialRecord } from './routing/index.ts';

export type DownlinkHoldEvents = {
  /** A hall's downlink video was held, put on trial or given back (`trial`: when a trial ended, how and what it saw, with its consumer's slot). */
  change: [{ bridgeId: string; peerId: string; trial?: TrialRecord & { slot?: ConsumerSlot } } & DownlinkDecision];
};

/** A trial's consumer asks for this layer: the lowest of the simulcast, at its lowest frame rate. */
const TRIAL_LAYERS: ms.ConsumerLayers = { spatialLayer: 0, temporalLayer: 0 };

/** The layers a consumer of this slot asks for outside a trial (as the reconciler made it). */
function usualLayers(slot: ConsumerSlot): ms.ConsumerLayers {
  return { spatialLayer: slot === 'thumb' ? 0 : TOP_SPATIAL_LAYER };
}

/** The video consumers of a peer that routing wants running: ready on the client, not a prepared `next`. */
function runningVideo(peer: MediaPeer): HeldConsumer[] {
  return [...peer.consumers.values()].filter((h) => h.consumer.kind === 'video' && !h.consumer.closed && h.ready && h.slot !== 'next');
}

/** The consumer a trial runs: the programme first, then a shared screen, then a thumbnail. */
function trialCandidate(peer: MediaPeer): HeldConsumer | undefined {
  const order: ConsumerSlot[] = ['onair', 'content', 'thumb'];
  return runningVideo(peer).sort((a, b) => order.indexOf(a.slot) - order.indexOf(b.slot))[0];
}

/** The consumer whose counters the rule reads: the trial's, or after it verified, the same one on probation. */
function watchedConsumer(hall: Hall): ms.Consumer | undefined {
  const c = hall.trial ?? (hall.rule.onProbation ? hall.watched : undefined);
  return c && !c.closed ? c : undefined;
}

interface Hall {
  readonly rule: DownlinkVideoRule;
  /** The consumer a trial runs now. */
  trial?: ms.Consumer;
  /** The consumer of the trial that verified last, watched while the rule keeps the video it gave back on probation. */
  watched?: ms.Consumer;
  /** The receive transport's last estimate, kbit/s, and whether a read is in flight. */
  kbps: number | null;
  reading: boolean;
  /** The trial consumer's packets sent and asked for again (cumulative), read while a trial runs and on probation after it. */
  trialSent?: { consumer: ms.Consumer; sent: number; nacked: number; retransmitted: number; lost: number };
  /** The hall's microphone: packets lost on the way up so far (cumulative), read with the estimate. */
  upLost?: { producer: ms.Producer; lost: number };
}

/**
 * Audio only on a hall's downlink (the rule: routing/downlink-video.ts). Looks at every hall a few
 * times a second; while the rule holds a hall's video, every video consumer it holds is paused at
 * the SFU (new ones are created paused and stay so: the reconciler asks `held`), and during a
 * trial one of them runs at the lowest layer. Reads the receive transport's estimate
 * (`availableOutgoingBitrate`, one worker request) only for halls it holds, or whose programme
 * video gets no layer.
 */
export class DownlinkHold extends EventEmitter<DownlinkHoldEvents> {
  readonly #peers: () => Iterable<MediaPeer>;
  readonly #halls = new Map<MediaPeer, Hall>();
  readonly #timer: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(halls: () => Iterable<MediaPeer>, intervalMs = 250) {
    super();
    this.#peers = halls;
    this.#timer = setInterval(() => this.tick(), intervalMs);
    this.#timer.unref();
  }

  /** Whether this peer's video consumers are to stay paused now (a trial's own consumer is run by this class). */
  held(peer: MediaPeer): boolean {
    return this.#halls.get(peer)?.rule.held ?? false;
  }

  /** Whether the hold takes video from this peer now (held, and it has video that routing wants running): its downlink is audio only. */
  holdsVideo(peer: MediaPeer): boolean {
    return this.held(peer) && runningVideo(peer).length > 0;
  }

  /** Its state (video when unknown). */
  state(peer: MediaPeer): DownlinkState {
    return this.#halls.get(peer)?.rule.state ?? 'video';
  }

  /** Looks at every hall once (the interval calls it; a hall's own report may too). */
  tick(now = Date.now()): void {
    if (this.#closed) return;
    const seen = new Set<MediaPeer>();
    for (const peer of this.#peers()) {
      if (peer.closed || peer.bridgeId === undefined || !peer.options.receiveOnAir) continue;
      seen.add(peer);
      let hall = this.#halls.get(peer);
      if (!hall) this.#halls.set(peer, (hall = { rule: new DownlinkVideoRule(), kbps: null, reading: false }));
      const noLayer = noLayerFits(linkVideoFacts(peer, now).onAirVideo);
      // The estimate is read only where the rule needs it: a worker request per hall held, without layers, or reporting its uplink weak.
      if (hall.rule.held || hall.rule.onProbation || noLayer || peer.sendMode === 'audio-only') this.#readEstimate(peer, hall);
      else hall.kbps = null;
      const trial = watchedConsumer(hall);
      const counts = trial && hall.trialSent?.consumer === trial ? hall.trialSent : undefined;
      const mic = peer.publication('mic')?.producer;
      const facts: DownlinkFacts = {
        upLost: mic && hall.upLost?.producer === mic ? hall.upLost.lost : undefined,
        reportedAudioOnly: peer.sendMode === 'audio-only',
        hasVideo: runningVideo(peer).length > 0,
        noLayerFits: noLayer,
        availableKbps: hall.kbps,
        trial: trial
          ? { layers: trial.currentLayers !== undefined, score: trial.score.score, sent: counts?.sent, nacked: counts?.nacked, retransmitted: counts?.retransmitted, lost: counts?.lost }
          : undefined,
      };
      const decision = hall.rule.step(now, facts);
      if (decision) this.#apply(peer, hall, decision, hall.rule.endedTrial);
    }
    for (const peer of this.#halls.keys()) if (!seen.has(peer)) this.#halls.delete(peer);
  }

  /** Stops watching; idempotent (the consumers stay as they are: the session closes them). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#halls.clear();
    this.removeAllListeners();
  }

  #apply(peer: MediaPeer, hall: Hall, decision: DownlinkDecision, ended: TrialRecord | null): void {
    const ignore = (): undefined => undefined;
    const running = runningVideo(peer);
    const endedConsumer = hall.trial ?? hall.watched;
    const endedSlot = endedConsumer ? running.find((h) => h.consumer === endedConsumer)?.slot : undefined;
    const previousTrial = hall.trial;
    hall.trial = undefined;
    hall.watched = decision.reason === 'verified' && previousTrial && !previousTrial.closed ? previousTrial : undefined;
    // Its counters go on (cumulative, the same consumer) while the video it gave back is on probation.
    if (!hall.watched) hall.trialSent = undefined;
    if (previousTrial && !previousTrial.closed) {
      const slot = running.find((h) => h.consumer === previousTrial)?.slot ?? 'onair';
      void previousTrial.setPreferredLayers(usualLayers(slot)).catch(ignore);
    }
    if (decision.state === 'held') {
      for (const h of running) void h.consumer.pause().catch(ignore);
    } else if (decision.state === 'trial') {
      const candidate = trialCandidate(peer);
      if (candidate) {
        hall.trial = candidate.consumer;
        void candidate.consumer.setPreferredLayers(TRIAL_LAYERS).catch(ignore);
        void candidate.consumer.resume().catch(ignore);
      }
    } else {
      for (const h of running) void h.consumer.resume().catch(ignore);
    }
    this.emit('change', { bridgeId: peer.bridgeId!, peerId: peer.id, ...decision, ...(ended ? { trial: { ...ended, slot: endedSlot } } : {}) });
  }

  /** Reads the receive transport's estimate, during a trial its consumer's counters, and the hall's microphone's losses, in the background (the next tick uses them). */
  #readEstimate(peer: MediaPeer, hall: Hall): void {
    const transport = peer.transport('recv');
    if (hall.reading || !transport || transport.closed || transport.appData.kind !== 'webrtc') return;
    hall.reading = true;
    const trial = watchedConsumer(hall);
    const estimate = (transport as ms.WebRtcTransport).getStats().then(
      (stats) => {
        const bps = stats[0]?.availableOutgoingBitrate;
        hall.kbps = typeof bps === 'number' ? bps / 1000 : null;
      },
      () => undefined,
    );
    const counters = trial?.getStats().then(
      (stats) => {
        const out = stats.find((s) => s.type === 'outbound-rtp');
        if (out && watchedConsumer(hall) === trial) {
          hall.trialSent = { consumer: trial, sent: out.packetCount, nacked: out.nackPacketCount, retransmitted: out.packetsRetransmitted, lost: out.packetsLost };
        }
      },
      () => undefined,
    );
    const mic = peer.publication('mic')?.producer;
    const upLost = mic && !mic.closed
      ? mic.getStats().then(
          (stats) => void (hall.upLost = { producer: mic, lost: stats.reduce((n, s) => n + Math.max(0, s.packetsLost ?? 0), 0) }),
          () => undefined,
        )
      : undefined;
    void Promise.all([estimate, counters, upLost]).finally(() => (hall.reading = false));
  }
}
