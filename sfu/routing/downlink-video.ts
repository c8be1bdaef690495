// Audio first on a hall's downlink: when the SFU stops sending a hall video, and how it finds out
// that the link carries video again. Pure (time comes with each reading); unit-tested with a fake
// clock (test/unit/sfu/downlink-video.test.ts). DownlinkHold (sfu/DownlinkHold.ts) feeds it from
// mediasoup's objects and pauses and resumes the hall's video consumers as it says.
//
// Why the SFU must do it itself: mediasoup's estimate of a hall's downlink falls only as fast as
// its feedback shows loss, and until no layer fits it keeps forwarding the programme's video and
// probing with padding. On a 64 kbit/s link that went on for ~10 s after the hall's own camera had
// stopped (tbf dropped 50–390 packets a second on the downlink), and the hall's answers to it
// (transport feedback, NACKs) took the room its own audio needed on the uplink
// (docs/benchmarks.md, the weak-link trace). Audio consumers are never paused: the rule is about
// video only.

/** What the SFU sees of one hall's downlink at a moment. */
export interface DownlinkFacts {
  /** The hall's browser says its uplink carries no video (its `media:sendMode`); most weak links are weak both ways. */
  reportedAudioOnly: boolean;
  /** It holds a video consumer that routing wants running (on air, content, thumbnails; not a prepared `next`). */
  hasVideo: boolean;
  /**
   * mediasoup forwards no layer of the programme video it receives, though the consumer runs and
   * its source sends. Either the transport's estimate fits not even the lowest simulcast layer, or
   * the consumer waits for a keyframe (after a switch, for as long as the speaker's browser takes
   * on a loaded machine): the estimate tells them apart.
   */
  noLayerFits: boolean;
  /** The receive transport's estimate of the downlink, kbit/s (null: not read, or none yet). Read while held, while no layer fits, and while the hall reports its uplink weak. */
  availableKbps: number | null;
  /**
   * Packets of the hall's microphone lost on their way up to the SFU so far, cumulative (absent:
   * not read). A rise says the hall's uplink is full now.
   */
  upLost?: number;
  /**
   * While a trial runs, and while the video it gave back is on probation (`probationMs`, its
   * consumer then at its usual layers): what that consumer shows (absent when it has none, e.g. it
   * closed).
   */
  trial?: {
    /** mediasoup forwards it a layer now. */
    layers: boolean;
    /** mediasoup's score of what the hall receives of it (0–10, from the hall's receiver reports). */
    score: number;
    /**
     * Packets sent of it so far, packets the hall asked for again (its NACKs) and packets mediasoup
     * sent again for them, cumulative (absent: not read yet). NACKs come within a round trip of
     * the first loss; the hall's receiver reports (the score) a second or more later, and the
     * estimate later still: on the rig's 64 kbit/s link trials verified on estimates of
     * 330–620 kbit/s left from before the cut, or from a probe that the link's token bucket let
     * through, while their keyframes were being dropped (docs/benchmarks.md).
     *
     * The hall's receiver reports, and so the score, also count packets sent before the trial:
     * when the SFU pauses a consumer, mediasoup clears its retransmission buffer
     * (RtpStreamSend::Pause), and when it resumes it the sequence numbers go on from the last
     * packet sent. The packets the last trial on a weak link sent and lost are a gap the hall's
     * browser finds only with the next trial's first packet: its next report counts them lost,
     * on a link that may have recovered since (the weak-link e2e, 2026-12-07 15:03: the score 10
     * to 1 on 2 packets sent). Only packets mediasoup sends again are surely the trial's own.
     * NACKs are not filtered so: mediasoup does not resend a packet NACKed again within its
     * round trip, so on a full link unanswered NACKs can be the trial's own losses too; counted
     * only when answered, a trial on the 64 kbit/s link verified on a probe's estimate (bench
     * 15:58), while in 9 of that day's 11 first trials on a recovered link the hall NACKed
     * nothing.
     */
    sent?: number;
    nacked?: number;
    retransmitted?: number;
    /** For the record only (the rule does not read it): the packets the hall's receiver reports say it lost (cumulative). */
    lost?: number;
  };
}

/** One reading of a trial, for its record: ms since it began and what its consumer showed. */
export interface TrialReading {
  ms: number;
  kbps: number | null;
  layers?: boolean;
  score?: number;
  sent?: number;
  nacked?: number;
  retransmitted?: number;
  lost?: number;
}

/** How a trial ended and what it saw (its readings, oldest first; at most the last `TRIAL_RECORD_MAX`). */
export interface TrialRecord {
  /** `probation`: it had verified, and the video it gave back was lost (`probationMs`); `ms` then counts from the release. */
  why: 'verified' | 'nacks' | 'score' | 'reported' | 'short' | 'timeout' | 'probation';
  ms: number;
  readings: TrialReading[];
}

const TRIAL_RECORD_MAX = 24;

/**
 * `video`: routing's video runs; `held`: every video consumer of the hall is paused at the SFU
 * (audio only on its downlink); `trial`: held, but one video consumer runs at the lowest layer
 * to find out whether the link carries it (mediasoup probes up to what it asks for).
 */
export type DownlinkState = 'video' | 'held' | 'trial';

/** Thresholds and timings (kbit/s, ms). */
export interface DownlinkRuleConfig {
  /** No layer fits, with the estimate below `videoAtKbps`, for this long before the hall's video is held. */
  enterHoldMs: number;
  /**
   * A trial must keep the estimate at this while its consumer gets a layer: the lowest layer
   * (up to 150 kbit/s) beside the audio, as the browser's own rule asks of its uplink
   * (client/shared/audioFirst.ts, SEND_RULE.videoAtKbps).
   */
  videoAtKbps: number;
  /** ...for this long, with no loss, before the video is back. */
  verifyMs: number;
  /**
   * ...and once its counters are read, only after it sent this many packets: a trial must have
   * sent some for its loss rules to say anything. At 64 kbit/s estimates of 237–467 kbit/s were left from before the
   * cut while a trial had sent 1–2 packets in 750 ms (bench:weaklink 2026-12-07 15:05); on a
   * recovered link trials sent 8–10 in their first 1.5 s (the same run and the e2e at 15:03).
   */
  verifyMinPackets: number;
  /** A trial whose estimate is below this after `trialFailAfterMs` (or not read yet, and no layer forwarded) has failed. */
  lowKbps: number;
  trialFailAfterMs: number;
  /**
   * A trial that has not verified within this long has failed, unless it is verifying then (its
   * layer flows with the estimate at `videoAtKbps`): that one gets its `verifyMs`. mediasoup's
   * estimate of a recovered link rises only with a probe of its own: in bench:weaklink 15:42 a
   * trial spanning the recovery saw 103–108 kbit/s for 3.5 s, then 791 and 2,000, and timed out
   * at 4,005 ms; the next trial came 4 s later.
   */
  trialMs: number;
  /**
   * ...except a clean one (its layer flows, at least `verifyMinPackets` sent and none asked again,
   * the estimate at `lowKbps` or more): it goes on up to this long. mediasoup's estimate of a link
   * that recovered while held rises only with a probe (its periodic probe while the transport
   * sends less than it could comes every 5 s), and a trial at the lowest layer and frame rate
   * asks for too little to need one: in the weak-link e2e of 2026-12-07 18:06 the first trial
   * after the recovery sent 30 packets in 4 s, none lost, on estimates of 113–149 kbit/s, and
   * timed out; the video came back 13.9 s after the recovery. A clean trial costs the link what
   * it carries.
   */
  trialCleanMs: number;
  /**
   * Trials while held: the first after this, then spaced by `trialBackoff`, at most
   * `trialEveryMaxMs`. More often than the browser's own (3 s, x1.5 up to 8 s): on the rig's
   * 64 kbit/s link the SFU's trials cost its uplink audio nothing measurable (only feedback goes
   * up), and the one that finds the link brings the browser's at once, so this spacing bounds
   * how long video takes to come back.
   */
  trialFirstMs: number;
  trialBackoff: number;
  trialEveryMaxMs: number;
  /**
   * A trial's consumer whose score falls below this (and below where it started) sees loss, if
   * mediasoup also sent one of its packets again (the score is the hall's receiver reports, which
   * count the gap left by the last trial too): the trial fails at once.
   */
  lossScore: number;
  /** A trial of which the hall asked for at least `lossMinPackets` packets again, and for more than this share of those sent, sees loss: it fails at once. */
  lossShare: number;
  lossMinPackets: number;
  /**
   * A trial that is due waits while the hall's microphone lost packets on the way up within
   * `upQuietMs`, at most `trialWaitMaxMs` past its turn (a hall whose uplink comes back starts
   * one at once, as before). Why: the hall's uplink carries the speech the whole conference
   * hears, and a trial adds to it (the hall's feedback and NACKs for the trial's video); after a
   * cut to 64 kbit/s the uplink's 4 kB queue stays full for 5–8 s (the camera's last packets, the
   * hall's NACKs for video lost before the hold, bursts of padding from its browser), and what is
   * added then drops speech (docs/benchmarks.md, bench:weaklink, 2026-12-07 12:00–13:20). The
   * wait ends as soon as the audio arrives whole, so a link that recovered is tried on schedule.
   */
  upQuietMs: number;
  trialWaitMaxMs: number;
  /**
   * A trial verifies on its lowest layer at its lowest frame rate (a few packets a second) and on
   * mediasoup's estimate, which a link carrying little keeps from before: in the CI run of
   * 2026-12-07 a trial on the 64 kbit/s link verified on 214 kbit/s left from the 128 kbit/s
   * step (10 packets in 1.75 s, none lost), mediasoup then sent the programme at the layer that
   * estimate fits, and the hall's browser lost 46 % of its downlink for as long as the test
   * watched; nothing held it again, since the estimate never fell. So for this long after a
   * trial verified, its consumer (now at its usual layers) stays watched: if the hall asked again
   * for at least `probationMinPackets` of its packets, and for more than `probationLossShare` of
   * those sent, the link does not carry the video after all and it is held again (as a failed
   * trial: the next one waits longer). Laxer than a trial's own loss rule: the video given back
   * climbs layers, and a link that carries it may lose a few packets while mediasoup's estimate
   * settles.
   */
  probationMs: number;
  probationLossShare: number;
  probationMinPackets: number;
}

export const DOWNLINK_RULE: DownlinkRuleConfig = {
  enterHoldMs: 1500,
  videoAtKbps: 180,
  verifyMs: 1500,
  verifyMinPackets: 6,
  lowKbps: 100,
  trialFailAfterMs: 1000,
  trialMs: 4000,
  trialCleanMs: 9000,
  trialFirstMs: 2000,
  trialBackoff: 1.5,
  trialEveryMaxMs: 4000,
  lossScore: 9,
  lossShare: 0.05,
  lossMinPackets: 2,
  upQuietMs: 1000,
  trialWaitMaxMs: 8000,
  probationMs: 4000,
  probationLossShare: 0.2,
  probationMinPackets: 8,
};

/** Why the state changed (for the session's events and the trace). */
export type DownlinkReason = 'reported' | 'no_layer' | 'short' | 'trial' | 'uplink_back' | 'estimate_up' | 'trial_failed' | 'verified' | 'no_video' | 'lost_after_trial';

export interface DownlinkDecision {
  state: DownlinkState;
  reason: DownlinkReason;
}

/**
 * One hall's downlink video: held when its browser says its link is weak (at once: the browser
 * already waited) or when mediasoup fits no layer and its estimate is short, for `enterHoldMs`; back after a trial that
 * verified. A trial starts on the schedule, or at once when the hall's own uplink comes back (its
 * browser's trial just verified the link). After a trial verified while the hall still says its
 * uplink is weak (a link weak only upwards), only a new report holds its video again, or the
 * SFU's own sign.
 */
export class DownlinkVideoRule {
  readonly #c: DownlinkRuleConfig;
  #state: DownlinkState = 'video';
  #reported = false;
  #noLayerSince: number | null = null;
  #shortSince: number | null = null;
  #trial: { since: number; okSince: number | null; startScore: number | null; start: { sent: number; nacked: number; retransmitted: number } | null; readings: TrialReading[] } | null = null;
  /** The video a verified trial gave back, while on probation: since when, and its consumer's counters then. */
  #probation: { since: number; start: { sent: number; nacked: number } | null; readings: TrialReading[] } | null = null;
  /** The record of the trial that ended in this step. */
  #ended: TrialRecord | null = null;
  #nextTrialAt = 0;
  #trialEvery: number;
  /**
   * Held, the estimate was read below `videoAtKbps` since the hold or the last trial. Nothing but
   * the audio and mediasoup's probes goes down a held hall's link, so an estimate that rises
   * across `videoAtKbps` now is a probe that the link carried: a trial starts at once.
   */
  #lowWhileHeld = false;
  /** The microphone's lost count at the last reading, and when it last rose. */
  #upLost: number | null = null;
  #upLossAt: number | null = null;

  constructor(config: Partial<DownlinkRuleConfig> = {}) {
    this.#c = { ...DOWNLINK_RULE, ...config };
    this.#trialEvery = this.#c.trialFirstMs;
  }

  get state(): DownlinkState {
    return this.#state;
  }

  /** Whether the hall's video consumers are to stay paused (held, or all but the trial's). */
  get held(): boolean {
    return this.#state !== 'video';
  }

  /** The record of the trial that the last step ended (null when it ended none). */
  get endedTrial(): TrialRecord | null {
    return this.#ended;
  }

  /** Whether the video a trial gave back is on probation now (`probationMs`): its consumer's counters are wanted. */
  get onProbation(): boolean {
    return this.#probation !== null;
  }

  /** When the next trial is due (while held). */
  get nextTrialAt(): number {
    return this.#nextTrialAt;
  }

  /** Feeds one reading; returns the new state when it changed. */
  step(at: number, f: DownlinkFacts): DownlinkDecision | null {
    const c = this.#c;
    const reportedNow = f.reportedAudioOnly && !this.#reported;
    const uplinkBack = !f.reportedAudioOnly && this.#reported;
    this.#reported = f.reportedAudioOnly;
    if (f.upLost !== undefined) {
      if (this.#upLost !== null && f.upLost > this.#upLost) this.#upLossAt = at;
      this.#upLost = f.upLost;
    }
    const before = this.#state;
    this.#ended = null;
    let reason: DownlinkReason | null = null;
    if (this.#state === 'video') {
      const noLayer = f.noLayerFits && f.availableKbps !== null && f.availableKbps < c.videoAtKbps;
      // Back to video on a trial while the hall still reports its uplink weak (a link weak only
      // upwards, or a trial that verified wrongly): an estimate that falls below what the audio
      // alone leaves says the video does not fit after all, layers or not.
      const short = f.reportedAudioOnly && f.hasVideo && f.availableKbps !== null && f.availableKbps < c.lowKbps;
      this.#noLayerSince = noLayer ? (this.#noLayerSince ?? at) : null;
      this.#shortSince = short ? (this.#shortSince ?? at) : null;
      if (reportedNow) reason = this.#hold(at, 'reported', true);
      else if (this.#probationFailed(at, f)) reason = this.#fail(at, 'lost_after_trial');
      else if (this.#noLayerSince !== null && at - this.#noLayerSince >= c.enterHoldMs) reason = this.#hold(at, 'no_layer', true);
      else if (this.#shortSince !== null && at - this.#shortSince >= c.enterHoldMs) reason = this.#hold(at, 'short', false);
    } else if (this.#state === 'held') {
      const upBusy = this.#upLossAt !== null && at - this.#upLossAt < c.upQuietMs && at - this.#nextTrialAt < c.trialWaitMaxMs;
      const estimateUp = f.hasVideo && this.#lowWhileHeld && f.availableKbps !== null && f.availableKbps >= c.videoAtKbps && !upBusy;
      if (f.availableKbps !== null && f.availableKbps < c.videoAtKbps) this.#lowWhileHeld = true;
      if (uplinkBack || estimateUp || (at >= this.#nextTrialAt && !upBusy)) {
        if (f.hasVideo) {
          this.#state = 'trial';
          this.#trial = { since: at, okSince: null, startScore: null, start: null, readings: [] };
          this.#lowWhileHeld = false;
          reason = uplinkBack ? 'uplink_back' : at >= this.#nextTrialAt ? 'trial' : 'estimate_up';
        } else if (!f.reportedAudioOnly) {
          // Nothing to try with: a consumer made later runs, and mediasoup's own layers (or the
          // hall's next report) tell if the link still carries no video.
          reason = this.#release('no_video');
        } else {
          this.#schedule(at);
        }
      }
    } else {
      reason = this.#stepTrial(at, f, reportedNow);
    }
    return this.#state !== before && reason ? { state: this.#state, reason } : null;
  }

  #stepTrial(at: number, f: DownlinkFacts, reportedNow: boolean): DownlinkReason | null {
    const c = this.#c;
    const t = this.#trial!;
    const elapsed = at - t.since;
    const tr = f.trial;
    t.readings.push({ ms: elapsed, kbps: f.availableKbps, ...(tr ?? {}) });
    if (t.readings.length > TRIAL_RECORD_MAX) t.readings.shift();
    const end = (why: TrialRecord['why']): void => void (this.#ended = { why, ms: elapsed, readings: t.readings });
    if (tr && t.startScore === null) t.startScore = tr.score;
    if (tr?.sent !== undefined && tr.nacked !== undefined && t.start === null) t.start = { sent: tr.sent, nacked: tr.nacked, retransmitted: tr.retransmitted ?? 0 };
    const since = (n: number | undefined, n0: number | undefined): number => (t.start && n !== undefined && n0 !== undefined ? n - n0 : 0);
    const sent = since(tr?.sent, t.start?.sent);
    const nacked = since(tr?.nacked, t.start?.nacked);
    const resent = since(tr?.retransmitted, t.start?.retransmitted);
    // Every NACK counts (see DownlinkFacts.trial: on a full link mediasoup does not answer a packet asked again within its round trip).
    const asked = nacked >= c.lossMinPackets && nacked > c.lossShare * sent;
    // The score counts the last trial's gap too: it says loss only once a packet of this trial's was sent again.
    const scoreFell = !!tr && t.startScore !== null && tr.score < c.lossScore && tr.score < t.startScore && resent > 0;
    const kbps = f.availableKbps;
    if (reportedNow || asked || scoreFell) {
      end(reportedNow ? 'reported' : asked ? 'nacks' : 'score');
      return this.#fail(at);
    }
    const ok = !!tr && tr.layers && kbps !== null && kbps >= c.videoAtKbps;
    t.okSince = ok ? (t.okSince ?? at) : null;
    if (t.okSince !== null && at - t.okSince >= c.verifyMs && (t.start === null || sent >= c.verifyMinPackets)) {
      end('verified');
      const counted = tr?.sent !== undefined && tr.nacked !== undefined ? { sent: tr.sent, nacked: tr.nacked } : null;
      const reason = this.#release('verified');
      this.#probation = { since: at, start: counted, readings: [] };
      return reason;
    }
    const clean = !!tr?.layers && t.start !== null && sent >= c.verifyMinPackets && nacked === 0 && kbps !== null && kbps >= c.lowKbps;
    if (elapsed >= (clean ? c.trialCleanMs : c.trialMs) && t.okSince === null) {
      end('timeout');
      return this.#fail(at);
    }
    if (elapsed >= c.trialFailAfterMs && (kbps === null ? !tr?.layers : kbps < c.lowKbps)) {
      end('short');
      return this.#fail(at);
    }
    return null;
  }

  /** On probation after a verified trial: whether the hall lost the video given back (ends the probation when its time is up). */
  #probationFailed(at: number, f: DownlinkFacts): boolean {
    const c = this.#c;
    const p = this.#probation;
    if (!p) return false;
    const elapsed = at - p.since;
    if (elapsed >= c.probationMs) {
      this.#probation = null;
      return false;
    }
    const tr = f.trial;
    p.readings.push({ ms: elapsed, kbps: f.availableKbps, ...(tr ?? {}) });
    if (p.readings.length > TRIAL_RECORD_MAX) p.readings.shift();
    if (tr?.sent === undefined || tr.nacked === undefined) return false;
    if (p.start === null) {
      p.start = { sent: tr.sent, nacked: tr.nacked };
      return false;
    }
    const sent = tr.sent - p.start.sent;
    const nacked = tr.nacked - p.start.nacked;
    if (nacked < c.probationMinPackets || nacked <= c.probationLossShare * sent) return false;
    this.#ended = { why: 'probation', ms: elapsed, readings: p.readings };
    return true;
  }

  #hold(at: number, reason: DownlinkReason, fresh: boolean): DownlinkReason {
    this.#state = 'held';
    this.#lowWhileHeld = false;
    this.#probation = null;
    this.#noLayerSince = null;
    this.#shortSince = null;
    this.#trial = null;
    if (fresh) this.#trialEvery = this.#c.trialFirstMs;
    this.#schedule(at);
    return reason;
  }

  #fail(at: number, reason: DownlinkReason = 'trial_failed'): DownlinkReason {
    this.#trialEvery = Math.min(this.#c.trialEveryMaxMs, this.#trialEvery * this.#c.trialBackoff);
    this.#hold(at, reason, false);
    return reason;
  }

  #release(reason: DownlinkReason): DownlinkReason {
    this.#state = 'video';
    this.#trial = null;
    this.#probation = null;
    this.#noLayerSince = null;
    this.#shortSince = null;
    return reason;
  }

  /**
   * The next trial, also while the hall says its uplink is weak: the SFU's trials and the
   * browser's own (client/shared/audioFirst.ts) run side by side, and whichever finds the link
   * first brings the other at once (the SFU tries when the hall's uplink comes back; the browser
   * tries when what it receives jumps back up).
   */
  #schedule(at: number): void {
    this.#nextTrialAt = at + this.#trialEvery;
  }
}
