// bench:peer's plumbing (scripts/bench/peer): in a network namespace of its own, diemcau's SFU (a
// real mediasoup worker through sfu/) and Janus (Debian's package, VideoRoom) each get one
// publisher (VP8 simulcast + Opus through the native endpoint's ICE/DTLS-SRTP relay) and three
// subscribers that are real ICE + DTLS-SRTP peers of the native endpoint. Checks that every
// subscriber receives audio and video from both SFUs and that what arrives decrypts (SRTP
// authentication verified) with the keys its own DTLS handshake exported. Nothing is timed.
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { loadClip } from '../../scripts/bench/fanout/media.ts';

interface CheckedStream {
  ssrc: number;
  pt: number;
  packets: number;
  decrypted: number;
  samples: number;
}
interface CheckedSfu {
  version: string;
  srtp: string;
  ok: boolean;
  subscribers: { subscriber: string; streams: CheckedStream[]; kinds: (string | undefined)[] }[];
}

function runCheck(timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/peer.ts', '--check'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // SIGINT reaches the bench's netns wrapper, which forwards it and deletes the namespace.
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('bench:peer plumbing: diemcau and Janus to 3 ICE + DTLS-SRTP subscribers each', function () {
  this.timeout(30_000);

  before(function () {
    // The clip is encoded once by ffmpeg and cached; a clean machine pays that here, not below.
    this.timeout(300_000);
    loadClip();
  });

  it('every subscriber of both SFUs receives audio and video that decrypt with its DTLS keys', async () => {
    const { code, stdout, stderr } = await runCheck(28_000);
    const last = stdout.trim().split('\n').pop() ?? '';
    expect(last.startsWith('{'), `no JSON from bench:peer --check (exit ${code}):\n${stderr.slice(-3000)}`).to.equal(true);
    const result = JSON.parse(last) as { ok: boolean; check: Record<'diemcau' | 'janus', CheckedSfu> };
    for (const name of ['diemcau', 'janus'] as const) {
      const sfu = result.check[name];
      expect(sfu, name).to.be.an('object');
      expect(sfu.srtp, `${name} SRTP suite`).to.equal('AEAD_AES_128_GCM');
      expect(sfu.subscribers, `${name} subscribers`).to.have.length(3);
      for (const sub of sfu.subscribers) {
        for (const kind of ['audio', 'video']) {
          const stream = sub.streams.find((_, i) => sub.kinds[i] === kind);
          expect(stream, `${sub.subscriber} ${kind}`).to.not.equal(undefined);
          expect(stream!.packets, `${sub.subscriber} ${kind} packets`).to.be.greaterThan(10);
          expect(stream!.samples, `${sub.subscriber} ${kind} samples`).to.be.greaterThan(0);
          expect(stream!.decrypted, `${sub.subscriber} ${kind} packets that decrypt`).to.equal(stream!.samples);
        }
      }
    }
    expect(result.check.janus.version).to.match(/^janus 1\.1\./);
    expect(result.ok).to.equal(true);
    expect(code).to.equal(0);
  });
});
