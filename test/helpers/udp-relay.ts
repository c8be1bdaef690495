import dgram from 'node:dgram';

/** How a relay spoils the link. */
export interface Impairment {
  /** Share of packets dropped, each way (0–1). */
  loss: number;
  /** Added one-way delay, ms. */
  delayMs: number;
}

/** A UDP relay in front of a target, impairing both ways. */
export interface UdpRelay {
  readonly port: number;
  impair(impairment: Impairment): void;
  readonly counts: { forwarded: number; dropped: number };
  close(): Promise<void>;
}

/** Where the relay listens and sends from. */
export interface UdpRelayOptions {
  /** Address clients send to (default loopback; the network rig's `rootIp` for hosts in namespaces). */
  listenIp?: string;
  /** Address the relay's sockets towards the target bind to (default: `listenIp`). */
  backIp?: string;
}

/**
 * This machine has no netem: this is the impaired link, in user space. Clients talk to `port`;
 * each client address gets its own socket towards the target (a hall's send and receive
 * transports come from two ports and must stay two tuples at the SFU), and every packet is
 * dropped with the set probability or forwarded after the set delay, both ways.
 */
export async function startUdpRelay(target: { host: string; port: number }, options: UdpRelayOptions = {}): Promise<UdpRelay> {
  const listenIp = options.listenIp ?? '127.0.0.1';
  const backIp = options.backIp ?? listenIp;
  const front = dgram.createSocket('udp4');
  const backs = new Map<string, dgram.Socket>();
  let impairment: Impairment = { loss: 0, delayMs: 0 };
  const counts = { forwarded: 0, dropped: 0 };
  let closed = false;
  const pass = (send: () => void): void => {
    if (closed) return;
    if (Math.random() < impairment.loss) {
      counts.dropped++;
      return;
    }
    counts.forwarded++;
    if (impairment.delayMs > 0) setTimeout(() => !closed && send(), impairment.delayMs);
    else send();
  };
  front.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let back = backs.get(key);
    if (!back) {
      const socket = dgram.createSocket('udp4');
      socket.on('message', (reply) => pass(() => front.send(reply, from.port, from.address)));
      socket.bind(0, backIp);
      backs.set(key, (back = socket));
    }
    const via = back;
    pass(() => via.send(msg, target.port, target.host));
  });
  await new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.bind(0, listenIp, () => resolve());
  });
  return {
    port: front.address().port,
    impair(next) {
      impairment = next;
    },
    counts,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([front, ...backs.values()].map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
