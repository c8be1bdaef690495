import type { Namespace, Socket } from 'socket.io';
import type { z } from 'zod';
import type { Conference } from '../app/Conference.ts';
import type { AccessTokens } from '../app/conference/tokens.ts';
import { principalKey, SOCKET_REQUEST_CLASSES, type RateRefusal, type RequestClass, type RequestLimits } from '../app/rate-limit.ts';
import { TokenAuth, type Principal, type TokenRefusal } from '../protocol/control.ts';
import { hasTextFault } from '../protocol/text.ts';

/** An acknowledgement of any namespace: the data, or a refusal with a stable code. */
export type WireAck<T> = { ok: true; data: T } | { ok: false; error: { code: string; message: string } };

/** Why a principal is refused at connect: a reason, or a reason with data for the client (where to go instead). */
export type ConnectRefusal = string | { reason: string; data: unknown } | null;

/** What a namespace checks for every socket it admits and for every request a socket makes. */
export interface SocketGate {
  /** Who holds this token (null: refused). */
  authenticate(token: string): Promise<Principal | null>;
  /** Whether the token still grants anything; asked before every request (a revoked link never acts). */
  inForce(token: string): boolean | Promise<boolean>;
  /** Takes one use of a class of request from the principal's budget; a refusal when it is used up. */
  take(cls: RequestClass, principal: Principal): RateRefusal | null;
  /** Why a token that grants nothing is refused: revoked (or replaced by a re-issue), or never valid. */
  refusal(token: string): Promise<TokenRefusal>;
}

/** A gate of tokens kept current by the store's announcements and of request budgets (a media node's). */
export function tokenGate(tokens: AccessTokens, limits: RequestLimits): SocketGate {
  return {
    authenticate: async (token) => (await tokens.resolve(token)) as Principal | null,
    inForce: (token) => tokens.inForce(token),
    take: (cls, principal) => limits.take(cls, principalKey(principal)),
    refusal: (token) => tokens.refusal(token),
  };
}

/** The gate of the conference at work: its tokens and its request budgets. */
export function conferenceGate(current: () => Conference): SocketGate {
  return {
    authenticate: (token) => current().authenticate(token),
    inForce: (token) => current().tokens.inForce(token),
    take: (cls, principal) => current().limits.take(cls, principalKey(principal)),
    refusal: (token) => current().refusal(token),
  };
}

/**
 * Guards a namespace. At connect: the access token in the handshake `auth` (refusals reach the
 * client as connect_error messages: 'unauthenticated', 'unavailable', 'rate_limited', or the
 * reason `accept` gives, with `data` if given; a refused token's error carries why in `data.code`, 'token_revoked' or
 * 'token_invalid', so the page can say so and stop retrying instead of taking it for a network
 * loss). Before every request, in arrival order: its name must be one of `requests` (else
 * `unknown_request`), the socket's token must still be in force (else `unauthenticated`, and the
 * socket is told why with 'session:refused' and cut off: a link revoked or re-issued on any
 * server process never acts again), and the principal's budget for the request's class must
 * allow it (else `rate_limited`). A refused request is answered through its acknowledgement, if
 * it has one.
 */
export function guardNamespace(
  nsp: Namespace,
  gate: SocketGate,
  requests: readonly string[],
  accept: (principal: Principal) => ConnectRefusal | Promise<ConnectRefusal> = () => null,
): void {
  const known = new Set(requests);
  const refused = (code: TokenRefusal): Error => Object.assign(new Error('unauthenticated'), { data: { code } });
  nsp.use((socket, next) => {
    const parsed = TokenAuth.safeParse(socket.handshake.auth);
    if (!parsed.success) return next(refused('token_invalid'));
    gate
      .authenticate(parsed.data.token)
      .then(async (principal) => (principal ? { principal, refusal: await accept(principal) } : null))
      .then(
        (outcome) => {
          if (!outcome) {
            gate.refusal(parsed.data.token).then(
              (code) => next(refused(code)),
              () => next(refused('token_invalid')),
            );
            return;
          }
          const { principal, refusal } = outcome;
          if (typeof refusal === 'string') return next(new Error(refusal));
          if (refusal) return next(Object.assign(new Error(refusal.reason), { data: refusal.data }));
          if (gate.take('connect', principal)) return next(new Error('rate_limited'));
          (socket.data as { principal: Principal; token: string }).principal = principal;
          (socket.data as { token: string }).token = parsed.data.token;
          next();
        },
        () => next(new Error('unavailable')),
      );
  });
  nsp.on('connection', (socket) => {
    const { principal, token } = socket.data as { principal: Principal; token: string };
    socket.use((packet, next) => {
      const [event, ...args] = packet as [unknown, ...unknown[]];
      const last = args.at(-1);
      const refuse = (error: { code: string; message: string }): void => {
        if (typeof last === 'function') (last as (r: WireAck<never>) => void)({ ok: false, error });
      };
      const cls = typeof event === 'string' && known.has(event) ? (SOCKET_REQUEST_CLASSES as Readonly<Record<string, RequestClass>>)[event] : undefined;
      if (!cls) return refuse({ code: 'unknown_request', message: `no such request here [request:${String(event).slice(0, 40)}]` });
      const proceed = (inForce: boolean): void => {
        if (!socket.connected) return;
        if (!inForce) {
          refuse({ code: 'unauthenticated', message: 'this access link was revoked or re-issued' });
          gate.refusal(token).then(
            (code) => tellAndCutOff(socket, code),
            () => tellAndCutOff(socket, 'token_invalid'),
          );
          return;
        }
        const limited = gate.take(cls, principal);
        if (limited) return refuse(limited.error);
        next();
      };
      const inForce = gate.inForce(token);
      if (typeof inForce === 'boolean') proceed(inForce);
      else inForce.then(proceed, () => proceed(false));
    });
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

/**
 * Disconnects this process's sockets of a namespace that were opened with a token now revoked,
 * telling each why first ('session:refused' goes out before the disconnect on the same transport).
 */
export function cutOffToken(nsp: Namespace, token: string, code: TokenRefusal = 'token_revoked'): void {
  for (const socket of nsp.sockets.values()) {
    if ((socket.data as { token?: string }).token === token) tellAndCutOff(socket, code);
  }
}

/** Tells a socket why its link no longer works ('session:refused', before the disconnect on the same transport), and cuts it off. */
function tellAndCutOff(socket: Socket, code: TokenRefusal): void {
  if (!socket.connected) return;
  socket.emit('session:refused', { code });
  socket.disconnect(true);
}

/** Checks the token of every socket of a namespace again (revocations may have gone unheard) and cuts off those no longer in force. */
export function recheckTokens(nsp: Namespace, inForce: (token: string) => boolean | Promise<boolean>): void {
  const byToken = new Map<string, Socket[]>();
  for (const socket of nsp.sockets.values()) {
    const token = (socket.data as { token?: string }).token;
    if (token !== undefined) byToken.set(token, [...(byToken.get(token) ?? []), socket]);
  }
  for (const [token, sockets] of byToken) {
    void Promise.resolve(inForce(token)).then(
      (ok) => {
        if (!ok) for (const socket of sockets) tellAndCutOff(socket, 'token_revoked');
      },
      () => undefined,
    );
  }
}
