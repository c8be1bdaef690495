/**
 * What the processes of one deployment tell each other (issue 13, media across hosts): the media
 * nodes' registry records, the tracks each node publishes, the placement of peers on nodes, and
 * the link samples a media node sends the control plane. Records cross process boundaries (redis,
 * the node-to-node HTTP API), so every one is a zod schema, parsed on the way in like any payload.
 */
import { z } from 'zod';

/** A media node's id: short, url-safe (it becomes part of keys and URLs). */
export const NodeId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'not a node id');
export type NodeId = z.infer<typeof NodeId>;

/** Free-form labels of a node or of a placement rule (e.g. region=dong-bac, site=vt-bac-son). */
export const Labels = z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/), z.string().max(64)).refine((l) => Object.keys(l).length <= 16, 'at most 16 labels');
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
  /** When the record was last renewed (the announcing node's clock). */
  renewedAt: z.number().int(),
});
export type MediaNodeRecord = z.infer<typeof MediaNodeRecord>;

/** What a hall publishes: microphone or camera (as sfu/ names them). */
export const TrackSource = z.enum(['mic', 'cam']);

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
