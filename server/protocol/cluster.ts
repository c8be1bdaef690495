/**
 * What the processes of one deployment tell each other (issue 13, media across hosts): the media
 * nodes' registry records, the tracks each node publishes, the placement of peers on nodes, and
 * the link samples a media node sends the control plane. Records cross process boundaries (redis,
 * the node-to-node HTTP API), so every one is a zod schema, parsed on the way in like any payload.
 */
import { z } from 'zod';
import { RtpParameters } from './media.ts';

/** What a media node's id looks like: short, url-safe (it becomes part of keys and URLs). */
export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** A media node's id. */
export const NodeId = z.string().regex(NODE_ID_PATTERN, 'not a node id');
export type NodeId = z.infer<typeof NodeId>;

/** What a label's name looks like (the plan's placement rules use the same). */
export const LABEL_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
/** At most this many labels on a node or a placement rule, each value at most LABEL_VALUE_MAX characters. */
export const MAX_LABELS = 16;
export const LABEL_VALUE_MAX = 64;

/** Free-form labels of a node or of a placement rule (e.g. region=dong-bac, site=vt-bac-son). */
export const Labels = z.record(z.string().regex(LABEL_NAME), z.string().max(LABEL_VALUE_MAX)).refine((l) => Object.keys(l).length <= MAX_LABELS, `at most ${MAX_LABELS} labels`);
export type Labels = z.infer<typeof Labels>;

/** A media node as it announces itself in the registry, renewed under a lease. */
export const MediaNodeRecord = z.object({
  nodeId: NodeId,
  /** Where browsers open the node's `/media` socket.io namespace (http(s)://host:port). */
  mediaUrl: z.string().url().max(256),
  /** Where other nodes reach the node-to-node API (http://host:port). */
  nodeApiUrl: z.string().url().max(256),
  /** The address other nodes send pipe RTP to. */
  announcedIp: z.string().max(64),
  workers: z.number().int().min(0).max(1024),
  /** Peers and consumers on the node now, and its CPU use (0..1 per worker, summed). */
  load: z.object({ peers: z.number().int().min(0), consumers: z.number().int().min(0), cpu: z.number().min(0) }),
  /** How many peers the node takes at most (placement never goes past it). */
  capacity: z.number().int().min(0),
  labels: Labels,
  /** A draining node takes no new peers and gives its own away one by one. */
  draining: z.boolean(),
  startedAt: z.number().int(),
  /**
   * This run of the node's process (a random id drawn at start): a node restarted with the same id
   * is another incarnation. The control plane's lifeline to the node (server/core/node-death.ts)
   * ends the lease of an incarnation only, never of the node's next run. Optional: a record
   * without one is judged by its lease alone.
   */
  incarnation: z.string().min(8).max(64).optional(),
  /** When the record was last renewed (the announcing node's clock). */
  renewedAt: z.number().int(),
  /**
   * Pipe transports of the node now (the technicians' panel and /metrics): `in` carry tracks
   * homed elsewhere to this node, `out` carry this node's tracks to others. Optional: a node
   * that does not count them leaves it out (added by the control side of issue 13). `tracks`:
   * the tracks crossing them each way (one pipe producer or consumer per track per other node).
   */
  pipes: z
    .object({
      in: z.number().int().min(0),
      out: z.number().int().min(0),
      tracks: z.object({ in: z.number().int().min(0), out: z.number().int().min(0) }).optional(),
    })
    .optional(),
});
export type MediaNodeRecord = z.infer<typeof MediaNodeRecord>;

/** What a hall publishes: microphone, camera or shared screen (as sfu/ names them). */
export const TrackSource = z.enum(['mic', 'cam', 'screen']);

/** A track published on some node: what the other nodes need to pipe it to themselves. */
export const TrackRecord = z.object({
  bridgeId: z.string().max(40),
  source: TrackSource,
  kind: z.enum(['audio', 'video']),
  nodeId: NodeId,
  producerId: z.string().uuid(),
  /** Bumped at each new publication of the same bridge and source: the newest wins. */
  epoch: z.number().int().min(0),
});
export type TrackRecord = z.infer<typeof TrackRecord>;

/**
 * Where a peer's media goes. `peerKey` is the bridge id for a hall, or the grant of a staff or
 * press peer ('chair', 'secretary', 'technician', 'viewer').
 */
export const PlacementRecord = z.object({
  peerKey: z.string().max(64),
  nodeId: NodeId,
  /** Bumped at every move (compare-and-set: two control instances never disagree). */
  epoch: z.number().int().min(0),
  at: z.number().int(),
  /** Why it is there: first placement, the old node died, drained, rebalanced. */
  reason: z.enum(['placed', 'node_lost', 'drained', 'rebalanced']),
});
export type PlacementRecord = z.infer<typeof PlacementRecord>;

/** One direction of a link's counters (sfu/stats.ts `LinkSide`), as JSON carries it. */
const LinkSide = z.object({
  packets: z.number().min(0),
  lost: z.number().min(0),
  nacks: z.number().min(0),
  keyframeRequests: z.number().min(0),
  bitrate: z.number().min(0),
  jitterMax: z.number().min(0),
  scoreMin: z.number().optional(),
  rttMsMax: z.number().optional(),
});

/** A bridge's cumulative link counters (sfu/stats.ts `LinkCounters`). */
export const LinkCountersRecord = z.object({
  at: z.number().int(),
  iceState: z.string().max(32).optional(),
  up: LinkSide,
  down: LinkSide,
});

/** A hall whose link carries no video, as its media node tells it (sfu/audio-only.ts decides): `up` its camera does not reach the SFU, `down` no video reaches it. */
export const AudioOnlyRecord = z.strictObject({
  bridgeId: z.string().min(1).max(40),
  up: z.boolean(),
  down: z.boolean(),
});
export type AudioOnlyRecord = z.infer<typeof AudioOnlyRecord>;

/** A hall heard now on a node, and how loud (sfu/AudioLevels.ts: what the SFU forwards, whole dBov). */
export const AudioLevelRecord = z.strictObject({
  bridgeId: z.string().min(1).max(40),
  dBov: z.number().int().min(-127).max(0),
});

/** At most this many levels in one node's message (16 per worker's observer). */
export const MAX_LEVELS = 1024;

/** At most this many halls in one node's audio-only list (as many as a sample's links). */
export const MAX_AUDIO_ONLY = 20_000;

/**
 * What a media node publishes on `diemcau:{<conferenceId>}:links`: every 2 s the counters of the
 * bridges whose halls are on it, for the control plane's link health; and `audioOnly`, the whole
 * list of its halls whose links carry no video now (weak links, issue 17), in every sample and,
 * with no counters, at once whenever it changes. A whole list, not a change: a message lost, or a
 * control instance that starts late, is healed by the next one. Absent: a node of a version that
 * does not tell (nothing is known of its halls).
 */
export const LinkSampleMessage = z.object({
  nodeId: NodeId,
  at: z.number().int(),
  links: z.record(z.string().max(40), LinkCountersRecord).refine((l) => Object.keys(l).length <= 20_000, 'too many links'),
  /**
   * The halls heard now on the node and how loud, loudest first (empty: silence): in every sample
   * and, alone, whenever they change (at most every 400 ms). Absent: no word (the last stands).
   */
  levels: z.array(AudioLevelRecord).max(MAX_LEVELS).optional(),
  audioOnly: z
    .array(AudioOnlyRecord)
    .max(MAX_AUDIO_ONLY)
    .refine((l) => l.every((a) => a.up || a.down), 'a hall in the audio-only list carries no video one way at least')
    .refine((l) => new Set(l.map((a) => a.bridgeId)).size === l.length, 'a hall at most once')
    .optional(),
});
export type LinkSampleMessage = z.infer<typeof LinkSampleMessage>;

// ---- The node-to-node API (HTTP, signed with the deployment's shared secret) ----

/** The headers of a signed node-to-node request (see server/app/media-node/node-auth.ts). */
export const NODE_HEADERS = { node: 'x-node-id', ts: 'x-node-ts', nonce: 'x-node-nonce', sig: 'x-node-sig' } as const;

/** Stable codes of the node API's refusals. */
export const NodeApiErrorCode = z.enum([
  'missing_auth',
  'stale_request',
  'unknown_node',
  'bad_signature',
  'replayed_request',
  'invalid_payload',
  'unknown_conference',
  'unknown_track',
  'pipe_failed',
  'not_found',
]);
export type NodeApiErrorCode = z.infer<typeof NodeApiErrorCode>;

/** A pipe's SRTP parameters: mediasoup's PipeTransports encrypt with AES-256-GCM (a 32-byte key and a 12-byte salt). */
const SrtpParameters = z.object({
  cryptoSuite: z.literal('AEAD_AES_256_GCM'),
  keyBase64: z.string().regex(/^[A-Za-z0-9+/]{59}=$/, 'not a 44-byte key in base64'),
});

/** One end of a pipe between two nodes: its PipeTransport, where it listens, the key it encrypts with. */
export const PipeEnd = z.object({
  transportId: z.string().uuid(),
  ip: z.string().max(64),
  port: z.number().int().min(1).max(65535),
  srtpParameters: SrtpParameters,
});
export type PipeEnd = z.infer<typeof PipeEnd>;

/** `POST /node/v1/pipe`: "send me this track of this conference; my pipe transport is here". */
export const PipeRequest = z.object({
  conferenceId: z.string().regex(/^[a-z0-9-]{1,64}$/),
  trackId: z.string().uuid(),
  end: PipeEnd,
});
export type PipeRequest = z.infer<typeof PipeRequest>;

/** The reply: the home node's end of the pipe and the pipe consumer's parameters. */
export const PipeReply = z.object({
  end: PipeEnd,
  kind: z.enum(['audio', 'video']),
  rtpParameters: RtpParameters,
});
export type PipeReply = z.infer<typeof PipeReply>;

/** `POST /node/v1/unpipe`: the requester no longer needs the track (idempotent). */
export const UnpipeRequest = z.object({
  conferenceId: z.string().regex(/^[a-z0-9-]{1,64}$/),
  trackId: z.string().uuid(),
  transportId: z.string().uuid(),
});
export type UnpipeRequest = z.infer<typeof UnpipeRequest>;

/** The pipes between this node and one other, each way, as `GET /node/v1/stats` reports them. */
export const PipeLinkStats = z.object({
  /** What this node sends the other: one pipe consumer per track. */
  out: z.object({ transportId: z.string().nullable(), tracks: z.array(z.string()), rtpStreams: z.number().int(), rtpBytes: z.number() }),
  /** What this node receives from the other: one pipe producer per track. */
  in: z.object({ transportId: z.string().nullable(), tracks: z.array(z.string()), rtpStreams: z.number().int(), rtpBytes: z.number() }),
});
export type PipeLinkStats = z.infer<typeof PipeLinkStats>;

/** `GET /node/v1/stats`: the node's pipes per conference and per other node. */
export const NodeStats = z.object({
  nodeId: NodeId,
  conferences: z.record(z.string(), z.object({ peers: z.number().int(), pipes: z.record(NodeId, PipeLinkStats) })),
});
export type NodeStats = z.infer<typeof NodeStats>;
