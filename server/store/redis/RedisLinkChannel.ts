// Link samples from the media nodes to the control plane over redis pub/sub (issue 13):
//   diemcau:{<id>}:links   one JSON LinkSampleMessage per node every 2 s
// A message that does not parse is dropped (a node of another version must not break the health).
import { LinkSampleMessage } from '../../protocol/cluster.ts';
import { checkConferenceId, StoreError } from '../errors.ts';
import type { LinkChannel, LinkWatch } from '../LinkChannel.ts';
import type { StoreResource } from '../Stores.ts';
import { connectRedis, parseJson, quit, RedisChannels, type RedisClient } from './connection.ts';

/** Options of a RedisLinkChannel. */
export interface RedisLinkChannelOptions {
  url: string;
  prefix?: string;
  onError?: (error: Error) => void;
}

/** Link samples over redis pub/sub. */
export class RedisLinkChannel implements LinkChannel, StoreResource {
  readonly #client: RedisClient;
  readonly #channels: RedisChannels;
  readonly #prefix: string;
  #closed = false;

  private constructor(client: RedisClient, options: RedisLinkChannelOptions) {
    this.#client = client;
    this.#prefix = options.prefix ?? 'diemcau';
    this.#channels = new RedisChannels(client, options.onError ?? (() => {}));
  }

  /** Connects to redis; rejects when it cannot be reached. */
  static async create(options: RedisLinkChannelOptions): Promise<RedisLinkChannel> {
    const onError = options.onError ?? (() => {});
    return new RedisLinkChannel(await connectRedis(options.url, (e) => onError(e)), options);
  }

  get closed(): boolean {
    return this.#closed;
  }

  async publishLinks(conferenceId: string, message: LinkSampleMessage): Promise<void> {
    await this.#client.publish(this.#channel(conferenceId), JSON.stringify(message));
  }

  async watchLinks(conferenceId: string, listener: (message: LinkSampleMessage) => void): Promise<LinkWatch> {
    return this.#channels.listen(this.#channel(conferenceId), {
      message: (text) => {
        const message = LinkSampleMessage.safeParse(parseJson(text));
        if (message.success) listener(message.data);
      },
      // Samples are not replayed: the next one comes within 2 s.
      resync: () => undefined,
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#channels.close(), quit(this.#client)]);
  }

  #channel(conferenceId: string): string {
    if (this.#closed) throw new StoreError('closed', 'store closed');
    checkConferenceId(conferenceId);
    return `${this.#prefix}:{${conferenceId}}:links`;
  }
}
