import dgram from 'node:dgram';

/** How a relay spoils the link. */
export interface Impairment {
  /** Share of packets dropped, each way (0–1). */
  loss: number;
  /** Added one-way delay, ms. */
  delayMs: number;
}

/** A UDP relay on loopback between one client (the first that sends) and a target, impairing both ways. */
export interface UdpRelay {
  readonly port: number;
  impair(impairment: Impairment): void;
  readonly counts: { forwarded: number; dropped: number };
  close(): Promise<void>;
}

/**
 * This machine has no netem: this is the impaired link, in user space. The client talks to
 * `port`; the relay forwards to the target from its own socket and back, dropping a share of the
 * packets and delaying the rest.
 */
export async function startUdpRelay(target: { host: string; port: number }): Promise<UdpRelay> {
  const front = dgram.createSocket('udp4');
  const back = dgram.createSocket('udp4');
  let client: { address: string; port: number } | undefined;
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
  front.on('message', (msg, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    pass(() => back.send(msg, target.port, target.host));
  });
  back.on('message', (msg) => {
    const to = client;
    if (to) pass(() => front.send(msg, to.port, to.address));
  });
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', () => resolve()));
  await new Promise<void>((resolve) => back.bind(0, '127.0.0.1', () => resolve()));
  return {
    port: front.address().port,
    impair(next) {
      impairment = next;
    },
    counts,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([new Promise<void>((r) => front.close(() => r())), new Promise<void>((r) => back.close(() => r()))]);
    },
  };
}
