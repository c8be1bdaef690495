// A media node known dead before its lease ends (issue 13, server/core/node-death.ts), with real
// processes: redis, a control instance (the `control` role, in this process: its placement and its
// lifelines to the nodes) and media node processes (the `media` role).
//   - SIGKILL: the node's kernel closes the control plane's lifeline at once and its port refuses;
//     its halls are placed on the other nodes well before its lease could have ended.
//   - A lifeline that breaks while the node lives (cut at a TCP relay in between): the node still
//     answers as the same incarnation, so the lifeline is held again and the node is never dropped.
//   - A network cut (the node's host in a network namespace, its link taken down): nothing closes,
//     nothing answers; only the lease ends the node, when it runs out.
import net from 'node:net';
import { expect } from 'chai';
import { loadConfig } from '../../config/index.ts';
import { defaultPlan } from '../../config/default-plan.ts';
import { startServer, type RunningServer } from '../../server/app/server.ts';
import { NODE_LEASE_MS, NODE_RENEW_MS } from '../../server/app/media-node/NodeLease.ts';
import { NODE_POLL_MS, RedisNodeRegistry } from '../../server/store/index.ts';
import { MediaNodeProcess } from '../helpers/media-nodes.ts';
import { createNetRig, netRigSkipReason, startServerIn, type NetRig } from '../helpers/netns.ts';
import { startRedisServer, type RedisServer } from './store/redis-server.ts';
import { waitFor } from './media-fixture.ts';

const SECRET = 'a-test-secret-of-at-least-32-characters!';
/** The earliest a killed node's lease can end: its last renewal was at most NODE_RENEW_MS before the kill. */
const EARLIEST_LEASE_END_MS = NODE_LEASE_MS - NODE_RENEW_MS;

/** A TCP relay whose upstream is set later (the node's port is known once it runs) and whose connections can all be cut. */
class TcpRelay {
  readonly #server = net.createServer((client) => this.#accept(client));
  readonly #sockets = new Set<net.Socket>();
  upstream: { host: string; port: number } | null = null;
  /** Connections relayed so far. */
  accepted = 0;

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return (this.#server.address() as net.AddressInfo).port;
  }

  /** Cuts every relayed connection (both ends see it close); new ones are relayed again. */
  cutAll(): void {
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    if (!this.upstream) return void client.destroy();
    this.accepted++;
    const up = net.connect(this.upstream);
    for (const s of [client, up]) {
      this.#sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => {
        this.#sockets.delete(s);
        client.destroy();
        up.destroy();
      });
    }
    client.pipe(up);
    up.pipe(client);
  }
}

/** Asks the control plane where each bridge's media goes (placing them); the bridges placed on a node. */
async function placeAll(control: RunningServer): Promise<Map<string, string>> {
  const placement = control.conference.placement;
  const at = new Map<string, string>();
  for (const b of control.plan.bridges) {
    const where = await placement.where(b.id);
    if (where) at.set(b.id, where.nodeId);
  }
  return at;
}

describe('A media node known dead before its lease: the control plane\'s lifelines (real processes on loopback)', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let control: RunningServer;
  let relay: TcpRelay;
  const nodes: MediaNodeProcess[] = [];
  const CONFERENCE = 'death-test';

  before(async () => {
    redis = await startRedisServer();
    control = await startServer(loadConfig({}, { role: 'control', redisUrl: redis.url, conferenceId: CONFERENCE, listenIp: '127.0.0.1', httpPort: 0, logLevel: 'error', nodeSecret: SECRET }), defaultPlan());
    relay = new TcpRelay();
    const relayPort = await relay.listen();
    for (const id of ['node1', 'node2']) nodes.push(await MediaNodeProcess.start({ nodeId: id, redisUrl: redis.url, secret: SECRET, conferenceId: CONFERENCE }));
    // node3's API is announced at the relay: what the control plane holds to it passes there.
    nodes.push(await MediaNodeProcess.start({ nodeId: 'node3', redisUrl: redis.url, secret: SECRET, conferenceId: CONFERENCE, env: { DIEMCAU_NODE_API_URL: `http://127.0.0.1:${relayPort}` } }));
    relay.upstream = { host: '127.0.0.1', port: Number(new URL(nodes[2]!.url).port) };
    const started = await control.conference.execute({ role: 'chair' }, { type: 'start_meeting' });
    expect(started.ok, JSON.stringify(started)).to.equal(true);
    await waitFor('the control instance sees the 3 nodes', async () => control.conference.placement.nodes().filter((n) => n.alive).length === 3, 15_000, 50);
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    await relay?.close();
    await control?.close();
    await redis?.stop();
  });

  it('a lifeline that breaks while its node lives is held again, and the node is never dropped', async () => {
    const lifelines = control.lifelines;
    await waitFor('the control instance holds a lifeline to node3 through the relay', async () => (lifelines?.held() ?? []).includes('node3'), 10_000, 50);
    const relayedBefore = relay.accepted;
    const placement = control.conference.placement;
    let dropped = 0;
    const counting = (): void => {
      if (!placement.nodes().find((n) => n.nodeId === 'node3')?.alive) dropped++;
    };
    placement.on('changed', counting);
    try {
      const cutAt = Date.now();
      relay.cutAll();
      await waitFor('the lifeline to node3 held again', async () => relay.accepted > relayedBefore && (lifelines?.held() ?? []).includes('node3'), 3000, 20);
      const heldAgainMs = Date.now() - cutAt;
      // Longer than a lease: a node taken for dead would have been dropped by now, and would be back only at its next renewal.
      await new Promise((r) => setTimeout(r, NODE_LEASE_MS + 1000));
      expect(dropped, `node3 seen not alive ${dropped} times after its lifeline broke (held again after ${heldAgainMs} ms)`).to.equal(0);
      expect(lifelines!.deaths.map((d) => d.nodeId), 'lease ends by a lifeline').to.deep.equal([]);
      expect(placement.nodes().find((n) => n.nodeId === 'node3')?.alive).to.equal(true);
    } finally {
      placement.off('changed', counting);
    }
  });

  it('SIGKILL: the node\'s halls are placed on the other nodes well before its lease could have ended', async () => {
    const at = await placeAll(control);
    const onVictim = [...at].filter(([, n]) => n === 'node2').map(([b]) => b);
    expect(onVictim.length, `bridges placed on node2 (placed: ${[...new Set(at.values())].join(', ')})`).to.be.greaterThan(0);
    await waitFor('the control instance holds a lifeline to node2', async () => (control.lifelines?.held() ?? []).includes('node2'), 10_000, 50);
    const placement = control.conference.placement;
    const killedAt = Date.now();
    await nodes[1]!.kill('SIGKILL');
    await waitFor('every hall of node2 placed elsewhere', async () => onVictim.every((b) => placement.nodeOf(b) !== 'node2'), NODE_LEASE_MS + 3000, 10);
    const tookMs = Date.now() - killedAt;
    expect(
      tookMs,
      `node2's ${onVictim.length} halls placed elsewhere ${tookMs} ms after its SIGKILL; its lease (${NODE_LEASE_MS} ms, renewed every ${NODE_RENEW_MS} ms) could end ${EARLIEST_LEASE_END_MS} ms after at the earliest`,
    ).to.be.below(EARLIEST_LEASE_END_MS / 2);
    const death = control.lifelines!.deaths.find((d) => d.nodeId === 'node2');
    expect(death, 'the lifelines ended node2\'s lease').to.not.equal(undefined);
    expect(death!.why).to.include('refuses');
    for (const b of onVictim) expect(placement.nodeOf(b), b).to.be.oneOf(['node1', 'node3']);
  });

  it('a late renewal of a dead run (sent by its kernel once its link was back) is ended at once, not after its lease', async () => {
    const registry = await RedisNodeRegistry.create({ url: redis.url });
    try {
      const record = (await registry.liveNodes()).find((n) => n.nodeId === 'node1')!;
      expect(record?.incarnation, 'node1 live with an incarnation').to.be.a('string');
      await waitFor('the control instance holds a lifeline to node1', async () => (control.lifelines?.held() ?? []).includes('node1'), 10_000, 50);
      await nodes[0]!.kill('SIGKILL');
      await waitFor('node1 dead', async () => !(await registry.liveNodes()).some((n) => n.nodeId === 'node1'), NODE_LEASE_MS + 3000, 20);
      const lateAt = Date.now();
      await registry.announce({ ...record, renewedAt: Date.now() }, 10_000);
      await waitFor('the late renewal ended', async () => !(await registry.liveNodes()).some((n) => n.nodeId === 'node1'), 10_000, 20);
      const tookMs = Date.now() - lateAt;
      expect(tookMs, `node1's dead run announced again (for 10 s) was ended after ${tookMs} ms`).to.be.below(EARLIEST_LEASE_END_MS / 2);
    } finally {
      await registry.close();
    }
  });
});

describe('A media node whose host\'s network is cut: only its lease ends it (network namespaces)', function () {
  this.timeout(120_000);
  let rig: NetRig | undefined;
  let redis: RedisServer | undefined;
  let control: RunningServer | undefined;
  const CONFERENCE = 'cut-test';

  before(async function () {
    const skip = netRigSkipReason();
    if (skip) return this.skip();
    rig = await createNetRig();
    redis = await startRedisServer({ host: rig.rootIp });
    control = await startServer(loadConfig({}, { role: 'control', redisUrl: redis.url, conferenceId: CONFERENCE, listenIp: rig.rootIp, httpPort: 0, logLevel: 'error', nodeSecret: SECRET }), defaultPlan());
    // Each takes the whole meeting: one can take the other's halls.
    for (const name of ['a', 'b']) {
      const host = await rig.addHost(`host${name}`);
      await startServerIn(host, { DIEMCAU_ROLE: 'media', REDIS_URL: redis.url, DIEMCAU_NODE_SECRET: SECRET, DIEMCAU_NODE_ID: `node-${name}`, DIEMCAU_CONFERENCE_ID: CONFERENCE, DIEMCAU_LOG_LEVEL: 'error', DIEMCAU_CONTROL_URLS: control.url, DIEMCAU_NODE_CAPACITY: '400' });
    }
    const started = await control.conference.execute({ role: 'chair' }, { type: 'start_meeting' });
    expect(started.ok, JSON.stringify(started)).to.equal(true);
    await waitFor('the control instance sees the 2 nodes', async () => control!.conference.placement.nodes().filter((n) => n.alive).length === 2, 15_000, 50);
  });

  after(async () => {
    await control?.close();
    await rig?.close();
    await redis?.stop();
  });

  it('its lifeline held, the host cut off: its halls move when its lease ends, not before, and no lifeline ended it', async () => {
    const c = control!;
    const at = await placeAll(c);
    const onVictim = [...at].filter(([, n]) => n === 'node-b').map(([b]) => b);
    expect(onVictim.length, `bridges placed on node-b (placed: ${[...new Set(at.values())].join(', ')})`).to.be.greaterThan(0);
    await waitFor('the control instance holds a lifeline to node-b', async () => (c.lifelines?.held() ?? []).includes('node-b'), 10_000, 50);
    const placement = c.conference.placement;
    const cutAt = Date.now();
    await rig!.host('hostb').setLink(false);
    await waitFor('every hall of node-b placed elsewhere', async () => onVictim.every((b) => placement.nodeOf(b) !== 'node-b'), NODE_LEASE_MS + 5000, 10);
    const tookMs = Date.now() - cutAt;
    // The lease ends EARLIEST_LEASE_END_MS..NODE_LEASE_MS after the cut; the control instance hears it within a poll.
    expect(tookMs, `node-b's halls moved ${tookMs} ms after its link went down (lease ${NODE_LEASE_MS} ms, renewed every ${NODE_RENEW_MS} ms)`).to.be.within(EARLIEST_LEASE_END_MS - 100, NODE_LEASE_MS + NODE_POLL_MS + 1500);
    expect(c.lifelines!.deaths.map((d) => d.nodeId), 'lease ends by a lifeline').to.deep.equal([]);
    await rig!.host('hostb').setLink(true);
  });
});
