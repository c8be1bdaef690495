/**
 * npm run bench:datagram — what one datagram costs the harness, in Node and in the native
 * helper (scripts/bench/native/rtp-sink.c), receiving and sending, with and without SRTP
 * (AEAD_AES_128_GCM), on loopback: the measurement that decided how bench:fanout's harness was
 * cut (docs/benchmarks.md, "Valid or nothing"). CPU time per datagram of the side measured
 * (/proc/<pid>/stat; the sender's includes the kernel's loopback delivery into the receiving
 * socket). Prints one JSON object as its last line.
 *
 * Options: --pps N (20000) --seconds N (5) --sockets N (200, as many as the meeting's receivers)
 *          --payload N (1200)
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, percentile } from './fanout/harness.ts';
import { NativeSink, nativeSinkBinary } from './fanout/native-sink.ts';
import { BLAST_KEY } from './datagram/node-peer.ts';
import { machineFacts } from './validity.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
  return v;
}
const PPS = arg('pps', 20_000);
const SECONDS = arg('seconds', 5);
const SOCKETS = arg('sockets', 200);
const PAYLOAD = arg('payload', 1200);
const binary = nativeSinkBinary();

function nodePeer(): ChildProcess {
  return fork(path.join(here, 'datagram/node-peer.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}
function next<T>(child: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: any): void => {
      if (m.type === type) {
        child.off('message', on);
        resolve(m as T);
      }
    };
    child.on('message', on);
  });
}
function pin(pid: number, cpu: number): void {
  if (os.cpus().length > 1) execFileSync('taskset', ['-apc', String(cpu), String(pid)], { stdio: 'ignore' });
}
/** Runs the native blaster to `ports`; resolves with its own CPU per packet. */
function blast(ports: number[], encrypt: boolean): Promise<{ sent: number; usPerPacket: number }> {
  const p = spawn(binary, ['blast', String(PPS), String(SECONDS), String(PAYLOAD), encrypt ? '1' : '0', ...ports.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
  pin(p.pid!, 1);
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => p.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim())) : reject(new Error(`blast exited ${code}`)))));
}

interface Row { side: string; impl: string; srtp: boolean; us_per_datagram: number; datagrams: number }

async function receiveNode(decrypt: boolean): Promise<Row> {
  const peer = nodePeer();
  try {
    peer.send({ type: 'recv', sockets: SOCKETS, decrypt });
    const { ports } = await next<{ ports: number[] }>(peer, 'ports');
    pin(peer.pid!, 0);
    const cpu0 = cpuSeconds(peer.pid!);
    await blast(ports, decrypt);
    await new Promise((r) => setTimeout(r, 300));
    const cpu = cpuSeconds(peer.pid!) - cpu0;
    peer.send({ type: 'report' });
    const { received } = await next<{ received: number }>(peer, 'received');
    return { side: 'receive', impl: 'node dgram', srtp: decrypt, us_per_datagram: (cpu * 1e6) / received, datagrams: received };
  } finally {
    peer.kill();
  }
}

async function receiveNative(decrypt: boolean): Promise<Row> {
  const sink = new NativeSink(binary);
  try {
    const receivers = Array.from({ length: SOCKETS }, (_, i) => ({ id: `r${i}`, group: 'g', probe: false }));
    await sink.shareSockets(0);
    const ports = await sink.bind(receivers);
    if (decrypt) {
      // keyed so that it can decrypt; its receiver reports go to a port nobody reads
      await sink.keys(receivers.map((r) => ({ receiver: r.id, myKey: BLAST_KEY, sfuKey: BLAST_KEY, suite: 'AEAD_AES_128_GCM', sfuIp: '127.0.0.1', sfuPort: 9 })));
      await sink.decryptAll(true);
    }
    pin(sink.pid, 0);
    await sink.mark();
    const cpu0 = cpuSeconds(sink.pid);
    await blast(receivers.map((r) => ports[r.id]!), decrypt);
    await new Promise((r) => setTimeout(r, 300));
    const cpu = cpuSeconds(sink.pid) - cpu0;
    const report = await sink.report();
    const received = Object.values(report.groups).reduce((n, g) => n + g.packets, 0);
    return { side: 'receive', impl: 'native recvmmsg', srtp: decrypt, us_per_datagram: (cpu * 1e6) / received, datagrams: received };
  } finally {
    await sink.close();
  }
}

async function sendNode(encrypt: boolean): Promise<Row> {
  const sink = new NativeSink(binary);
  const peer = nodePeer();
  try {
    await sink.shareSockets(0);
    const ports = Object.values(await sink.bind(Array.from({ length: SOCKETS }, (_, i) => ({ id: `r${i}`, group: 'g', probe: false }))));
    pin(sink.pid, 0);
    pin(peer.pid!, 1);
    peer.send({ type: 'send', ports, pps: PPS, seconds: SECONDS, payload: PAYLOAD, encrypt });
    const r = await next<{ sent: number; cpuSeconds: number }>(peer, 'sent');
    return { side: 'send', impl: 'node dgram', srtp: encrypt, us_per_datagram: (r.cpuSeconds * 1e6) / r.sent, datagrams: r.sent };
  } finally {
    peer.kill();
    await sink.close();
  }
}

async function sendNative(encrypt: boolean): Promise<Row> {
  const sink = new NativeSink(binary);
  try {
    await sink.shareSockets(0);
    const ports = Object.values(await sink.bind(Array.from({ length: SOCKETS }, (_, i) => ({ id: `r${i}`, group: 'g', probe: false }))));
    pin(sink.pid, 0);
    const r = await blast(ports, encrypt);
    return { side: 'send', impl: 'native sendmmsg', srtp: encrypt, us_per_datagram: r.usPerPacket, datagrams: r.sent };
  } finally {
    await sink.close();
  }
}

async function main(): Promise<void> {
  const facts = machineFacts();
  console.error(`bench:datagram ${facts.date}: ${PPS} datagrams/s of ${PAYLOAD} bytes to ${SOCKETS} sockets for ${SECONDS} s; load ${facts.load.join(' ')}`);
  const rows: Row[] = [];
  for (const run of [() => receiveNode(false), () => receiveNode(true), () => receiveNative(false), () => receiveNative(true), () => sendNode(false), () => sendNode(true), () => sendNative(false), () => sendNative(true)]) {
    const r = await run();
    r.us_per_datagram = Math.round(r.us_per_datagram * 100) / 100;
    console.error(`${r.side.padEnd(8)} ${r.impl.padEnd(16)} ${r.srtp ? 'SRTP GCM' : 'clear   '}  ${r.us_per_datagram.toFixed(2).padStart(6)} µs/datagram  (${r.datagrams} datagrams)`);
    rows.push(r);
  }
  console.log(JSON.stringify({ pps: PPS, seconds: SECONDS, sockets: SOCKETS, payload: PAYLOAD, rows, ...facts, load_after: os.loadavg().map((x) => Math.round(x * 100) / 100) }));
}

main().then(() => process.exit(0), (e: unknown) => (console.error(e), process.exit(1)));
void percentile;
