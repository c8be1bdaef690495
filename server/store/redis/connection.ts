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

/**
 * A second connection in subscriber mode, made on first use. `onReconnect` runs when it comes
 * back after a loss (announcements published meanwhile are lost: listeners must reload).
 */
export class Subscriber {
  readonly #client: RedisClient;
  readonly #onError: (error: Error) => void;
  readonly #onReconnect: () => void;
  #ready: Promise<RedisClient> | null = null;
  #connection: RedisClient | null = null;
  #closed = false;

  constructor(client: RedisClient, onError: (error: Error) => void, onReconnect: () => void) {
    this.#client = client;
    this.#onError = onError;
    this.#onReconnect = onReconnect;
  }

  /** The open connection, or null before the first use and after close(). */
  get connection(): RedisClient | null {
    return this.#connection?.isOpen ? this.#connection : null;
  }

  /** The connection, connected on first use (a failed one is tried again by the next call). */
  get(): Promise<RedisClient> {
    this.#ready ??= (async () => {
      const subscriber = this.#client.duplicate();
      subscriber.on('error', this.#onError);
      let connected = false;
      subscriber.on('ready', () => {
        if (connected) this.#onReconnect();
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

  /** Closes the connection; idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const connection = this.#connection;
    this.#connection = null;
    if (connection) await quit(connection);
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
