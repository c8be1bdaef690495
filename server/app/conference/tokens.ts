import { EventEmitter } from 'node:events';
// Access tokens of a conference: one per staff role (chair, secretary, technician, viewer) and one
// per bridge operator, kept in the store so they survive a restart and are shared by every server
// process. A token is 128 random bits, url-safe; whoever holds it acts in that role.
import { randomBytes } from 'node:crypto';
import { systemClock, type Bridge, type Role } from '../../core/conference/index.ts';
import type { StoreSubscription, TokenAnnouncement, TokenRecord, TokenStore } from '../../store/index.ts';
import { TOKEN_PATTERN, type TokenRefusal } from '../../protocol/control.ts';

/** Roles with one shared token per conference. */
export const STAFF_ROLES = ['chair', 'secretary', 'technician', 'viewer'] as const;

/** A role with one token per conference. */
export type StaffRole = (typeof STAFF_ROLES)[number];

/** What a token grants: a staff role, or the operator of exactly one bridge. */
export type AccessGrant = { role: StaffRole } | { role: 'operator'; bridgeId: string };

/** One line of the printable invitation list. */
export interface InviteRow {
  role: Role;
  bridgeId?: string;
  bridgeName?: string;
  url: string;
}

/** Page of each role, relative to the base URL. */
export type InvitePaths = Record<Role, string>;

/** Where each role's page is by default; the token goes in the fragment, so it stays out of server logs and Referer headers. */
export const DEFAULT_INVITE_PATHS: Readonly<InvitePaths> = Object.freeze({
  chair: '/chair',
  secretary: '/secretary',
  technician: '/monitor',
  viewer: '/viewer',
  operator: '/hall',
});

/**
 * Pages each role's invite link opens in the apps. An operator's link opens the operator panel;
 * the panel opens the hall's display (hall.html, on the projector), which is the hall's one media page.
 */
export const INVITE_PATHS: Readonly<InvitePaths> = Object.freeze({
  chair: '/chair.html',
  secretary: '/chair.html',
  technician: '/technician.html',
  viewer: '/hall.html',
  operator: '/operator.html',
});


/** Options of AccessTokens.create. */
export interface AccessTokensOptions {
  conferenceId: string;
  /** The conference's bridges, in plan order (the invitation list follows it). */
  bridges: readonly Pick<Bridge, 'id' | 'name'>[];
  store: TokenStore;
  /** Issue time source (epoch ms); the system clock by default. */
  now?: () => number;
}

/** Raised for a reissue target that is neither a staff role nor a bridge of the conference. */
export class UnknownGrantError extends Error {
  readonly code = 'unknown_bridge' as const;

  constructor(target: string) {
    super(`no such role or bridge [target:${target.slice(0, 60)}]`);
    this.name = 'UnknownGrantError';
  }
}

/** A new random token: 128 bits, url-safe. */
export function newToken(): string {
  return randomBytes(16).toString('base64url');
}

/** The grant key the store indexes tokens by: the role, or 'operator:<bridgeId>'. */
export function grantKey(grant: AccessGrant): string {
  return grant.role === 'operator' ? `operator:${grant.bridgeId}` : grant.role;
}

/** Why a token that grants nothing is refused: it was revoked or replaced, or it was never issued. */
export async function tokenRefusal(store: TokenStore, conferenceId: string, token: unknown): Promise<TokenRefusal> {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) return 'token_invalid';
  return (await store.revokedAt(conferenceId, token)) === null ? 'token_invalid' : 'token_revoked';
}

/** Events of AccessTokens. */
export type AccessTokensEvents = {
  /** A token no longer grants anything (revoked or re-issued, on any process): cut off what it opened. */
  revoked: [token: string];
  /** Revocations may have gone unheard (the store's announcements were down, or every token was dropped): check every open connection's token again. */
  resync: [];
};

/**
 * The tokens of one conference. Revocations and re-issues on any process reach every process
 * through the store's announcements: each keeps the tokens it has found in force (a cache the
 * announcements keep current) and asks the store again about any other, and about every token
 * while announcements cannot arrive.
 */
export class AccessTokens extends EventEmitter<AccessTokensEvents> {
  readonly conferenceId: string;
  readonly #store: TokenStore;
  readonly #bridges: readonly Pick<Bridge, 'id' | 'name'>[];
  readonly #bridgeIds: Set<string>;
  readonly #now: () => number;
  /** Tokens found in force, with their grants; an announcement removes a token at once. */
  readonly #inForce = new Map<string, AccessGrant>();
  /** Bumped by every announcement: a store answer older than an announcement is not cached. */
  #epoch = 0;
  /** Whether announcements arrive (false between a 'doubt' and the next 'resync'): otherwise every check asks the store. */
  #live = true;
  #subscription: StoreSubscription | null = null;
  #closed = false;

  private constructor(options: AccessTokensOptions) {
    super();
    this.conferenceId = options.conferenceId;
    this.#store = options.store;
    this.#bridges = options.bridges.map((b) => ({ id: b.id, name: b.name }));
    this.#bridgeIds = new Set(this.#bridges.map((b) => b.id));
    this.#now = options.now ?? (() => systemClock.now());
  }

  /** Opens the tokens of a conference, issuing the missing ones (existing tokens are kept, also when another process issues them at the same time). */
  static async create(options: AccessTokensOptions): Promise<AccessTokens> {
    const tokens = new AccessTokens(options);
    // Watch before anything is read, so that no revocation between a read and the watch goes unheard.
    tokens.#subscription = await tokens.#store.watchTokens(tokens.conferenceId, (a) => tokens.#heard(a));
    try {
      await tokens.#store.issueTokens(tokens.conferenceId, tokens.#allGrants().map((g) => tokens.#record(g)), 'if_absent');
    } catch (error) {
      await tokens.close();
      throw error;
    }
    return tokens;
  }

  /**
   * Opens the tokens of a conference to check them only (a media node checks the halls' links):
   * nothing is issued, revocations on any process reach it as they reach create()'s.
   */
  static async watch(options: AccessTokensOptions): Promise<AccessTokens> {
    const tokens = new AccessTokens(options);
    tokens.#subscription = await tokens.#store.watchTokens(tokens.conferenceId, (a) => tokens.#heard(a));
    return tokens;
  }

  /** What a token grants, or null when it is malformed, unknown or revoked (asks the store). */
  async resolve(token: unknown): Promise<AccessGrant | null> {
    if (this.#closed || typeof token !== 'string' || !TOKEN_PATTERN.test(token)) return null;
    const epoch = this.#epoch;
    const record = await this.#store.findToken(this.conferenceId, token);
    const grant = record ? grantOf(record) : null;
    if (grant && epoch === this.#epoch && this.#live) this.#inForce.set(token, grant);
    else if (!grant) this.#inForce.delete(token);
    return grant;
  }

  /**
   * Whether a token still grants anything, checked before every request of a connection opened
   * with it: at once from what this process knows while announcements arrive, else from the store.
   */
  inForce(token: string): boolean | Promise<boolean> {
    if (this.#closed) return false;
    if (this.#live && this.#inForce.has(token)) return true;
    return this.resolve(token).then(
      (grant) => grant !== null,
      () => false,
    );
  }

  /** Why a token that resolves to nothing is refused: revoked (or replaced by a reissue), or never valid. */
  refusal(token: unknown): Promise<TokenRefusal> {
    return tokenRefusal(this.#store, this.conferenceId, token);
  }

  /** Revokes a token at once; false when it was not in force. The grant has no token until reissue. */
  async revoke(token: string): Promise<boolean> {
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) return false;
    const revoked = (await this.#store.revokeToken(this.conferenceId, token)) !== null;
    // The store announces it to every process; this one acts without waiting for its own announcement.
    if (revoked) this.#forget([token]);
    return revoked;
  }

  /** Issues a new token for a staff role or a bridge's operator, revoking the previous one; returns it. */
  async reissue(target: StaffRole | string): Promise<string> {
    const grant = this.#grantFor(target);
    const old = await this.tokenFor(target);
    const [record] = await this.#store.issueTokens(this.conferenceId, [this.#record(grant)], 'replace');
    if (old && old !== record!.token) this.#forget([old]);
    return record!.token;
  }

  /** Stops listening to the store's announcements; every check answers no after it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#inForce.clear();
    const subscription = this.#subscription;
    this.#subscription = null;
    await subscription?.close().catch(() => {});
    this.removeAllListeners();
  }

  /** The token in force for a staff role or a bridge's operator, or null after a revoke. */
  async tokenFor(target: StaffRole | string): Promise<string | null> {
    const key = grantKey(this.#grantFor(target));
    const all = await this.#store.listTokens(this.conferenceId);
    return all.find((r) => r.grant === key)?.token ?? null;
  }

  /** Invitation links for printing: staff roles first, then every bridge's operator in plan order; revoked grants are left out. */
  async inviteList(baseUrl: string, paths: Partial<InvitePaths> = {}): Promise<InviteRow[]> {
    const pageOf = { ...DEFAULT_INVITE_PATHS, ...paths };
    const base = baseUrl.replace(/\/+$/, '');
    const byGrant = new Map((await this.#store.listTokens(this.conferenceId)).map((r) => [r.grant, r.token]));
    const url = (role: Role, token: string) => `${base}${pageOf[role]}#token=${token}`;
    const rows: InviteRow[] = [];
    for (const role of STAFF_ROLES) {
      const token = byGrant.get(role);
      if (token) rows.push({ role, url: url(role, token) });
    }
    for (const b of this.#bridges) {
      const token = byGrant.get(grantKey({ role: 'operator', bridgeId: b.id }));
      if (token) rows.push({ role: 'operator', bridgeId: b.id, bridgeName: b.name, url: url('operator', token) });
    }
    return rows;
  }

  // An announcement from the store (this process's changes included).
  #heard(announcement: TokenAnnouncement): void {
    if (this.#closed) return;
    this.#epoch++;
    if (announcement.kind === 'revoked') return this.#forget(announcement.tokens);
    this.#inForce.clear();
    if (announcement.kind === 'doubt') {
      this.#live = false;
      return;
    }
    this.#live = true;
    this.emit('resync');
  }

  #forget(tokens: readonly string[]): void {
    this.#epoch++;
    for (const token of tokens) {
      this.#inForce.delete(token);
      this.emit('revoked', token);
    }
  }

  #allGrants(): AccessGrant[] {
    return [...STAFF_ROLES.map((role): AccessGrant => ({ role })), ...this.#bridges.map((b): AccessGrant => ({ role: 'operator', bridgeId: b.id }))];
  }

  #grantFor(target: string): AccessGrant {
    if ((STAFF_ROLES as readonly string[]).includes(target)) return { role: target as StaffRole };
    if (typeof target === 'string' && this.#bridgeIds.has(target)) return { role: 'operator', bridgeId: target };
    throw new UnknownGrantError(String(target));
  }

  #record(grant: AccessGrant): TokenRecord {
    const record: TokenRecord = { token: newToken(), grant: grantKey(grant), role: grant.role, issuedAt: this.#now() };
    if (grant.role === 'operator') record.bridgeId = grant.bridgeId;
    return record;
  }
}

function grantOf(record: TokenRecord): AccessGrant | null {
  if (record.role === 'operator') return typeof record.bridgeId === 'string' ? { role: 'operator', bridgeId: record.bridgeId } : null;
  return (STAFF_ROLES as readonly string[]).includes(record.role) ? { role: record.role as StaffRole } : null;
}
