import type { Namespace, Socket } from 'socket.io';
import type { z } from 'zod';
import type { MediaSession, MediaPeerSink, PeerOptions } from '../../sfu/index.ts';
import { SfuError } from '../../sfu/index.ts';
import type { Principal } from '../protocol/control.ts';
import { guardNamespace, onRequest, type ConnectRefusal, type SocketGate } from './socket-requests.ts';
import {
  MediaRequests,
  ConsumeMessage,
  type Ack,
  type ErrorCode,
  type IceConfig,
  type MediaRequestName,
  type MediaReplies,
  type MediaClientEvents,
  type MediaServerEvents,
} from '../protocol/media.ts';

type MediaSocket = Socket<MediaClientEvents, MediaServerEvents, Record<string, never>, { principal: Principal; token: string }>;

/** Options of the media signaling. */
export interface MediaSignalingOptions {
  /** How long the server waits for a client to set up a consumer. */
  consumeAckTimeoutMs?: number;
  log?: (level: 'info' | 'warn', msg: string, data?: object) => void;
  /** Halls that reach the SFU through another address than the announced one (bridgeId → ip, port). */
  routes?: ReadonlyMap<string, { ip: string; port: number }>;
  /** The token and budget checks of every socket and request (socket-requests.ts). */
  gate: SocketGate;
  /** Whether a bridge is a hardware (RTP) hall: its media comes from its device, not a browser. */
  isDeviceBridge?: (bridgeId: string) => boolean;
  /**
   * Whether a principal's media belongs on this node (issue 13): null, or where it is placed
   * instead (refused at connect with `wrong_node` and that place as the error's data).
   */
  admit?: (principal: Principal) => Promise<{ code: 'wrong_node'; nodeId: string; mediaUrl: string | null } | null>;
  /** The TURN servers and credentials of a socket's token, handed out with each transport (none when TURN is off or the token is revoked). */
  iceConfig?: (token: string) => Promise<IceConfig | null>;
}

/**
 * What a token's holder may do in the media: an operator's hall publishes and receives the
 * programme (the province hall also sees thumbnails); the chair and secretary receive the
 * programme and thumbnails; technicians thumbnails only; the press the programme only.
 */
export function peerOptionsFor(p: Principal, chairBridgeId: string): PeerOptions {
  switch (p.role) {
    case 'operator':
      return { bridgeId: p.bridgeId, publish: true, receiveOnAir: true, thumbnails: p.bridgeId === chairBridgeId };
    case 'chair':
    case 'secretary':
      return { publish: false, receiveOnAir: true, thumbnails: true };
    case 'technician':
      return { publish: false, receiveOnAir: false, thumbnails: true };
    case 'viewer':
      return { publish: false, receiveOnAir: true, thumbnails: false };
  }
}

/** Turns any thrown value into a wire error with a stable code. */
export function toWireError(error: unknown): { code: ErrorCode; message: string } {
  if (error instanceof SfuError) return { code: error.code, message: error.message };
  if (error instanceof WireError) return { code: error.code, message: error.message };
  return { code: 'internal', message: 'internal error' };
}

/** An error raised by a handler with a wire code. */
export class WireError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Wires the media session to a socket.io namespace: authenticate, parse, authorise, call, ack.
 * `current` gives the conference's session (undefined while a media node waits for its
 * conference: connections are refused as 'unavailable'); a socket stays with the session it
 * joined (when a new plan is loaded, the caller disconnects every socket and they join the new one).
 */
export function attachMediaSignaling(nsp: Namespace, current: () => MediaSession | undefined, options: MediaSignalingOptions): () => void {
  const consumeTimeout = options.consumeAckTimeoutMs ?? 4000;
  const log = options.log ?? (() => undefined);

  guardNamespace(nsp, options.gate, Object.keys(MediaRequests), async (p): Promise<ConnectRefusal> => {
    const session = current();
    if (!session || session.closed) return 'unavailable';
    if (p.role === 'operator' && !session.hasBridge(p.bridgeId)) return 'unknown_bridge';
    const elsewhere = await options.admit?.(p);
    if (elsewhere) log('info', 'peer placed on another node', { role: p.role, ...elsewhere });
    return elsewhere ? { reason: 'wrong_node', data: elsewhere } : null;
  });

  nsp.on('connection', (raw) => {
    const socket = raw as MediaSocket;
    const principal = socket.data.principal;
    const session = current();
    if (!session) return void socket.disconnect(true);
    const peerId = socket.id;
    let joined = false;

    const sink: MediaPeerSink = {
      async consume(request) {
        const msg: ConsumeMessage = request as ConsumeMessage;
        const reply = await socket.timeout(consumeTimeout).emitWithAck('media:consume', msg);
        if (!reply?.ok) throw new Error('client refused consumer');
      },
      consumerClosed: (consumerId) => void socket.emit('media:consumerClosed', { consumerId }),
      consumerSlot: (consumerId, slot) => void socket.emit('media:consumerSlot', { consumerId, slot }),
      sendLayers: (maxSpatialLayer) => void socket.emit('media:sendLayers', { maxSpatialLayer }),
      micState: (open) => void socket.emit('media:micState', { open }),
      restartMedia: (reason) => void socket.emit('media:restart', { reason }),
      replaced: () => {
        joined = false;
        socket.emit('media:replaced', { at: Date.now() });
        socket.disconnect(true);
      },
    };

    /** The socket's TURN configuration; without one (TURN off, a store error) the hall still gets its direct candidates. */
    const iceConfigOf = async (token: string): Promise<IceConfig | null> => {
      if (!options.iceConfig) return null;
      return options.iceConfig(token).catch((error: unknown) => {
        log('warn', 'no TURN credentials', { peerId, error: String(error) });
        return null;
      });
    };

    /** Registers a request handler: validate, check joined, run, ack. */
    function handle<N extends MediaRequestName>(
      name: N,
      run: (payload: z.infer<(typeof MediaRequests)[N]>) => Promise<MediaReplies[N]> | MediaReplies[N],
    ): void {
      onRequest(socket, name, MediaRequests[name], async (payload): Promise<Ack<MediaReplies[N]>> => {
        if (name !== 'media:join' && !joined) return { ok: false, error: { code: 'not_joined', message: 'join first' } };
        try {
          return { ok: true, data: await run(payload as z.infer<(typeof MediaRequests)[N]>) };
        } catch (error) {
          const wire = toWireError(error);
          if (wire.code === 'internal') log('warn', `${name} failed`, { peerId, error: String(error) });
          return { ok: false, error: wire };
        }
      });
    }

    handle('media:join', ({ clientId, takeOver }) => {
      if (joined) throw new WireError('already_exists', 'already joined');
      let peerOptions: PeerOptions = { ...peerOptionsFor(principal, session.chairBridgeId), ...(clientId ? { clientId } : {}) };
      // A browser opened with a hardware hall's link may watch, but must not take the device's place.
      if (principal.role === 'operator' && options.isDeviceBridge?.(principal.bridgeId)) peerOptions = { ...peerOptions, publish: false };
      const { rtpCapabilities } = session.join(peerId, peerOptions, sink, { takeOver });
      if (takeOver) log('info', 'hall taken over by another page', { peerId, bridgeId: peerOptions.bridgeId });
      joined = true;
      log('info', 'peer joined', { peerId, role: principal.role });
      const bridgeId = principal.role === 'operator' ? principal.bridgeId : undefined;
      return { peerId, role: principal.role, bridgeId, rtpCapabilities, onAir: session.onAir };
    });
    handle('media:capabilities', ({ rtpCapabilities }) => {
      session.setRtpCapabilities(peerId, rtpCapabilities as never);
      return {};
    });
    handle('media:createTransport', async ({ direction }) => {
      const [created, ice] = await Promise.all([session.createTransport(peerId, direction), iceConfigOf(socket.data.token)]);
      const params = ice ? { ...created, ...ice } : created;
      const route = principal.role === 'operator' ? options.routes?.get(principal.bridgeId) : undefined;
      if (!route) return params;
      // This hall reaches the SFU through another address (a NAT, a relay): announce only that one.
      const [first] = params.iceCandidates as { foundation: string; priority: number; protocol: string; type: string }[];
      return { ...params, iceCandidates: [{ ...first, protocol: 'udp', ip: route.ip, address: route.ip, port: route.port }] };
    });
    handle('media:connectTransport', async ({ transportId, dtlsParameters }) => {
      await session.connectTransport(peerId, transportId, dtlsParameters as never);
      return {};
    });
    handle('media:produce', ({ transportId, kind, rtpParameters, source }) =>
      session.produce(peerId, transportId, kind, rtpParameters as never, source),
    );
    handle('media:thumbnails', ({ bridgeIds }) => {
      session.setThumbnails(peerId, bridgeIds);
      return {};
    });

    socket.on('disconnect', () => {
      if (joined) session.leave(peerId);
    });
  });

  // Tells every socket of this session when what is on air changes; returns the rebinding.
  let bound: MediaSession | undefined;
  // Each instance tells its own sockets about its own media.
  const onAir = ({ bridgeId }: { bridgeId: string }): void => void nsp.local.emit('onair:changed', { bridgeId });
  const bind = (): void => {
    bound?.off('onair', onAir);
    bound = current();
    bound?.on('onair', onAir);
  };
  bind();
  return bind;
}
