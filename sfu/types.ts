// The types the server sees of the SFU: how a session is set up and what it tells, how a peer takes
// part and how the session talks to it.
import type { types as ms } from 'mediasoup';
import type { ConsumerSlot, MediaSource, PublishedTrack, TrialRecord } from './routing/index.ts';
import type { RemoteHome, TrackHome } from './RouterSet.ts';
import type { CascadeChannel } from './Cascade.ts';

export type { ConsumerSlot, MediaSource } from './routing/index.ts';
export type TransportDirection = 'send' | 'recv';

/** How a hall's browser sends its video: the layers its uplink carries, or none (audio only). */
export type SendMode = 'video' | 'audio-only';

/** A hall whose link carries no video: `up` its camera does not reach the SFU, `down` no video reaches it. */
export interface AudioOnlyState {
  bridgeId: string;
  up: boolean;
  down: boolean;
}

/** A track routing can hand to a peer: published on this node or on another one. */
export interface RoutedTrack extends PublishedTrack {
  readonly kind: ms.MediaKind;
  readonly home: TrackHome;
  /** When it was published (ms): of two publications of one bridge and source, the newest is routed. */
  readonly epoch: number;
}

/** A track published on another media node, as the track registry tells (issue 13). */
export interface RemoteTrack extends RoutedTrack {
  readonly home: RemoteHome;
}

/** How a plain RTP transport (a hardware hall, an encoder, a load generator) is set up. */
export interface PlainTransportOptions {
  /** Encrypt with SRTP using this suite; plain RTP when absent. */
  srtpCryptoSuite?: ms.SrtpCryptoSuite;
  /** Learn the remote address from the first packet received (devices whose source port is unknown). */
  comedia: boolean;
}

/** What the remote end of a plain transport needs: where to send, and the keys we encrypt with. */
export interface PlainTransportInfo {
  id: string;
  ip: string;
  port: number;
  /** The suite and key this side encrypts with (the remote decrypts with them). */
  srtpParameters?: ms.SrtpParameters;
}

/** What a browser needs to set up a WebRTC transport. */
export interface WebRtcTransportInfo {
  id: string;
  iceParameters: ms.IceParameters;
  iceCandidates: ms.IceCandidate[];
  dtlsParameters: ms.DtlsParameters;
}

/** Sent to a peer when the server wants it to receive a new consumer. */
export interface ConsumeRequest {
  consumerId: string;
  producerId: string;
  kind: ms.MediaKind;
  rtpParameters: ms.RtpParameters;
  bridgeId: string;
  source: MediaSource;
  slot: ConsumerSlot;
}

/**
 * How the session talks to one peer's client. The signaling layer implements it (socket.io);
 * tests implement it in-process.
 */
export interface MediaPeerSink {
  /** Hands a (paused) consumer to the client; resolves once the client can receive it. */
  consume(request: ConsumeRequest): Promise<void>;
  consumerClosed(consumerId: string): void;
  /** A consumer changed role (a prepared `next` consumer went on air). */
  consumerSlot(consumerId: string, slot: ConsumerSlot): void;
  /** The highest simulcast layer this hall should send (0 = low only). */
  sendLayers(maxSpatialLayer: number): void;
  /** Whether this hall's microphone is open at the server. */
  micState(open: boolean): void;
  /** The peer's transports were lost (worker died): create them and publish again. */
  restartMedia(reason: string): void;
  /** The same hall joined again from elsewhere (another PC that took it over); this peer is out. */
  replaced(): void;
}

/** How a peer takes part. */
export interface PeerOptions {
  /** The hall this peer is (publishes and receives what is on air as that bridge). */
  bridgeId?: string;
  /** May publish microphone and camera (only halls). */
  publish: boolean;
  /** Receives what is on air (halls; the chair's console preview; the press). */
  receiveOnAir: boolean;
  /** May ask for thumbnails of any set of halls (chair, technicians). */
  thumbnails: boolean;
  /**
   * Receives one audio stream only (a hardware hall that plays a single stream): the speaker's,
   * or the chair's when the chair or this hall has the floor. Without it a hall hears the speaker
   * and the chair as two streams.
   */
  singleAudio?: boolean;
  /**
   * Which browser page this is (random per page, kept across its reloads and reconnects). A hall
   * opened on another page (another PC) while this one publishes is refused with `bridge_in_use`
   * unless it asks to take over; the same page coming back replaces its old peer silently.
   */
  clientId?: string;
  /**
   * Publishes only its bridge's shared screen (the `screen` source), beside the hall's own peer:
   * the page where the person chose the window (the operator panel, the chair's console) is not
   * the page that publishes the hall's camera. It neither replaces nor is refused by that peer;
   * a newer screen peer of the same bridge replaces it.
   */
  screenOnly?: boolean;
}

/** How a peer joins. */
export interface JoinOptions {
  /** Take the hall over from the page that publishes it now (asked of the person first). */
  takeOver?: boolean;
}

/** Options of a conference's media. */
export interface MediaSessionOptions {
  conferenceId: string;
  /** The chair's (province) bridge: its audio is heard everywhere at all times. */
  chairBridgeId: string;
  /** All bridges of the conference; peers may only join as one of these. */
  bridgeIds: Iterable<string>;
  /** How long a switch waits for every hall to be ready before resuming all consumers together. */
  switchBatchMs?: number;
  /** How long a consumer waits for its client before it is resumed anyway. */
  consumeTimeoutMs?: number;
  /** Offer H264 after VP8 (a hardware hall sends H264); VP8 and Opus only by default. */
  offerH264?: boolean;
  /** Other media nodes (issue 13): how to ask them for their tracks. Absent on a single node. */
  cascade?: { channel: CascadeChannel; lingerMs?: number; isLive?: (node: string) => boolean };
  /** How often the halls' audio levels are measured (ms, 400 by default). */
  audioLevelIntervalMs?: number;
}

export type MediaSessionEvents = {
  /** What is on air changed (after every hall was handed its consumers, or the batch deadline). */
  onair: [{ bridgeId: string; at: number; timings: { startedAt: number; flushedAt?: number; resumed: number; deadlineHit: boolean; stragglers: number } }];
  /** A worker carrying part of this conference died; these bridges lost their media. */
  medialost: [{ workerIndex: number; bridgeIds: string[] }];
  /** The conference has a router again on the replaced worker. */
  mediarebuilt: [{ workerIndex: number }];
  /** The halls heard now and how loud (dBov, loudest first; empty: silence), when it changes. */
  audiolevels: [{ levels: { bridgeId: string; dBov: number }[] }];
  /** A bridge started or stopped publishing (the track registry records it for the other nodes). */
  publishing: [{ bridgeId: string; source: MediaSource; on: boolean; trackId: string; kind: ms.MediaKind; epoch: number }];
  /** A peer's transport got new ICE credentials (its network changed); its media stays. */
  icerestart: [{ peerId: string; bridgeId?: string; transportId: string; direction: string; at: number }];
  /** A peer took its media back on a new signaling socket (transports and producers kept). */
  resumed: [{ peerId: string; bridgeId?: string; at: number }];
  /** A hall's link stopped or started carrying video. */
  audioonly: [AudioOnlyState];
  /** The SFU held a hall's video (its downlink carries audio only), put it on trial or gave it back (routing/downlink-video.ts). */
  downlink: [{ bridgeId: string; peerId: string; state: 'video' | 'held' | 'trial'; reason: string; trial?: TrialRecord & { slot?: ConsumerSlot } }];
  /** Something failed that the session worked around (logged by the app). */
  warning: [{ message: string; peerId?: string }];
  close: [];
};
