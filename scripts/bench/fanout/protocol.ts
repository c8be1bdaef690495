/** Messages between bench:fanout and its child processes (generator, sinks), over Node IPC. */
import type { SrtpSuite } from './srtp.ts';

/** A synthetic hall as the generator plays it. */
export interface GeneratorHall {
  id: string;
  /** The SFU's plain transport that receives this hall's media (comedia). */
  ip: string;
  port: number;
  /** Our SRTP master key (what we encrypt with) and the SFU's (its RTCP to us). */
  myKey: string;
  sfuKey: string;
  suite: SrtpSuite;
  mic: { ssrc: number; pt: number };
  cam: { ssrcs: number[]; pt: number; rtxSsrcs: number[]; rtxPt: number };
  /** Highest simulcast layer to send now. */
  maxLayer: number;
}

export type GeneratorRequest =
  | { type: 'halls'; id: number; halls: GeneratorHall[] }
  | { type: 'layers'; id: number; hall: string; maxLayer: number }
  | { type: 'stats'; id: number }
  | { type: 'stop'; id: number };

export interface GeneratorStats {
  packets: number;
  octets: number;
  /** Keyframe requests (PLI + FIR) received per hall since the start. */
  keyframeRequests: Record<string, number>;
  nacked: number;
  /** The latest keyframe requests: which hall, which layer, when (ms). */
  keyframeLog: { hall: string; layer: number; at: number; kind: string }[];
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

/** A receiving socket of a sink: a hall's receive transport, the chair's console, the wall. */
export interface SinkReceiver {
  id: string;
  group: string;
  /** Decrypts the programme's stamped packets to measure forwarding latency. */
  probe: boolean;
}

export type SinkRequest =
  | { type: 'bind'; id: number; receivers: SinkReceiver[] }
  /** Keys once the SFU's transports exist: ours (RTCP we send) and the SFU's (what it sends). */
  | { type: 'keys'; id: number; keys: { receiver: string; myKey: string; sfuKey: string; suite: SrtpSuite; sfuIp: string; sfuPort: number }[] }
  | { type: 'mark'; id: number }
  /** From now, note each receiver's first video packet of a stream it never had before: a new speaker, a hall back after a failover (new consumers). */
  | { type: 'watch'; id: number }
  /** Per receiver, when (Date.now()) the first such packet came since the last 'watch', or null. */
  | { type: 'arrivals'; id: number }
  | { type: 'report'; id: number }
  | { type: 'stop'; id: number };

export interface SinkGroupStats {
  receivers: number;
  packets: number;
  octets: number;
  expected: number;
  lost: number;
}

export interface SinkReport {
  seconds: number;
  groups: Record<string, SinkGroupStats>;
  latencyUs: number[];
  nacksSent: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}
