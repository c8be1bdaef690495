import type { types as msc } from 'mediasoup-client';
import type { MediaReplies } from '../../server/protocol/media.ts';

/**
 * A transport's options from the server's answer: its ICE servers (TURN with this hall's
 * credentials) when the server gives them, and the relay-only policy only when it asks for it.
 */
export function transportOptions(params: MediaReplies['media:createTransport']): msc.TransportOptions {
  const { iceServers, iceTransportPolicy, ...transport } = params;
  const servers = Array.isArray(iceServers)
    ? iceServers.filter((s) => Array.isArray(s?.urls) && s.urls.every((u) => typeof u === 'string' && /^(turns?|stun):/.test(u)))
    : [];
  return {
    ...(transport as unknown as msc.TransportOptions),
    iceServers: servers,
    iceTransportPolicy: iceTransportPolicy === 'relay' && servers.length > 0 ? 'relay' : 'all',
  };
}
