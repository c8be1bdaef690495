// Shared parts of the SFU integration tests: real mediasoup workers, in-process peers that
// publish synthetic RTP parameters on WebRTC transports that are never connected.
import { expect } from 'chai';
import type { types as ms } from 'mediasoup';
import type {
  ConsumeRequest,
  ConsumerSlot,
  MediaPeerSink,
  MediaSession,
  PeerOptions,
  WorkerPoolOptions,
} from '../../sfu/index.ts';
import { freePortBase } from '../helpers/server.ts';

export const PROVINCE = 'p-20';
export const DISTRICT = 'd-178'; // Thành phố Lạng Sơn
export const DISTRICT_2 = 'd-180';
export const COMMUNE = 'c-05971'; // a commune of d-178
export const COMMUNE_2 = 'c-06010'; // Xã Cao Minh, Huyện Tràng Định

/** Pool options on loopback with free WebRTC ports and a pipe port range of its own. */
export async function poolOptions(numWorkers: number): Promise<WorkerPoolOptions> {
  const webRtcBasePort = await freePortBase(numWorkers);
  let rtcMinPort = await freePortBase(1);
  // Keep the pipe range clear of the WebRTC ports.
  if (rtcMinPort <= webRtcBasePort + numWorkers && rtcMinPort + 200 >= webRtcBasePort) rtcMinPort = webRtcBasePort + numWorkers + 1;
  return { numWorkers, listenIp: '127.0.0.1', webRtcBasePort, rtcMinPort, rtcMaxPort: rtcMinPort + 199, logLevel: 'error' };
}

/** Whether a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` until it returns a truthy value; throws with the label and the last error otherwise. */
export async function waitFor<T>(label: string, check: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 5000, everyMs = 20): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${label}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Waits until `actual()` deep-equals `expected`, then asserts it (so a timeout shows the diff). */
export async function eventuallyEqual<T>(label: string, actual: () => T | Promise<T>, expected: T, timeoutMs = 5000): Promise<void> {
  const want = canonical(expected);
  await waitFor(label, async () => canonical(await actual()) === want, timeoutMs).catch(() => undefined);
  expect(await actual(), label).to.deep.equal(expected);
}

/** JSON with object keys sorted, so that equal records compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

/** A peer's client, in-process: records what the session tells it and accepts every consumer at once. */
export class RecordingSink implements MediaPeerSink {
  readonly consumes: ConsumeRequest[] = [];
  readonly closedConsumers: string[] = [];
  readonly slotChanges: { consumerId: string; slot: ConsumerSlot }[] = [];
  readonly layers: number[] = [];
  readonly mics: boolean[] = [];
  readonly restarts: string[] = [];
  replacedCount = 0;

  consume(request: ConsumeRequest): Promise<void> {
    this.consumes.push(request);
    return Promise.resolve();
  }
  consumerClosed(consumerId: string): void {
    this.closedConsumers.push(consumerId);
  }
  consumerSlot(consumerId: string, slot: ConsumerSlot): void {
    this.slotChanges.push({ consumerId, slot });
  }
  sendLayers(maxSpatialLayer: number): void {
    this.layers.push(maxSpatialLayer);
  }
  micState(open: boolean): void {
    this.mics.push(open);
  }
  restartMedia(reason: string): void {
    this.restarts.push(reason);
  }
  replaced(): void {
    this.replacedCount++;
  }
}

let nextSsrc = 10_000;

/** The RTP header extension id a test microphone carries its level in (RFC 6464), when it does. */
export const AUDIO_LEVEL_EXT_ID = 1;

/** What a browser's Opus microphone producer looks like to mediasoup (`audioLevel`: with its level in each packet, as a browser sends it). */
export function micParameters(o: { audioLevel?: boolean } = {}): ms.RtpParameters {
  return {
    mid: '0',
    codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 }, rtcpFeedback: [] }],
    headerExtensions: o.audioLevel ? [{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: AUDIO_LEVEL_EXT_ID, encrypt: false, parameters: {} }] : [],
    encodings: [{ ssrc: nextSsrc++ }],
    rtcp: { cname: 'diemcau-test' },
  };
}

/** A VP8 camera with 3 simulcast encodings (low, medium, high). */
export function camParameters(): ms.RtpParameters {
  return {
    mid: '1',
    codecs: [
      {
        mimeType: 'video/VP8',
        payloadType: 96,
        clockRate: 90000,
        rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' }],
      },
    ],
    headerExtensions: [],
    encodings: [{ ssrc: nextSsrc++ }, { ssrc: nextSsrc++ }, { ssrc: nextSsrc++ }],
    rtcp: { cname: 'diemcau-test' },
  };
}

/** A joined peer and what it created. */
export interface TestPeer {
  peerId: string;
  bridgeId?: string;
  sink: RecordingSink;
  sendTransportId?: string;
  recvTransportId?: string;
  micId?: string;
  camId?: string;
}

let nextPeer = 1;

/** Options of a hall: publishes, receives the programme; the chair's hall may view thumbnails. */
export function hallOptions(bridgeId: string): PeerOptions {
  return { bridgeId, publish: true, receiveOnAir: true, thumbnails: bridgeId === PROVINCE };
}

/** Creates (again) a hall's transports and publishes its microphone and camera. */
export async function publish(session: MediaSession, peer: TestPeer): Promise<TestPeer> {
  peer.sendTransportId = (await session.createTransport(peer.peerId, 'send')).id;
  peer.recvTransportId = (await session.createTransport(peer.peerId, 'recv')).id;
  peer.micId = (await session.produce(peer.peerId, peer.sendTransportId, 'audio', micParameters(), 'mic')).id;
  peer.camId = (await session.produce(peer.peerId, peer.sendTransportId, 'video', camParameters(), 'cam')).id;
  return peer;
}

/** Joins a hall the way its browser does: join, capabilities, both transports, mic and camera. */
export async function joinHall(session: MediaSession, bridgeId: string): Promise<TestPeer> {
  const peer: TestPeer = { peerId: `hall-${bridgeId}-${nextPeer++}`, bridgeId, sink: new RecordingSink() };
  session.join(peer.peerId, hallOptions(bridgeId), peer.sink);
  // A router's capabilities are a valid receiving device's capabilities.
  session.setRtpCapabilities(peer.peerId, session.rtpCapabilities);
  return publish(session, peer);
}

/** Joins a receive-only console (chair or technician) with a receive transport. */
export async function joinConsole(session: MediaSession, options: Partial<PeerOptions> = {}): Promise<TestPeer> {
  const peer: TestPeer = { peerId: `console-${nextPeer++}`, sink: new RecordingSink() };
  session.join(peer.peerId, { publish: false, receiveOnAir: false, thumbnails: true, ...options }, peer.sink);
  session.setRtpCapabilities(peer.peerId, session.rtpCapabilities);
  peer.recvTransportId = (await session.createTransport(peer.peerId, 'recv')).id;
  return peer;
}

/** Each peer's consumers as sorted "slot bridge/source" lines, keyed by bridge id (or peer id for consoles). */
export function routing(session: MediaSession): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const p of session.snapshot().peers) {
    out[p.bridgeId ?? p.peerId] = p.consumers.map((c) => `${c.slot} ${c.bridgeId}/${c.source}`).sort();
  }
  return out;
}

/**
 * What each hall should receive by the issue's rules: the video and audio of the bridge on air and the
 * chair's audio; the speaking hall sees the chair instead of itself; nobody receives itself.
 */
export function expectedRouting(halls: string[], onAir: string, chair = PROVINCE): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const h of halls) {
    const lines: string[] = [];
    if (h === onAir) {
      if (h !== chair) lines.push(`onair ${chair}/cam`, `audio ${chair}/mic`);
    } else {
      lines.push(`onair ${onAir}/cam`, `audio ${onAir}/mic`);
      if (h !== chair && onAir !== chair) lines.push(`audio ${chair}/mic`);
    }
    out[h] = lines.sort();
  }
  return out;
}

/** Consumers not yet resumed after their sink acknowledged them (programme consumers should all run). */
export function pausedConsumers(session: MediaSession): string[] {
  return session
    .snapshot()
    .peers.flatMap((p) => p.consumers.filter((c) => c.paused && c.slot !== 'next').map((c) => `${p.bridgeId ?? p.peerId}:${c.slot} ${c.bridgeId}/${c.source}`));
}

/** Producer ids present in a router (own and piped), from its dump. */
export async function routerProducerIds(router: ms.Router | undefined): Promise<string[]> {
  if (!router) return [];
  const dump = (await router.dump()) as { mapProducerIdConsumerIds: Record<string, string[]> | { key: string }[] };
  const map = dump.mapProducerIdConsumerIds;
  return Array.isArray(map) ? map.map((e) => e.key) : Object.keys(map);
}

/** Transport ids (WebRTC and pipe) present in a router, from its dump. */
export async function routerTransportIds(router: ms.Router | undefined): Promise<string[]> {
  if (!router) return [];
  const dump = (await router.dump()) as { transportIds: string[] };
  return dump.transportIds;
}
