// The press feed's wire (relay, re-encoder, press socket) runs in a thread of its own: the main
// thread held up for a second does not silence the press feed (it did, for as long as it was held,
// when the relay's ticks and the press socket were on the main event loop), and a thread that
// dies is reported, its re-encoder killed, and a new one started and connected to the SFU. Real
// mediasoup and ffmpeg; the press player listens in a thread of its own (the main thread is the
// one held up); a plain RTP peer is the chair's microphone.
import dgram from 'node:dgram';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { expect } from 'chai';
import { MediaSession, WorkerPool } from '../../sfu/index.ts';
import { systemClock } from '../../server/core/conference/index.ts';
import { FeedOutput } from '../../server/app/feed/FeedOutput.ts';
import { transparentPng } from '../../server/app/feed/ContentPanel.ts';
import { CRASH_LINE } from '../fixtures/feed-thread-crash.ts';
import { COMMUNE, DISTRICT, PROVINCE, RecordingSink, alive, micParameters, poolOptions, waitFor } from './media-fixture.ts';
import { udpSocket } from '../helpers/synthetic-rtp.ts';
import { OPUS_SILENCE, writeRtp } from '../../server/app/feed/rtp.ts';

/** A press player in its own thread: the arrival time of every datagram, asked for by message. */
class ThreadedPlayer {
  readonly #worker: Worker;
  port = 0;
  private constructor() {
    this.#worker = new Worker(
      `const { parentPort } = require('node:worker_threads');
       const dgram = require('node:dgram');
       const socket = dgram.createSocket('udp4');
       const arrivals = [];
       socket.on('message', () => arrivals.push(Date.now()));
       socket.bind(0, '127.0.0.1', () => parentPort.postMessage({ port: socket.address().port }));
       parentPort.on('message', (m) => {
         if (m === 'arrivals') parentPort.postMessage({ arrivals });
         else { socket.close(); parentPort.close(); }
       });`,
      { eval: true },
    );
  }
  static async open(): Promise<ThreadedPlayer> {
    const player = new ThreadedPlayer();
    player.port = await new Promise<number>((resolve) => player.#worker.once('message', (m: { port: number }) => resolve(m.port)));
    return player;
  }
  arrivals(): Promise<number[]> {
    this.#worker.postMessage('arrivals');
    return new Promise((resolve) => this.#worker.once('message', (m: { arrivals: number[] }) => resolve(m.arrivals)));
  }
  async close(): Promise<void> {
    this.#worker.postMessage('close');
    await this.#worker.terminate();
  }
}

/**
 * Whether a process runs (a zombie does not: a child of a thread that died is killed, but nobody
 * is left to reap it).
 */
function running(pid: number): boolean {
  if (!alive(pid)) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The longest time without a datagram between two instants (ms). */
function longestSilence(arrivals: number[], from: number, to: number): number {
  let prev = from;
  let longest = 0;
  for (const at of arrivals) {
    if (at <= from) continue;
    if (at > to) break;
    longest = Math.max(longest, at - prev);
    prev = at;
  }
  return Math.max(longest, to - prev);
}

describe('feed output: the wire in a thread of its own (mediasoup, ffmpeg)', function () {
  this.timeout(60_000);
  let pool: WorkerPool;
  let session: MediaSession | undefined;
  let output: FeedOutput | undefined;
  let player: ThreadedPlayer | undefined;
  const sockets: dgram.Socket[] = [];
  const timers: ReturnType<typeof setInterval>[] = [];

  before(async () => {
    pool = await WorkerPool.create(await poolOptions(1));
  });
  after(() => pool?.close());
  afterEach(async () => {
    for (const t of timers.splice(0)) clearInterval(t);
    await output?.close();
    output = undefined;
    session?.close();
    session = undefined;
    await player?.close();
    player = undefined;
    for (const s of sockets.splice(0)) s.close();
  });

  const start = async (threadEntry?: URL): Promise<FeedOutput> => {
    session = await MediaSession.create(pool, { conferenceId: 'feed-thread', chairBridgeId: PROVINCE, bridgeIds: [PROVINCE, DISTRICT, COMMUNE], switchBatchMs: 100, consumeTimeoutMs: 2000 });
    player = await ThreadedPlayer.open();
    output = await FeedOutput.create({
      media: session,
      pressFeed: { protocol: 'rtp', host: '127.0.0.1', port: player.port },
      width: 640,
      height: 360,
      preset: 'ultrafast',
      videoKbps: 800,
      maketBackground: '#c00000',
      maketText: '#ffde00',
      overlay: { maket: ['HỘI NGHỊ TRỰC TUYẾN'], lowerThird: ['Chủ tọa hội nghị', 'Điểm cầu tỉnh'] },
      panel: transparentPng(640, 360),
      clock: systemClock,
      threadEntry,
    });
    const p = player;
    await waitFor('the press feed flows', async () => (await p.arrivals()).length > 100, 20_000, 200);
    return output;
  };

  it('the press feed goes on while the main thread is held up for a second', async () => {
    await start();
    const from = Date.now();
    // The main thread busy for a second, as a long synchronous piece of work on the control plane would.
    while (Date.now() < from + 1000);
    const to = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    const silence = longestSilence(await player!.arrivals(), from, to);
    console.log(`      main thread held up ${to - from} ms: longest silence of the press feed ${silence} ms`);
    // On the main event loop the feed was silent for the whole second; in its thread it keeps its own pace (a frame every 40 ms).
    expect(silence, 'longest silence on the press feed while the main thread is held up (ms)').to.be.lessThan(500);
  });

  it('a feed thread that crashes is reported, its re-encoder killed, and a new one takes the SFU\'s media and the press feed again', async () => {
    const out = await start(new URL('../fixtures/feed-thread-crash.ts', import.meta.url));
    // The chair's microphone on air from a plain RTP peer: what the relay receives from the SFU.
    const s = session!;
    s.join('hw', { bridgeId: PROVINCE, publish: true, receiveOnAir: false, thumbnails: false }, new RecordingSink());
    const up = await s.createPlainTransport('hw', 'send', { comedia: true });
    const params = micParameters();
    await s.produce('hw', up.id, 'audio', params, 'mic');
    await Promise.all([s.setOnAir(PROVINCE), s.setOpenMicrophones([PROVINCE])]);
    const mic = await udpSocket();
    sockets.push(mic);
    let seq = 0;
    // Real Opus frames (silence): a re-encoder that starts with them must decode them.
    const ssrc = params.encodings![0]!.ssrc!;
    timers.push(setInterval(() => {
      seq++;
      mic.send(writeRtp({ payloadType: 111, marker: false, seq: seq & 0xffff, timestamp: seq * 960, ssrc, payload: OPUS_SILENCE }), up.port, up.ip);
    }, 20));
    await waitFor('the relay receives the chair\'s microphone', () => (out.relayCounters?.received ?? 0) > 20, 10_000);

    const first = out.thread!;
    const firstId = first.threadId;
    const encoder = first.encoderPid!;
    expect(running(encoder)).to.equal(true);
    const problems: string[] = [];
    out.on('problem', (m) => problems.push(m));
    const restarted = new Promise<void>((resolve) => out.once('restarted', resolve));
    out.setOverlay({ maket: ['HỘI NGHỊ TRỰC TUYẾN'], lowerThird: [CRASH_LINE, 'Điểm cầu tỉnh'] });
    await waitFor('the death is reported', () => problems.find((m) => m.startsWith('feed thread died')), 5000);
    expect(problems[0]).to.contain('feed thread crash (test)');
    await waitFor('the dead thread\'s re-encoder is killed', () => !running(encoder), 5000);
    await restarted;
    const second = out.thread!;
    expect(second.threadId).to.not.equal(firstId);
    expect(running(second.encoderPid!)).to.equal(true);
    // The new relay is connected to the SFU (a new plain transport) and the press hears the feed again.
    const since = Date.now();
    await waitFor('the new relay receives the chair\'s microphone', () => (out.relayCounters?.received ?? 0) > 20, 10_000);
    await waitFor('the press feed flows again', async () => (await player!.arrivals()).filter((at) => at > since).length > 100, 20_000, 200);

    // close() is idempotent and leaves no re-encoder behind.
    const pid = second.encoderPid!;
    await Promise.all([out.close(), out.close()]);
    expect(running(pid)).to.equal(false);
    expect(out.thread).to.equal(undefined);
  });
});
