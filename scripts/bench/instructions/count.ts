/**
 * The counting behind bench:instructions (see scripts/bench/instructions.ts for the method): one
 * worker under callgrind, one speaker to N SRTP consumers, a fixed input sequence, the
 * instructions inside the worker's packet receipt per packet the consumers sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { types as ms } from 'mediasoup';
import { mediaCodecs, KEYFRAME_REQUEST_DELAY_MS } from '../../../sfu/codecs.ts';
import { freePortBase } from '../../../test/helpers/server.ts';
import { senderReport } from '../../../server/app/feed/rtp.ts';
import { loadClip } from '../fanout/media.ts';
import { NativeSink, nativeDir } from '../fanout/native-sink.ts';
import { OpusPacketizer, Vp8Packetizer } from '../fanout/rtp.ts';
import { SrtpSession } from '../fanout/srtp.ts';

export interface CountOptions {
  consumers: number;
  /** Input packets of the measured sequence. */
  packets: number;
  /** Busy loops on every CPU while the measured sequence runs. */
  loaded?: boolean;
  /** Keep callgrind's files (their directory is logged). */
  keep?: boolean;
  /** Without valgrind: tries the workload, counts nothing. */
  noValgrind?: boolean;
  log?: (line: string) => void;
}

/**
 * The functions inside which instructions are counted (see the header): the receipt of a packet,
 * and the worker's flush of the datagrams batched in that loop turn (d6 and later send them with
 * one sendmmsg after the poll's callbacks; earlier workers have no such function and send inside
 * the receipt).
 */
export const COUNTED_FUNCTIONS = ['RTC::UdpSocket::UserOnUdpDatagramReceived*', 'UdpSocketHandler::OnUvFlushCheck*'];
export const COUNTED = COUNTED_FUNCTIONS.join(' + ');
/**
 * The worker's monotonic clock runs at this share of real time (slow-clock.so): callgrind slows
 * the worker some fifty times, and mediasoup's timers (a layer silent for 1.5 s is inactive)
 * must see the clip at the pace it was sent.
 */
export const CLOCK_SCALE = 0.02;
export const SUITE = 'AEAD_AES_128_GCM' as const;
/** Input packets sent before waiting for their copies (the worker's socket holds far more). */
const BATCH = 8;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The speaker's packets in time order from the clip's first frame: every layer's frames and the audio, fixed sequence numbers. */
class Speaker {
  readonly clip = loadClip();
  readonly layers = [0, 1, 2].map((i) => new Vp8Packetizer(0x5000 + i, 96));
  readonly mic = new OpusPacketizer(0x5010, 111);
  #queue: { packet: Buffer; layer: number }[] = [];
  /** Position in the clip (rewound), and frames and audio packets sent (not rewound: timestamps only go forward). */
  #frame = 0;
  #audio = 0;
  #framesSent = 0;
  #audioSent = 0;
  /** Where the clip was last rewound: audio and video interleave the same way after every rewind. */
  #frameBase = 0;
  #audioBase = 0;
  /** The RTP timestamp of the last video frame and audio packet (for sender reports). */
  videoTs = 0;
  audioTs = 0;
  constructor() {
    this.layers.forEach((l, i) => ((l.seq = 1000 * (i + 1)), (l.pictureId = 100)));
    this.mic.seq = 5000;
  }
  /** Starts again at the clip's first frame (a keyframe on every layer); sequence numbers and timestamps go on. */
  rewind(): void {
    this.#queue = [];
    this.#frame = 0;
    this.#audio = 0;
    this.#frameBase = this.#framesSent;
    this.#audioBase = this.#audioSent;
  }
  /** One audio packet out of turn (the drain marker before the measured sequence). */
  nextAudio(): Buffer {
    this.audioTs = this.#audioSent * 960;
    this.#audioSent++;
    return this.mic.packetize(this.clip.audio[this.#audio++ % this.clip.audio.length]!, this.audioTs);
  }
  next(): { packet: Buffer; layer: number } {
    while (!this.#queue.length) {
      // audio every 20 ms, video every 1/30 s: whichever comes first
      const videoAt = ((this.#framesSent - this.#frameBase) * 1000) / this.clip.fps;
      const audioAt = (this.#audioSent - this.#audioBase) * 20;
      if (audioAt <= videoAt) {
        this.audioTs = this.#audioSent * 960;
        this.#queue.push({ packet: this.mic.packetize(this.clip.audio[this.#audio % this.clip.audio.length]!, this.audioTs), layer: -1 });
        this.#audio++;
        this.#audioSent++;
      } else {
        const n = this.#frame % this.clip.layers[0]!.frames.length;
        this.videoTs = this.#framesSent * 3000;
        this.#framesSent++;
        this.layers.forEach((pk, i) => {
          for (const packet of pk.packetize(this.clip.layers[i]!.frames[n]!.data, this.videoTs).packets) this.#queue.push({ packet, layer: i });
        });
        this.#frame++;
      }
    }
    return this.#queue.shift()!;
  }
}

function receiverCaps(caps: ms.RtpCapabilities): ms.RtpCapabilities {
  return {
    codecs: caps.codecs!.map((c) => ({ ...c, rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => f.type === 'nack' || f.type === 'ccm') })),
    headerExtensions: [],
  };
}

/**
 * callgrind_control on the worker, without blocking: callgrind acts on it when the worker next
 * runs (its transports' RTCP timers wake it every few ms), which can take seconds while it
 * re-instruments code under load.
 */
function callgrindControl(flag: string, pid: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn('callgrind_control', [flag, String(pid)], { stdio: 'ignore' });
    const timer = setTimeout(() => p.kill(), 300_000);
    p.once('exit', (code) => (clearTimeout(timer), code === 0 ? resolve() : reject(new Error(`callgrind_control ${flag} exited ${code}`))));
  });
}

/** The instructions (Ir) of a callgrind dump: its `summary:` or `totals:` line. */
export function dumpInstructions(file: string): number {
  const m = /^(?:summary|totals):\s+(\d+)/m.exec(fs.readFileSync(file, 'utf8'));
  if (!m) throw new Error(`no totals in ${file}`);
  return Number(m[1]);
}

/**
 * The copies the fixed sequence asks of the worker: the first `packets` of the clip from its first
 * frame (the measured sequence), of which audio and the top layer go to every consumer. It depends
 * on the clip, which setup encodes on each machine (its packets per frame are not the same
 * everywhere), so tests compare with this, not with a number.
 */
export function fixedSequenceCopies(packets: number, consumers: number): number {
  const speaker = new Speaker();
  let copies = 0;
  for (let i = 0; i < packets; i++) {
    const { layer } = speaker.next();
    if (layer === -1 || layer === 2) copies += consumers;
  }
  return copies;
}

export interface Run {
  instructions: number;
  outPackets: number;
  inPackets: number;
  instructionsPerOutPacket: number;
  seconds: number;
  loaded: boolean;
}

/** One count: a fresh worker under callgrind, the warm-up, the measured sequence. Throws when the workload was not the fixed one. */
export async function countOnce(o: CountOptions): Promise<Run> {
  const { consumers: CONSUMERS, packets: PACKETS, loaded = false, keep: KEEP = false, noValgrind: NO_VALGRIND = false } = o;
  const log = o.log ?? ((l: string) => console.error(l));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-callgrind-'));
  process.env.MEDIASOUP_USE_VALGRIND = NO_VALGRIND ? 'false' : 'true';
  process.env.MEDIASOUP_VALGRIND_OPTIONS = `--tool=callgrind --callgrind-out-file=${dir}/callgrind.out --instr-atstart=no --collect-atstart=no ${COUNTED_FUNCTIONS.map((f) => `--toggle-collect=${f}`).join(' ')} --dump-instr=no --dump-line=no --log-file=${dir}/valgrind.log`;
  if (!NO_VALGRIND) {
    process.env.LD_PRELOAD = path.join(nativeDir(), 'slow-clock.so');
    process.env.DIEMCAU_CLOCK_SCALE = String(CLOCK_SCALE);
  }
  const mediasoup = await import('mediasoup');
  const rtcMinPort = await freePortBase(CONSUMERS + 10);
  const worker = await mediasoup.createWorker({ logLevel: 'warn', rtcMinPort, rtcMaxPort: rtcMinPort + CONSUMERS + 9 });
  delete process.env.MEDIASOUP_USE_VALGRIND;
  delete process.env.MEDIASOUP_VALGRIND_OPTIONS;
  delete process.env.LD_PRELOAD;
  delete process.env.DIEMCAU_CLOCK_SCALE;
  const hogs: ChildProcess[] = [];
  // The receivers: one socket of the native sink that every consumer's transport sends to (it
  // counts RTP by SSRC from the clear headers, never drops at these rates).
  const receiver = new NativeSink();
  const sender = dgram.createSocket({ type: 'udp4' });
  try {
    const router = await worker.createRouter({ mediaCodecs });
    await receiver.shareSockets(0);
    const receiverPort = (await receiver.bind([{ id: 'all', group: 'all', probe: false }])).all!;
    await receiver.mark();
    let received = 0;
    const count = async (): Promise<number> => (received = (await receiver.report()).groups.all?.packets ?? 0);
    await new Promise<void>((r) => sender.bind(0, '127.0.0.1', r));

    const speakerKey = SrtpSession.randomKey(SUITE);
    const input = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: true, enableSrtp: true, srtpCryptoSuite: SUITE });
    await input.connect({ srtpParameters: { cryptoSuite: SUITE, keyBase64: speakerKey } });
    const speaker = new Speaker();
    const mic = await input.produce({ kind: 'audio', rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, rtcpFeedback: [] }], encodings: [{ ssrc: speaker.mic.ssrc }] } });
    const cam = await input.produce({
      kind: 'video',
      keyFrameRequestDelay: KEYFRAME_REQUEST_DELAY_MS,
      rtpParameters: {
        codecs: [
          { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] },
          { mimeType: 'video/rtx', payloadType: 97, clockRate: 90000, parameters: { apt: 96 }, rtcpFeedback: [] },
        ],
        encodings: speaker.layers.map((l, i) => ({ ssrc: l.ssrc, rtx: { ssrc: 0x5020 + i }, scalabilityMode: 'L1T1' })),
      },
    });
    const caps = receiverCaps(router.rtpCapabilities);
    const consumers: ms.Consumer[] = [];
    const videos: ms.Consumer[] = [];
    const audioSsrcs: number[] = [];
    for (let i = 0; i < CONSUMERS; i++) {
      const t = await router.createPlainTransport({ listenIp: '127.0.0.1', rtcpMux: true, comedia: false, enableSrtp: true, srtpCryptoSuite: SUITE });
      await t.connect({ ip: '127.0.0.1', port: receiverPort, srtpParameters: { cryptoSuite: SUITE, keyBase64: SrtpSession.randomKey(SUITE) } });
      const v = await t.consume({ producerId: cam.id, rtpCapabilities: caps });
      const a = await t.consume({ producerId: mic.id, rtpCapabilities: caps });
      consumers.push(v, a);
      videos.push(v);
      audioSsrcs.push(a.rtpParameters.encodings![0]!.ssrc!);
    }
    const tx = new SrtpSession(speakerKey, SUITE);
    let sentTotal = 0;
    const send = (p: Buffer): Promise<void> => (sentTotal++, new Promise((r) => sender.send(tx.protectRtp(p), input.tuple.localPort, '127.0.0.1', () => r())));

    // Warm-up: the clip until every video consumer forwards the top layer. A consumer moves to
    // another simulcast layer only once that layer has had a sender report (mediasoup maps the
    // layers' timestamps through it), so the speaker sends them, as browsers do, here only.
    /** One batch of the clip, then until its copies have arrived (nothing more for 30 ms). */
    const warmBatch = async (): Promise<void> => {
      for (let i = 0; i < BATCH; i++, warm++) await send(speaker.next().packet);
      if (warm % (BATCH * 8) === 0) await reports();
      for (let last = -1; last !== (await count()); ) {
        last = received;
        await sleep(30);
      }
    };
    const reports = (): Promise<void> => {
      const now = Date.now();
      const srs = [...speaker.layers.map((l) => senderReport(l.ssrc, now, speaker.videoTs, 0, 0)), senderReport(speaker.mic.ssrc, now, speaker.audioTs, 0, 0)];
      return new Promise((r) => sender.send(tx.protectRtcp(Buffer.concat(srs)), input.tuple.localPort, '127.0.0.1', () => r()));
    };
    const topLayer = (): boolean => videos.every((c) => c.currentLayers?.spatialLayer === 2);
    let warm = 0;
    const warmStart = Date.now();
    while (!topLayer() || warm < 500) {
      await warmBatch();
      // Every layer has had its sender report: start the clip again on a keyframe of every
      // layer, so that the consumers can climb without waiting for the clip's next keyframe.
      if (warm % (BATCH * 32) === 0) speaker.rewind();
      if (warm % 200 === 0) log(`warm-up: ${warm} packets in, ${received} copies out, layers ${[...new Set(videos.map((c) => c.currentLayers?.spatialLayer ?? 'none'))].join(',')}`);
      if (Date.now() - warmStart > 900_000) throw new Error(`consumers not on the top layer after ${warm} packets: ${videos.map((c) => c.currentLayers?.spatialLayer).join(',')}`);
    }
    // Instrumentation from now on (setting up 200 transports and the warm-up run 5 times faster
    // without it). The clip goes on meanwhile: a layer without packets for 1.5 s is inactive to
    // mediasoup, and its consumers would wait for the next keyframe.
    if (!NO_VALGRIND) {
      let on = false;
      const instr = callgrindControl('--instr=on', worker.pid).then(() => (on = true));
      while (!on) await warmBatch();
      await instr;
      for (let i = 0; i < 8; i++) await warmBatch();
    }

    // The worker handles packets one after another, each with all its copies: once an audio
    // packet (copied to every consumer) has arrived everywhere, everything before it has too.
    const drained = async (): Promise<void> => {
      const before = await receiver.received(audioSsrcs);
      await send(speaker.nextAudio());
      const deadline = Date.now() + 120_000;
      while ((await receiver.received(audioSsrcs)) < before + CONSUMERS) {
        if (Date.now() > deadline) throw new Error('the warm-up did not drain');
        await sleep(5);
      }
      // A worker that sends a loop turn's copies at the turn's end (the d6 candidate, sendmmsg)
      // lets arrivals run ahead of what it has processed: the copies of packets handled earlier in
      // a turn arrive together with the drain packet's. Its own count of the input does not: wait
      // until it has every packet sent (or, if some never counted, until it stops moving for 2 s).
      const inputCount = async (): Promise<number> => (await cam.getStats()).reduce((n, s) => n + (s.packetCount ?? 0), 0) + (await mic.getStats()).reduce((n, s) => n + (s.packetCount ?? 0), 0);
      for (let last = -1, stableSince = Date.now(); ; ) {
        const n = await inputCount();
        if (n >= sentTotal) break;
        if (n !== last) (last = n), (stableSince = Date.now());
        else if (Date.now() - stableSince > 2000) break;
        if (Date.now() > deadline) throw new Error('the warm-up did not drain');
        await sleep(5);
      }
    };
    await drained();

    // The measured sequence: from the clip's first frame, a closed loop (batch → its copies).
    if (loaded) {
      for (let c = 0; c < os.cpus().length; c++) {
        const hog = spawn('taskset', ['-c', String(c), 'bash', '-c', 'while :; do :; done'], { stdio: 'ignore' });
        hogs.push(hog);
      }
    }
    speaker.rewind();
    const perConsumer = new Map<string, number>();
    const statsSent = async (): Promise<number> => {
      let n = 0;
      for (const c of consumers) {
        let k = 0;
        for (const s of await c.getStats()) if (s.type === 'outbound-rtp') k += s.packetCount ?? 0;
        if (process.env.DIEMCAU_DEBUG_COUNT) {
          const d = k - (perConsumer.get(c.id) ?? 0);
          perConsumer.set(c.id, d);
        }
        n += k;
      }
      return n;
    };
    const sent0 = await statsSent();
    const in0 = (await cam.getStats()).reduce((n, s) => n + (s.packetCount ?? 0), 0) + (await mic.getStats()).reduce((n, s) => n + (s.packetCount ?? 0), 0);
    let layerChanges = 0;
    const changes: string[] = [];
    for (const c of videos) c.on('layerschange', (l) => (layerChanges++, changes.length < 10 && changes.push(`${Date.now() % 100000}:${JSON.stringify(l)}`)));
    // The counters start from zero here, the worker idle (every copy of the warm-up arrived).
    const zeroAt = Date.now();
    if (!NO_VALGRIND) await callgrindControl('--zero', worker.pid);
    if (Date.now() - zeroAt > 1000) throw new Error(`callgrind took ${Date.now() - zeroAt} ms to zero its counters: the clip would have paused long enough for mediasoup to call a layer inactive`);
    const t0 = Date.now();
    let expected = await count();
    let expectedOut = 0;
    for (let sentIn = 0; sentIn < PACKETS; ) {
      for (let i = 0; i < BATCH && sentIn < PACKETS; i++, sentIn++) {
        const { packet, layer } = speaker.next();
        if (layer === -1 || layer === 2) (expected += CONSUMERS), (expectedOut += CONSUMERS);
        await send(packet);
      }
      // Every copy of the batch, or (a copy the consumers did not send) nothing more for 2 s.
      for (let last = received, quiet = 0; (await count()) < expected && quiet < 2000; quiet = received === last ? quiet + 5 : 0, last = received) await sleep(5);
      if (received < expected) {
        log(`batch ending at input ${sentIn}: ${expected - received} copies fewer than expected`);
        expected = received;
      }
    }
    await sleep(200);
    if (!NO_VALGRIND) await callgrindControl('--dump', worker.pid);
    const seconds = (Date.now() - t0) / 1000;
    const outPackets = (await statsSent()) - sent0;
    const inPackets = (await cam.getStats()).reduce((n, s) => n + (s.packetCount ?? 0), 0) + (await mic.getStats()).reduce((n, s) => n + (s.packetCount ?? 0), 0) - in0;
    // The workload must have been the fixed one: every input received, every audio and top-layer
    // packet copied to every consumer, no consumer moving between layers (a worker so slowed
    // down — valgrind on a loaded machine — that a layer looks inactive would do that).
    if (inPackets !== PACKETS) throw new Error(`not the fixed workload: the worker received ${inPackets} of ${PACKETS} packets`);
    if (changes.length) log(`layer changes: ${changes.join(' ')}`);
    if (process.env.DIEMCAU_DEBUG_COUNT) log(`per consumer: ${consumers.map((c) => `${c.kind[0]}${perConsumer.get(c.id)}`).join(' ')}`);
    if (outPackets !== expectedOut || layerChanges > 0) throw new Error(`not the fixed workload: ${outPackets} copies sent of ${expectedOut} expected, ${layerChanges} layer changes (the worker ran too slowly for mediasoup's activity timers)`);
    if (NO_VALGRIND) return { instructions: 0, outPackets, inPackets, instructionsPerOutPacket: 0, seconds, loaded };
    const dumps = fs.readdirSync(dir).filter((f) => f.startsWith('callgrind.out.')).sort();
    if (!dumps.length) throw new Error(`no callgrind dump in ${dir}: ${fs.readFileSync(path.join(dir, 'valgrind.log'), 'utf8').slice(-2000)}`);
    const instructions = dumpInstructions(path.join(dir, dumps[dumps.length - 1]!));
    return { instructions, outPackets, inPackets, instructionsPerOutPacket: Math.round((instructions / outPackets) * 10) / 10, seconds, loaded };
  } finally {
    for (const h of hogs) h.kill('SIGKILL');
    await receiver.close();
    sender.close();
    worker.close();
    await sleep(500);
    if (!KEEP) fs.rmSync(dir, { recursive: true, force: true });
    else log(`callgrind files kept in ${dir}`);
  }
}

