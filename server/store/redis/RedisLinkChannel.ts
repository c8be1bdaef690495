// Link samples from the media nodes to the control plane over redis pub/sub (issue 13):
//   diemcau:{<id>}:links   one JSON LinkSampleMessage per node every 2 s
// A message that does not parse is dropped (a node of another version must not break the health).
import { LinkSampleMessage } from '../../protocol/cluster.ts';
import { checkConferenceId } from '../errors.ts';
import type { LinkChannel, LinkWatch } from '../LinkChannel.ts';
import type { StoreResource } from '../Stores.ts';
import { parseJson, RedisResource, type RedisResourceOptions } from './connection.ts';

/** Link samples over redis pub/sub. */
export class RedisLinkChannel extends RedisResource implements LinkChannel, StoreResource {
  /** Connects to redis; rejects when it cannot be reached. */
  static async create(options: RedisResourceOptions): Promise<RedisLinkChannel> {
    return new RedisLinkChannel(await RedisResource.connect(options), options);
  }

  async publishLinks(conferenceId: string, message: LinkSampleMessage): Promise<void> {
    await this.client.publish(this.#channel(conferenceId), JSON.stringify(message));
  }

  async watchLinks(conferenceId: string, listener: (message: LinkSampleMessage) => void): Promise<LinkWatch> {
    return this.channels.listen(this.#channel(conferenceId), {
      message: (text) => {
        const message = LinkSampleMessage.safeParse(parseJson(text));
        if (message.success) listener(message.data);
      },
      // Samples are not replayed: the next one comes within 2 s.
      resync: () => undefined,
    });
  }

  #channel(conferenceId: string): string {
    this.assertOpen();
    checkConferenceId(conferenceId);
    return `${this.prefix}:{${conferenceId}}:links`;
  }
}
