/** Cumulative counters of a hall's WebRTC link at one moment (both transports summed). */
export interface LinkSample {
  /** Wall-clock time of the sample (ms). */
  at: number;
  /** Round trip of the nominated ICE candidate pair; null before one is measured. */
  rttMs: number | null;
  packetsSent: number;
  /** Packets the server reported lost on what this hall sends (RTCP receiver reports). */
  packetsLostRemote: number;
  packetsReceived: number;
  /** Packets lost on what this hall receives. */
  packetsLost: number;
  bytesSent: number;
  bytesReceived: number;
  availableOutgoingBitrate: number | null;
}

/** good / medium / bad, or unknown while nothing was measured. */
export type LinkLevel = 'good' | 'medium' | 'bad' | 'unknown';

/** The link as the operator sees it, over the last interval. */
export interface LinkQuality {
  level: LinkLevel;
  rttMs: number | null;
  /** Loss on the way up (hall → server) and down (server → hall), percent. */
  lossUpPct: number | null;
  lossDownPct: number | null;
  sendKbps: number | null;
  recvKbps: number | null;
}

/**
 * Thresholds for a video conference link (RTT and loss over the last few seconds): under 200 ms
 * and 2 % loss the picture and sound are clean; up to 500 ms and 6 % they stutter now and then;
 * beyond that the hall's speech is hard to follow.
 */
export const LINK_THRESHOLDS = { good: { rttMs: 200, lossPct: 2 }, medium: { rttMs: 500, lossPct: 6 } } as const;

/** Quality level from a round trip and a loss rate (either may be unknown). */
export function linkLevel(rttMs: number | null, lossPct: number | null): LinkLevel {
  if (rttMs === null && lossPct === null) return 'unknown';
  const rtt = rttMs ?? 0;
  const loss = lossPct ?? 0;
  if (rtt < LINK_THRESHOLDS.good.rttMs && loss < LINK_THRESHOLDS.good.lossPct) return 'good';
  if (rtt < LINK_THRESHOLDS.medium.rttMs && loss < LINK_THRESHOLDS.medium.lossPct) return 'medium';
  return 'bad';
}

/** Vietnamese word for a quality level. */
export function linkLevelText(level: LinkLevel): string {
  return { good: 'Tốt', medium: 'Trung bình', bad: 'Kém', unknown: 'Chưa đo được' }[level];
}

const pct = (lost: number, total: number): number | null => (total > 0 ? (100 * lost) / total : null);

/** Turns successive cumulative samples into the quality of the interval between the last two. */
export class LinkMeter {
  #last: LinkSample | null = null;

  /** Adds a sample; returns the quality since the previous one (unknown on the first). */
  push(sample: LinkSample | null): LinkQuality {
    const prev = this.#last;
    this.#last = sample;
    if (!sample) return { level: 'unknown', rttMs: null, lossUpPct: null, lossDownPct: null, sendKbps: null, recvKbps: null };
    if (!prev || sample.at <= prev.at) {
      return { level: linkLevel(sample.rttMs, null), rttMs: sample.rttMs, lossUpPct: null, lossDownPct: null, sendKbps: null, recvKbps: null };
    }
    const seconds = (sample.at - prev.at) / 1000;
    // Counters restart when transports are rebuilt: a negative delta means a fresh start.
    const delta = (a: number, b: number): number => Math.max(0, a - b);
    const sent = delta(sample.packetsSent, prev.packetsSent);
    const lostUp = delta(sample.packetsLostRemote, prev.packetsLostRemote);
    const received = delta(sample.packetsReceived, prev.packetsReceived);
    const lostDown = delta(sample.packetsLost, prev.packetsLost);
    const lossUpPct = pct(lostUp, sent);
    const lossDownPct = pct(lostDown, received + lostDown);
    const worstLoss = lossUpPct === null && lossDownPct === null ? null : Math.max(lossUpPct ?? 0, lossDownPct ?? 0);
    return {
      level: linkLevel(sample.rttMs, worstLoss),
      rttMs: sample.rttMs,
      lossUpPct,
      lossDownPct,
      sendKbps: (8 * delta(sample.bytesSent, prev.bytesSent)) / 1000 / seconds,
      recvKbps: (8 * delta(sample.bytesReceived, prev.bytesReceived)) / 1000 / seconds,
    };
  }
}
