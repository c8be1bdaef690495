import type { Namespace, Socket } from 'socket.io';
import type { z } from 'zod';
import { TokenAuth, type Principal } from '../protocol/control.ts';
import { hasTextFault } from '../protocol/text.ts';

/** An acknowledgement of any namespace: the data, or a refusal with a stable code. */
export type WireAck<T> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

/**
 * Authenticates every socket of a namespace at connect by the access token in its handshake
 * `auth`; `accept` may refuse a principal with a reason. Refusals reach the client as
 * connect_error messages ('unauthenticated', 'unavailable', or the reason).
 */
export function useTokenAuth(
  nsp: Namespace,
  authenticate: (token: string) => Promise<Principal | null>,
  accept: (principal: Principal) => string | null = () => null,
): void {
  nsp.use((socket, next) => {
    const parsed = TokenAuth.safeParse(socket.handshake.auth);
    if (!parsed.success) return next(new Error('unauthenticated'));
    authenticate(parsed.data.token).then(
      (principal) => {
        if (!principal) return next(new Error('unauthenticated'));
        const refusal = accept(principal);
        if (refusal) return next(new Error(refusal));
        (socket.data as { principal: Principal; token: string }).principal = principal;
        (socket.data as { token: string }).token = parsed.data.token;
        next();
      },
      () => next(new Error('unavailable')),
    );
  });
}

/**
 * Listens for one request on a socket: it must come with an acknowledgement (fire-and-forget is
 * ignored), its payload is validated by the schema (invalid: `invalid_payload` naming the fields),
 * and the handler's answer (or its failure, through `fail`) is the ack.
 */
export function onRequest<S extends z.ZodType, R>(
  socket: Socket,
  name: string,
  schema: S,
  handler: (payload: z.infer<S>) => Promise<WireAck<R>>,
): void {
  (socket.on as (ev: string, fn: (...args: unknown[]) => void) => void).call(socket, name, (...args: unknown[]) => {
    const ack = args[args.length - 1];
    if (typeof ack !== 'function') return;
    const reply = ack as (r: WireAck<R>) => void;
    const parsed = schema.safeParse(args.length > 1 ? args[0] : undefined);
    if (!parsed.success) {
      const where = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
      // Text refused for its characters says so (invalid_text); any other mistake is invalid_payload.
      const code = hasTextFault(parsed.error) ? 'invalid_text' : 'invalid_payload';
      return reply({ ok: false, error: { code, message: `invalid ${name} [fields:${where}]` } });
    }
    handler(parsed.data).then(reply, () => reply({ ok: false, error: { code: 'internal', message: 'internal error' } }));
  });
}

/** Disconnects this process's sockets of a namespace that were opened with a token now revoked. */
export function cutOffToken(nsp: Namespace, token: string): void {
  for (const socket of nsp.sockets.values()) {
    if ((socket.data as { token?: string }).token === token) socket.disconnect(true);
  }
}
