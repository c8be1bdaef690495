// One outgoing RTP stream that does not change when its source does: a fixed SSRC, sequence
// numbers without gaps or jumps, and timestamps that follow the wall clock across sources.
import { randomInt } from 'node:crypto';
import type { RtpPacket } from './rtp.ts';

/** How the stream re-anchors: after this long without packets a source counts as new. */
const GAP_MS = 300;

/**
 * A stable stream over changing sources. Every time the source changes (a new consumer after a
 * speaker switch, with its own SSRC, sequence and timestamp bases) or resumes after a gap, its
 * timestamps are re-anchored to the wall clock, never before the last one sent; within a source
 * the sender's own timestamp spacing is kept (it carries the capture timing). Synthetic packets
 * (slate, silence) are stamped from the wall clock directly.
 */
export class StableStream {
  readonly ssrc = randomInt(1, 2 ** 31);
  readonly payloadType: number;
  readonly clockRate: number;
  /** Smallest step between two frames' timestamps (so re-anchoring never goes back in time). */
  readonly #minStep: number;
  readonly #t0: number;
  readonly #base = randomInt(0, 2 ** 31);
  #seq = randomInt(0, 2 ** 15);
  #lastTs: number | undefined;
  #lastAt = -Infinity;
  #source: number | undefined;
  #lastIn = 0;
  #unwrappedIn = 0;
  #offset = 0;
  packets = 0;
  octets = 0;

  constructor(options: { payloadType: number; clockRate: number; minStep: number; t0: number }) {
    this.payloadType = options.payloadType;
    this.clockRate = options.clockRate;
    this.#minStep = options.minStep;
    this.#t0 = options.t0;
  }

  /** The RTP timestamp the wall-clock time `now` maps to (unwrapped). */
  tsAt(now: number): number {
    return this.#base + Math.round(((now - this.#t0) * this.clockRate) / 1000);
  }

  /** When a packet was last sent (wall clock, ms). */
  get lastSentAt(): number {
    return this.#lastAt;
  }

  /** The SSRC of the source being forwarded, if any. */
  get source(): number | undefined {
    return this.#source;
  }

  /** Rewrites a packet of a source into this stream. */
  forward(p: RtpPacket, now: number): RtpPacket {
    if (p.ssrc !== this.#source || now - this.#lastAt > GAP_MS) {
      this.#source = p.ssrc;
      this.#lastIn = p.timestamp;
      this.#unwrappedIn = p.timestamp;
      const floor = this.#lastTs === undefined ? -Infinity : this.#lastTs + this.#minStep;
      this.#offset = Math.max(this.tsAt(now), floor) - this.#unwrappedIn;
    } else {
      this.#unwrappedIn += (p.timestamp - this.#lastIn) | 0; // signed 32-bit difference: survives wrap-around
      this.#lastIn = p.timestamp;
    }
    return this.#emit(p.payload, p.marker, this.#unwrappedIn + this.#offset, now);
  }

  /** A synthetic frame (slate or silence) at the wall clock; the next source packet re-anchors. */
  synthetic(payloads: Buffer[], now: number): RtpPacket[] {
    this.#source = undefined;
    const floor = this.#lastTs === undefined ? -Infinity : this.#lastTs + this.#minStep;
    const ts = Math.max(this.tsAt(now), floor);
    return payloads.map((payload, i) => this.#emit(payload, i === payloads.length - 1, ts, now));
  }

  #emit(payload: Buffer, marker: boolean, ts: number, now: number): RtpPacket {
    this.#lastTs = this.#lastTs === undefined ? ts : Math.max(this.#lastTs, ts);
    this.#lastAt = now;
    this.#seq = (this.#seq + 1) & 0xffff;
    this.packets++;
    this.octets += payload.length;
    return { payloadType: this.payloadType, marker, seq: this.#seq, timestamp: ts % 2 ** 32, ssrc: this.ssrc, payload };
  }
}
