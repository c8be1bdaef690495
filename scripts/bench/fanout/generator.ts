/**
 * The load generator (a child process of bench:fanout): plays every synthetic hall's camera
 * (VP8, up to 3 simulcast layers, from the clip) and microphone (Opus) into the SFU over SRTP,
 * one UDP socket per hall as a real hall has, at the clip's real pace. Answers the SFU's RTCP
 * as a browser would: a keyframe request makes the next frame of that layer a keyframe, a NACK
 * is answered from a history of sent packets. Stamps the last packet of every frame with its
 * send time (see rtp.ts) so that receivers can measure forwarding latency.
 */
import dgram from 'node:dgram';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadClip, type Clip } from './media.ts';
import { OpusPacketizer, Vp8Packetizer, parseFeedback, writeSendTime } from './rtp.ts';
import { senderReport } from '../../../server/app/feed/rtp.ts';
import { SrtpSession, isRtcp } from './srtp.ts';
import type { GeneratorHall, GeneratorRequest, GeneratorStats } from './protocol.ts';

interface Layer {
  index: number;
  pk: Vp8Packetizer;
  cursor: number;
  needKey: boolean;
  packets: number;
  octets: number;
  rtxSeq: number;
}

interface Hall {
  spec: GeneratorHall;
  socket: dgram.Socket;
  tx: SrtpSession;
  rx: SrtpSession;
  layers: Layer[];
  mic: OpusPacketizer;
  audioCursor: number;
  audioPackets: number;
  audioOctets: number;
  maxLayer: number;
  nextFrameAt: number;
  nextAudioAt: number;
  frameNo: number;
  tsBase: number;
  audioTs: number;
  history: Map<number, Map<number, Buffer>>;
  keyframeRequests: number;
  nacked: number;
  /** Video packets waiting for the pacer, and its budget in bytes. */
  paced: { packet: Buffer; stamp: boolean }[];
  budget: number;
  lastPaceAt: number;
}

const clip: Clip = loadClip();
// Times in ms from performance.now(): cheap number arithmetic in the hot loop (BigInt is not).
const FRAME_MS = 1000 / clip.fps;
const AUDIO_MS = 20;
const TICK_MS = 1;
/**
 * Video leaves through a pacer as in libwebrtc: at 2.5 times the encoder's bitrate, so a frame's
 * packets are spread over a few milliseconds instead of one burst (audio is not paced).
 */
const PACING_FACTOR = 2.5;
const halls = new Map<string, Hall>();
let stampCounter = 0;
const keyframeLog: GeneratorStats['keyframeLog'] = [];
let sent = 0;
let sentOctets = 0;
let running = false;
const lag = monitorEventLoopDelay({ resolution: 10 });

function send(hall: Hall, packet: Buffer, stamp: boolean): void {
  if (stamp) writeSendTime(packet, process.hrtime.bigint());
  const srtp = hall.tx.protectRtp(packet);
  hall.socket.send(srtp, hall.spec.port, hall.spec.ip);
  sent++;
  sentOctets += srtp.length;
}

function remember(hall: Hall, ssrc: number, packet: Buffer): void {
  let h = hall.history.get(ssrc);
  if (!h) hall.history.set(ssrc, (h = new Map()));
  h.set(packet.readUInt16BE(2), packet);
  if (h.size > 600) h.delete(h.keys().next().value!);
}

function sendFrame(hall: Hall): void {
  const ts = (hall.tsBase + hall.frameNo * (90000 / clip.fps)) >>> 0;
  hall.frameNo++;
  for (const layer of hall.layers) {
    if (layer.index > hall.maxLayer) continue;
    const frames = clip.layers[layer.index]!;
    if (layer.needKey) {
      // A keyframe request (or a layer that starts): the encoder's next frame is a keyframe.
      const next = frames.keyframes.find((k) => k >= layer.cursor) ?? 0;
      layer.cursor = next;
      layer.needKey = false;
    }
    const frame = frames.frames[layer.cursor]!;
    layer.cursor = (layer.cursor + 1) % frames.frames.length;
    const { packets, stampAt } = layer.pk.packetize(frame.data, ts, { counter: stampCounter++ });
    packets.forEach((p, i) => {
      remember(hall, layer.pk.ssrc, p);
      layer.packets++;
      layer.octets += p.length;
      hall.paced.push({ packet: p, stamp: i === stampAt });
    });
  }
}

/** Sends what the pacer allows since the last call. */
function pace(hall: Hall, now: number): void {
  let kbps = 0;
  for (let i = 0; i <= hall.maxLayer; i++) kbps += clip.layers[i]!.kbps;
  const bytesPerMs = (kbps * PACING_FACTOR) / 8;
  hall.budget = Math.min(hall.budget + (now - hall.lastPaceAt) * bytesPerMs, 2 * 1200);
  hall.lastPaceAt = now;
  while (hall.paced.length && hall.budget > 0) {
    const { packet, stamp } = hall.paced.shift()!;
    hall.budget -= packet.length;
    send(hall, packet, stamp);
  }
}

function sendAudio(hall: Hall): void {
  const opus = clip.audio[hall.audioCursor]!;
  hall.audioCursor = (hall.audioCursor + 1) % clip.audio.length;
  const p = hall.mic.packetize(opus, hall.audioTs);
  hall.audioTs = (hall.audioTs + 960) >>> 0;
  hall.audioPackets++;
  hall.audioOctets += p.length;
  send(hall, p, false);
}

function onRtcp(hall: Hall, packet: Buffer): void {
  const plain = hall.rx.unprotectRtcp(packet);
  if (!plain) return;
  const fb = parseFeedback(plain);
  for (const ssrc of [...fb.pli, ...fb.fir]) {
    const layer = hall.layers.find((l) => l.pk.ssrc === ssrc);
    if (layer) {
      layer.needKey = true;
      hall.keyframeRequests++;
      keyframeLog.push({ hall: hall.spec.id, layer: layer.index, at: Date.now(), kind: fb.pli.includes(ssrc) ? 'pli' : 'fir' });
      if (keyframeLog.length > 200) keyframeLog.shift();
    }
  }
  // Retransmissions go on the layer's RTX stream (RFC 4588), as browsers do: SRTP's replay
  // protection would drop a second packet with the same SSRC and sequence number.
  for (const { ssrc, seqs } of fb.nack) {
    const h = hall.history.get(ssrc);
    const layer = hall.layers.find((l) => l.pk.ssrc === ssrc);
    if (!layer) continue;
    for (const seq of seqs) {
      const p = h?.get(seq);
      if (!p) continue;
      hall.nacked++;
      const rtx = Buffer.allocUnsafe(p.length + 2);
      p.copy(rtx, 0, 0, 12);
      rtx[1] = (p[1]! & 0x80) | hall.spec.cam.rtxPt;
      rtx.writeUInt16BE(layer.rtxSeq, 2);
      layer.rtxSeq = (layer.rtxSeq + 1) & 0xffff;
      rtx.writeUInt32BE(hall.spec.cam.rtxSsrcs[layer.index]!, 8);
      rtx.writeUInt16BE(seq, 12);
      p.copy(rtx, 14, 12);
      send(hall, rtx, false);
    }
  }
}

function sendReports(): void {
  const now = Date.now();
  for (const hall of halls.values()) {
    const parts: Buffer[] = [];
    const ts = (hall.tsBase + hall.frameNo * (90000 / clip.fps)) >>> 0;
    for (const l of hall.layers) if (l.index <= hall.maxLayer) parts.push(senderReport(l.pk.ssrc, now, ts, l.packets, l.octets));
    parts.push(senderReport(hall.mic.ssrc, now, hall.audioTs, hall.audioPackets, hall.audioOctets));
    hall.socket.send(hall.tx.protectRtcp(Buffer.concat(parts)), hall.spec.port, hall.spec.ip);
  }
}

/** Adds a hall, or replaces one of the same id (a hall that moved to another media node: bench:cascade). */
async function addHall(spec: GeneratorHall): Promise<void> {
  halls.get(spec.id)?.socket.close();
  const socket = dgram.createSocket({ type: 'udp4', sendBufferSize: 1 << 20 });
  // DIEMCAU_BENCH_BIND_IP: the address the SFU reaches us at (bench:cascade's nodes are other hosts).
  await new Promise<void>((r) => socket.bind(0, process.env.DIEMCAU_BENCH_BIND_IP ?? '127.0.0.1', r));
  const now = performance.now();
  const hall: Hall = {
    spec,
    socket,
    tx: new SrtpSession(spec.myKey, spec.suite),
    rx: new SrtpSession(spec.sfuKey, spec.suite),
    layers: spec.cam.ssrcs.map((ssrc, index) => ({ index, pk: new Vp8Packetizer(ssrc, spec.cam.pt), cursor: 0, needKey: true, packets: 0, octets: 0, rtxSeq: Math.floor(Math.random() * 0xffff) })),
    mic: new OpusPacketizer(spec.mic.ssrc, spec.mic.pt),
    audioCursor: Math.floor(Math.random() * clip.audio.length),
    audioPackets: 0,
    audioOctets: 0,
    maxLayer: spec.maxLayer,
    // Halls do not capture in step: spread their frame and audio times over one period.
    nextFrameAt: now + Math.random() * FRAME_MS,
    nextAudioAt: now + Math.random() * AUDIO_MS,
    frameNo: 0,
    tsBase: Math.floor(Math.random() * 2 ** 31),
    audioTs: Math.floor(Math.random() * 2 ** 31),
    history: new Map(),
    keyframeRequests: 0,
    nacked: 0,
    paced: [],
    budget: 0,
    lastPaceAt: now,
  };
  socket.on('message', (m) => {
    if (isRtcp(m)) onRtcp(hall, m);
  });
  halls.set(spec.id, hall);
}

function tick(): void {
  if (!running) return;
  const now = performance.now();
  for (const hall of halls.values()) {
    // Catch up at most a few periods after a stall instead of bursting a second of media.
    if (now - hall.nextFrameAt > 5 * FRAME_MS) hall.nextFrameAt = now;
    while (hall.nextFrameAt <= now) {
      sendFrame(hall);
      hall.nextFrameAt += FRAME_MS;
    }
    pace(hall, now);
    if (now - hall.nextAudioAt > 5 * AUDIO_MS) hall.nextAudioAt = now;
    while (hall.nextAudioAt <= now) {
      sendAudio(hall);
      hall.nextAudioAt += AUDIO_MS;
    }
  }
  setTimeout(tick, TICK_MS);
}

function stats(): GeneratorStats {
  return {
    packets: sent,
    octets: sentOctets,
    keyframeRequests: Object.fromEntries([...halls].map(([id, h]) => [id, h.keyframeRequests])),
    nacked: [...halls.values()].reduce((n, h) => n + h.nacked, 0),
    keyframeLog,
    loopDelayP99Ms: lag.percentile(99) / 1e6,
    loopDelayMaxMs: lag.max / 1e6,
  };
}

process.on('message', (raw) => {
  const msg = raw as GeneratorRequest;
  void (async () => {
    switch (msg.type) {
      case 'halls':
        for (const spec of msg.halls) await addHall(spec);
        if (!running) {
          running = true;
          lag.enable();
          setInterval(sendReports, 1000).unref();
          tick();
        }
        process.send!({ type: 'ok', id: msg.id });
        break;
      case 'layers': {
        const hall = halls.get(msg.hall);
        if (hall) {
          for (const l of hall.layers) if (l.index > hall.maxLayer && l.index <= msg.maxLayer) l.needKey = true;
          hall.maxLayer = msg.maxLayer;
        }
        process.send!({ type: 'ok', id: msg.id });
        break;
      }
      case 'stats': {
        const result = stats();
        lag.reset();
        process.send!({ type: 'stats', id: msg.id, stats: result });
        break;
      }
      case 'stop':
        running = false;
        for (const h of halls.values()) h.socket.close();
        process.send!({ type: 'ok', id: msg.id }, () => process.exit(0));
        break;
    }
  })();
});
process.on('disconnect', () => process.exit(0));
