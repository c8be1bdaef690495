// What every redis-backed store shares: connecting (give up early on the first connection, retry
// for ever after), Lua scripts called by their digest with a fallback to their source, a second
// connection in subscriber mode, and an orderly quit.
import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import { StoreError } from '../errors.ts';

export type RedisClient = ReturnType<typeof createClient>;

/** A Lua script and its SHA-1 (EVALSHA first, EVAL when the server does not know it yet). */
export class Script {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script on this connection. */
  async run(client: RedisClient, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await client.evalSha(this.sha, { keys, arguments: args });
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return await client.eval(this.source, { keys, arguments: args });
    }
  }
}

/** Options of a redis connection. */
export interface RedisConnectionOptions {
  /** redis://host:port[/db] */
  url: string;
  /** Connection errors (the client reconnects by itself). */
  onError: (error: Error) => void;
}

/** Connects to redis; rejects with StoreError 'unavailable' when it cannot be reached. */
export async function connectRedis(options: RedisConnectionOptions): Promise<RedisClient> {
  let connected = false;
  const client = createClient({
    url: options.url,
    socket: {
      connectTimeout: 5000,
      // Until the first connection, give up after a few tries so that the caller hears of it; later, retry for ever.
      reconnectStrategy: (retries: number, cause: Error) => (connected ? Math.min(50 * 2 ** retries, 2000) : retries < 3 ? 100 * (retries + 1) : cause),
    },
  });
  client.on('error', (error: Error) => options.onError(error));
  try {
    await client.connect();
    connected = true;
  } catch (error) {
    if (client.isOpen) client.destroy();
    throw new StoreError('unavailable', `cannot reach redis [url:${redactUrl(options.url)}]`, { cause: error });
  }
  return client;
}

/** A listener of a channel: its messages, and a resync after the connection came back (messages published meanwhile are lost). */
export interface ChannelListener {
  message(text: string): void;
  resync?(): void;
}

/**
 * A second connection in subscriber mode, made on first use: one SUBSCRIBE per channel however
 * many listeners it has, UNSUBSCRIBE when its last one leaves.
 */
export class Subscriber {
  readonly #client: RedisClient;
  readonly #onError: (error: Error) => void;
  readonly #channels = new Map<string, Set<ChannelListener>>();
  #ready: Promise<RedisClient> | null = null;
  #connection: RedisClient | null = null;
  #closed = false;

  constructor(client: RedisClient, onError: (error: Error) => void) {
    this.#client = client;
    this.#onError = onError;
  }

  /** Listens to a channel until the returned close() (idempotent). */
  async listen(channel: string, listener: ChannelListener): Promise<{ close(): Promise<void> }> {
    let set = this.#channels.get(channel);
    if (!set) {
      const connection = await this.#connect();
      set = this.#channels.get(channel);
      if (!set) {
        const listeners = new Set<ChannelListener>();
        this.#channels.set(channel, listeners);
        set = listeners;
        await connection.subscribe(channel, (text: string) => {
          for (const l of [...listeners]) l.message(text);
        });
      }
    }
    set.add(listener);
    const listeners = set;
    let closed = false;
    return {
      close: async () => {
        if (closed) return;
        closed = true;
        listeners.delete(listener);
        if (listeners.size > 0 || this.#channels.get(channel) !== listeners) return;
        this.#channels.delete(channel);
        if (!this.#closed && this.#connection?.isOpen) await this.#connection.unsubscribe(channel).catch(() => {});
      },
    };
  }

  /** Closes the connection and forgets every listener; idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
    const connection = this.#connection;
    this.#connection = null;
    if (connection) await quit(connection);
  }

  // Connected on first use; a failed connection is tried again by the next caller.
  #connect(): Promise<RedisClient> {
    this.#ready ??= (async () => {
      const subscriber = this.#client.duplicate();
      subscriber.on('error', this.#onError);
      let connected = false;
      subscriber.on('ready', () => {
        if (!connected) return;
        for (const set of this.#channels.values()) for (const l of [...set]) l.resync?.();
      });
      await subscriber.connect();
      connected = true;
      if (this.#closed) {
        await quit(subscriber);
        throw new StoreError('closed', 'store closed');
      }
      this.#connection = subscriber;
      return subscriber;
    })();
    this.#ready.catch(() => (this.#ready = null));
    return this.#ready;
  }
}

/** Closes a connection, destroying it when an orderly quit fails. */
export async function quit(client: RedisClient): Promise<void> {
  try {
    if (client.isOpen) await client.close();
    else client.destroy();
  } catch {
    client.destroy();
  }
}

/** A redis URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
