/**
 * diemcau's SFU in bench:peer, through `sfu/`'s public API as the product runs it: a WorkerPool
 * of one mediasoup worker (log level and WebRtcServer as the server's defaults), one
 * MediaSession whose chair bridge is the publisher (so it is the programme every hall receives),
 * a WebRTC transport per subscriber on the worker's WebRtcServer, as halls have.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { types as ms } from 'mediasoup';
import { MediaSession, WorkerPool, type MediaPeerSink } from '../../../sfu/index.ts';
import type { GeneratorHall } from '../fanout/protocol.ts';
import type { LocalIce, RemoteIce } from './endpoint.ts';
import type { SfuUnderTest } from './workload.ts';
import { freePortBase } from '../../../test/helpers/server.ts';

/** The publisher's bridge: the conference's chair, whose camera and microphone are the programme. */
const PUBLISHER_BRIDGE = 'p-bench';

/** A client that accepts whatever the session hands it (the endpoint counts any SSRC). */
const acceptAll: MediaPeerSink = {
  consume: () => Promise.resolve(),
  consumerClosed: () => undefined,
  consumerSlot: () => undefined,
  sendLayers: () => undefined,
  micState: () => undefined,
  restartMedia: () => undefined,
  replaced: () => undefined,
};

/**
 * What the subscribers can receive: the router's codecs with NACK, PLI and FIR feedback only, no
 * header extensions (no bandwidth estimation, so the SFU keeps the top layer), as their SDP
 * answer tells Janus.
 */
function receiverCaps(caps: ms.RtpCapabilities): ms.RtpCapabilities {
  return {
    codecs: caps.codecs!.filter((c) => c.mimeType !== 'video/rtx').map((c) => ({ ...c, rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => f.type === 'nack' || (f.type === 'ccm' && f.parameter === 'fir')) })),
    headerExtensions: [],
  };
}

function producerParameters(s: Pick<GeneratorHall, 'mic' | 'cam'>): { mic: ms.RtpParameters; cam: ms.RtpParameters } {
  return {
    mic: {
      codecs: [{ mimeType: 'audio/opus', payloadType: s.mic.pt, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [] }],
      headerExtensions: [],
      encodings: [{ ssrc: s.mic.ssrc }],
      rtcp: { cname: 'bench' },
    },
    cam: {
      codecs: [
        { mimeType: 'video/VP8', payloadType: s.cam.pt, clockRate: 90000, rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }] },
        { mimeType: 'video/rtx', payloadType: s.cam.rtxPt, clockRate: 90000, parameters: { apt: s.cam.pt }, rtcpFeedback: [] },
      ],
      headerExtensions: [],
      encodings: s.cam.ssrcs.map((ssrc, i) => ({ ssrc, rtx: { ssrc: s.cam.rtxSsrcs[i]! }, scalabilityMode: 'L1T1' })),
      rtcp: { cname: 'bench' },
    },
  };
}

export class DiemcauSfu implements SfuUnderTest {
  readonly label = 'diemcau';
  readonly version: string;
  readonly #pool: WorkerPool;
  readonly #session: MediaSession;

  private constructor(pool: WorkerPool, session: MediaSession, version: string) {
    this.#pool = pool;
    this.#session = session;
    this.version = version;
  }

  /**
   * Starts one worker listening on `ip`. The worker inherits this process's CPU affinity; the
   * caller pins it by pid. MEDIASOUP_USE_VALGRIND in the environment runs it under valgrind.
   */
  static async start(ip: string): Promise<DiemcauSfu> {
    const webRtcBasePort = await freePortBase(1);
    const rtcMinPort = await freePortBase(1);
    const pool = await WorkerPool.create({ numWorkers: 1, listenIp: ip, webRtcBasePort, rtcMinPort, rtcMaxPort: rtcMinPort + 99 });
    try {
      const session = await MediaSession.create(pool, { conferenceId: 'bench-peer', chairBridgeId: PUBLISHER_BRIDGE, bridgeIds: [PUBLISHER_BRIDGE] });
      const pkg = JSON.parse(fs.readFileSync(path.join(process.cwd(), 'node_modules', 'mediasoup', 'package.json'), 'utf8')) as { version: string };
      const worker = path.basename(process.env.MEDIASOUP_WORKER_BIN ?? 'mediasoup-worker');
      return new DiemcauSfu(pool, session, `diemcau (mediasoup ${pkg.version}, ${worker})`);
    } catch (error) {
      pool.close();
      throw error;
    }
  }

  /** The worker process (the SFU's CPU; the Node side only signals). */
  get pid(): number {
    return this.#pool.slots[0]!.worker.pid;
  }

  async publish(streams: Pick<GeneratorHall, 'mic' | 'cam'>, local: LocalIce): Promise<RemoteIce> {
    const s = this.#session;
    s.join('publisher', { bridgeId: PUBLISHER_BRIDGE, publish: true, receiveOnAir: false, thumbnails: false }, acceptAll);
    const t = await s.createTransport('publisher', 'send');
    await s.connectTransport('publisher', t.id, { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: local.fingerprint }] });
    const p = producerParameters(streams);
    await s.produce('publisher', t.id, 'audio', p.mic, 'mic');
    await s.produce('publisher', t.id, 'video', p.cam, 'cam');
    return remote(t);
  }

  async subscribe(id: string, local: LocalIce): Promise<RemoteIce> {
    const s = this.#session;
    s.join(id, { publish: false, receiveOnAir: true, thumbnails: false }, acceptAll);
    const t = await s.createTransport(id, 'recv');
    await s.connectTransport(id, t.id, { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: local.fingerprint }] });
    s.setRtpCapabilities(id, receiverCaps(s.rtpCapabilities));
    return remote(t);
  }

  kindOf(pt: number): 'audio' | 'video' | undefined {
    return this.#session.rtpCapabilities.codecs!.find((c) => c.preferredPayloadType === pt)?.kind;
  }

  close(): Promise<void> {
    this.#session.close();
    this.#pool.close();
    return Promise.resolve();
  }
}

/** mediasoup is ICE-lite: we are the controlling agent. */
function remote(t: { iceParameters: ms.IceParameters; iceCandidates: ms.IceCandidate[]; dtlsParameters: ms.DtlsParameters }): RemoteIce {
  const udp = t.iceCandidates.find((c) => c.protocol === 'udp');
  const fp = t.dtlsParameters.fingerprints.find((f) => f.algorithm === 'sha-256');
  if (!udp || !fp) throw new Error('diemcau: no UDP candidate or sha-256 fingerprint');
  return { ip: udp.ip, port: udp.port, ufrag: t.iceParameters.usernameFragment, pwd: t.iceParameters.password, fingerprint: fp.value.toUpperCase(), controlling: true };
}
