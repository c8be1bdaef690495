// The worker's UDP socket buffers, on a real mediasoup worker (the build of scripts/build-worker.sh,
// its patch scripts/worker-patches/udp-socket-buffers.patch): every UDP socket it opens — a
// WebRTC transport's, a plain transport's, a pipe transport's — asks the kernel for
// DIEMCAU_UDP_BUFFER_BYTES (scripts/env.sh) of receive and send buffer, which the kernel caps at
// net.core.rmem_max / wmem_max and doubles (its bookkeeping). Read back as the kernel reports it
// (`ss -uamn`: skmem rb, tb). Upstream's worker never set them: its sockets had the kernel's
// default (net.core.rmem_default, 208 KB), and bench:cascade's pipes overflowed it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { expect } from 'chai';
import type { types as ms } from 'mediasoup';
import { bareWorker } from '../helpers/server.ts';

/** The kernel's receive (rb) and send (tb) buffer of the UDP socket bound at a local port, as `ss -uamn` shows it. */
function socketBuffers(port: number): { rb: number; tb: number } {
  const out = execFileSync('ss', ['-uamnH', `sport = :${port}`], { encoding: 'utf8' });
  const m = /skmem:\([^)]*\brb(\d+),t(\d+),tb(\d+)/.exec(out);
  if (!m) throw new Error(`no socket at UDP port ${port} in ss's output: ${out}`);
  return { rb: Number(m[1]), tb: Number(m[3]) };
}

const sysctl = (name: string): number => Number(fs.readFileSync(`/proc/sys/net/core/${name}`, 'utf8').trim());

describe('mediasoup worker UDP sockets: receive and send buffers of DIEMCAU_UDP_BUFFER_BYTES (real worker, ss)', function () {
  this.timeout(30_000);
  let worker: ms.Worker;

  before(async () => {
    worker = await bareWorker();
  });
  after(() => worker?.close());

  it('a WebRTC, a plain and a pipe transport each have the buffers asked for (capped by rmem_max / wmem_max)', async () => {
    const asked = Number(process.env.DIEMCAU_UDP_BUFFER_BYTES);
    expect(asked, 'DIEMCAU_UDP_BUFFER_BYTES from scripts/env.sh (run through scripts/with-env.sh)').to.be.greaterThan(0);
    // What a socket gets for SO_RCVBUF/SO_SNDBUF = n: min(n, the max) doubled.
    const want = { rb: 2 * Math.min(asked, sysctl('rmem_max')), tb: 2 * Math.min(asked, sysctl('wmem_max')) };
    const router = await worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] });
    const listenIp = { ip: '127.0.0.1' };
    const webrtc = await router.createWebRtcTransport({ listenIps: [listenIp], enableUdp: true, enableTcp: false });
    const plain = await router.createPlainTransport({ listenIp, rtcpMux: true, comedia: true });
    const pipe = await router.createPipeTransport({ listenIp, enableSrtp: true, enableRtx: true });
    const ports = { webrtc: webrtc.iceCandidates[0]!.port, plain: plain.tuple.localPort, pipe: pipe.tuple.localPort };
    const got = Object.fromEntries(Object.entries(ports).map(([kind, port]) => [kind, socketBuffers(port)]));
    console.log(`      asked ${asked} bytes; rmem_max ${sysctl('rmem_max')}, wmem_max ${sysctl('wmem_max')}, rmem_default ${sysctl('rmem_default')}; the sockets: ${JSON.stringify(got)}`);
    expect(got).to.deep.equal({ webrtc: want, plain: want, pipe: want });
  });
});
