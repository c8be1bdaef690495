// The embedded default store of access tokens: in this process, as JSON like the redis store.
import { decodeToken, encodeToken } from '../codec.ts';
import { watchSafely, type StoreSubscription } from '../ConferenceStore.ts';
import type { IssueMode, TokenAnnouncement, TokenAnnouncementListener, TokenRecord, TokenStore } from '../TokenStore.ts';
import { ConferenceWatchers } from './ConferenceWatchers.ts';
import { OpenGuard } from './OpenGuard.ts';

interface Tokens {
  /** token -> record */
  byToken: Map<string, string>;
  /** grant -> token */
  byGrant: Map<string, string>;
  /** token -> when it was revoked or replaced */
  revoked: Map<string, number>;
}

/** Tokens kept in this process; lost when it exits. */
export class MemoryTokenStore implements TokenStore {
  readonly #conferences = new Map<string, Tokens>();
  readonly #open = new OpenGuard();
  /** Watchers of each conference's token announcements (in this process: the memory store has no other). */
  readonly #watchers = new ConferenceWatchers<TokenAnnouncement>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#open.closed;
  }

  /** Stores tokens per grant. */
  async issueTokens(conferenceId: string, records: readonly TokenRecord[], mode: IssueMode): Promise<TokenRecord[]> {
    const t = this.#tokens(conferenceId, true)!;
    const replaced: string[] = [];
    const out = records.map((record) => {
      const old = t.byGrant.get(record.grant);
      const oldRecord = old === undefined ? undefined : t.byToken.get(old);
      if (mode === 'if_absent' && oldRecord !== undefined) return decodeToken(conferenceId, oldRecord);
      if (old !== undefined) t.byToken.delete(old);
      if (old !== undefined && old !== record.token) {
        t.revoked.set(old, this.#now());
        replaced.push(old);
      }
      t.byGrant.set(record.grant, record.token);
      t.byToken.set(record.token, encodeToken(record));
      return { ...record };
    });
    if (replaced.length) this.#watchers.tell(conferenceId, { kind: 'revoked', tokens: replaced });
    return out;
  }

  /** Announcements of this conference's tokens, delivered synchronously with the change. */
  async watchTokens(conferenceId: string, listener: TokenAnnouncementListener): Promise<StoreSubscription> {
    this.#open.assert(conferenceId);
    return this.#watchers.watch(conferenceId, watchSafely(listener));
  }

  /** The record of a token in force, or null. */
  async findToken(conferenceId: string, token: string): Promise<TokenRecord | null> {
    const json = this.#tokens(conferenceId, false)?.byToken.get(token);
    return json === undefined ? null : decodeToken(conferenceId, json);
  }

  /** Every token in force. */
  async listTokens(conferenceId: string): Promise<TokenRecord[]> {
    const t = this.#tokens(conferenceId, false);
    return t ? [...t.byToken.values()].map((json) => decodeToken(conferenceId, json)) : [];
  }

  /** Revokes one token. */
  async revokeToken(conferenceId: string, token: string): Promise<TokenRecord | null> {
    const t = this.#tokens(conferenceId, false);
    const json = t?.byToken.get(token);
    if (!t || json === undefined) return null;
    const record = decodeToken(conferenceId, json);
    t.byToken.delete(token);
    t.revoked.set(token, this.#now());
    if (t.byGrant.get(record.grant) === token) t.byGrant.delete(record.grant);
    this.#watchers.tell(conferenceId, { kind: 'revoked', tokens: [token] });
    return record;
  }

  /** When a token was revoked or replaced, or null. */
  async revokedAt(conferenceId: string, token: string): Promise<number | null> {
    return this.#tokens(conferenceId, false)?.revoked.get(token) ?? null;
  }

  /** Forgets a conference's tokens. */
  async dropTokens(conferenceId: string): Promise<void> {
    this.#open.assert(conferenceId);
    const had = this.#conferences.delete(conferenceId);
    if (had) this.#watchers.tell(conferenceId, { kind: 'resync' });
  }

  /** Drops everything; idempotent. */
  async close(): Promise<void> {
    if (this.#open.close()) {
      this.#conferences.clear();
      this.#watchers.clear();
    }
  }

  #tokens(conferenceId: string, create: boolean): Tokens | undefined {
    this.#open.assert(conferenceId);
    let t = this.#conferences.get(conferenceId);
    if (!t && create) this.#conferences.set(conferenceId, (t = { byToken: new Map(), byGrant: new Map(), revoked: new Map() }));
    return t;
  }
}
