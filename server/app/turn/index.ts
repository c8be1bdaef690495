/**
 * TURN for halls behind firewalls: the credentials the server hands each peer, and the embedded
 * coturn when the configuration asks for it (DIEMCAU_COTURN=1). Off when neither TURN URLs nor
 * the embedded coturn are configured.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../../../config/index.ts';
import type { Principal } from '../../protocol/control.ts';
import type { IceConfig } from '../../protocol/media.ts';
import { Coturn, coturnUrls } from './Coturn.ts';
import { TurnCredentials } from './credentials.ts';

export { Coturn, coturnConfig, coturnUrls } from './Coturn.ts';
export { TurnCredentials, checkTurnCredentials, turnCredentials, turnPassword, turnUserOf, type TurnSettings } from './credentials.ts';

/** TURN as a running server offers it. */
export interface TurnService {
  /** The URLs halls are given. */
  readonly urls: readonly string[];
  /** The embedded coturn, when the server runs one. */
  readonly coturn: Coturn | null;
  /** A peer's ICE configuration from its access token (null: the token grants nothing). */
  iceConfigFor(token: string): Promise<IceConfig | null>;
  /** Stops the embedded coturn; idempotent. */
  close(): Promise<void>;
}

/** Starts TURN as configured (coturn on `config.listenIp`, relaying to `announcedIp` only), or returns null when it is off. */
export async function startTurn(
  config: Config,
  announcedIp: string,
  authenticate: (token: string) => Promise<Principal | null>,
  log: (line: string) => void = () => undefined,
): Promise<TurnService | null> {
  if (!config.coturn && !config.turnUrls) return null;
  const secret = config.turnSecret ?? randomBytes(24).toString('base64url');
  let coturn: Coturn | null = null;
  let urls = config.turnUrls ?? [];
  if (config.coturn) {
    const tls = config.turnCert && config.turnKey ? { tlsPort: config.turnTlsPort, cert: config.turnCert, key: config.turnKey } : {};
    const listenIp = /^\d{1,3}(\.\d{1,3}){3}$/.test(config.listenIp) ? config.listenIp : '0.0.0.0';
    coturn = await Coturn.start({ listenIp, port: config.turnPort, ...tls, secret, peers: [announcedIp], log });
    if (!config.turnUrls) urls = coturnUrls(config.turnHost ?? announcedIp, config.turnPort, tls.tlsPort);
  }
  const credentials = new TurnCredentials({ secret, urls, ttlSec: config.turnTtlSec, policy: config.turnPolicy }, authenticate);
  return {
    urls,
    coturn,
    iceConfigFor: (token) => credentials.forToken(token),
    close: async () => {
      await coturn?.close();
    },
  };
}
