// What every redis-backed store shares: connecting (give up early at start, retry for ever once
// connected), one subscriber connection serving many channels (told to resync after a
// reconnection, since announcements published while it was down are lost), quitting, and the
// Lua scripts run by their SHA with a fallback to their source.
import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import { StoreError } from '../errors.ts';

export type RedisClient = ReturnType<typeof createClient>;

/** Connects to redis; rejects (StoreError 'unavailable') when it cannot be reached at first. */
export async function connectRedis(url: string, onError: (error: Error) => void): Promise<RedisClient> {
  let connected = false;
  const client = createClient({
    url,
    socket: {
      connectTimeout: 5000,
      // Until the first connection, give up after a few tries so that the caller fails; later, retry for ever.
      reconnectStrategy: (retries: number, cause: Error) => (connected ? Math.min(50 * 2 ** retries, 2000) : retries < 3 ? 100 * (retries + 1) : cause),
    },
  });
  client.on('error', onError);
  try {
    await client.connect();
    connected = true;
  } catch (error) {
    if (client.isOpen) client.destroy();
    throw new StoreError('unavailable', `cannot reach redis [url:${redactUrl(url)}]`, { cause: error });
  }
  return client;
}

/** Closes a connection, politely if it is open. */
export async function quit(client: RedisClient): Promise<void> {
  try {
    if (client.isOpen) await client.close();
    else client.destroy();
  } catch {
    client.destroy();
  }
}

/** JSON from redis, or null when it does not parse (a corrupt entry counts as none). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** A redis URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** A Lua script with its SHA. */
export class Script {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script by its SHA, loading it when redis does not know it yet. */
  async run(client: RedisClient, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await client.evalSha(this.sha, { keys, arguments: args });
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return await client.eval(this.source, { keys, arguments: args });
    }
  }
}

/**
 * Handlers of one channel: its messages, a resync when messages may have been lost, and (if the
 * listener cares) a doubt while the connection is down and messages cannot arrive.
 */
interface ChannelListener {
  message: (message: string) => void;
  resync: () => void;
  doubt?: () => void;
}

/** One subscriber connection for many channels, each with many listeners. */
export class RedisChannels {
  readonly #client: RedisClient;
  readonly #onError: (error: Error) => void;
  readonly #listeners = new Map<string, Set<ChannelListener>>();
  #subscriber: RedisClient | null = null;
  #ready: Promise<RedisClient> | null = null;
  #closed = false;

  constructor(client: RedisClient, onError: (error: Error) => void) {
    this.#client = client;
    this.#onError = onError;
  }

  /** Listens to a channel; the returned close() is idempotent. */
  async listen(channel: string, listener: ChannelListener): Promise<{ close(): Promise<void> }> {
    const subscriber = await this.#subscriberClient();
    let set = this.#listeners.get(channel);
    if (!set) {
      set = new Set();
      this.#listeners.set(channel, set);
      const listeners = set;
      await subscriber.subscribe(channel, (message: string) => {
        for (const l of [...listeners]) l.message(message);
      });
    }
    set.add(listener);
    let closed = false;
    return {
      close: async () => {
        if (closed) return;
        closed = true;
        set.delete(listener);
        if (set.size > 0 || this.#listeners.get(channel) !== set) return;
        this.#listeners.delete(channel);
        if (!this.#closed && this.#subscriber?.isOpen) await this.#subscriber.unsubscribe(channel).catch(() => {});
      },
    };
  }

  /** Closes the subscriber connection; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    const subscriber = this.#subscriber;
    this.#subscriber = null;
    if (subscriber) await quit(subscriber);
  }

  #subscriberClient(): Promise<RedisClient> {
    if (this.#closed) return Promise.reject(new StoreError('closed', 'store closed'));
    this.#ready ??= (async () => {
      const subscriber = this.#client.duplicate();
      subscriber.on('error', (error: Error) => this.#onError(error));
      let connected = false;
      // Messages published while the connection was down are lost: every listener reloads.
      subscriber.on('ready', () => {
        if (!connected) return;
        for (const set of this.#listeners.values()) for (const l of [...set]) l.resync();
      });
      subscriber.on('reconnecting', () => {
        for (const set of this.#listeners.values()) for (const l of [...set]) l.doubt?.();
      });
      await subscriber.connect();
      connected = true;
      if (this.#closed) {
        await quit(subscriber);
        throw new StoreError('closed', 'store closed');
      }
      this.#subscriber = subscriber;
      return subscriber;
    })();
    // A failed connection is tried again by the next listen.
    this.#ready.catch(() => (this.#ready = null));
    return this.#ready;
  }
}

/** Options every redis-backed store takes. */
export interface RedisResourceOptions {
  /** redis://host:port[/db] */
  url: string;
  /** First part of every key and channel (default 'diemcau'). */
  prefix?: string;
  /** Connection errors (the client reconnects by itself); ignored by default. */
  onError?: (error: Error) => void;
}

/** A redis-backed store of one concern: its connection, its channels (one subscriber connection, made on first use), its key prefix; closed once. */
export abstract class RedisResource {
  protected readonly client: RedisClient;
  protected readonly channels: RedisChannels;
  protected readonly prefix: string;
  #closed = false;

  protected constructor(client: RedisClient, options: Omit<RedisResourceOptions, 'url'>) {
    this.client = client;
    this.prefix = options.prefix ?? 'diemcau';
    this.channels = new RedisChannels(client, options.onError ?? (() => {}));
  }

  /** Connects for a subclass's create(). */
  protected static connect(options: RedisResourceOptions): Promise<RedisClient> {
    const onError = options.onError ?? (() => {});
    return connectRedis(options.url, (e) => onError(e));
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the connections; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.closing();
    await Promise.all([this.channels.close(), quit(this.client)]);
  }

  /** What a subclass stops before the connections close. */
  protected async closing(): Promise<void> {}

  /** Throws StoreError 'closed' after close(). */
  protected assertOpen(): void {
    if (this.#closed) throw new StoreError('closed', 'store closed');
  }
}
