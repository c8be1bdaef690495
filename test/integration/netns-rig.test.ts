import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { expect } from 'chai';
import { createNetRig, netRigSkipReason, ownerPidOf, run, type NetHost, type NetRig } from '../helpers/netns.ts';

const PROBE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../helpers/net-probe.mjs');

interface SinkTotals {
  udpBytes: number;
  udpPackets: number;
  tcpConnections: number;
}

/** A probe sink inside a host: its latest totals, read from its JSON lines. */
async function startSink(host: NetHost, port: number): Promise<{ totals: () => SinkTotals; child: ChildProcess }> {
  const child = host.spawn(process.execPath, [PROBE, 'sink', host.ip, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let latest: SinkTotals = { udpBytes: 0, udpPackets: 0, tcpConnections: 0 };
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
      else latest = line;
    }
  });
  await isReady;
  return { totals: () => latest, child };
}

/** Runs the probe once in a host and returns its JSON answer. */
async function probe(host: NetHost, ...args: string[]): Promise<Record<string, unknown>> {
  return JSON.parse((await host.exec(process.execPath, [PROBE, ...args])).trim().split('\n').pop()!) as Record<string, unknown>;
}

/**
 * kbit/s that reached the sink while `from` blasted it at `kbps` for `ms`, in the steady state:
 * from 400 ms into the blast (after tbf's bucket emptied) to its end.
 */
async function measureKbps(from: NetHost, sink: { totals: () => SinkTotals }, to: NetHost, port: number, kbps: number, ms: number): Promise<number> {
  let start: { at: number; bytes: number } | undefined;
  const timer = setTimeout(() => (start = { at: Date.now(), bytes: sink.totals().udpBytes }), 400);
  await probe(from, 'blast', to.ip, String(port), String(kbps), String(ms));
  clearTimeout(timer);
  if (!start) throw new Error('blast ended before the measure started');
  const end = { at: Date.now(), bytes: sink.totals().udpBytes };
  return ((end.bytes - start.bytes) * 8) / (end.at - start.at);
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
  let sink: Awaited<ReturnType<typeof startSink>>;
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
    const free = await measureKbps(a, sink, b, PORT, 1200, 1500);
    await a.shape({ rateKbit: 256 }, 'up');
    const capped = await measureKbps(a, sink, b, PORT, 1200, 2000);
    await a.shape({ rateKbit: 64 }, 'up');
    const cut = await measureKbps(a, sink, b, PORT, 1200, 2000);
    await a.shape(null);
    const back = await measureKbps(a, sink, b, PORT, 1200, 1500);
    console.log(`      a → b: free ${Math.round(free)} kbps, tbf 256: ${Math.round(capped)}, tbf 64: ${Math.round(cut)}, free again ${Math.round(back)}`);
    expect(free).to.be.at.least(800);
    expect(capped).to.be.within(150, 300);
    expect(cut).to.be.within(30, 80);
    expect(back).to.be.at.least(800);
  });

  it('the downlink is shaped on the host\'s port of the bridge', async () => {
    await b.shape({ rateKbit: 256 }, 'down');
    const capped = await measureKbps(a, sink, b, PORT, 1200, 2000);
    await b.shape(null);
    expect(capped).to.be.within(150, 300);
  });

  it('nftables in a host blocks UDP (TCP still passes), or everything but TCP to one address and port', async () => {
    await b.firewall({ block: 'udp' });
    expect(await measureKbps(a, sink, b, PORT, 400, 600)).to.equal(0);
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
      expect(await measureKbps(a, sink, b, PORT, 400, 600)).to.equal(0);
      await a.firewall(null);
      expect(await measureKbps(a, sink, b, PORT, 400, 600)).to.be.greaterThan(200);
    } finally {
      root.close();
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
