import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { AccessTokens } from '../../server/app/conference/tokens.ts';
import { MemoryTokenStore } from '../../server/store/index.ts';
import { TurnCredentials, checkTurnCredentials, coturnConfig, coturnUrls, turnCredentials } from '../../server/app/turn/index.ts';
import { IceConfigSchema } from '../../server/protocol/media.ts';
import { loadConfig } from '../../config/index.ts';

const SECRET = 'a-shared-secret-of-the-turn-server';
const BRIDGES = [
  { id: 'p-20', name: 'Tỉnh Lạng Sơn' },
  { id: 'c-06010', name: 'Xã Cao Minh' },
  { id: 'c-05971', name: 'Xã Tân Liên' },
];
const NOW = Date.UTC(2021, 10, 26, 7, 30, 0);

describe('TURN credentials per hall (TURN REST API scheme)', () => {
  let tokens: AccessTokens;
  let turn: TurnCredentials;

  beforeEach(async () => {
    tokens = await AccessTokens.create({ conferenceId: 'langson-2021', bridges: BRIDGES, store: new MemoryTokenStore() });
    turn = new TurnCredentials(
      { secret: SECRET, urls: ['turn:203.0.113.9:3478?transport=udp', 'turns:turn.example.vn:443?transport=tcp'], ttlSec: 3600, policy: 'all' },
      async (token) => (await tokens.resolve(token)) as never,
      () => NOW,
    );
  });

  it('username is expiry:bridgeId, password base64(HMAC-SHA1(secret, username)), as coturn checks it', async () => {
    const config = (await turn.forToken((await tokens.tokenFor('c-06010'))!))!;
    expect(IceConfigSchema.safeParse(config).success).to.equal(true);
    expect(config.iceTransportPolicy).to.equal('all');
    const [server] = config.iceServers;
    expect(server!.urls).to.deep.equal(['turn:203.0.113.9:3478?transport=udp', 'turns:turn.example.vn:443?transport=tcp']);
    const expiry = Math.floor(NOW / 1000) + 3600;
    expect(server!.username).to.equal(`${expiry}:c-06010`);
    expect(server!.credential).to.equal(createHmac('sha1', SECRET).update(`${expiry}:c-06010`).digest('base64'));
    expect(checkTurnCredentials(SECRET, server!.username!, server!.credential!, NOW)).to.equal('c-06010');
  });

  it('expire after the configured lifetime, and are worthless under another secret', async () => {
    const { username, credential } = turnCredentials(SECRET, 'c-06010', 3600, NOW);
    expect(checkTurnCredentials(SECRET, username, credential, NOW + 3599_000)).to.equal('c-06010');
    expect(checkTurnCredentials(SECRET, username, credential, NOW + 3601_000)).to.equal(null);
    expect(checkTurnCredentials('another-secret-entirely-here', username, credential, NOW)).to.equal(null);
  });

  it('a hall gets its own credentials only: they name its bridge, and do not pass for another hall', async () => {
    const mine = (await turn.forToken((await tokens.tokenFor('c-06010'))!))!.iceServers[0]!;
    const other = (await turn.forToken((await tokens.tokenFor('c-05971'))!))!.iceServers[0]!;
    expect(mine.username!.endsWith(':c-06010')).to.equal(true);
    expect(other.username!.endsWith(':c-05971')).to.equal(true);
    // Changing the user in the username breaks the password: a hall cannot pass as another one.
    const forged = mine.username!.replace('c-06010', 'c-05971');
    expect(checkTurnCredentials(SECRET, forged, mine.credential!, NOW)).to.equal(null);
    // Staff consoles are users by role.
    expect((await turn.forToken((await tokens.tokenFor('technician'))!))!.iceServers[0]!.username).to.match(/^\d+:technician$/);
  });

  it('a revoked token, an unknown one or a malformed one gets no credentials; the re-issued one does', async () => {
    const token = (await tokens.tokenFor('c-06010'))!;
    expect(await turn.forToken(token)).to.not.equal(null);
    await tokens.revoke(token);
    expect(await turn.forToken(token)).to.equal(null);
    expect(await turn.forToken('AAAAAAAAAAAAAAAAAAAAAA')).to.equal(null);
    expect(await turn.forToken('not a token')).to.equal(null);
    const reissued = await tokens.reissue('c-06010');
    expect((await turn.forToken(reissued))!.iceServers[0]!.username).to.match(/:c-06010$/);
  });

  it('relay-only is handed out only when configured', async () => {
    const relay = new TurnCredentials({ secret: SECRET, urls: ['turn:203.0.113.9:3478'], ttlSec: 60, policy: 'relay' }, async (t) => (await tokens.resolve(t)) as never, () => NOW);
    expect((await relay.forToken((await tokens.tokenFor('c-06010'))!))!.iceTransportPolicy).to.equal('relay');
  });

  it('refuses a short secret or no URL', () => {
    expect(() => new TurnCredentials({ secret: 'short', urls: ['turn:x:3478'], ttlSec: 60, policy: 'all' }, async () => null)).to.throw(/at least 16/);
    expect(() => new TurnCredentials({ secret: SECRET, urls: [], ttlSec: 60, policy: 'all' }, async () => null)).to.throw(/no TURN URL/);
  });
});

describe('the embedded coturn\'s configuration', () => {
  it('REST API secret, TLS with the certificate, relaying to the SFU only', () => {
    const text = coturnConfig({ listenIp: '10.0.0.5', port: 3478, tlsPort: 5349, cert: '/etc/c.pem', key: '/etc/k.pem', secret: SECRET, peers: ['10.0.0.5'] }, '/run/x');
    const lines = text.split('\n');
    for (const line of ['use-auth-secret', `static-auth-secret=${SECRET}`, 'listening-port=3478', 'tls-listening-port=5349', 'listening-ip=10.0.0.5', 'relay-ip=10.0.0.5', 'cert=/etc/c.pem', 'pkey=/etc/k.pem', 'denied-peer-ip=0.0.0.0-255.255.255.255', 'allowed-peer-ip=10.0.0.5', 'no-dtls', 'no-cli']) {
      expect(lines, line).to.include(line);
    }
    expect(lines).to.not.include('allow-loopback-peers');
    expect(lines).to.not.include('no-tls');
  });

  it('without a certificate: no TLS listener; loopback peers only when the SFU is on loopback', () => {
    const lines = coturnConfig({ listenIp: '0.0.0.0', port: 3478, secret: SECRET, peers: ['127.0.0.1'] }, '/run/x').split('\n');
    expect(lines).to.include('no-tls');
    expect(lines).to.include('allow-loopback-peers');
    expect(lines.some((l) => l.startsWith('listening-ip='))).to.equal(false);
  });

  it('refuses what would be unsafe to write into it', () => {
    expect(() => coturnConfig({ listenIp: '0.0.0.0', port: 3478, secret: 'has a\nnewline-and-more', peers: ['10.0.0.1'] }, '/x')).to.throw(/secret/);
    expect(() => coturnConfig({ listenIp: '0.0.0.0', port: 3478, secret: SECRET, peers: ['10.0.0.1\nallowed-peer-ip=0.0.0.0'] }, '/x')).to.throw(/IPv4/);
    expect(() => coturnConfig({ listenIp: '0.0.0.0', port: 3478, tlsPort: 5349, secret: SECRET, peers: ['10.0.0.1'] }, '/x')).to.throw(/certificate/);
    expect(() => coturnConfig({ listenIp: '0.0.0.0', port: 3478, secret: SECRET, peers: [] }, '/x')).to.throw(/SFU/);
  });

  it('URLs for the browsers: UDP and TCP, and TLS when there is a certificate', () => {
    expect(coturnUrls('turn.example.vn', 3478, 443)).to.deep.equal(['turn:turn.example.vn:3478?transport=udp', 'turn:turn.example.vn:3478?transport=tcp', 'turns:turn.example.vn:443?transport=tcp']);
    expect(coturnUrls('10.0.0.5', 3478)).to.have.length(2);
  });
});

describe('TURN configuration from the environment', () => {
  it('URLs (comma-separated) with a secret, a lifetime and a policy', () => {
    const c = loadConfig({ DIEMCAU_TURN_URLS: 'turn:a.vn:3478?transport=udp, turns:a.vn:443?transport=tcp', DIEMCAU_TURN_SECRET: SECRET, DIEMCAU_TURN_TTL: '7200', DIEMCAU_TURN_POLICY: 'relay' });
    expect(c.turnUrls).to.deep.equal(['turn:a.vn:3478?transport=udp', 'turns:a.vn:443?transport=tcp']);
    expect(c).to.include({ turnSecret: SECRET, turnTtlSec: 7200, turnPolicy: 'relay', coturn: false });
    expect(loadConfig({ DIEMCAU_COTURN: '1' })).to.include({ coturn: true, turnPort: 3478, turnTlsPort: 5349, turnTtlSec: 43200, turnPolicy: 'all' });
  });

  it('refuses URLs without a secret, a secret with nowhere to use it, a wrong URL, a certificate without its key', () => {
    expect(() => loadConfig({ DIEMCAU_TURN_URLS: 'turn:a.vn:3478' })).to.throw(/turnUrls: needs turnSecret/);
    expect(() => loadConfig({ DIEMCAU_TURN_SECRET: SECRET })).to.throw(/turnSecret: needs turnUrls/);
    expect(() => loadConfig({ DIEMCAU_TURN_URLS: 'http://a.vn', DIEMCAU_TURN_SECRET: SECRET })).to.throw(/turnUrls/);
    expect(() => loadConfig({ DIEMCAU_COTURN: '1', DIEMCAU_TURN_CERT: '/c.pem' })).to.throw(/turnCert and turnKey/);
    expect(() => loadConfig({ DIEMCAU_TURN_SECRET: 'short', DIEMCAU_COTURN: '1' })).to.throw(/turnSecret/);
  });
});
