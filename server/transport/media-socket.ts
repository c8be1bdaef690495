import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Namespace, Socket } from 'socket.io';
import type { z } from 'zod';
import type { AudioOnlyState, MediaSession, MediaPeerSink, PeerOptions } from '../../sfu/index.ts';
import { SfuError } from '../../sfu/index.ts';
import type { Principal } from '../protocol/control.ts';
import { sharerBridge } from '../core/conference/screen.ts';
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
  /** How long a peer whose socket was lost waits for its client (RESUME_WINDOW_MS). */
  resumeWindowMs?: number;
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

/**
 * What a page that shares a screen is in the media: a peer that publishes only the `screen` of
 * the hall its holder shares as (the core's rule), and receives nothing; undefined for a role
 * that never shares. Whether the share is routed is the conference state's (`screen`), not this.
 */
export function screenPeerOptionsFor(p: Principal, chairBridgeId: string): PeerOptions | undefined {
  const bridgeId = sharerBridge(p, chairBridgeId);
  return bridgeId === undefined ? undefined : { bridgeId, publish: true, receiveOnAir: false, thumbnails: false, screenOnly: true };
}

/** How long a peer whose socket was lost (not closed) waits for its client on a new socket before it leaves. */
export const RESUME_WINDOW_MS = 15_000;

/** A joined peer and the socket that speaks for it now (null while its client is away). */
interface PeerLink {
  readonly peerId: string;
  /** The access token it joined with: only the same may take it back. */
  readonly token: string;
  /** What its client presents to take it back; a new one after each resume. */
  resumeKey: string;
  readonly session: MediaSession;
  socket: MediaSocket | null;
  expiry?: ReturnType<typeof setTimeout>;
}

function newResumeKey(): string {
  return randomBytes(16).toString('base64url');
}

function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** How the session talks to a peer's client: through whichever socket speaks for it now (nothing while it is away). */
function sinkOf(link: PeerLink, links: Map<string, PeerLink>, consumeTimeout: number): MediaPeerSink {
  return {
    async consume(request) {
      const socket = link.socket;
      // A client that is away cannot set up a consumer; it gets its consumers anew when it is back.
      if (!socket) throw new Error('client away');
      const reply = await socket.timeout(consumeTimeout).emitWithAck('media:consume', request as ConsumeMessage);
      if (!reply?.ok) throw new Error('client refused consumer');
    },
    consumerClosed: (consumerId) => void link.socket?.emit('media:consumerClosed', { consumerId }),
    consumerSlot: (consumerId, slot) => void link.socket?.emit('media:consumerSlot', { consumerId, slot }),
    sendLayers: (maxSpatialLayer) => void link.socket?.emit('media:sendLayers', { maxSpatialLayer }),
    micState: (open) => void link.socket?.emit('media:micState', { open }),
    restartMedia: (reason) => void link.socket?.emit('media:restart', { reason }),
    replaced: () => {
      // The session closed the peer already: forget it, and tell its client if it is here.
      clearTimeout(link.expiry);
      if (links.get(link.peerId) === link) links.delete(link.peerId);
      const socket = link.socket;
      link.socket = null;
      socket?.emit('media:replaced', { at: Date.now() });
      socket?.disconnect(true);
    },
  };
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

  /** Joined peers by id, with the socket that speaks for each now. */
  const links = new Map<string, PeerLink>();

  /** The peer leaves the session and is forgotten here. */
  const leave = (link: PeerLink): void => {
    clearTimeout(link.expiry);
    if (links.get(link.peerId) === link) links.delete(link.peerId);
    if (!link.session.closed) link.session.leave(link.peerId);
  };

  nsp.on('connection', (raw) => {
    const socket = raw as MediaSocket;
    const principal = socket.data.principal;
    const session = current();
    if (!session) return void socket.disconnect(true);
    /** The peer this socket speaks for, once joined (or resumed). */
    let link: PeerLink | null = null;

    /** The socket's TURN configuration; without one (TURN off, a store error) the hall still gets its direct candidates. */
    const iceConfigOf = async (token: string): Promise<IceConfig | null> => {
      if (!options.iceConfig) return null;
      return options.iceConfig(token).catch((error: unknown) => {
        log('warn', 'no TURN credentials', { socketId: socket.id, error: String(error) });
        return null;
      });
    };

    /** Registers a request handler: validate, check joined, run, ack. */
    function handle<N extends MediaRequestName>(
      name: N,
      run: (payload: z.infer<(typeof MediaRequests)[N]>, peerId: string) => Promise<MediaReplies[N]> | MediaReplies[N],
    ): void {
      onRequest(socket, name, MediaRequests[name], async (payload): Promise<Ack<MediaReplies[N]>> => {
        if (name !== 'media:join' && !link) return { ok: false, error: { code: 'not_joined', message: 'join first' } };
        try {
          return { ok: true, data: await run(payload as z.infer<(typeof MediaRequests)[N]>, link?.peerId ?? socket.id) };
        } catch (error) {
          const wire = toWireError(error);
          if (wire.code === 'internal') log('warn', `${name} failed`, { peerId: link?.peerId, error: String(error) });
          return { ok: false, error: wire };
        }
      });
    }

    handle('media:join', ({ clientId, takeOver, resume, screen }) => {
      if (link) throw new WireError('already_exists', 'already joined');
      const screenOptions = screen ? screenPeerOptionsFor(principal, session.chairBridgeId) : undefined;
      if (screen && !screenOptions) throw new WireError('forbidden', `this role shares no screen [role:${principal.role}]`);
      const bridgeId = screenOptions?.bridgeId ?? (principal.role === 'operator' ? principal.bridgeId : undefined);
      const reply = (l: PeerLink, resumed: boolean): MediaReplies['media:join'] => ({
        peerId: l.peerId,
        role: principal.role,
        bridgeId,
        rtpCapabilities: session.rtpCapabilities,
        onAir: session.onAir,
        resumed,
        resumeKey: l.resumeKey,
        // Its own link's state only: the pages learn every hall's on their control socket (`link:audioOnly`).
        audioOnly: bridgeId === undefined ? [] : session.audioOnly().filter((a) => a.bridgeId === bridgeId),
      });
      // Its own link's changes come to it alone (`media:audioOnly`: its send rule reads whether the SFU holds its downlink).
      if (bridgeId !== undefined) void socket.join(hallRoom(bridgeId));
      const held = resume ? links.get(resume.peerId) : undefined;
      if (held && resume && held.session === session && session.hasPeer(held.peerId) && held.token === socket.data.token && sameKey(held.resumeKey, resume.key)) {
        // The same client on a new socket (its network changed, or its link dropped for a while):
        // it keeps its transports and producers; the old socket, if still open, is let go.
        const old = held.socket;
        clearTimeout(held.expiry);
        held.socket = socket;
        held.resumeKey = newResumeKey();
        link = held;
        if (old && old !== socket) old.disconnect(true);
        session.resumePeer(held.peerId);
        log('info', 'peer resumed', { peerId: held.peerId, role: principal.role });
        return reply(held, true);
      }
      let peerOptions: PeerOptions = { ...(screenOptions ?? peerOptionsFor(principal, session.chairBridgeId)), ...(clientId ? { clientId } : {}) };
      // A browser opened with a hardware hall's link may watch (or share a screen), but must not take the device's place.
      if (!screenOptions && principal.role === 'operator' && options.isDeviceBridge?.(principal.bridgeId)) peerOptions = { ...peerOptions, publish: false };
      const fresh: PeerLink = { peerId: socket.id, token: socket.data.token, resumeKey: newResumeKey(), session, socket };
      session.join(fresh.peerId, peerOptions, sinkOf(fresh, links, consumeTimeout), { takeOver });
      if (takeOver) log('info', 'hall taken over by another page', { peerId: fresh.peerId, bridgeId: peerOptions.bridgeId });
      links.set(fresh.peerId, fresh);
      link = fresh;
      log('info', 'peer joined', { peerId: fresh.peerId, role: principal.role });
      return reply(fresh, false);
    });
    handle('media:capabilities', ({ rtpCapabilities }, peerId) => {
      session.setRtpCapabilities(peerId, rtpCapabilities as never);
      return {};
    });
    handle('media:createTransport', async ({ direction }, peerId) => {
      const [created, ice] = await Promise.all([session.createTransport(peerId, direction), iceConfigOf(socket.data.token)]);
      const params = ice ? { ...created, ...ice } : created;
      const route = principal.role === 'operator' ? options.routes?.get(principal.bridgeId) : undefined;
      if (!route) return params;
      // This hall reaches the SFU through another address (a NAT, a relay): announce only that one.
      const [first] = params.iceCandidates as { foundation: string; priority: number; protocol: string; type: string }[];
      return { ...params, iceCandidates: [{ ...first, protocol: 'udp', ip: route.ip, address: route.ip, port: route.port }] };
    });
    handle('media:connectTransport', async ({ transportId, dtlsParameters }, peerId) => {
      await session.connectTransport(peerId, transportId, dtlsParameters as never);
      return {};
    });
    handle('media:produce', ({ transportId, kind, rtpParameters, source }, peerId) =>
      session.produce(peerId, transportId, kind, rtpParameters as never, source),
    );
    handle('media:thumbnails', ({ bridgeIds }, peerId) => {
      session.setThumbnails(peerId, bridgeIds);
      return {};
    });
    // A network change: new ICE credentials for a transport (with fresh TURN credentials), nothing else changes.
    handle('media:restartIce', async ({ transportId }, peerId) => {
      const [iceParameters, ice] = await Promise.all([session.restartIce(peerId, transportId), iceConfigOf(socket.data.token)]);
      return ice ? { iceParameters, ...ice } : { iceParameters };
    });
    handle('media:sendMode', async ({ mode }, peerId) => {
      await session.setSendMode(peerId, mode);
      return {};
    });

    socket.on('disconnect', (reason) => {
      const l = link;
      if (!l || l.socket !== socket) return;
      l.socket = null;
      // Left on purpose (the page closed it, the server cut it off, a new plan): gone now. Lost
      // (a network change, a dead link): its media waits for it to come back on a new socket.
      if (reason === 'client namespace disconnect' || reason === 'server namespace disconnect' || reason === 'server shutting down' || l.session !== current()) {
        leave(l);
        return;
      }
      l.session.setAway(l.peerId, true);
      l.expiry = setTimeout(() => {
        if (l.socket === null) leave(l);
      }, options.resumeWindowMs ?? RESUME_WINDOW_MS);
      l.expiry.unref?.();
    });
  });

  // Tells every socket of this session when what is on air changes; returns the rebinding.
  let bound: MediaSession | undefined;
  // Each instance tells its own sockets about its own media.
  const onAir = ({ bridgeId }: { bridgeId: string }): void => void nsp.local.emit('onair:changed', { bridgeId });
  const onAudioOnly = (state: AudioOnlyState): void => void nsp.local.to(hallRoom(state.bridgeId)).emit('media:audioOnly', state);
  const bind = (): void => {
    bound?.off('onair', onAir);
    bound?.off('audioonly', onAudioOnly);
    bound = current();
    bound?.on('onair', onAir);
    bound?.on('audioonly', onAudioOnly);
  };
  bind();
  return bind;
}

/** The room of a hall's media sockets on this instance (its display's, or its screen share's). */
function hallRoom(bridgeId: string): string {
  return `hall:${bridgeId}`;
}
