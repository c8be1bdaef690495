/**
 * Short-lived TURN credentials per hall, by the TURN REST API scheme that coturn checks with
 * `use-auth-secret`: username `<expiry in unix seconds>:<user>`, password
 * `base64(HMAC-SHA1(secret, username))`. The server and the TURN server share only the secret;
 * nothing is stored. The user is the hall's bridge id (a staff role for consoles), taken from the
 * access token the socket was opened with: a hall cannot ask for another hall's credentials, and
 * a revoked token gets none. Credentials already handed out stay valid until they expire (the
 * scheme has no revocation list): the lifetime bounds that.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { IceConfigSchema, type IceConfig } from '../../protocol/media.ts';
import type { Principal } from '../../protocol/control.ts';

/** What the server needs to hand out TURN credentials. */
export interface TurnSettings {
  /** The secret shared with the TURN server (coturn's `static-auth-secret`). */
  secret: string;
  /** The TURN URLs halls get (`turn:host:3478?transport=udp`, `turns:host:5349?transport=tcp`, …). */
  urls: readonly string[];
  /** How long credentials are valid, seconds. */
  ttlSec: number;
  /** 'relay': halls send everything through TURN; 'all': TURN only where nothing direct works. */
  policy: 'all' | 'relay';
}

/** The password of a TURN REST username: base64(HMAC-SHA1(secret, username)). */
export function turnPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username).digest('base64');
}

/** Who a credential is for: the bridge of an operator's token, the role of a staff token. */
export function turnUserOf(principal: Principal): string {
  return principal.role === 'operator' ? principal.bridgeId : principal.role;
}

/** Credentials for a user valid until `nowMs + ttlSec` (rounded down to the second). */
export function turnCredentials(secret: string, user: string, ttlSec: number, nowMs: number): { username: string; credential: string; expiresAt: number } {
  if (user.includes(':')) throw new RangeError(`a TURN user has no colon [user:${user}]`);
  const expiresAt = Math.floor(nowMs / 1000) + Math.max(1, Math.floor(ttlSec));
  const username = `${expiresAt}:${user}`;
  return { username, credential: turnPassword(secret, username), expiresAt };
}

/**
 * Checks credentials as the TURN server does: the password matches the username under the
 * secret and the expiry is not past. Returns the user, or null.
 */
export function checkTurnCredentials(secret: string, username: string, credential: string, nowMs: number): string | null {
  const m = /^(\d{1,12}):(.+)$/.exec(username);
  if (!m || Number(m[1]) * 1000 < nowMs) return null;
  const expected = Buffer.from(turnPassword(secret, username));
  const given = Buffer.from(credential);
  return expected.length === given.length && timingSafeEqual(expected, given) ? m[2]! : null;
}

/** Hands each peer its ICE configuration from its access token. */
export class TurnCredentials {
  readonly #settings: TurnSettings;
  readonly #authenticate: (token: string) => Promise<Principal | null>;
  readonly #now: () => number;

  constructor(settings: TurnSettings, authenticate: (token: string) => Promise<Principal | null>, now: () => number = Date.now) {
    if (settings.secret.length < 16) throw new RangeError('the TURN secret must be at least 16 characters');
    if (!settings.urls.length) throw new RangeError('no TURN URL');
    this.#settings = settings;
    this.#authenticate = authenticate;
    this.#now = now;
  }

  /** The URLs halls are given. */
  get urls(): readonly string[] {
    return this.#settings.urls;
  }

  /** The ICE configuration of the token's holder (fresh credentials), or null when the token grants nothing (unknown, revoked). */
  async forToken(token: string): Promise<IceConfig | null> {
    const principal = await this.#authenticate(token);
    if (!principal) return null;
    const { username, credential } = turnCredentials(this.#settings.secret, turnUserOf(principal), this.#settings.ttlSec, this.#now());
    // The wire contract is the protocol's schema: what the server sends must pass it.
    return IceConfigSchema.parse({
      iceServers: [{ urls: [...this.#settings.urls], username, credential }],
      iceTransportPolicy: this.#settings.policy,
    });
  }
}
