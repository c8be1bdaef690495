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

/**
 * A trial back to video, in two stages, only ever with the lowest layer:
 * - `probe`: the low layer at its smallest (TRIAL_PROBE_LAYER: a few kbit/s of 80×45 frames, far
 *   inside what a 64 kbit/s link has left beside the audio) with its full cap, so that the
 *   browser's allocation rises and it probes the link with short padding bursts;
 * - `verify`: the probe said there is room; the low layer at its own size sends for a moment
 *   (a token-bucket link lets a short probe through at line rate and so looks faster than it is:
 *   only real video that keeps the estimate up proves it).
 */
export type TrialStage = 'probe' | 'verify';

/**
 * The low layer while a trial probes: 1/16 of the camera (80×45), a few frames a second, and a cap
 * well above the rule's `videoAtKbps`. The cap sends nothing by itself (the frames are tiny): it
 * is the allocation the browser probes the link to (a burst at it, one at twice it). With the
 * layer's usual 150 kbit/s beside the 24 kbit/s microphone, the allocation (174) was below the
 * 180 a trial must reach, and a probe lands at or under its target: on a loaded machine the
 * estimate stayed at 151–158 trial after trial on a clean link, and the hall never got its
 * camera back (link-health and technician e2e, 2026-12-07). Not far above either: the probes'
 * bursts go up a weak link too (at 300 kbit/s the 64 kbit/s case concealed 3–6 % of its audio in
 * the weak-link e2e, where it had concealed none).
 */
export const TRIAL_PROBE_LAYER = { scaleResolutionDownBy: 16, maxFramerate: 5, maxBitrate: 200_000 } as const;

/** Thresholds and timings of the send rule (kbit/s, ms). */
export interface SendRuleConfig {
  /** Below this estimate the camera stops: audio (45) plus the low layer's minimum (30) plus what a keyframe burst needs. */
  audioOnlyBelowKbps: number;
  /** ...for this long. */
  enterHoldMs: number;
  /**
   * Below this estimate not even the microphone fits at its full rate (32 kbit/s of Opus is
   * about 49 kbit/s on the wire): the camera stops after `enterFastMs` (two readings), not
   * `enterHoldMs`. Why: on the rig's cut from a clean link to 64 kbit/s the estimate is at
   * 30–40 kbit/s 2.5 s after the cut, and every half second the camera goes on after that (the
   * encoder's lag, its retransmissions: 100–300 kbit/s offered) keeps the uplink's queue full
   * and costs the speech that the whole conference hears; the queue drains only seconds after
   * the camera stops (docs/benchmarks.md, bench:weaklink). In the rig's traces
   * (scripts/diag/weaklink-trace.ts) the estimate went this low only on the 128 and 64 kbit/s
   * links, where the hall goes audio only anyway; with 10 % loss and 300 ms it stayed above 800.
   */
  audioOnlyAtOnceBelowKbps: number;
  enterFastMs: number;
  /** A trial must lift the estimate to this (and keep it there while verifying) to bring the camera back. */
  videoAtKbps: number;
  /** How long the probe stage may take to lift the estimate. */
  trialMs: number;
  /** A probe whose estimate is still below `audioOnlyBelowKbps` after this long has failed (the probe came back). */
  trialFailAfterMs: number;
  /** How long the low layer must send at its own size with the estimate at `videoAtKbps` and no loss before the camera is back. */
  verifyMs: number;
  /** After the camera came back, one estimate below `audioOnlyBelowKbps` within this long stops it at once (no hold). */
  returnGraceMs: number;
  /** Trials while audio only: first after this, then spaced by `trialBackoff`, at most `trialEveryMaxMs`. */
  trialFirstMs: number;
  trialBackoff: number;
  trialEveryMaxMs: number;
  /**
   * While the SFU holds the video it sends this hall too (the link is weak both ways), the SFU's
   * trials probe the link, and the browser tries its own uplink only when the SFU lets video down
   * again, or this long after its last try (a link that recovered upwards only). A browser trial
   * on a weak uplink costs the speech that the whole conference hears (the low layer's keyframe
   * queues in front of it: 80–330 ms concealed at the province per trial on the rig's 64 kbit/s
   * link, docs/benchmarks.md); an SFU trial costs the uplink only the hall's RTCP.
   */
  trialWhileDownHeldMs: number;
  /**
   * A trial that fails on its estimate (not on loss) within `afterReleaseWindowMs` of a sign from
   * the other direction (the SFU letting video down again, or what the hall receives jumping back
   * above what video needs) is tried again after `afterReleaseRetryMs`, not on the spaced
   * schedule, at most `afterReleaseRetries` times. Why: the link most likely recovered, and the
   * browser's first probe after it sometimes does not lift its estimate in time
   * (bench:weaklink 2026-12-07 21:43 and 22:03: the SFU gave the video back 3.1 and 3.7 s after
   * the recovery, the hall's trial began at once and failed 0.5 s later at 36–65 kbit/s; the next
   * came 5 and 7 s later and lifted it to 249–277 within 0.7 s: video back 11.07 and 14.67 s
   * after the recovery, where the others of the session took 5.4–5.7 s).
   */
  afterReleaseRetryMs: number;
  afterReleaseWindowMs: number;
  afterReleaseRetries: number;
}

export const SEND_RULE: SendRuleConfig = {
  audioOnlyBelowKbps: 100,
  enterHoldMs: 1500,
  audioOnlyAtOnceBelowKbps: 60,
  enterFastMs: 500,
  videoAtKbps: 180,
  trialMs: 1000,
  trialFailAfterMs: 500,
  verifyMs: 1500,
  returnGraceMs: 4000,
  trialFirstMs: 3000,
  trialBackoff: 1.5,
  trialEveryMaxMs: 8000,
  trialWhileDownHeldMs: 60_000,
  afterReleaseRetryMs: 1500,
  afterReleaseWindowMs: 10_000,
  afterReleaseRetries: 2,
};

/** What the rule asks of the camera: its mode, and the stage of a trial running (false: none). */
export interface SendDecision {
  mode: SendMode;
  trial: TrialStage | false;
}

/** One reading of the uplink for the rule. */
export interface UplinkReading {
  /** The browser's estimate of the uplink, kbit/s (null: none yet). */
  availableKbps: number | null;
  /** What the hall receives now, kbit/s (null: unknown). */
  downlinkKbps?: number | null;
  /** Packets were lost on the uplink since the last reading (NACKs for the camera, the microphone's receiver reports). */
  lossSeen?: boolean;
  /** The SFU holds the video it sends this hall (the hall's own `down` flag; absent: as at the last reading). */
  downHeld?: boolean;
}

/**
 * When a hall's camera stops and when it comes back, from the browser's bandwidth estimate
 * (`availableOutgoingBitrate` of the send transport). Pure: time comes with each reading.
 *
 * The browser's estimate rides on the video: with every video encoding off it is not updated
 * beyond what the audio carries, so it cannot tell when the link comes back. A trial (see
 * TrialStage) makes the browser probe; on a link that still carries no video it costs the audio
 * little only if it is small and short, so a trial is the low layer only, stops at the first sign
 * of loss or of the estimate falling back, and trials space out: the first after `trialFirstMs`,
 * then further apart up to `trialEveryMaxMs` (so that video is back within about 10 s of a link
 * recovering). While the SFU holds the hall's downlink video as well (weak both ways), the SFU's
 * trials do the probing and the browser's own wait for `trialWhileDownHeldMs`: a trial of the
 * browser's costs the speech 80–330 ms of concealment on a 64 kbit/s link, the SFU's costs it
 * nothing measurable (docs/benchmarks.md). Hints come from the other direction: when the SFU lets
 * video down again, or what the hall receives jumps back above what video needs (the SFU's own
 * estimate of its downlink found room again), the link has most likely recovered both ways, and
 * a trial starts at once.
 */
export class SendRule {
  readonly #c: SendRuleConfig;
  #mode: SendMode = 'video';
  /** Since when the estimate has been low (video mode), and since when far below (`audioOnlyAtOnceBelowKbps`). */
  #lowSince: number | null = null;
  #veryLowSince: number | null = null;
  #trial: { stage: TrialStage; since: number } | null = null;
  #nextTrialAt = 0;
  #trialEvery: number;
  /** Until when a camera just back stops at the first low estimate. */
  #graceUntil = 0;
  /** Whether the last downlink reading was below what video needs (null: none yet). */
  #downLow: boolean | null = null;
  /** Whether the SFU held this hall's downlink video at the last reading. */
  #downHeld = false;
  /** When the last trial started (or audio only began). */
  #triedAt = 0;
  /** When the other direction last said the link recovered (null: not since audio only began), and the quick retries spent since. */
  #releasedAt: number | null = null;
  #retriesAfterRelease = 0;

  constructor(config: Partial<SendRuleConfig> = {}) {
    this.#c = { ...SEND_RULE, ...config };
    this.#trialEvery = this.#c.trialFirstMs;
  }

  get decision(): SendDecision {
    return { mode: this.#mode, trial: this.#trial?.stage ?? false };
  }

  /** Whether readings should come often now (a trial runs, or the camera just came back): losses must stop it at once. */
  get watchful(): boolean {
    return this.#trial !== null || (this.#mode === 'video' && this.#graceUntil > 0);
  }

  /**
   * Feeds one reading of the uplink (or, as before, the estimate and the downlink rate);
   * returns the new decision when it changed.
   */
  step(at: number, reading: UplinkReading | number | null, downlinkKbps: number | null = null): SendDecision | null {
    const r: UplinkReading = reading === null || typeof reading === 'number' ? { availableKbps: reading, downlinkKbps } : reading;
    const kbps = r.availableKbps;
    const before = this.decision;
    const c = this.#c;
    const down = r.downlinkKbps ?? null;
    const downLow = down === null ? this.#downLow : down < c.videoAtKbps;
    const downRecovered = this.#downLow === true && downLow === false;
    this.#downLow = downLow;
    const downHeld = r.downHeld ?? this.#downHeld;
    // The SFU let video down again: its trial found room on the link, most likely both ways.
    const downReleased = this.#downHeld && !downHeld;
    this.#downHeld = downHeld;
    if (downReleased || downRecovered) {
      this.#releasedAt = at;
      this.#retriesAfterRelease = 0;
    }
    if (this.#mode === 'video') {
      if (this.#graceUntil && at >= this.#graceUntil) this.#graceUntil = 0;
      const low = kbps !== null && kbps < c.audioOnlyBelowKbps;
      if (low && this.#graceUntil) {
        // Back too early: the link did not carry it after all; the next trial waits longer.
        this.#enterAudioOnly(at, false);
      } else if (low) {
        this.#lowSince ??= at;
        this.#veryLowSince = kbps < c.audioOnlyAtOnceBelowKbps ? (this.#veryLowSince ?? at) : null;
        if (at - this.#lowSince >= c.enterHoldMs || (this.#veryLowSince !== null && at - this.#veryLowSince >= c.enterFastMs)) this.#enterAudioOnly(at, true);
      } else {
        this.#lowSince = null;
        this.#veryLowSince = null;
      }
    } else if (this.#trial) {
      const t = this.#trial;
      const elapsed = at - t.since;
      if (r.lossSeen) {
        this.#failTrial(at, false);
      } else if (t.stage === 'probe') {
        if (kbps !== null && kbps >= c.videoAtKbps) this.#trial = { stage: 'verify', since: at };
        else if (elapsed >= c.trialMs || (elapsed >= c.trialFailAfterMs && (kbps === null || kbps < c.audioOnlyBelowKbps))) this.#failTrial(at, true);
      } else if (kbps === null || kbps < c.videoAtKbps) {
        this.#failTrial(at, true);
      } else if (elapsed >= c.verifyMs) {
        this.#mode = 'video';
        this.#trial = null;
        this.#lowSince = null;
        this.#veryLowSince = null;
        this.#graceUntil = at + c.returnGraceMs;
      }
    } else if (downRecovered || downReleased || (downHeld ? at >= this.#triedAt + c.trialWhileDownHeldMs : at >= this.#nextTrialAt)) {
      this.#trial = { stage: 'probe', since: at };
      this.#triedAt = at;
    }
    const after = this.decision;
    return after.mode !== before.mode || after.trial !== before.trial ? after : null;
  }

  #enterAudioOnly(at: number, fresh: boolean): void {
    this.#mode = 'audio-only';
    this.#releasedAt = null;
    this.#lowSince = null;
    this.#veryLowSince = null;
    this.#triedAt = at;
    this.#graceUntil = 0;
    this.#trialEvery = fresh ? this.#c.trialFirstMs : Math.min(this.#c.trialEveryMaxMs, this.#trialEvery * this.#c.trialBackoff);
    this.#nextTrialAt = at + this.#trialEvery;
  }

  /** A trial failed; `onEstimate`: on the estimate alone (no loss seen). */
  #failTrial(at: number, onEstimate: boolean): void {
    const c = this.#c;
    this.#trial = null;
    if (onEstimate && this.#releasedAt !== null && at - this.#releasedAt <= c.afterReleaseWindowMs && this.#retriesAfterRelease < c.afterReleaseRetries) {
      this.#retriesAfterRelease++;
      this.#nextTrialAt = at + c.afterReleaseRetryMs;
      return;
    }
    this.#trialEvery = Math.min(c.trialEveryMaxMs, this.#trialEvery * c.trialBackoff);
    this.#nextTrialAt = at + this.#trialEvery;
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

/** What the send transport's statistics tell of the uplink's losses so far (uplinkLossParts). */
export interface UplinkLossParts {
  /** NACKs the SFU sent for the camera's packets: within a round trip of a loss. */
  nacks: number;
  /** The microphone's packets the SFU's receiver reports count lost (`remote-inbound-rtp`). */
  micLost: number;
  /** When the last of those reports was received (`remote-inbound-rtp`'s timestamp, ms since the epoch; null: none yet). */
  micReportAt: number | null;
}

/**
 * Packets lost on the uplink so far, as the send transport's statistics tell: the NACKs the SFU
 * sent for the camera's packets and the packets the SFU's receiver reports count lost of the
 * microphone, with when the last report came. A rise between two readings is loss (UplinkLossWatch).
 */
export function uplinkLossParts(report: RTCStatsReport | null): UplinkLossParts {
  const n: UplinkLossParts = { nacks: 0, micLost: 0, micReportAt: null };
  report?.forEach((s: Record<string, unknown>) => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') n.nacks += Number(s.nackCount ?? 0) || 0;
    else if (s.type === 'remote-inbound-rtp' && s.kind === 'audio') {
      n.micLost += Math.max(0, Number(s.packetsLost ?? 0) || 0);
      if (typeof s.timestamp === 'number') n.micReportAt = Math.max(n.micReportAt ?? 0, s.timestamp);
    }
  });
  return n;
}

/**
 * How many of a receiver report's lost packets fall in a trial that began at `trialAt`: the report
 * counts what was lost over its span, from the report before it (`from`) to its own receipt (`to`);
 * the part of the span after the trial began is the trial's share (losses taken as spread evenly
 * over the span: a report tells no more). All of it without a trial or without the span's times;
 * none of it for a report received before the trial began.
 */
export function trialShareOfReport(lost: number, from: number | null, to: number | null, trialAt: number | null): number {
  if (trialAt === null || from === null || to === null || from >= trialAt) return lost;
  if (to <= trialAt) return 0;
  return (lost * (to - trialAt)) / (to - from);
}

/**
 * A microphone report counts as loss in a trial when at least this many of its lost packets fall
 * in the trial's part of its span (trialShareOfReport): one packet.
 */
export const MIC_TRIAL_LOSS_MIN = 1;

/**
 * Whether the uplink lost packets between two readings (the send rule's `lossSeen`). The NACKs for
 * the camera come within a round trip of a loss and count at once. The microphone's count comes
 * with the SFU's receiver reports, each covering the time since the report before it: with the
 * diemcau worker (flavour d8, scripts/env.sh) every 1-1.5 s and counting only what the SFU itself
 * lost. A report received shortly after a trial began covers some time before it too; after a
 * link recovered, that time may hold the weak period's losses. So within a trial a report's rise
 * counts in proportion to the part of its span after the trial began (trialShareOfReport), and
 * the reports after it count whole. (Upstream mediasoup's reports came every 5-6 s for audio and
 * added the listeners' stale losses: bench:weaklink 2026-12-07 19:51, a report 0.4 s into the
 * hall's trial, 2.3 s after the recovery, counted 59 more lost and failed it; video came back
 * 13.86 s after the recovery. Taking the first report after a trial began as its starting point
 * instead (e7a4c60, reverted) let a trial on a weak link pass on its own losses, which were in
 * that report: 4.42 % of the speech concealed at 128 kbit/s in the weak-link e2e.)
 */
export class UplinkLossWatch {
  #nacks: number | null = null;
  #mic: { lost: number; at: number | null } | null = null;
  #trialAt: number | null = null;

  /** A trial began at `at` (ms since the epoch, the clock of `remote-inbound-rtp`'s timestamps). */
  trialStarted(at: number): void {
    this.#trialAt = at;
  }

  /** No trial runs (any report's rise counts whole). */
  trialEnded(): void {
    this.#trialAt = null;
  }

  /** Forgets every count (the uplink loop stopped). */
  reset(): void {
    this.#nacks = null;
    this.#mic = null;
    this.#trialAt = null;
  }

  /** One reading of the parts (uplinkLossParts); true when the uplink lost packets since the last one. */
  read(parts: { nacks: number; micLost: number; micReportAt?: number | null }): boolean {
    const nackRise = this.#nacks !== null && parts.nacks > this.#nacks;
    this.#nacks = parts.nacks;
    const before = this.#mic;
    const at = parts.micReportAt ?? null;
    this.#mic = { lost: parts.micLost, at };
    if (!before) return nackRise;
    // A new report: its time moved (without times: its count did).
    const newReport = at !== null && before.at !== null ? at !== before.at : parts.micLost !== before.lost;
    const rise = parts.micLost - before.lost;
    if (!newReport || rise <= 0) return nackRise;
    return nackRise || trialShareOfReport(rise, before.at, at, this.#trialAt) >= MIC_TRIAL_LOSS_MIN;
  }
}
