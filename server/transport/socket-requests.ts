import type { Namespace, Socket } from 'socket.io';
import type { z } from 'zod';
import { TokenAuth, type Principal, type TokenRefusal } from '../protocol/control.ts';

/** An acknowledgement of any namespace: the data, or a refusal with a stable code. */
export type WireAck<T> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

/** Why a principal is refused at connect: a reason, or a reason with data for the client (where to go instead). */
export type ConnectRefusal = string | { reason: string; data: unknown } | null;

/**
 * Authenticates every socket of a namespace at connect by the access token in its handshake
 * `auth`; `accept` may refuse a principal with a reason. Refusals reach the client as
 * connect_error messages ('unauthenticated', 'unavailable', or the reason, with `data` if given);
 * a refused token's error carries why in `data.code` ('token_revoked' or 'token_invalid'), so the
 * page can say so and stop retrying instead of taking it for a network loss.
 */
export function useTokenAuth(
  nsp: Namespace,
  authenticate: (token: string) => Promise<Principal | null>,
  accept: (principal: Principal) => ConnectRefusal | Promise<ConnectRefusal> = () => null,
  refusalOf: (token: unknown) => Promise<TokenRefusal> = async () => 'token_invalid',
): void {
  const refused = (code: TokenRefusal): Error => Object.assign(new Error('unauthenticated'), { data: { code } });
  nsp.use((socket, next) => {
    const parsed = TokenAuth.safeParse(socket.handshake.auth);
    if (!parsed.success) return next(refused('token_invalid'));
    authenticate(parsed.data.token)
      .then(async (principal) => (principal ? { principal, refusal: await accept(principal) } : null))
      .then(
        (outcome) => {
          if (!outcome) {
            refusalOf(parsed.data.token).then(
              (code) => next(refused(code)),
              () => next(refused('token_invalid')),
            );
            return;
          }
          const { principal, refusal } = outcome;
          if (typeof refusal === 'string') return next(new Error(refusal));
          if (refusal) return next(Object.assign(new Error(refusal.reason), { data: refusal.data }));
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
      return reply({ ok: false, error: { code: 'invalid_payload', message: `invalid ${name} [fields:${where}]` } });
    }
    handler(parsed.data).then(reply, () => reply({ ok: false, error: { code: 'internal', message: 'internal error' } }));
  });
}

/**
 * Disconnects this process's sockets of a namespace that were opened with a token now revoked,
 * telling each why first ('session:refused' goes out before the disconnect on the same transport).
 */
export function cutOffToken(nsp: Namespace, token: string, code: TokenRefusal = 'token_revoked'): void {
  for (const socket of nsp.sockets.values()) {
    if ((socket.data as { token?: string }).token !== token) continue;
    socket.emit('session:refused', { code });
    socket.disconnect(true);
  }
}
