// The access tokens of conferences: one per grant (a staff role, or the operator of one bridge),
// kept so that invite links survive a restart and are the same on every server process.
import type { Role } from '../core/conference/index.ts';
import type { StoreSubscription } from './ConferenceStore.ts';

/** An access token and what it grants; `grant` names the grant ('chair', 'operator:c-05971'). */
export interface TokenRecord {
  token: string;
  grant: string;
  role: Role;
  bridgeId?: string;
  issuedAt: number;
}

/** How issueTokens treats a grant that already has a token. */
export type IssueMode = 'replace' | 'if_absent';

/**
 * What a token store announces to every process that watches a conference's tokens (its own
 * included): tokens that no longer grant anything (revoked, or replaced by a re-issue), or
 * 'resync' when announcements may have been missed or every token was dropped (check again
 * against the store), or 'doubt' while announcements cannot arrive (the store's subscriber
 * connection is down: trust nothing cached until the next 'resync').
 */
export type TokenAnnouncement = { kind: 'revoked'; tokens: string[] } | { kind: 'resync' } | { kind: 'doubt' };

/** Listener of a conference's token announcements. */
export type TokenAnnouncementListener = (announcement: TokenAnnouncement) => void;

/** Storage of access tokens, at most one in force per grant. */
export interface TokenStore {
  /**
   * Listens to the conference's token announcements; resolves once they are being delivered.
   * Every revokeToken, every issueTokens that replaces a token and every dropTokens is announced
   * to the watchers of every process on this store.
   */
  watchTokens(conferenceId: string, listener: TokenAnnouncementListener): Promise<StoreSubscription>;

  /** Stores tokens; per grant, 'replace' revokes the previous token, 'if_absent' keeps it. The records in force, in input order. */
  issueTokens(conferenceId: string, records: readonly TokenRecord[], mode: IssueMode): Promise<TokenRecord[]>;

  /** The record of a token, or null when unknown or revoked. */
  findToken(conferenceId: string, token: string): Promise<TokenRecord | null>;

  /** Every token in force. */
  listTokens(conferenceId: string): Promise<TokenRecord[]>;

  /** Revokes a token; its record, or null when it was not in force. */
  revokeToken(conferenceId: string, token: string): Promise<TokenRecord | null>;

  /**
   * When a token stopped granting anything (revoked, or replaced by a reissue), or null for a
   * token never issued: a page refused at connect is told which ("thu hồi" or "không hợp lệ").
   */
  revokedAt(conferenceId: string, token: string): Promise<number | null>;

  /** Deletes every token of a conference. */
  dropTokens(conferenceId: string): Promise<void>;
}
