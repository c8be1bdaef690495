/**
 * The media signaling protocol between a hall's (or console's) browser and the server.
 * One module, imported by the server (which validates every payload) and by the client.
 */
import { z } from 'zod';

export const BridgeId = z.string().regex(/^[a-z]-[0-9A-Za-z_-]{1,32}$/, 'not a bridge id');


// RTP structures from a browser, checked at the edge before mediasoup sees them: every number in
// its range (an SSRC is 32 bits, a payload type 7, a header extension id 1..255), clock rates
// from the ones codecs use, at most two audio channels (Opus in SDP), scalability modes as
// WebRTC names them (L1T3, S3T3, L3T3_KEY), and every list, string and parameter map bounded.
// Fields mediasoup does not read are dropped; a request's own fields are strict.

/** Clock rates of the codecs a hall may offer (audio rates, and 90 kHz for video). */
export const CLOCK_RATES = [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 90000, 96000] as const;
const ClockRate = z.number().int().refine((r) => (CLOCK_RATES as readonly number[]).includes(r), 'not a codec clock rate');
const PayloadType = z.number().int().min(0).max(127);
/** An RTP SSRC: an unsigned 32-bit number. */
const Ssrc = z.number().int().min(0).max(0xffff_ffff);
const MimeType = z.string().regex(/^(audio|video)\/[A-Za-z0-9._+-]{1,32}$/, 'not a media type');
/** WebRTC scalability modes: L or S, 1-3 spatial layers, T, 1-3 temporal layers, optional _KEY, _KEY_SHIFT, h. */
export const SCALABILITY_MODE = /^[LS][1-3]T[1-3](?:_KEY(?:_SHIFT)?)?h?$/;
// Codec parameters (fmtp): short names that are not __proto__, short text or numbers, 16 at most.
const CodecParameters = z
  .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/), z.union([z.string().max(128), z.number().finite().min(-(2 ** 31)).max(2 ** 32)]))
  .refine((p) => Object.keys(p).length <= 16, 'at most 16 codec parameters');
const RtcpFeedback = z.object({ type: z.string().regex(/^[A-Za-z0-9-]{1,32}$/), parameter: z.string().regex(/^[A-Za-z0-9-]{0,32}$/).optional() });
const Channels = z.number().int().min(1).max(2);
const HeaderExtensionUri = z.string().regex(/^[\x21-\x7e]{1,256}$/);
const HeaderExtensionId = z.number().int().min(1).max(255);

const RtpCodec = z.object({
  mimeType: MimeType,
  payloadType: PayloadType,
  clockRate: ClockRate,
  channels: Channels.optional(),
  parameters: CodecParameters.optional(),
  rtcpFeedback: z.array(RtcpFeedback).max(16).optional(),
});
const RtpEncoding = z.object({
  ssrc: Ssrc.optional(),
  rid: z.string().regex(/^[A-Za-z0-9]{1,16}$/).optional(),
  codecPayloadType: PayloadType.optional(),
  rtx: z.object({ ssrc: Ssrc }).optional(),
  dtx: z.boolean().optional(),
  scalabilityMode: z.string().regex(SCALABILITY_MODE, 'not a scalability mode').optional(),
  scaleResolutionDownBy: z.number().finite().min(1).max(64).optional(),
  /** bits per second: 100 Mbit/s is more than any camera here sends. */
  maxBitrate: z.number().int().min(0).max(100_000_000).optional(),
});
export const RtpParameters = z.object({
  mid: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/).optional(),
  codecs: z.array(RtpCodec).min(1).max(16),
  headerExtensions: z.array(z.object({ uri: HeaderExtensionUri, id: HeaderExtensionId, encrypt: z.boolean().optional(), parameters: CodecParameters.optional() })).max(32).optional(),
  encodings: z.array(RtpEncoding).min(1).max(4).optional(),
  rtcp: z.object({ cname: z.string().regex(/^[\x21-\x7e]{0,64}$/).optional(), reducedSize: z.boolean().optional(), mux: z.boolean().optional() }).optional(),
});
export const RtpCapabilities = z.object({
  codecs: z
    .array(
      z.object({
        kind: z.enum(['audio', 'video']),
        mimeType: MimeType,
        preferredPayloadType: PayloadType.optional(),
        clockRate: ClockRate,
        channels: Channels.optional(),
        parameters: CodecParameters.optional(),
        rtcpFeedback: z.array(RtcpFeedback).max(16).optional(),
      }),
    )
    .min(1)
    .max(64),
  headerExtensions: z
    .array(
      z.object({
        kind: z.enum(['audio', 'video']),
        uri: HeaderExtensionUri,
        preferredId: HeaderExtensionId,
        preferredEncrypt: z.boolean().optional(),
        direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
      }),
    )
    .max(64)
    .optional(),
});
/** DTLS fingerprints: a known hash and its bytes in hex pairs (SHA-1: 20 bytes .. SHA-512: 64). */
export const DtlsParameters = z.object({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(z.object({ algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']), value: z.string().regex(/^(?:[0-9A-Fa-f]{2}:){19,63}[0-9A-Fa-f]{2}$/) }))
    .min(1)
    .max(8),
});

export const MediaSourceSchema = z.enum(['mic', 'cam', 'screen']);
export const ConsumerSlotSchema = z.enum(['onair', 'audio', 'thumb', 'next', 'content']);
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

/**
 * What a peer that lost its signaling socket (a network change, a few seconds without a link)
 * presents to take its media back on a new socket: the peer id and the key `media:join` gave it.
 */
export const MediaResume = z.object({ peerId: z.string().min(1).max(64), key: z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'not a resume key') }).strict();
export type MediaResume = z.infer<typeof MediaResume>;

/**
 * How a hall's video leaves it, as its browser decides from its own bandwidth estimate: `video`
 * (the simulcast layers its link carries) or `audio-only` (no layer fits beside the audio).
 */
export const SEND_MODES = ['video', 'audio-only'] as const;
export const SendModeSchema = z.enum(SEND_MODES);
export type SendMode = z.infer<typeof SendModeSchema>;

/**
 * A bridge whose link carries no video: `up` its camera does not reach the SFU (the others hear
 * it only), `down` it receives no video (it only hears). Both may hold.
 */
export interface AudioOnlyState {
  bridgeId: string;
  up: boolean;
  down: boolean;
}

/** Requests from the client, each answered through the socket.io acknowledgement. */
export const MediaRequests = {
  /**
   * `clientId`: which page this is (random, kept across its reloads); `takeOver`: take the hall
   * from another page that publishes it (refused with `bridge_in_use` otherwise); `resume`: take
   * back the peer a lost socket had (its transports and producers) instead of a new one;
   * `screen`: this page only shares a window or screen, as its hall's content track (an
   * operator's hall; the chair's hall for the chair's console and the secretary), beside the
   * page that publishes the hall's camera.
   */
  'media:join': z.strictObject({
    clientId: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/).optional(),
    takeOver: z.boolean().optional(),
    resume: MediaResume.optional(),
    screen: z.boolean().optional(),
  }),
  'media:capabilities': z.strictObject({ rtpCapabilities: RtpCapabilities }),
  'media:createTransport': z.strictObject({ direction: z.enum(['send', 'recv']) }),
  'media:connectTransport': z.strictObject({ transportId: z.uuid(), dtlsParameters: DtlsParameters }),
  'media:produce': z
    .strictObject({
      transportId: z.uuid(),
      kind: z.enum(['audio', 'video']),
      rtpParameters: RtpParameters,
      source: MediaSourceSchema,
    })
    // mediasoup takes an Opus "camera": every codec must be of the producer's kind.
    .refine((p) => p.rtpParameters.codecs.every((c) => c.mimeType.startsWith(`${p.kind}/`)), { message: 'every codec must be of the producer\'s kind', path: ['rtpParameters', 'codecs'] }),
  'media:thumbnails': z.strictObject({ bridgeIds: z.array(BridgeId).max(256) }),
  /** New ICE credentials for one of the peer's transports (its network changed): the client restarts ICE with them. */
  'media:restartIce': z.strictObject({ transportId: z.uuid() }),
  /** The hall tells how its video leaves it (its browser dropped to audio only, or came back). */
  'media:sendMode': z.strictObject({ mode: SendModeSchema, availableKbps: z.number().finite().min(0).max(1_000_000).nullable() }),
} as const;
export type MediaRequestName = keyof typeof MediaRequests;
export type MediaRequest<N extends MediaRequestName> = z.infer<(typeof MediaRequests)[N]>;

/**
 * The data of a `wrong_node` connect_error from a media node (issue 13): the peer is placed on
 * another node; its /media is at `mediaUrl` (null while that node is not live).
 */
export const WrongNode = z.object({ code: z.literal('wrong_node'), nodeId: z.string().max(64), mediaUrl: z.string().max(256).nullable() });
export type WrongNode = z.infer<typeof WrongNode>;

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
  'bridge_in_use',
  'session_closed',
  'unknown_track',
  'rate_limited',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export type Ack<T> = { ok: true; data: T } | { ok: false; error: { code: ErrorCode; message: string } };

/** What each request answers with when it succeeds. */
export interface MediaReplies {
  /**
   * `resumed`: the peer of `resume` was taken back (its transports and producers kept; restart
   * their ICE; its consumers come anew). `resumeKey` is what to present next time.
   * `audioOnly`: this hall's own link, when it carries no video now (empty otherwise, and for a
   * page that is no hall's: every hall's state comes on the control socket, `link:audioOnly`).
   */
  'media:join': { peerId: string; role: string; bridgeId?: string; rtpCapabilities: unknown; onAir: string; resumed: boolean; resumeKey: string; audioOnly: AudioOnlyState[] };
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
  /** With fresh TURN credentials when TURN is configured. */
  'media:restartIce': { iceParameters: unknown } & Partial<IceConfig>;
  'media:sendMode': Record<string, never>;
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
  /** The same hall was opened on another page (another PC) that took it over; this socket is disconnected. */
  'media:replaced': (msg: { at: number }) => void;
  /** This socket's link was revoked or re-issued (see TokenRefusal in control.ts); disconnected right after. */
  'session:refused': (msg: { code: 'token_revoked' | 'token_invalid' }) => void;
  /** Another bridge is on air (its video and audio are what every hall receives). */
  'onair:changed': (msg: { bridgeId: string }) => void;
  /** This hall's own link started or stopped carrying video (both false: video again); told to its own sockets only. */
  'media:audioOnly': (msg: AudioOnlyState) => void;
}

/** Requests the client sends, typed from the schemas. */
export type MediaClientEvents = {
  [N in MediaRequestName]: (payload: MediaRequest<N>, ack: (reply: Ack<MediaReplies[N]>) => void) => void;
};
