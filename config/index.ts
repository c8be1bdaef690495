import os from 'node:os';
import { z } from 'zod';
import { Labels, NodeId } from '../server/protocol/cluster.ts';

const intFromEnv = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Configuration of a diemcau server, read from the environment and validated. */
export const ConfigSchema = z.object({
  /** Address the HTTP/socket.io server and the WebRTC ports bind to. */
  listenIp: z.string().min(1).default('0.0.0.0'),
  /** IP put in ICE candidates: the address halls reach this host at (required off loopback). */
  announcedIp: z.string().min(1).optional(),
  /** HTTP port of the control plane and the apps. */
  httpPort: intFromEnv(0, 65535).default(3000),
  /** Number of mediasoup workers; one per CPU core by default. */
  workers: intFromEnv(1, 256).default(Math.max(1, os.availableParallelism?.() ?? os.cpus().length)),
  /**
   * Worker i takes WebRTC (UDP and TCP) on webRtcBasePort + i. No random ports: with port 0,
   * mediasoup 3.12 workers other than the first announced ports that halls could not reach.
   */
  webRtcBasePort: intFromEnv(1024, 65535).default(44400),
  /** Port range for pipe transports between workers. */
  rtcMinPort: intFromEnv(1024, 65535).default(45000),
  rtcMaxPort: intFromEnv(1024, 65535).default(45999),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  /** Where the conference state lives: redis when set (shared by several processes), else `store`. */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional(),
  /** Without redis: a SQLite file in `dataDir` that survives a restart (default), or memory (tests). */
  store: z.enum(['sqlite', 'memory']).default('sqlite'),
  /** Where the SQLite file (diemcau.sqlite) and the papers (papers/<conferenceId>/<paperId>.pdf) are kept; shared between instances on one redis for the papers. */
  dataDir: z.string().min(1).default('data'),
  /** Identifier of the conference (keys in redis, tokens). */
  conferenceId: z.string().regex(/^[a-z0-9-]{1,64}$/).default('langson-2021'),
  /** Public base URL printed in invite links (default: the listening address). */
  publicUrl: z.string().url().optional(),
  /**
   * Every control instance of the deployment (http(s)://host:port, no path), handed to the apps:
   * when the one they talk to goes away they go on with the next, sockets and REST alike. Empty:
   * the apps talk to the origin they were loaded from. A media node's /media accepts these
   * origins (CORS).
   */
  controlUrls: z
    .array(z.string().regex(/^https?:\/\/[^/?#\s]+$/, 'each must be http(s)://host[:port] with no path'))
    .max(32)
    .default([]),
  /** The feed for the press (what is on air): rtp://host:port (RTP/MPEG-TS) or udp://host:port (MPEG-TS); off when unset. */
  pressFeed: z.string().regex(/^(rtp|udp):\/\/[^:/]+:\d{1,5}\/?$/, 'must be rtp://host:port or udp://host:port').optional(),
  /** Where the archive recordings (.mkv with chapters, and their .json index) are written. */
  recordingsDir: z.string().min(1).default('recordings'),
  /** x264 preset of the feed's re-encoder (CPU against quality; see docs/benchmarks.md). */
  feedPreset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium']).default('veryfast'),
  /**
   * What this process runs: `both` (the control plane and a media node: the embedded default),
   * `control` (HTTP, REST, /control, the conference runner; no mediasoup) or `media` (an SFU node:
   * workers, /media for the halls placed on it, the node-to-node API). Split roles need redis.
   */
  role: z.enum(['both', 'control', 'media']).default('both'),
  /** This media node's id in the registry (default: the host name and the HTTP port). */
  nodeId: NodeId.optional(),
  /** The secret every node of a deployment shares to sign node-to-node requests (at least 32 bytes). */
  nodeSecret: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Labels of this media node (`region=dong-bac,feed=yes`): placement affinity; `feed=yes` runs the press feed here. */
  nodeLabels: z
    .string()
    .transform((text, ctx) => {
      const pairs = text.split(',').map((p) => p.trim()).filter(Boolean).map((p) => p.split('='));
      const labels = Labels.safeParse(Object.fromEntries(pairs.map(([k, ...v]) => [k!.trim(), v.join('=').trim()])));
      if (!labels.success || pairs.some((p) => p.length < 2)) {
        ctx.addIssue({ code: 'custom', message: 'must be key=value pairs separated by commas (keys: a-z, 0-9, _ and -)' });
        return z.NEVER;
      }
      return labels.data;
    })
    .default({}),
  /** Peers this media node takes at most (placement never goes past it); default 200 per worker. */
  nodeCapacity: intFromEnv(1, 1_000_000).optional(),
  /** Where browsers open this node's /media (http(s)://host:port; default: the announced address and the HTTP port). */
  mediaUrl: z.string().url().optional(),
  /** Where other nodes reach this node's API (default: the announced address and the HTTP port). */
  nodeApiUrl: z.string().url().optional(),
  /** TURN URLs handed to the halls (with `turnSecret`); derived from the embedded coturn when it runs. */
  turnUrls: z.preprocess(
    (v) => (typeof v === 'string' ? v.split(',').map((u) => u.trim()).filter(Boolean) : v),
    z.array(z.string().regex(/^turns?:[^\s,]{1,250}$/, 'must be turn: or turns: URLs, comma-separated')).min(1).max(8),
  ).optional(),
  /** The TURN REST API secret shared with the TURN server (coturn's static-auth-secret); random per start for the embedded coturn when unset. */
  turnSecret: z.string().regex(/^[\x21-\x7e]{16,256}$/, 'must be 16 to 256 printable characters without spaces').optional(),
  /** How long a hall's TURN credentials are valid, seconds (a half-day meeting and its preparation). */
  turnTtlSec: intFromEnv(60, 7 * 86400).default(12 * 3600),
  /** 'relay': every hall's media goes through TURN; 'all': TURN only where nothing direct works. */
  turnPolicy: z.enum(['all', 'relay']).default('all'),
  /** Start Debian's coturn with the server (on listenIp), for halls behind firewalls. */
  coturn: z.union([z.boolean(), z.enum(['1', '0', 'true', 'false', 'yes', 'no'])]).transform((v) => v === true || v === '1' || v === 'true' || v === 'yes').default(false),
  /** The embedded coturn's UDP and TCP port. */
  turnPort: intFromEnv(1, 65535).default(3478),
  /** The embedded coturn's TLS port (443 where the halls' networks open only web ports); TLS needs turnCert and turnKey. */
  turnTlsPort: intFromEnv(1, 65535).default(5349),
  /** PEM certificate (chain) and key for TURN over TLS; their name is the one in the turns: URL. */
  turnCert: z.string().min(1).optional(),
  turnKey: z.string().min(1).optional(),
  /** Host name or address in the embedded coturn's URLs (default: the announced IP); must match the certificate. */
  turnHost: z.string().regex(/^[A-Za-z0-9.-]{1,253}$/).optional(),
  /**
   * Addresses of the proxies in front of the server (a TLS proxy on this host: loopback). Their
   * connections are not capped per address, and their requests are counted by X-Forwarded-For.
   * "none" trusts no address.
   */
  trustedProxies: z.preprocess(
    (v) => (typeof v === 'string' ? (v.trim() === 'none' ? [] : v.split(',').map((a) => a.trim()).filter(Boolean)) : v),
    z.array(z.union([z.ipv4(), z.ipv6()])).max(64),
  ).default(['127.0.0.1', '::1', '::ffff:127.0.0.1']),
  /** Connections one address may hold at once (server/transport/connections.ts says why 256). */
  maxConnectionsPerAddress: intFromEnv(1, 1_000_000).default(256),
});
export type Config = z.infer<typeof ConfigSchema>;

/** Maps environment variables onto the configuration; throws with each wrong field's name. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const raw = {
    listenIp: env.DIEMCAU_LISTEN_IP,
    announcedIp: env.DIEMCAU_ANNOUNCED_IP,
    httpPort: env.PORT ?? env.DIEMCAU_HTTP_PORT,
    workers: env.DIEMCAU_WORKERS,
    webRtcBasePort: env.DIEMCAU_WEBRTC_PORT,
    rtcMinPort: env.DIEMCAU_RTC_MIN_PORT,
    rtcMaxPort: env.DIEMCAU_RTC_MAX_PORT,
    logLevel: env.DIEMCAU_LOG_LEVEL,
    redisUrl: env.REDIS_URL,
    store: env.DIEMCAU_STORE,
    dataDir: env.DIEMCAU_DATA_DIR,
    conferenceId: env.DIEMCAU_CONFERENCE_ID,
    publicUrl: env.DIEMCAU_PUBLIC_URL,
    controlUrls: env.DIEMCAU_CONTROL_URLS ? env.DIEMCAU_CONTROL_URLS.split(/[\s,]+/).filter(Boolean).map((u) => u.replace(/\/+$/, '')) : undefined,
    pressFeed: env.DIEMCAU_PRESS_FEED,
    recordingsDir: env.DIEMCAU_RECORDINGS_DIR,
    // The variable keeps its first name (deployments set it); the feed was called the programme.
    feedPreset: env.DIEMCAU_PROGRAMME_PRESET,
    role: env.DIEMCAU_ROLE,
    nodeId: env.DIEMCAU_NODE_ID,
    nodeSecret: env.DIEMCAU_NODE_SECRET,
    nodeLabels: env.DIEMCAU_NODE_LABELS,
    nodeCapacity: env.DIEMCAU_NODE_CAPACITY,
    mediaUrl: env.DIEMCAU_MEDIA_URL,
    nodeApiUrl: env.DIEMCAU_NODE_API_URL,
    turnUrls: env.DIEMCAU_TURN_URLS,
    turnSecret: env.DIEMCAU_TURN_SECRET,
    turnTtlSec: env.DIEMCAU_TURN_TTL,
    turnPolicy: env.DIEMCAU_TURN_POLICY,
    coturn: env.DIEMCAU_COTURN,
    turnPort: env.DIEMCAU_TURN_PORT,
    turnTlsPort: env.DIEMCAU_TURN_TLS_PORT,
    turnCert: env.DIEMCAU_TURN_CERT,
    turnKey: env.DIEMCAU_TURN_KEY,
    turnHost: env.DIEMCAU_TURN_HOST,
    trustedProxies: env.DIEMCAU_TRUSTED_PROXIES,
    maxConnectionsPerAddress: env.DIEMCAU_MAX_CONNECTIONS_PER_ADDRESS,
  };
  const cleaned = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined && v !== ''));
  const result = ConfigSchema.safeParse({ ...cleaned, ...overrides });
  if (!result.success) {
    const fields = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${fields}`);
  }
  if (result.data.rtcMinPort > result.data.rtcMaxPort) throw new Error('invalid configuration: rtcMinPort > rtcMaxPort');
  const c = result.data;
  if (c.role !== 'both' && !c.redisUrl) throw new Error(`invalid configuration: role: ${c.role} needs REDIS_URL (the roles share the state in redis)`);
  if (c.role === 'media' && !c.nodeSecret) throw new Error('invalid configuration: nodeSecret: a media node needs DIEMCAU_NODE_SECRET (node-to-node requests are signed with it)');
  if (c.turnUrls && !c.turnSecret && !c.coturn) throw new Error('invalid configuration: turnUrls: needs turnSecret (DIEMCAU_TURN_SECRET), the secret the TURN server shares');
  if (c.turnSecret && !c.turnUrls && !c.coturn) throw new Error('invalid configuration: turnSecret: needs turnUrls (DIEMCAU_TURN_URLS) or the embedded coturn (DIEMCAU_COTURN=1)');
  if (!c.turnCert !== !c.turnKey) throw new Error('invalid configuration: turnCert and turnKey go together');
  if (c.coturn && c.turnPort === c.turnTlsPort) throw new Error('invalid configuration: turnTlsPort: must differ from turnPort');
  return result.data;
}

/** The announced IP to use: configured, else loopback when bound to loopback, else the first external IPv4. */
export function resolveAnnouncedIp(config: Config): string {
  if (config.announcedIp) return config.announcedIp;
  if (config.listenIp !== '0.0.0.0' && config.listenIp !== '::') return config.listenIp;
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
