/**
 * The media signaling protocol between a hall's (or console's) browser and the server.
 * One module, imported by the server (which validates every payload) and by the client.
 */
import { z } from 'zod';

export const BridgeId = z.string().regex(/^[a-z]-[0-9A-Za-z_-]{1,32}$/, 'not a bridge id');


// mediasoup validates RTP structures in depth; here we check their shape and bound their size.
const RtpCodec = z.looseObject({
  mimeType: z.string().max(64),
  payloadType: z.number().int().min(0).max(127),
  clockRate: z.number().int().positive(),
});
const RtpEncoding = z.looseObject({
  ssrc: z.number().int().nonnegative().optional(),
  rid: z.string().max(32).optional(),
  maxBitrate: z.number().nonnegative().optional(),
  scalabilityMode: z.string().max(16).optional(),
});
export const RtpParameters = z.looseObject({
  mid: z.string().max(32).optional(),
  codecs: z.array(RtpCodec).min(1).max(16),
  headerExtensions: z.array(z.looseObject({ uri: z.string().max(256), id: z.number().int() })).max(32).optional(),
  encodings: z.array(RtpEncoding).min(1).max(4).optional(),
  rtcp: z.looseObject({}).optional(),
});
export const RtpCapabilities = z.looseObject({
  codecs: z
    .array(z.looseObject({ kind: z.enum(['audio', 'video']), mimeType: z.string().max(64), clockRate: z.number().int().positive() }))
    .min(1)
    .max(64),
  headerExtensions: z.array(z.looseObject({})).max(64).optional(),
});
export const DtlsParameters = z.looseObject({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z.array(z.object({ algorithm: z.string().max(16), value: z.string().max(256) })).min(1).max(8),
});

export const MediaSourceSchema = z.enum(['mic', 'cam']);
export const ConsumerSlotSchema = z.enum(['onair', 'audio', 'thumb', 'next']);
export type ConsumerSlot = z.infer<typeof ConsumerSlotSchema>;

/**
 * How a hall's media reaches the SFU: straight over UDP or TCP, or relayed by a TURN server
 * (reached over UDP, TCP or TLS). Reported by the hall's browser from its selected candidate pair.
 */
export const MEDIA_PATHS = ['udp', 'tcp', 'turn-udp', 'turn-tcp', 'turn-tls'] as const;
export const MediaPathSchema = z.enum(MEDIA_PATHS);
export type MediaPath = z.infer<typeof MediaPathSchema>;

/** A TURN server as RTCPeerConnection takes it; credentials per the TURN REST API (`expiry:user`, HMAC-SHA1). */
export const IceServerSchema = z.object({
  urls: z.array(z.string().regex(/^(turns?|stun):[^\s]{1,250}$/, 'not a TURN or STUN URL')).min(1).max(8),
  username: z.string().max(128).optional(),
  credential: z.string().max(128).optional(),
});
export type IceServer = z.infer<typeof IceServerSchema>;

/**
 * The ICE servers a peer's transports use, with the transport policy: 'relay' only when the
 * server says so (every candidate then goes through TURN); 'all' otherwise.
 */
export const IceConfigSchema = z.object({
  iceServers: z.array(IceServerSchema).max(4),
  iceTransportPolicy: z.enum(['all', 'relay']),
});
export type IceConfig = z.infer<typeof IceConfigSchema>;

/** Requests from the client, each answered through the socket.io acknowledgement. */
export const MediaRequests = {
  'media:join': z.object({}).strict(),
  'media:capabilities': z.object({ rtpCapabilities: RtpCapabilities }),
  'media:createTransport': z.object({ direction: z.enum(['send', 'recv']) }),
  'media:connectTransport': z.object({ transportId: z.string().uuid(), dtlsParameters: DtlsParameters }),
  'media:produce': z.object({
    transportId: z.string().uuid(),
    kind: z.enum(['audio', 'video']),
    rtpParameters: RtpParameters,
    source: MediaSourceSchema,
  }),
  'media:thumbnails': z.object({ bridgeIds: z.array(BridgeId).max(256) }),
} as const;
export type MediaRequestName = keyof typeof MediaRequests;
export type MediaRequest<N extends MediaRequestName> = z.infer<(typeof MediaRequests)[N]>;

/** Stable error codes on the wire. */
export const ErrorCode = z.enum([
  'invalid_payload',
  /** Text with characters no person types (the text rule of the core). */
  'invalid_text',
  /** An event name the namespace does not know. */
  'unknown_request',
  'unauthenticated',
  'forbidden',
  'not_joined',
  'unknown_peer',
  'unknown_bridge',
  'unknown_transport',
  'unknown_consumer',
  'not_allowed',
  'invalid_state',
  'invalid_rtp_parameters',
  'already_exists',
  'session_closed',
  'rate_limited',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export type Ack<T> = { ok: true; data: T } | { ok: false; error: { code: ErrorCode; message: string } };

/** What each request answers with when it succeeds. */
export interface MediaReplies {
  'media:join': { peerId: string; role: string; bridgeId?: string; rtpCapabilities: unknown; onAir: string };
  'media:capabilities': Record<string, never>;
  /** With `iceServers` and `iceTransportPolicy` when TURN is configured (fresh credentials each time). */
  'media:createTransport': {
    id: string;
    iceParameters: unknown;
    iceCandidates: unknown[];
    dtlsParameters: unknown;
  } & Partial<IceConfig>;
  'media:connectTransport': Record<string, never>;
  'media:produce': { id: string };
  'media:thumbnails': Record<string, never>;
}

/** A consumer handed to the client; it answers `{ ok: true }` when it can receive it. */
export const ConsumeMessage = z.object({
  consumerId: z.string(),
  producerId: z.string(),
  kind: z.enum(['audio', 'video']),
  rtpParameters: RtpParameters,
  bridgeId: BridgeId,
  source: MediaSourceSchema,
  slot: ConsumerSlotSchema,
});
export type ConsumeMessage = z.infer<typeof ConsumeMessage>;

/** Events the server pushes to a client. */
export interface MediaServerEvents {
  'media:consume': (msg: ConsumeMessage, ack: (reply: { ok: boolean }) => void) => void;
  'media:consumerClosed': (msg: { consumerId: string }) => void;
  /** A prepared (`next`) consumer went on air, or went back to waiting. */
  'media:consumerSlot': (msg: { consumerId: string; slot: ConsumerSlot }) => void;
  'media:sendLayers': (msg: { maxSpatialLayer: number }) => void;
  'media:micState': (msg: { open: boolean }) => void;
  'media:restart': (msg: { reason: string }) => void;
  /** The same hall was opened elsewhere; this socket is disconnected. */
  'media:replaced': () => void;
  /** Another bridge is on air (its video and audio are what every hall receives). */
  'onair:changed': (msg: { bridgeId: string }) => void;
}

/** Requests the client sends, typed from the schemas. */
export type MediaClientEvents = {
  [N in MediaRequestName]: (payload: MediaRequest<N>, ack: (reply: Ack<MediaReplies[N]>) => void) => void;
};
