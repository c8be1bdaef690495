import os from 'node:os';
import { z } from 'zod';

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
  /** Where the conference state lives: redis when set, in memory otherwise. */
  redisUrl: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional(),
  /** Identifier of the conference (keys in redis, tokens). */
  conferenceId: z.string().regex(/^[a-z0-9-]{1,64}$/).default('langson-2021'),
  /** Public base URL printed in invite links (default: the listening address). */
  publicUrl: z.string().url().optional(),
  /**
   * Every control instance of the deployment (http(s)://host:port, no path), handed to the apps:
   * when the one they talk to goes away they go on with the next, sockets and REST alike. Empty:
   * the apps talk to the origin they were loaded from.
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
    conferenceId: env.DIEMCAU_CONFERENCE_ID,
    publicUrl: env.DIEMCAU_PUBLIC_URL,
    controlUrls: env.DIEMCAU_CONTROL_URLS ? env.DIEMCAU_CONTROL_URLS.split(/[\s,]+/).filter(Boolean).map((u) => u.replace(/\/+$/, '')) : undefined,
    pressFeed: env.DIEMCAU_PRESS_FEED,
    recordingsDir: env.DIEMCAU_RECORDINGS_DIR,
    // The variable keeps its first name (deployments set it); the feed was called the programme.
    feedPreset: env.DIEMCAU_PROGRAMME_PRESET,
  };
  const cleaned = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined && v !== ''));
  const result = ConfigSchema.safeParse({ ...cleaned, ...overrides });
  if (!result.success) {
    const fields = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${fields}`);
  }
  if (result.data.rtcMinPort > result.data.rtcMaxPort) throw new Error('invalid configuration: rtcMinPort > rtcMaxPort');
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
