import type { Namespace, Socket } from 'socket.io';
import type { z } from 'zod';
import type { MediaSession, MediaPeerSink, PeerOptions } from '../../sfu/index.ts';
import { SfuError } from '../../sfu/index.ts';
import {
  MediaAuth,
  MediaRequests,
  ConsumeMessage,
  type Ack,
  type ErrorCode,
  type MediaRequestName,
  type MediaReplies,
  type MediaClientEvents,
  type MediaServerEvents,
} from '../protocol/media.ts';

type MediaSocket = Socket<MediaClientEvents, MediaServerEvents, Record<string, never>, { auth: MediaAuth }>;

/** Options of the media signaling. */
export interface MediaSignalingOptions {
  /** How long the server waits for a client to set up a consumer. */
  consumeAckTimeoutMs?: number;
  log?: (level: 'info' | 'warn', msg: string, data?: object) => void;
}

/** What a socket of this identity may do in the media session. */
function peerOptionsFor(auth: MediaAuth, chairBridgeId: string): PeerOptions {
  if (auth.role === 'hall') {
    return { bridgeId: auth.bridgeId, publish: true, receiveProgram: true, thumbnails: auth.bridgeId === chairBridgeId };
  }
  return { publish: false, receiveProgram: auth.kind === 'chair', thumbnails: true };
}

/** Whether this identity may choose the programme (until the control plane's floor rules take over). */
function mayDirect(auth: MediaAuth, chairBridgeId: string): boolean {
  return (auth.role === 'console' && auth.kind === 'chair') || (auth.role === 'hall' && auth.bridgeId === chairBridgeId);
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

/** Wires the media session to a socket.io namespace: authenticate, parse, authorise, call, ack. */
export function attachMediaSignaling(nsp: Namespace, session: MediaSession, options: MediaSignalingOptions = {}): void {
  const consumeTimeout = options.consumeAckTimeoutMs ?? 4000;
  const log = options.log ?? (() => undefined);

  nsp.use((socket, next) => {
    const parsed = MediaAuth.safeParse(socket.handshake.auth);
    if (!parsed.success) return next(new Error('unauthenticated'));
    if (parsed.data.role === 'hall' && !session.hasBridge(parsed.data.bridgeId)) return next(new Error('unknown_bridge'));
    (socket as MediaSocket).data.auth = parsed.data;
    next();
  });

  nsp.on('connection', (raw) => {
    const socket = raw as MediaSocket;
    const auth = socket.data.auth;
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
      const { rtpCapabilities } = session.join(peerId, peerOptionsFor(auth, session.chairBridgeId), sink);
      joined = true;
      log('info', 'peer joined', { peerId, auth });
      return { peerId, bridgeId: auth.role === 'hall' ? auth.bridgeId : undefined, rtpCapabilities, program: session.program };
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
    handle('program:set', async ({ bridgeId }) => {
      if (!mayDirect(auth, session.chairBridgeId)) throw new WireError('forbidden', 'only the chair directs the programme');
      await session.setProgram(bridgeId);
      return { bridgeId };
    });

    socket.on('disconnect', () => {
      if (joined) session.leave(peerId);
    });
  });

  session.on('program', ({ bridgeId }) => void nsp.emit('program:changed', { bridgeId }));
}
