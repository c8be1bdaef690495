import { ControlEndpoints } from './controlUrls.ts';
import { showRefusal, type TokenRefusal } from './refusal.ts';

/** Who the invite link's token belongs to, as the server says. */
export interface Me {
  role: 'chair' | 'secretary' | 'technician' | 'viewer' | 'operator';
  bridgeId?: string;
  bridgeName?: string;
  /** A hall's kind: a browser hall, or a hardware (RTP) hall whose media comes from its device. */
  bridgeKind?: 'browser' | 'rtp';
  conferenceId: string;
  title: string;
  chairBridgeId: string;
  /** Every control instance of the deployment (empty: this origin only). */
  controlUrls?: string[];
}

let endpoints: ControlEndpoints | null = null;

/** The control instances this page talks to (known after whoAmI; this origin alone before). */
export function controlEndpoints(): ControlEndpoints {
  endpoints ??= new ControlEndpoints(location.origin);
  return endpoints;
}

/** fetch() of a REST path on the control instance in use, going on to the next ones when it does not answer. */
export function controlFetch(path: string, init?: RequestInit): Promise<Response> {
  return controlEndpoints().fetch(path, init);
}

/** The access token from the invite link (`#token=…`, kept out of server logs), remembered for reloads. */
export function tokenFromLink(): string | null {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) {
    sessionStorage.setItem('diemcau.token', fromHash);
    return fromHash;
  }
  return sessionStorage.getItem('diemcau.token');
}

/** Asks the server who this token is (and which control instances the page may use); null when the link is not (or no longer) valid. */
export async function whoAmI(token: string): Promise<Me | null> {
  const who = await whoIs(token);
  return 'refused' in who ? null : who.me;
}

/** Who this token is (and which control instances the page may use), or why the server refuses it (revoked, or never valid). */
export async function whoIs(token: string): Promise<{ me: Me } | { refused: TokenRefusal }> {
  const res = await controlFetch('/api/me', { headers: { authorization: `Bearer ${token}` } });
  if (res.status === 401) {
    const body = (await res.json().catch(() => null)) as { error?: { details?: { refusal?: unknown } } } | null;
    return { refused: body?.error?.details?.refusal === 'token_revoked' ? 'token_revoked' : 'token_invalid' };
  }
  if (!res.ok) throw new Error(`/api/me: HTTP ${res.status}`);
  const me = (await res.json()) as Me;
  endpoints = new ControlEndpoints(location.origin, me.controlUrls ?? []);
  return { me };
}

/**
 * The page's start: the link's token and who it is. A missing, invalid or revoked link is said
 * at once (showRefusal) and the page goes no further (null).
 */
export async function signIn(): Promise<{ token: string; me: Me } | null> {
  const token = tokenFromLink();
  const who = token ? await whoIs(token) : { refused: 'token_invalid' as const };
  if ('refused' in who) {
    showRefusal(who.refused);
    return null;
  }
  return { token: token!, me: who.me };
}

/** Vietnamese name of a role. */
export function roleName(role: Me['role']): string {
  return { chair: 'Chủ tọa', secretary: 'Thư ký', technician: 'Kỹ thuật viên', viewer: 'Báo chí', operator: 'Kỹ thuật viên điểm cầu' }[role];
}
