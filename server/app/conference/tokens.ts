import { EventEmitter } from 'node:events';
// Access tokens of a conference: one per staff role (chair, secretary, technician, viewer) and one
// per bridge operator, kept in the store so they survive a restart and are shared by every server
// process. A token is 128 random bits, url-safe; whoever holds it acts in that role.
import { randomBytes } from 'node:crypto';
import { systemClock, type Bridge, type Role } from '../../core/conference/index.ts';
import type { TokenRecord, TokenStore } from '../../store/index.ts';
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

/** What a token grants in a conference's store (read only: a media node checks the halls' tokens so), or null. */
export async function resolveToken(store: TokenStore, conferenceId: string, token: unknown): Promise<AccessGrant | null> {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) return null;
  const record = await store.findToken(conferenceId, token);
  return record ? grantOf(record) : null;
}

/** Why a token that grants nothing is refused: it was revoked or replaced, or it was never issued. */
export async function tokenRefusal(store: TokenStore, conferenceId: string, token: unknown): Promise<TokenRefusal> {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) return 'token_invalid';
  return (await store.revokedAt(conferenceId, token)) === null ? 'token_invalid' : 'token_revoked';
}

/** The tokens of one conference. Emits 'revoked' with a token that no longer grants anything (revoke, reissue). */
export class AccessTokens extends EventEmitter<{ revoked: [token: string] }> {
  readonly conferenceId: string;
  readonly #store: TokenStore;
  readonly #bridges: readonly Pick<Bridge, 'id' | 'name'>[];
  readonly #bridgeIds: Set<string>;
  readonly #now: () => number;

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
    await tokens.#store.issueTokens(tokens.conferenceId, tokens.#allGrants().map((g) => tokens.#record(g)), 'if_absent');
    return tokens;
  }

  /** What a token grants, or null when it is malformed, unknown or revoked. */
  async resolve(token: unknown): Promise<AccessGrant | null> {
    return resolveToken(this.#store, this.conferenceId, token);
  }

  /** Why a token that resolves to nothing is refused: revoked (or replaced by a reissue), or never valid. */
  refusal(token: unknown): Promise<TokenRefusal> {
    return tokenRefusal(this.#store, this.conferenceId, token);
  }

  /** Revokes a token at once; false when it was not in force. The grant has no token until reissue. */
  async revoke(token: string): Promise<boolean> {
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) return false;
    const revoked = (await this.#store.revokeToken(this.conferenceId, token)) !== null;
    if (revoked) this.emit('revoked', token);
    return revoked;
  }

  /** Issues a new token for a staff role or a bridge's operator, revoking the previous one; returns it. */
  async reissue(target: StaffRole | string): Promise<string> {
    const grant = this.#grantFor(target);
    const old = await this.tokenFor(target);
    const [record] = await this.#store.issueTokens(this.conferenceId, [this.#record(grant)], 'replace');
    if (old && old !== record!.token) this.emit('revoked', old);
    return record!.token;
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
