// The press socket's pacing. ffmpeg writes its MPEG-TS in bursts: its muxer writes nothing until
// every stream has a packet, so a pause of the video it reads (a stalled camera's allowance, the
// relay's ticks held up by a loaded host) or of its encoder silences the whole output for a while,
// then the missed frames come at once (a switch left 0.3–0.6 s without a datagram on the wire).
// A press player expects a steady stream with a constant delay, as from a broadcast encoder: the
// pacer sends each TS packet at the time its content is due, its timestamp (the PTS of the PES it
// belongs to) plus a fixed playout delay, so that a burst after a pause of the encoder goes out at
// the pace the content was made. Only the press socket is paced: the recorders take the stream as
// it comes (a file has no wire to keep steady).
//
// The delay adapts like a player's jitter buffer: a packet that arrives after its time is sent
// at once and the schedule moves later by as much (the next pause of the same length is covered);
// when every packet of the last second came more than the playout delay ahead of its time, the
// schedule moves back earlier, a little at a time (at most 25 ms a second: a player does not
// notice a stream 2.5 % fast for a moment).
import type { Clock, ClockTimer } from '../../core/conference/index.ts';
import { pesPts, TS_DATAGRAM, TS_PACKET } from './ts.ts';

/** The playout delay the pacer keeps ahead of the re-encoder's output (ms). */
export const PRESS_PLAYOUT_DELAY_MS = 400;
/** How often (ms of the stream) the schedule may move back earlier, and by at most how much. */
const SETTLE_EVERY_MS = 1000;
const SETTLE_STEP_MS = 25;
/** In a timeline's first seconds the schedule moves back to the delay at once (the re-encoder's first output comes late). */
const STARTUP_MS = 3000;
/** A pause between two datagrams longer than this is noted (pauses): the thread's timer held up by the host, or output later than the delay. */
const PAUSE_MS = 100;
/** A timestamp step larger than this (either way) is a new timeline: the schedule starts again. */
const TIMELINE_JUMP_MS = 3000;
/** The 33-bit PTS wraps around. */
const PTS_WRAP = 2 ** 33;

export interface PressPacerOptions {
  clock: Clock;
  /** Sends one datagram's worth of TS packets (up to seven). */
  send: (packets: Buffer) => void;
  /** Playout delay (ms); PRESS_PLAYOUT_DELAY_MS by default. */
  delayMs?: number;
}

/** What the pacer did (for tests and the figures). */
export interface PressPacerStats {
  /** TS packets sent after their time (a pause of the re-encoder longer than the delay). */
  late: number;
  /** The delay between the re-encoder's output and the wire now, at its smallest in the last second (ms). */
  headroomMs: number;
  /** How far the schedule has moved later than where it started (ms). */
  driftMs: number;
  /** The most a datagram went out after its time because the thread's timer fired late (ms): the host's scheduling. */
  timerLateMs: number;
  /** Pauses between two datagrams over PAUSE_MS (the last 20): when each ended and how long it was. */
  pauses: { at: number; ms: number }[];
}

/** Sends whole TS packets at their content's pace, a playout delay after the re-encoder makes them. */
export class PressPacer {
  readonly #clock: Clock;
  readonly #send: (packets: Buffer) => void;
  readonly #delay: number;
  /** TS packets waiting, each with the time it is due (wall clock, ms). */
  #queue: { packet: Buffer; due: number }[] = [];
  #head = 0;
  #timer: ClockTimer | undefined;
  #timerDue = Infinity;
  /** While the timer runs: when it was due (a push that brings due packets is not a late timer). */
  #timerArmedFor = Infinity;
  /** Wall-clock ms minus stream ms: where the schedule stands (undefined until the first timestamp). */
  #offset: number | undefined;
  #startOffset = 0;
  /** The stream time of the packets coming now (ms, unwrapped, never going back). */
  #streamMs: number | undefined;
  #lastPts: number | undefined;
  #unwrapped = 0;
  /** The smallest headroom since the schedule was last settled, and the stream time of that settling. */
  #minHeadroom = Infinity;
  #settledAt: number | undefined;
  #lastHeadroom = 0;
  #late = 0;
  #timelineStartMs = 0;
  #timerLateMs = 0;
  #sentAt: number | undefined;
  readonly #pauses: { at: number; ms: number }[] = [];
  #closed = false;

  constructor(options: PressPacerOptions) {
    this.#clock = options.clock;
    this.#send = options.send;
    this.#delay = options.delayMs ?? PRESS_PLAYOUT_DELAY_MS;
  }

  stats(): PressPacerStats {
    return {
      late: this.#late,
      headroomMs: Math.round(this.#lastHeadroom),
      driftMs: Math.round((this.#offset ?? this.#startOffset) - this.#startOffset),
      timerLateMs: this.#timerLateMs,
      pauses: [...this.#pauses],
    };
  }

  /** Whole TS packets from the re-encoder, as they come. */
  push(packets: Buffer): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    for (let at = 0; at + TS_PACKET <= packets.length; at += TS_PACKET) {
      const packet = packets.subarray(at, at + TS_PACKET);
      const pts = pesPts(packet);
      if (pts !== undefined) this.#timestamp(pts, now);
      // Before the first timestamp (the PAT and PMT at the start): sent with the first content.
      const due = this.#offset === undefined || this.#streamMs === undefined ? now + this.#delay : this.#streamMs + this.#offset;
      this.#queue.push({ packet, due });
    }
    this.#flush();
  }

  /** A PES starts: its PTS places it (and the packets after it) on the schedule. */
  #timestamp(pts: number, now: number): void {
    if (this.#lastPts === undefined) this.#unwrapped = pts;
    else {
      let step = pts - this.#lastPts;
      if (step > PTS_WRAP / 2) step -= PTS_WRAP;
      else if (step < -PTS_WRAP / 2) step += PTS_WRAP;
      this.#unwrapped += step;
    }
    this.#lastPts = pts;
    const ms = this.#unwrapped / 90;
    // The muxer interleaves the audio's PES (several frames, a bit older) with the video's: the stream's time never goes back.
    if (this.#streamMs !== undefined && Math.abs(ms - this.#streamMs) > TIMELINE_JUMP_MS) this.#restart();
    if (this.#offset === undefined || this.#streamMs === undefined) {
      this.#offset = now + this.#delay - ms;
      this.#startOffset = this.#offset;
      this.#streamMs = ms;
      this.#settledAt = ms;
      this.#timelineStartMs = ms;
      return;
    }
    if (ms <= this.#streamMs) return;
    this.#streamMs = ms;
    const headroom = ms + this.#offset - now;
    if (headroom < 0) {
      // Later than its time: sent at once, and the schedule moves later by as much.
      this.#offset -= headroom;
      this.#late++;
    }
    this.#minHeadroom = Math.min(this.#minHeadroom, Math.max(0, headroom));
    if (ms - this.#settledAt! >= SETTLE_EVERY_MS) {
      this.#lastHeadroom = this.#minHeadroom;
      // Everything of the last second came more than the delay early: the schedule moves back a little.
      // (At once in the first seconds: the re-encoder's first output is late, a player is only starting.)
      const step = ms - this.#timelineStartMs <= STARTUP_MS ? Infinity : SETTLE_STEP_MS;
      if (this.#minHeadroom > this.#delay) this.#offset -= Math.min(step, this.#minHeadroom - this.#delay);
      this.#minHeadroom = Infinity;
      this.#settledAt = ms;
    }
  }

  /** A new timeline (a re-encoder restarted, its timestamps jumped): what waits goes out now, the schedule starts again. */
  #restart(): void {
    this.#sendDue(Infinity);
    this.#offset = undefined;
    this.#streamMs = undefined;
    this.#minHeadroom = Infinity;
  }

  /** Starts a new timeline (a new re-encoder): sends what waits at once. */
  reset(): void {
    this.#restart();
    this.#lastPts = undefined;
  }

  #flush(): void {
    const now = this.#clock.now();
    const head = this.#queue[this.#head];
    if (head && head.due <= now) this.#timerLateMs = Math.max(this.#timerLateMs, now - Math.max(head.due, this.#timerArmedFor));
    this.#sendDue(now);
    this.#arm();
  }

  /** Sends the packets due by `until`, seven to a datagram (the packets of one instant together). */
  #sendDue(until: number): void {
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head]!.due <= until) {
      let end = this.#head + 1;
      while (end < q.length && end - this.#head < TS_DATAGRAM / TS_PACKET && q[end]!.due <= until) end++;
      const now = this.#clock.now();
      if (this.#sentAt !== undefined && now - this.#sentAt > PAUSE_MS) {
        this.#pauses.push({ at: now, ms: now - this.#sentAt });
        if (this.#pauses.length > 20) this.#pauses.shift();
      }
      this.#sentAt = now;
      this.#send(Buffer.concat(q.slice(this.#head, end).map((e) => e.packet)));
      this.#head = end;
    }
    if (this.#head > 1024 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(): void {
    const next = this.#queue[this.#head];
    if (!next || this.#closed) return;
    if (this.#timer && this.#timerDue <= next.due) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timerDue = next.due;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#timerArmedFor = this.#timerDue;
      this.#timerDue = Infinity;
      this.#flush();
      this.#timerArmedFor = Infinity;
    }, next.due - this.#clock.now());
  }

  /** Drops what waits and stops; idempotent. */
  close(): void {
    this.#closed = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue = [];
    this.#head = 0;
  }
}
