// What the session can tell about its media, read from mediasoup's stats: a bridge's link as the
// server sees it, proof that closed microphones reach no one, a snapshot for monitoring and tests.
import type { types as ms } from 'mediasoup';
import type { MediaPeer } from './MediaPeer.ts';
import type { ConsumerSlot, MediaSource } from './routing/index.ts';

/** One direction of a bridge's link, cumulative since its peer joined (bitrate, jitter, score, rtt: now). */
export interface LinkSide {
  packets: number;
  lost: number;
  nacks: number;
  keyframeRequests: number;
  bitrate: number;
  jitterMax: number;
  scoreMin: number | undefined;
  rttMsMax: number | undefined;
}

/** See `linkCounters`. */
export interface LinkCounters {
  at: number;
  iceState: string | undefined;
  /** What the hall sends us. */
  up: LinkSide;
  /** What we send the hall. */
  down: LinkSide;
}

export interface MicReportEntry {
  bridgeId: string;
  open: boolean;
  packetsReceived: number;
  packetsForwarded: number;
  consumers: number;
}

export interface SessionSnapshot {
  onAir: string;
  workers: { index: number; pid: number; load: number; hasRouter: boolean }[];
  peers: {
    peerId: string;
    bridgeId?: string;
    workerIndex: number;
    producers: { id: string; source: MediaSource; paused: boolean; workerIndex: number }[];
    consumers: {
      id: string;
      slot: ConsumerSlot;
      producerId: string;
      bridgeId: string;
      source: MediaSource;
      kind: ms.MediaKind;
      paused: boolean;
      workerIndex: number;
      preferredSpatialLayer?: number;
    }[];
  }[];
}

/** Placement, producers and consumers of every peer. */
export function snapshot(onAir: string, workers: SessionSnapshot['workers'], peers: Iterable<MediaPeer>): SessionSnapshot {
  return {
    onAir,
    workers,
    peers: [...peers].map((p) => ({
      peerId: p.id,
      bridgeId: p.bridgeId,
      workerIndex: p.worker,
      producers: p.publications().map((x) => ({ id: x.producer.id, source: x.source, paused: x.producer.paused, workerIndex: x.home.worker })),
      consumers: [...p.consumers.values()].map((c) => ({
        id: c.consumer.id,
        slot: c.slot,
        producerId: c.consumer.producerId,
        bridgeId: String(c.consumer.appData.bridgeId),
        source: c.consumer.appData.source as MediaSource,
        kind: c.consumer.kind,
        paused: c.consumer.paused,
        workerIndex: c.worker,
        preferredSpatialLayer: c.consumer.preferredLayers?.spatialLayer,
      })),
    })),
  };
}

/**
 * For each published microphone, the packets the server received from it and the packets it
 * sent to anyone (over all consumers of it on every worker).
 */
export async function micReport(peers: readonly MediaPeer[]): Promise<MicReportEntry[]> {
  const entries: MicReportEntry[] = [];
  for (const peer of peers) {
    const mic = peer.publication('mic');
    if (!mic) continue;
    const received = (await mic.producer.getStats()).reduce((n, s) => n + (s.packetCount ?? 0), 0);
    let forwarded = 0;
    let consumers = 0;
    for (const other of peers) {
      for (const { consumer } of other.consumers.values()) {
        if (consumer.producerId !== mic.producer.id || consumer.closed) continue;
        consumers++;
        const stats = await consumer.getStats().catch(() => []);
        for (const s of stats) if (s.type === 'outbound-rtp') forwarded += s.packetCount ?? 0;
      }
    }
    entries.push({ bridgeId: mic.bridgeId, open: !mic.producer.paused, packetsReceived: received, packetsForwarded: forwarded, consumers });
  }
  return entries;
}

/** Keyframe requests (PLI + FIR) the server has sent to a producer over all its layers; 0 if no peer publishes it. */
export async function producerKeyframeRequests(peers: Iterable<MediaPeer>, producerId: string): Promise<number> {
  for (const peer of peers) {
    for (const { producer } of peer.publications()) {
      if (producer.id !== producerId) continue;
      const stats = await producer.getStats();
      return stats.reduce((n, s) => n + (s.pliCount ?? 0) + (s.firCount ?? 0), 0);
    }
  }
  return 0;
}

type RtpStat = { packetCount?: number; packetsLost?: number; nackCount?: number; pliCount?: number; firCount?: number; bitrate?: number; jitter?: number; score?: number; roundTripTime?: number };

function emptySide(): LinkSide {
  return { packets: 0, lost: 0, nacks: 0, keyframeRequests: 0, bitrate: 0, jitterMax: 0, scoreMin: undefined, rttMsMax: undefined };
}

function addStat(side: LinkSide, s: RtpStat, clockRate: number): void {
  side.packets += s.packetCount ?? 0;
  side.lost += Math.max(0, s.packetsLost ?? 0);
  side.nacks += s.nackCount ?? 0;
  side.keyframeRequests += (s.pliCount ?? 0) + (s.firCount ?? 0);
  side.bitrate += s.bitrate ?? 0;
  if (s.jitter !== undefined && clockRate > 0) side.jitterMax = Math.max(side.jitterMax, (s.jitter / clockRate) * 1000);
  if (s.score !== undefined) side.scoreMin = Math.min(side.scoreMin ?? 10, s.score);
  if (s.roundTripTime !== undefined && s.roundTripTime > 0) side.rttMsMax = Math.max(side.rttMsMax ?? 0, s.roundTripTime);
}

/**
 * Cumulative counters of a hall's link as the server sees it: its transports (ICE), what it
 * sends us (its producers: packets, losses, jitter, NACKs, keyframe requests, scores) and what we
 * send it (its running consumers, with the losses and round trip its receiver reports tell).
 */
export async function linkCounters(peer: MediaPeer): Promise<LinkCounters> {
  const counters: LinkCounters = { at: Date.now(), iceState: undefined, up: emptySide(), down: emptySide() };
  const states: string[] = [];
  for (const t of peer.transports()) {
    if (t.appData.kind === 'plain') {
      // No ICE on plain RTP: connected once the remote end is known (given or learnt).
      states.push((t as ms.PlainTransport).tuple.remoteIp ? 'connected' : 'new');
    } else {
      states.push((t as ms.WebRtcTransport).iceState);
    }
  }
  // The worst state tells: a transport that is not connected is the news.
  counters.iceState = states.find((s) => s !== 'connected' && s !== 'completed') ?? states[0];
  const producers = peer.publications().map((p) => p.producer).filter((p) => !p.closed);
  const consumers = [...peer.consumers.values()].map((c) => c.consumer).filter((c) => !c.closed && !c.paused);
  const [up, down] = await Promise.all([
    Promise.all(producers.map((p) => p.getStats().catch(() => []))),
    Promise.all(consumers.map((c) => c.getStats().catch(() => []))),
  ]);
  up.forEach((stats, i) => {
    const clockRate = producers[i]!.kind === 'audio' ? 48000 : 90000;
    for (const s of stats) addStat(counters.up, s, clockRate);
  });
  for (const stats of down) for (const s of stats) if (s.type === 'outbound-rtp') addStat(counters.down, s, 0);
  return counters;
}
