import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { startUdpRelay } from '../helpers/udp-relay.ts';
import { createNetRig, netRigSkipReason, ownerPidOf, run, startServerIn, type NetHost, type NetRig } from '../helpers/netns.ts';

const PROBE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../helpers/net-probe.mjs');

interface SinkTotals {
  /** The sink's clock when it printed these totals. */
  at: number;
  udpBytes: number;
  udpPackets: number;
  tcpConnections: number;
}

interface Sink {
  /** Every line the sink printed, oldest first. */
  history: SinkTotals[];
  totals: () => SinkTotals;
  child: ChildProcess;
}

/** A probe sink inside a host: its totals every 50 ms, read from its JSON lines. */
async function startSink(host: NetHost, port: number): Promise<Sink> {
  const child = host.spawn(process.execPath, [PROBE, 'sink', host.ip, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const history: SinkTotals[] = [];
  let buffered = '';
  let ready: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffered.slice(0, nl)) as SinkTotals & { ready?: boolean };
      buffered = buffered.slice(nl + 1);
      if (line.ready) ready();
      else history.push(line);
    }
  });
  await isReady;
  return { history, totals: () => history.at(-1) ?? { at: 0, udpBytes: 0, udpPackets: 0, tcpConnections: 0 }, child };
}

/** Runs the probe once in a host and returns its JSON answer. */
async function probe(host: NetHost, ...args: string[]): Promise<Record<string, unknown>> {
  return JSON.parse((await host.exec(process.execPath, [PROBE, ...args])).trim().split('\n').pop()!) as Record<string, unknown>;
}

/**
 * kbit/s that reached the sink while `from` blasted it at `kbps` for `ms`, in the steady state and
 * on the sink's own clock: from 400 ms after the first packet arrived (tbf's bucket is empty by
 * then) to the last arrival. A loaded machine delays the processes, not this measure.
 */
async function measureKbps(from: NetHost, sink: Sink, toIp: string, port: number, kbps: number, ms: number): Promise<number> {
  const start = sink.history.length;
  const base = sink.totals().udpBytes;
  await probe(from, 'blast', toIp, String(port), String(kbps), String(ms));
  await new Promise((r) => setTimeout(r, 400));
  const lines = sink.history.slice(start);
  const first = lines.find((l) => l.udpBytes > base);
  if (!first) return 0;
  const from400 = lines.find((l) => l.at >= first.at + 400);
  const last = lines.reduce((a, l) => (l.udpBytes > a.udpBytes ? l : a), first);
  if (!from400 || last.at <= from400.at) throw new Error('too few samples to measure a rate');
  return ((last.udpBytes - from400.udpBytes) * 8) / (last.at - from400.at);
}

/** Bytes that reached the sink at all while `from` blasted it (and shortly after). */
async function receivedBytes(from: NetHost, sink: Sink, toIp: string, port: number, kbps: number, ms: number): Promise<number> {
  const before = sink.totals().udpBytes;
  await probe(from, 'blast', toIp, String(port), String(kbps), String(ms));
  await new Promise((r) => setTimeout(r, 300));
  return sink.totals().udpBytes - before;
}

function tcpFromRoot(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port });
    s.setTimeout(1500, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

describe('network rig (namespaces, veth, bridge, tbf, nftables)', function () {
  this.timeout(60_000);
  let rig: NetRig;
  let a: NetHost;
  let b: NetHost;
  let sink: Sink;
  const PORT = 40_000;

  before(async function () {
    const skip = netRigSkipReason();
    if (skip) {
      console.log(`      skipped: ${skip}`);
      this.skip();
    }
    rig = await createNetRig();
    a = await rig.addHost('a');
    b = await rig.addHost('b');
    sink = await startSink(b, PORT);
  });

  after(async () => {
    await rig?.close();
  });

  it('names are unique to the run and every host reaches the others and the root namespace', async () => {
    expect(ownerPidOf(a.netns)).to.equal(process.pid);
    expect(a.netns).to.not.equal(b.netns);
    expect(rig.subnet).to.match(/^10\.(2[0-4]\d|25[0-4])\.\d{1,3}\.0\/24$/);
    expect(await probe(a, 'tcp', b.ip, String(PORT))).to.deep.equal({ connected: true });
    expect(await tcpFromRoot(b.ip, PORT)).to.equal(true);
    // Nothing but lo and eth0 inside a host.
    const links = await a.exec('ip', ['-o', 'link', 'show']);
    expect(links.split('\n').filter(Boolean).map((l) => l.split(': ')[1]!.split('@')[0])).to.deep.equal(['lo', 'eth0']);
  });

  it('tbf caps a link: unshaped ≥ 800 kbps gets through, 256 kbps lets ≲ 300 through, 64 kbps (changed at run time) ≲ 80, and removing it restores the rate', async () => {
    const free = await measureKbps(a, sink, b.ip, PORT, 1200, 1500);
    await a.shape({ rateKbit: 256 }, 'up');
    const capped = await measureKbps(a, sink, b.ip, PORT, 1200, 2000);
    await a.shape({ rateKbit: 64 }, 'up');
    const cut = await measureKbps(a, sink, b.ip, PORT, 1200, 2000);
    await a.shape(null);
    const back = await measureKbps(a, sink, b.ip, PORT, 1200, 1500);
    console.log(`      a → b: free ${Math.round(free)} kbps, tbf 256: ${Math.round(capped)}, tbf 64: ${Math.round(cut)}, free again ${Math.round(back)}`);
    expect(free).to.be.at.least(800);
    expect(capped).to.be.within(150, 300);
    expect(cut).to.be.within(30, 80);
    expect(back).to.be.at.least(800);
  });

  it('the downlink is shaped on the host\'s port of the bridge', async () => {
    await b.shape({ rateKbit: 256 }, 'down');
    const capped = await measureKbps(a, sink, b.ip, PORT, 1200, 2000);
    await b.shape(null);
    expect(capped).to.be.within(150, 300);
  });

  it('nftables in a host blocks UDP (TCP still passes), or everything but TCP to one address and port', async () => {
    await b.firewall({ block: 'udp' });
    expect(await receivedBytes(a, sink, b.ip, PORT, 400, 600)).to.equal(0);
    expect(await probe(a, 'tcp', b.ip, String(PORT))).to.deep.equal({ connected: true });
    // a may now speak only TCP to the root namespace's port.
    await b.firewall(null);
    const root = net.createServer((s) => s.end());
    await new Promise<void>((r) => root.listen(0, rig.rootIp, () => r()));
    const rootPort = (root.address() as net.AddressInfo).port;
    try {
      await a.firewall({ block: 'all', allow: [{ protocol: 'tcp', address: rig.rootIp, port: rootPort }] });
      expect(await probe(a, 'tcp', rig.rootIp, String(rootPort))).to.deep.equal({ connected: true });
      expect(await probe(a, 'tcp', b.ip, String(PORT))).to.deep.equal({ connected: false });
      expect(await receivedBytes(a, sink, b.ip, PORT, 400, 600)).to.equal(0);
      await a.firewall(null);
      // 400 kbit/s for 0.6 s is 30 kB: most of it arrives once the firewall is gone.
      expect(await receivedBytes(a, sink, b.ip, PORT, 400, 600)).to.be.greaterThan(15_000);
    } finally {
      root.close();
    }
  });

  it('the user-space relay (delay, loss) sits between hosts: a → relay on the root\'s bridge address → b', async () => {
    const relay = await startUdpRelay({ host: b.ip, port: PORT }, { listenIp: rig.rootIp });
    try {
      const clean = await receivedBytes(a, sink, rig.rootIp, relay.port, 800, 1000);
      relay.impair({ loss: 0.5, delayMs: 50 });
      const lossy = await receivedBytes(a, sink, rig.rootIp, relay.port, 800, 1000);
      console.log(`      through the relay: ${clean} bytes clean, ${lossy} bytes with 50 % loss (forwarded ${relay.counts.forwarded}, dropped ${relay.counts.dropped})`);
      expect(clean).to.be.greaterThan(80_000);
      expect(lossy / clean).to.be.within(0.3, 0.7);
    } finally {
      await relay.close();
    }
  });

  it('a host moves to another address mid-run: the new one answers, the old one no longer does', async () => {
    const old = b.ip;
    sink.child.kill();
    const moved = await b.moveTo();
    expect(moved).to.not.equal(old);
    sink = await startSink(b, PORT);
    expect(await tcpFromRoot(moved, PORT)).to.equal(true);
    expect(await tcpFromRoot(old, PORT)).to.equal(false);
    expect(await b.exec('ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0'])).to.include(`${moved}/24`).and.not.include(`${old}/`);
  });

  it('a link taken down and up again', async () => {
    await b.setLink(false);
    expect(await tcpFromRoot(b.ip, PORT)).to.equal(false);
    await b.setLink(true);
    expect(await tcpFromRoot(b.ip, PORT)).to.equal(true);
  });

  it('diemcau\'s server runs as a process inside a host and serves the other hosts and the root namespace', async () => {
    const server = await startServerIn(a);
    try {
      expect(server.url).to.equal(`http://${a.ip}:3000`);
      const health = (await (await fetch(`${server.url}/healthz`)).json()) as { ok: boolean; workers: unknown[] };
      expect(health.ok).to.equal(true);
      expect(health.workers).to.have.length(1);
      expect(await probe(b, 'tcp', a.ip, '3000')).to.deep.equal({ connected: true });
      // Its WebRTC port (UDP and TCP) is in its namespace, not in the root one.
      expect(await a.exec('ss', ['-Htuln', 'sport = :44400'])).to.include(`${a.ip}:44400`);
      expect(await run('ss', ['-Htuln', 'sport = :44400'])).to.not.include(`${a.ip}:44400`);
    } finally {
      await server.close();
    }
    expect(server.child.exitCode !== null || server.child.signalCode !== null).to.equal(true);
  });

  it('close() removes the namespaces, the root\'s interface and the processes; twice is harmless', async () => {
    const child = sink.child;
    await rig.close();
    await rig.close();
    expect(child.exitCode !== null || child.signalCode !== null).to.equal(true);
    const namespaces = await run('ip', ['netns', 'list']);
    expect(namespaces).to.not.include(rig.names.core).and.not.include(a.netns).and.not.include(b.netns);
    expect(await run('ip', ['-o', 'link', 'show']).then((l) => l.includes(`${rig.names.rootIf}@`))).to.equal(false);
  });
});
