import type { Namespace, Socket } from 'socket.io';
import type { z } from 'zod';
import type { MediaSession, MediaPeerSink, PeerOptions } from '../../sfu/index.ts';
import { SfuError } from '../../sfu/index.ts';
import { TokenAuth, type Principal } from '../protocol/control.ts';
import {
  MediaRequests,
  ConsumeMessage,
  type Ack,
  type ErrorCode,
  type MediaRequestName,
  type MediaReplies,
  type MediaClientEvents,
  type MediaServerEvents,
} from '../protocol/media.ts';

type MediaSocket = Socket<MediaClientEvents, MediaServerEvents, Record<string, never>, { principal: Principal }>;

/** Options of the media signaling. */
export interface MediaSignalingOptions {
  /** How long the server waits for a client to set up a consumer. */
  consumeAckTimeoutMs?: number;
  log?: (level: 'info' | 'warn', msg: string, data?: object) => void;
  /** Resolves an access token to who holds it (null: refused). */
  authenticate: (token: string) => Promise<Principal | null>;
}

/**
 * What a token's holder may do in the media: an operator's hall publishes and receives the
 * programme (the province hall also sees thumbnails); the chair and secretary receive the
 * programme and thumbnails; technicians thumbnails only; the press the programme only.
 */
export function peerOptionsFor(p: Principal, chairBridgeId: string): PeerOptions {
  switch (p.role) {
    case 'operator':
      return { bridgeId: p.bridgeId, publish: true, receiveProgram: true, thumbnails: p.bridgeId === chairBridgeId };
    case 'chair':
    case 'secretary':
      return { publish: false, receiveProgram: true, thumbnails: true };
    case 'technician':
      return { publish: false, receiveProgram: false, thumbnails: true };
    case 'viewer':
      return { publish: false, receiveProgram: true, thumbnails: false };
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
 * `current` gives the conference's session; a socket stays with the session it joined (when a new
 * plan is loaded, the caller disconnects every socket and they join the new one).
 */
export function attachMediaSignaling(nsp: Namespace, current: () => MediaSession, options: MediaSignalingOptions): () => void {
  const consumeTimeout = options.consumeAckTimeoutMs ?? 4000;
  const log = options.log ?? (() => undefined);

  nsp.use((socket, next) => {
    const parsed = TokenAuth.safeParse(socket.handshake.auth);
    if (!parsed.success) return next(new Error('unauthenticated'));
    options.authenticate(parsed.data.token).then(
      (principal) => {
        if (!principal) return next(new Error('unauthenticated'));
        if (principal.role === 'operator' && !current().hasBridge(principal.bridgeId)) return next(new Error('unknown_bridge'));
        (socket as MediaSocket).data.principal = principal;
        next();
      },
      () => next(new Error('unavailable')),
    );
  });

  nsp.on('connection', (raw) => {
    const socket = raw as MediaSocket;
    const principal = socket.data.principal;
    const session = current();
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
        socket.emit('media:replaced');
        socket.disconnect(true);
      },
    };

    /** Registers a request handler: validate, check joined, run, ack. */
    function handle<N extends MediaRequestName>(
      name: N,
      run: (payload: z.infer<(typeof MediaRequests)[N]>) => Promise<MediaReplies[N]> | MediaReplies[N],
    ): void {
      const schema = MediaRequests[name];
      (socket.on as (ev: string, fn: (...args: unknown[]) => void) => void)(name, async (...args: unknown[]) => {
        const ack = args[args.length - 1];
        if (typeof ack !== 'function') return; // every request needs an ack; ignore fire-and-forget
        const reply = ack as (r: Ack<MediaReplies[N]>) => void;
        const parsed = schema.safeParse(args.length > 1 ? args[0] : undefined);
        if (!parsed.success) {
          const where = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
          return reply({ ok: false, error: { code: 'invalid_payload', message: `invalid ${name} [fields:${where}]` } });
        }
        if (name !== 'media:join' && !joined) {
          return reply({ ok: false, error: { code: 'not_joined', message: 'join first' } });
        }
        try {
          reply({ ok: true, data: await run(parsed.data as z.infer<(typeof MediaRequests)[N]>) });
        } catch (error) {
          const wire = toWireError(error);
          if (wire.code === 'internal') log('warn', `${name} failed`, { peerId, error: String(error) });
          reply({ ok: false, error: wire });
        }
      });
    }

    handle('media:join', () => {
      if (joined) throw new WireError('already_exists', 'already joined');
      const { rtpCapabilities } = session.join(peerId, peerOptionsFor(principal, session.chairBridgeId), sink);
      joined = true;
      log('info', 'peer joined', { peerId, role: principal.role });
      const bridgeId = principal.role === 'operator' ? principal.bridgeId : undefined;
      return { peerId, role: principal.role, bridgeId, rtpCapabilities, program: session.program };
    });
    handle('media:capabilities', ({ rtpCapabilities }) => {
      session.setRtpCapabilities(peerId, rtpCapabilities as never);
      return {};
    });
    handle('media:createTransport', ({ direction }) => session.createTransport(peerId, direction));
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

  // Tells every socket of this session when the programme changes; returns the unbinding.
  let bound: MediaSession | undefined;
  const onProgram = ({ bridgeId }: { bridgeId: string }): void => void nsp.emit('program:changed', { bridgeId });
  const bind = (): void => {
    bound?.off('program', onProgram);
    bound = current();
    bound.on('program', onProgram);
  };
  bind();
  return bind;
}
