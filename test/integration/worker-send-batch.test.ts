// The worker's send path, on a real mediasoup worker (the build of scripts/build-worker.sh): the
// copies of one plain transport's packets forwarded to 8 consumers arrive complete, in order, with
// their payloads intact, and the worker, idle afterwards, does not spin. strace counts the
// worker's send system calls meanwhile: the default worker (d5) makes one sendmsg() per copy, as
// upstream does; a worker built with the candidate patch
// scripts/worker-patches/candidates/udp-socket-sendmmsg.patch (d6, not the default: see
// scripts/env.sh) sends a loop turn's copies with one sendmmsg() per socket, and the test then
// asserts far fewer calls than copies (its flush handles must also stop when the batch is empty:
// the idle check).
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { types as ms } from 'mediasoup';
import { bareWorker } from '../helpers/server.ts';
import { CLK_TCK, cpuSeconds } from '../../scripts/bench/fanout/harness.ts';

const CONSUMERS = 8;
const PACKETS = 400;
const BURST = 20;
const PAYLOAD_TYPE = 100;
const SSRC = 1111;

/** The payload's first 4 bytes (the packet's index), past the header, CSRCs and extensions mediasoup adds. */
function packetIndex(m: Buffer): number | undefined {
  if ((m[1]! & 0x7f) !== PAYLOAD_TYPE) return undefined; // RTCP
  let o = 12 + 4 * (m[0]! & 0x0f);
  if (m[0]! & 0x10) o += 4 + 4 * m.readUInt16BE(o + 2);
  return m.readUInt32BE(o);
}

/** The worker's CPU time (user + system) in clock ticks (the harness's reading of /proc). */
const cpuTicks = (pid: number): number => Math.round(cpuSeconds(pid) * CLK_TCK);

/** strace -c attached to a process; stop() detaches and returns the calls per system call. */
async function countSyscalls(pid: number, syscalls: string[]): Promise<{ stop: () => Promise<Record<string, number>> }> {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'send-batch-')), 'strace.txt');
  const strace: ChildProcess = spawn('strace', ['-f', '-c', '-e', `trace=${syscalls.join(',')}`, '-o', out, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    strace.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (/attached/.test(err)) resolve();
    });
    strace.on('exit', (code) => reject(new Error(`strace exited (${code}): ${err}`)));
  });
  return {
    stop: async () => {
      const exited = new Promise((r) => strace.on('exit', r));
      strace.kill('SIGINT');
      await exited;
      const calls: Record<string, number> = Object.fromEntries(syscalls.map((s) => [s, 0]));
      // The summary's rows: % time, seconds, usecs/call, calls, [errors,] syscall.
      for (const line of fs.readFileSync(out, 'utf8').split('\n')) {
        const cols = line.trim().split(/\s+/);
        const name = cols[cols.length - 1]!;
        if (name in calls) calls[name] = Number(cols[3]);
      }
      return calls;
    },
  };
}

/** Whether the worker binary carries the sendmmsg patch (its symbols name the batch's flush). */
const batchingWorker = (): boolean => fs.readFileSync(process.env.MEDIASOUP_WORKER_BIN ?? '').includes('FlushSendBatch');

describe('mediasoup worker send path: complete, in order, idle without spinning; send calls counted (real worker, strace)', function () {
  this.timeout(60_000);
  let worker: ms.Worker;
  const sockets: dgram.Socket[] = [];

  before(async () => {
    worker = await bareWorker();
  });
  after(() => {
    worker?.close();
    for (const s of sockets) s.close();
  });

  it(`forwards ${PACKETS} packets to ${CONSUMERS} consumers complete and in order (one send call per copy, or far fewer with the sendmmsg patch), then idles`, async () => {
    const router = await worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] });
    const listenIp = { ip: '127.0.0.1' };
    const input = await router.createPlainTransport({ listenIp, rtcpMux: true, comedia: true });
    const producer = await input.produce({
      kind: 'audio',
      rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: PAYLOAD_TYPE, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: SSRC }] },
    });
    const received: number[][] = [];
    const corrupt: string[] = [];
    for (let c = 0; c < CONSUMERS; c++) {
      const sink = dgram.createSocket('udp4');
      sockets.push(sink);
      await new Promise<void>((r) => sink.bind(0, '127.0.0.1', r));
      const out = await router.createPlainTransport({ listenIp, rtcpMux: true, comedia: false });
      await out.connect({ ip: '127.0.0.1', port: sink.address().port });
      await out.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
      received.push([]);
      sink.on('message', (m) => {
        const i = packetIndex(m);
        if (i === undefined) return;
        received[c]!.push(i);
        // The payload after the index: its bytes are a function of the index (a copy from a reused buffer would not be).
        const body = m.subarray(m.length - 100);
        if (!body.every((b, k) => b === ((i + k) & 0xff))) corrupt.push(`consumer ${c} packet ${i}`);
      });
    }
    const gen = dgram.createSocket('udp4');
    sockets.push(gen);
    const strace = await countSyscalls(worker.pid, ['sendto', 'sendmsg', 'sendmmsg']);
    for (let i = 0; i < PACKETS; i++) {
      const b = Buffer.alloc(12 + 4 + 100);
      b[0] = 0x80;
      b[1] = PAYLOAD_TYPE;
      b.writeUInt16BE(i, 2);
      b.writeUInt32BE(i * 960, 4);
      b.writeUInt32BE(SSRC, 8);
      b.writeUInt32BE(i, 12);
      for (let k = 0; k < 100; k++) b[16 + k] = (i + k) & 0xff;
      gen.send(b, input.tuple.localPort, '127.0.0.1');
      if (i % BURST === BURST - 1) await new Promise((r) => setTimeout(r, 5));
    }
    const deadline = Date.now() + 15_000;
    while (received.some((r) => r.length < PACKETS) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const calls = await strace.stop();
    const copies = CONSUMERS * PACKETS;
    const sendCalls = calls.sendto! + calls.sendmsg! + calls.sendmmsg!;
    console.log(`      ${copies} copies sent; the worker's send calls: ${JSON.stringify(calls)}`);

    for (const [c, r] of received.entries()) {
      expect(r.length, `consumer ${c}: packets received`).to.equal(PACKETS);
      expect(r, `consumer ${c}: in order`).to.deep.equal([...Array(PACKETS).keys()]);
    }
    expect(corrupt, 'payloads changed on the way').to.deep.equal([]);
    if (batchingWorker()) {
      // Each input packet's 8 copies leave in the same turn: at most one call per input packet
      // even if every packet had a turn of its own (upstream: one per copy, 3,200).
      expect(calls.sendmmsg, 'sendmmsg calls').to.be.greaterThan(0);
      expect(sendCalls, 'send system calls for the copies').to.be.at.most(copies / 4);
    } else {
      // One uv_udp_try_send (sendmsg) per copy, plus a few RTCP reports.
      expect(sendCalls, 'send system calls for the copies').to.be.at.least(copies);
    }

    // Idle: the batch is empty, the flush handles are stopped; an idle loop costs nothing.
    const before = cpuTicks(worker.pid);
    await new Promise((r) => setTimeout(r, 3000));
    const ticks = cpuTicks(worker.pid) - before;
    console.log(`      idle worker: ${ticks} clock ticks of CPU in 3 s`);
    expect(ticks, 'CPU ticks of the idle worker in 3 s (a spinning loop: ~300)').to.be.at.most(30);
  });
});
