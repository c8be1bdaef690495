// Audio first on a hall's uplink: how its microphone is encoded, and when its camera stops so
// that its speech stays intelligible. Measured on the network rig (tbf at 256/128/64 kbit/s, see
// docs/benchmarks.md, bench:weaklink), which is where the numbers below come from.
import type { types as msc } from 'mediasoup-client';

/**
 * Opus for the halls' microphones:
 * - in-band FEC on: each packet carries a low-rate copy of the one before, so a lost packet is
 *   rebuilt from the next one without a round trip (at 300 ms one way, a retransmission comes
 *   after the receiver has played the gap);
 * - 40 ms packets: each packet carries about 84 bytes of Ethernet, IP, UDP, RTP, header
 *   extensions and SRTP; at 20 ms that is 34 kbit/s of headers alone, and a 64 kbit/s link was
 *   full with the audio by itself (12 % of its packets dropped in the rig's tbf); at 40 ms it is
 *   17 kbit/s, for 20 ms more delay;
 * - DTX off: a hall's open microphone is a room with people, speech and pauses; DTX saves only in
 *   the pauses, but it empties the stream the SFU's transport-cc feedback rides on (the stall
 *   detector of iceRecovery.ts listens for it) and makes a silent hall and a broken one look
 *   alike on the technicians' counters; the budget must fit continuous speech anyway;
 * - NACK off for audio: on a 64 kbit/s uplink its retransmissions doubled the audio's bitrate
 *   once loss started, and kept the link congested (loss feeding retransmissions);
 * - at most 32 kbit/s (about 49 kbit/s with headers), 24 while the camera is off for a weak link.
 */
export const MIC_CODEC_OPTIONS: msc.ProducerCodecOptions = {
  opusStereo: false,
  opusFec: true,
  opusDtx: false,
  opusNack: false,
  opusPtime: 40,
  opusMaxAverageBitrate: 32_000,
};

/** The microphone's encoding: four times the video's weight in the browser's own share of a short uplink. */
export const MIC_ENCODING: RTCRtpEncodingParameters = { priority: 'high', networkPriority: 'high' };

/**
 * The microphone's bitrate cap while the camera is off for a weak uplink: 24 kbit/s of Opus is
 * still clear speech, and with 40 ms packets the audio then takes about 41 kbit/s of a 64 kbit/s
 * link, leaving room for its feedback, its signalling and a trial's probe.
 */
export const WEAK_LINK_AUDIO_BPS = 24_000;

/**
 * The camera's degradation: on a short uplink the browser's estimate first turns off the upper
 * simulcast layers (their `maxBitrate` caps what each may take), then lowers the low layer's
 * frame rate and resolution together ('balanced': a talking head stays legible at a few frames
 * a second rather than turning to blocks).
 */
export const CAM_DEGRADATION: RTCDegradationPreference = 'balanced';

/** How a hall's camera leaves it now. */
export type SendMode = 'video' | 'audio-only';

/** Thresholds and timings of the send rule (kbit/s, ms). */
export interface SendRuleConfig {
  /** Below this estimate the camera stops: audio (45) plus the low layer's minimum (30) plus what a keyframe burst needs. */
  audioOnlyBelowKbps: number;
  /** ...for this long. */
  enterHoldMs: number;
  /** A trial that lifts the estimate to this brings the camera back. */
  videoAtKbps: number;
  /** How long a trial may take to lift it. */
  trialMs: number;
  /** A trial whose estimate is still below `audioOnlyBelowKbps` after this long has failed (the probe came back). */
  trialFailAfterMs: number;
  /** Trials while audio only: first after this, then spaced by `trialBackoff`, at most `trialEveryMaxMs`. */
  trialFirstMs: number;
  trialBackoff: number;
  trialEveryMaxMs: number;
}

export const SEND_RULE: SendRuleConfig = {
  audioOnlyBelowKbps: 100,
  enterHoldMs: 1500,
  videoAtKbps: 180,
  trialMs: 1000,
  trialFailAfterMs: 500,
  trialFirstMs: 3000,
  trialBackoff: 1.5,
  trialEveryMaxMs: 8000,
};

/** What the rule asks of the camera: its mode, and whether a trial runs (every layer on, to make the browser probe). */
export interface SendDecision {
  mode: SendMode;
  trial: boolean;
}

/**
 * When a hall's camera stops and when it comes back, from the browser's bandwidth estimate
 * (`availableOutgoingBitrate` of the send transport), sampled every half second. Pure: time comes
 * with each sample.
 *
 * The browser's estimate rides on the video: with every video encoding off it is not updated
 * (audio is not in its transport-cc estimate), so it cannot tell when the link comes back. A
 * trial turns every layer on for a second: the browser probes the link at the new allocation,
 * and the estimate tells at once whether video fits; if not, the camera stops again and the next
 * trial waits longer (a trial on a 64 kbit/s link costs the audio a few packets, which FEC mostly
 * rebuilds). A hint comes from the other direction: when what the hall receives jumps back above
 * what video needs (the SFU's own estimate of its downlink found room again), the link has most
 * likely recovered both ways, and a trial starts at once.
 */
export class SendRule {
  readonly #c: SendRuleConfig;
  #mode: SendMode = 'video';
  /** Since when the estimate has been low (video mode). */
  #lowSince: number | null = null;
  #trialStart: number | null = null;
  #nextTrialAt = 0;
  #trialEvery: number;
  /** Whether the last downlink reading was below what video needs (null: none yet). */
  #downLow: boolean | null = null;

  constructor(config: Partial<SendRuleConfig> = {}) {
    this.#c = { ...SEND_RULE, ...config };
    this.#trialEvery = this.#c.trialFirstMs;
  }

  get decision(): SendDecision {
    return { mode: this.#mode, trial: this.#trialStart !== null };
  }

  /**
   * Feeds one estimate of the uplink (null: none yet) and, when known, what the hall receives
   * now (kbit/s); returns the new decision when it changed.
   */
  step(at: number, availableKbps: number | null, downlinkKbps: number | null = null): SendDecision | null {
    const before = this.decision;
    const c = this.#c;
    const downLow = downlinkKbps === null ? this.#downLow : downlinkKbps < c.videoAtKbps;
    const downRecovered = this.#downLow === true && downLow === false;
    this.#downLow = downLow;
    if (this.#mode === 'video') {
      if (availableKbps !== null && availableKbps < c.audioOnlyBelowKbps) {
        this.#lowSince ??= at;
        if (at - this.#lowSince >= c.enterHoldMs) {
          this.#mode = 'audio-only';
          this.#lowSince = null;
          this.#trialEvery = c.trialFirstMs;
          this.#nextTrialAt = at + this.#trialEvery;
        }
      } else {
        this.#lowSince = null;
      }
    } else if (this.#trialStart !== null) {
      if (availableKbps !== null && availableKbps >= c.videoAtKbps) {
        this.#mode = 'video';
        this.#trialStart = null;
      } else if (at - this.#trialStart >= c.trialMs || (at - this.#trialStart >= c.trialFailAfterMs && availableKbps !== null && availableKbps < c.audioOnlyBelowKbps)) {
        this.#trialStart = null;
        this.#trialEvery = Math.min(c.trialEveryMaxMs, this.#trialEvery * c.trialBackoff);
        this.#nextTrialAt = at + this.#trialEvery;
      }
    } else if (at >= this.#nextTrialAt || downRecovered) {
      this.#trialStart = at;
    }
    const after = this.decision;
    return after.mode !== before.mode || after.trial !== before.trial ? after : null;
  }
}

/** The send transport's bandwidth estimate now, in kbit/s (null while there is none). */
export function availableKbpsOf(report: RTCStatsReport | null): number | null {
  let selectedId: unknown;
  let kbps: number | null = null;
  report?.forEach((s: Record<string, unknown>) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) selectedId = s.selectedCandidatePairId;
  });
  report?.forEach((s: Record<string, unknown>) => {
    if (s.type !== 'candidate-pair' || typeof s.availableOutgoingBitrate !== 'number') return;
    if (s.id === selectedId || (selectedId === undefined && s.nominated && s.state === 'succeeded')) kbps = s.availableOutgoingBitrate / 1000;
  });
  return kbps;
}
