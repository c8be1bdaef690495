// One connection of a page to one media node's `/media` (see the class). Over 400 lines: joining,
// publishing, receiving and the restart after a lost link share the transports, so they stay in
// one class; the page-level pieces (the camera and microphone, following the placement, moving
// between nodes) are in MediaClient. The ICE restart after a network change (iceRecovery.ts) and
// the camera's audio-first rule (audioFirst.ts) are modules of their own that a leg drives.
import { Device } from 'mediasoup-client';
import type { types as msc } from 'mediasoup-client';
import { io, type Socket } from 'socket.io-client';
import type {
  Ack,
  AudioOnlyState,
  ConsumeMessage,
  MediaClientEvents,
  MediaReplies,
  MediaRequest,
  MediaRequestName,
  MediaResume,
  MediaServerEvents,
} from '../../server/protocol/media.ts';
import type { LinkSample } from './linkQuality.ts';
import { refusalOfError, type TokenRefusal } from './refusal.ts';
import { transportOptions } from './transportOptions.ts';
import { availableKbpsOf, CAM_DEGRADATION, MIC_CODEC_OPTIONS, MIC_ENCODING, SendRule, TRIAL_PROBE_LAYER, uplinkLossParts, UplinkLossWatch, WEAK_LINK_AUDIO_BPS, type SendDecision, type SendMode } from './audioFirst.ts';
import { IceRecovery, reconnectNow, type RecoveryEvent } from './iceRecovery.ts';
import { replaceAudioOnly, setAudioOnly } from './audioOnlyMap.ts';

/** A consumer the page received, with timing used by tests and the switch benchmark. */
export interface ReceivedConsumer {
  consumer: msc.Consumer;
  bridgeId: string;
  slot: ConsumeMessage['slot'];
  source: ConsumeMessage['source'];
  receivedAt: number;
  /** When it started to be shown: received, or promoted from a prepared `next` consumer. */
  activatedAt?: number;
  /** Wall-clock time the first frame was decoded after activation (video only). */
  firstDecodedAt?: number;
}

/**
 * `recovering`: the socket or the path was lost; transports and producers are kept for an ICE
 * restart. `in_use`: the hall publishes from another page (another PC) and this one asks before
 * taking it over (takeOver()); `replaced`: another page took the hall over from this one
 * (takeOver() takes it back); `refused`: the link is revoked or invalid, for good.
 */
export type MediaClientState = 'connecting' | 'joining' | 'live' | 'reconnecting' | 'recovering' | 'restarting' | 'in_use' | 'replaced' | 'refused' | 'closed';

/** Simulcast layers a hall sends: low for thumbnails and non-programme halls, high for the programme. */
export const SIMULCAST_ENCODINGS: RTCRtpEncodingParameters[] = [
  { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_800_000 },
];

/**
 * How a shared screen leaves the page: one layer (text must stay sharp, no simulcast), up to
 * 2.5 Mbit/s; the browser lowers the frame rate before the resolution (`maintain-resolution`).
 */
export const SCREEN_ENCODING: RTCRtpEncodingParameters = { maxBitrate: 2_500_000 };

/** How long a leg refused by its node (`wrong_node`) waits before it tries that node again. */
const WRONG_NODE_RETRY_MS = 2000;

/** What a leg tells its page, by event (MediaClient passes on the current leg's). */
export type MediaLegEventMap = {
  state: { state: MediaClientState };
  consumer: ReceivedConsumer;
  consumerclosed: ReceivedConsumer;
  consumerslot: ReceivedConsumer;
  onair: { bridgeId: string };
  mic: { open: boolean };
  firstframe: ReceivedConsumer;
  /** A bridge's link stopped or started carrying video (this hall's own, or another's). */
  audioonly: AudioOnlyState;
  /**
   * This hall's camera stopped (audio only) or came back; `trial`: the low layer only, probing the
   * link (audioFirst.ts). With the reading that decided it (for the record): the estimate, whether
   * loss was seen, and the loss counters (the SFU's NACKs for the camera, the microphone's lost).
   */
  sendmode: SendDecision & { kbps?: number | null; lossSeen?: boolean; nacks?: number; micLost?: number; micReportAt?: number | null };
  /** A step of the recovery after a network change (ICE restart). */
  recovery: RecoveryEvent;
  error: { message: string };
  /** The server refused this page's link (revoked, re-issued or invalid): the leg stopped for good. */
  refused: { code: TokenRefusal };
  /** Another page took this hall over (at: the server's time). */
  replaced: { at: number };
};

/** Options of a leg. */
export interface MediaLegOptions {
  /** The media node's origin (its `/media` namespace). */
  url: string;
  token: string;
  /** Which page this is (the same on every node it moves to; see pageClientId). */
  clientId: string;
  /** The page's camera and microphone, captured when first needed (null: a receive-only page). */
  localStream: (() => Promise<MediaStream>) | null;
  /** Stop the camera when the uplink fits no video beside the audio (default: on for publishing halls). */
  audioFirst?: boolean;
  /**
   * The leg only shares a screen: it joins as its hall's screen (`media:join` with `screen`),
   * publishes the video track of `localStream` as the `screen` source and receives nothing.
   */
  screen?: boolean;
  /** Receives the leg's events. */
  emit: <K extends keyof MediaLegEventMap>(event: K, detail: MediaLegEventMap[K]) => void;
}

/**
 * One page's media on one node: joins the conference's media session there, publishes the
 * hall's camera (3 simulcast layers) and microphone, and receives what the node routes to it.
 * Reconnects by itself to the same node and rebuilds its transports when the node asks.
 */
export class MediaLeg {
  readonly url: string;
  readonly socket: Socket<MediaServerEvents, MediaClientEvents>;
  readonly consumers = new Map<string, ReceivedConsumer>();
  state: MediaClientState = 'connecting';
  onAir = '';
  /** How this hall's camera leaves it: the layers its uplink carries, or none (audio only). */
  sendMode: SendMode = 'video';
  /** Bridges whose links carry no video now, of this node's halls (the node tells; absent: video): this hall's send rule reads its own. */
  readonly audioOnly = new Map<string, AudioOnlyState>();
  /** ICE restarts that brought the media back (tests and the link report read it). */
  iceRestarts = 0;
  micOpen = false;
  maxSpatialLayer = 0;
  /** When another page took this hall over (server time), while `replaced`. */
  replacedAt: number | null = null;
  #options: MediaLegOptions;
  #device?: Device;
  #send?: msc.Transport;
  #recv?: msc.Transport;
  #cam?: msc.Producer;
  #mic?: msc.Producer;
  /** The shared screen (a screen leg's only producer). */
  #screen?: msc.Producer;
  #starting?: Promise<void>;
  /** Joined on the current socket connection. */
  #joined = false;
  #retryTimer?: ReturnType<typeof setTimeout>;
  /** Restarts asked for (#restart calls): a failed run retries only if no newer one is queued. */
  #restartRequests = 0;
  #refusedTimer?: ReturnType<typeof setTimeout>;
  #failures = 0;
  /** What takes this peer back on a new socket (from the last join). */
  #resume?: MediaResume;
  /** This hall (from the last join): its own audio-only flags tell the send rule that the SFU holds its downlink. */
  #bridgeId?: string;
  readonly #recovery: IceRecovery;
  #sendRule = new SendRule();
  #sendTimer?: ReturnType<typeof setTimeout>;
  /** The running uplink loop (a new one, or none, makes the old one stop). */
  #uplinkRun = 0;
  /** Uplink losses between readings (the send rule's `lossSeen`). */
  readonly #uplinkLoss = new UplinkLossWatch();
  /** Bytes the receive transport had received, and when (what the hall receives: a hint for the send rule). */
  #recvBytes = { bytes: 0, at: 0 };
  /** Camera encoding changes, one at a time. */
  #encodings: Promise<void> = Promise.resolve();
  #probing = false;
  /** The next join takes the hall over from the page that has it (the person said so). */
  #takeOver = false;

  constructor(options: MediaLegOptions) {
    this.#options = options;
    this.url = options.url;
    // A socket of its own (not shared with another leg or the control socket of the same origin).
    this.socket = io(`${options.url}/media`, {
      auth: { token: options.token },
      transports: ['websocket'],
      forceNew: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
    });
    this.#recovery = new IceRecovery({
      transports: () => [this.#send, this.#recv].filter((t): t is msc.Transport => !!t && !t.closed),
      sending: () => [this.#mic, this.#screen].some((p) => !!p && !p.closed),
      signallingUp: () => this.socket.connected && this.#joined,
      restartIce: (transportId, timeoutMs) => this.request('media:restartIce', { transportId }, timeoutMs),
      reconnectSignalling: () => reconnectNow(this.socket),
      rejoin: (reason) => this.#rejoin(reason),
      report: (event) => {
        if (event.type === 'restarted') {
          this.iceRestarts++;
          if (this.state === 'recovering') this.#setState('live');
        }
        this.#emit('recovery', event);
      },
    });
    this.socket.on('connect', () => void this.#onConnect());
    this.socket.on('disconnect', () => {
      this.#joined = false;
      // The server opens and closes the microphone; cut off from it, it is not open (it tells again after the rejoin or the resume).
      if (this.micOpen) {
        this.micOpen = false;
        this.#emit('mic', { open: false });
      }
      if (this.state !== 'replaced' && this.state !== 'refused' && this.state !== 'in_use' && this.state !== 'closed' && this.#resume && this.#hasTransports()) {
        // Lost, not closed: the server keeps this peer a while; its transports and producers stay
        // here for an ICE restart once a new socket takes it back. Its consumers come anew.
        this.#closeConsumers();
        this.#setState('recovering');
        return;
      }
      if (this.state !== 'replaced' && this.state !== 'refused' && this.state !== 'in_use') this.#setState('reconnecting');
      this.#teardown();
    });
    this.socket.on('connect_error', (err) => {
      const code = refusalOfError(err);
      if (code) return this.#refuse(code);
      this.#emit('error', { message: err.message });
      // A node that says the hall is placed elsewhere (a move under way) is not retried by
      // socket.io: try again later, while the page asks the control plane where to go.
      if (err.message === 'wrong_node' && !this.socket.active && this.state !== 'closed') {
        clearTimeout(this.#refusedTimer);
        this.#refusedTimer = setTimeout(() => this.state !== 'closed' && this.socket.connect(), WRONG_NODE_RETRY_MS);
      }
    });
    this.socket.on('session:refused', ({ code }) => this.#refuse(code === 'token_revoked' ? code : 'token_invalid'));
    this.socket.on('media:consume', (msg, ack) => {
      this.#onConsume(msg).then(
        () => ack({ ok: true }),
        (err: Error) => {
          this.#emit('error', { message: `consume failed: ${err.message}` });
          ack({ ok: false });
        },
      );
    });
    this.socket.on('media:consumerClosed', ({ consumerId }) => this.#closeConsumer(consumerId));
    this.socket.on('media:consumerSlot', ({ consumerId, slot }) => {
      const rc = this.consumers.get(consumerId);
      if (!rc) return;
      rc.slot = slot;
      this.#activate(rc);
      this.#emit('consumerslot', rc);
    });
    this.socket.on('media:sendLayers', ({ maxSpatialLayer }) => {
      this.maxSpatialLayer = maxSpatialLayer;
      void this.#applyVideo();
    });
    this.socket.on('media:micState', ({ open }) => {
      this.micOpen = open;
      this.#emit('mic', { open });
    });
    this.socket.on('media:restart', ({ reason }) => void this.#restart(reason));
    // The server disconnects this socket after it; socket.io does not reconnect by itself then.
    this.socket.on('media:replaced', (msg) => {
      this.replacedAt = typeof msg?.at === 'number' ? msg.at : Date.now();
      this.#setState('replaced');
      this.#emit('replaced', { at: this.replacedAt });
    });
    this.socket.on('onair:changed', ({ bridgeId }) => {
      this.onAir = bridgeId;
      this.#emit('onair', { bridgeId });
    });
    this.socket.on('media:audioOnly', (state) => this.#setAudioOnly(state));
  }

  /**
   * Takes the hall over from the page that publishes it now (state `in_use`), or back from the
   * page that took it (state `replaced`): the other page is told and stops.
   */
  takeOver(): void {
    if (this.state !== 'in_use' && this.state !== 'replaced') return;
    this.#takeOver = true;
    this.replacedAt = null;
    this.#setState('connecting');
    if (this.socket.connected) void this.#restart('takeover');
    else this.socket.connect();
  }

  /** Sends a validated request and unwraps its ack (throws with the server's error code, or `no_answer`). */
  async request<N extends MediaRequestName>(name: N, payload: MediaRequest<N>, timeoutMs = 10_000): Promise<MediaReplies[N]> {
    const emit = this.socket.timeout(timeoutMs).emitWithAck as unknown as (
      ev: N,
      p: MediaRequest<N>,
    ) => Promise<Ack<MediaReplies[N]>>;
    let reply: Ack<MediaReplies[N]>;
    try {
      reply = await emit.call(this.socket.timeout(timeoutMs), name, payload);
    } catch {
      throw Object.assign(new Error(`${name}: no answer within ${timeoutMs} ms`), { code: 'no_answer' });
    }
    if (!reply.ok) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
    return reply.data;
  }

  /** Restarts ICE now, as after a network change (the page calls it on its own signs; tests too). */
  restartIce(reason = 'asked'): Promise<void> {
    return this.#recovery.restart(reason);
  }

  /** Puts another track on the air in the producer of its kind (same producer id: consumers keep receiving). */
  async replaceTrack(kind: 'audio' | 'video', track: MediaStreamTrack): Promise<void> {
    const producer = kind === 'audio' ? this.#mic : this.#cam;
    if (!producer || producer.closed) return;
    await producer.replaceTrack({ track });
    if (kind === 'video') await this.#applyVideo();
  }

  /** Counters of the hall's link summed over both transports (round trip, packets, bytes); null before they exist. */
  async linkStats(): Promise<LinkSample | null> {
    const transports = [this.#send, this.#recv].filter((t): t is msc.Transport => !!t && !t.closed);
    if (!transports.length) return null;
    const sample: LinkSample = {
      at: Date.now(),
      rttMs: null,
      packetsSent: 0,
      packetsLostRemote: 0,
      packetsReceived: 0,
      packetsLost: 0,
      bytesSent: 0,
      bytesReceived: 0,
      availableOutgoingBitrate: null,
    };
    for (const transport of transports) {
      const report = await transport.getStats().catch(() => undefined);
      report?.forEach((s: Record<string, unknown>) => {
        const n = (key: string): number => Number(s[key] ?? 0) || 0;
        if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated) {
          if (typeof s.currentRoundTripTime === 'number') sample.rttMs = Math.max(sample.rttMs ?? 0, s.currentRoundTripTime * 1000);
          if (typeof s.availableOutgoingBitrate === 'number') sample.availableOutgoingBitrate = s.availableOutgoingBitrate;
        } else if (s.type === 'outbound-rtp') {
          sample.packetsSent += n('packetsSent');
          sample.bytesSent += n('bytesSent');
        } else if (s.type === 'remote-inbound-rtp') {
          sample.packetsLostRemote += Math.max(0, n('packetsLost'));
        } else if (s.type === 'inbound-rtp') {
          sample.packetsReceived += n('packetsReceived');
          sample.packetsLost += Math.max(0, n('packetsLost'));
          sample.bytesReceived += n('bytesReceived');
        }
      });
    }
    return sample;
  }

  /** Frames decoded and resolution per received video consumer. */
  async receiverStats(): Promise<{ consumerId: string; bridgeId: string; slot: string; kind: string; framesDecoded: number; frameHeight: number; bytesReceived: number }[]> {
    const out = [];
    for (const [consumerId, rc] of this.consumers) {
      let framesDecoded = 0;
      let frameHeight = 0;
      let bytesReceived = 0;
      const report = await rc.consumer.getStats();
      report.forEach((s: Record<string, unknown>) => {
        if (s.type === 'inbound-rtp') {
          framesDecoded += Number(s.framesDecoded ?? 0);
          frameHeight = Math.max(frameHeight, Number(s.frameHeight ?? 0));
          bytesReceived += Number(s.bytesReceived ?? 0);
        }
      });
      out.push({ consumerId, bridgeId: rc.bridgeId, slot: rc.slot, kind: rc.consumer.kind, framesDecoded, frameHeight, bytesReceived });
    }
    return out;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.state === 'closed';
  }

  /** Whether the hall is publishing its microphone and camera here. */
  get publishing(): { mic: boolean; cam: boolean } {
    return { mic: !!this.#mic && !this.#mic.closed, cam: !!this.#cam && !this.#cam.closed };
  }

  /** Whether a screen leg is publishing its screen here. */
  get sharing(): boolean {
    return !!this.#screen && !this.#screen.closed;
  }

  /** Raw WebRTC statistics of the send and receive transports (null where there is none) and whether the send transport is connected: for the link reporter. */
  async transportStats(): Promise<{ send: RTCStatsReport | null; recv: RTCStatsReport | null; sendConnected: boolean }> {
    const stats = (t: msc.Transport | undefined): Promise<RTCStatsReport | null> => (t && !t.closed ? t.getStats().catch(() => null) : Promise.resolve(null));
    const [send, recv] = await Promise.all([stats(this.#send), stats(this.#recv)]);
    return { send, recv, sendConnected: this.#send?.connectionState === 'connected' };
  }

  /** Turns the audio-first rule on or off (the benchmark compares both); off puts the camera back to the layers asked for. */
  async setAudioFirst(on: boolean): Promise<void> {
    this.#options = { ...this.#options, audioFirst: on };
    this.#stopUplinkLoop();
    if (on && this.#cam && !this.#cam.closed) this.#startUplinkLoop();
    if (!on && this.sendMode !== 'video') {
      this.#sendRule = new SendRule();
      this.sendMode = 'video';
      await this.#applyVideo();
      await this.request('media:sendMode', { mode: 'video', availableKbps: null }, 5000).catch(() => undefined);
    }
  }

  /** For the link test: sends every simulcast layer (so the outgoing estimate can rise), or goes back to the layers the server asked for. */
  async probeAllLayers(on: boolean): Promise<void> {
    this.#probing = on;
    await this.#applyVideo();
  }

  /** Leaves the node: closes the transports and the socket (the page's camera and microphone stay on); tells nothing more. */
  close(): void {
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#refusedTimer);
    this.#recovery.close();
    this.#options = { ...this.#options, emit: () => {} };
    this.state = 'closed';
    this.#teardown();
    this.socket.close();
  }

  #emit<K extends keyof MediaLegEventMap>(event: K, detail: MediaLegEventMap[K]): void {
    this.#options.emit(event, detail);
  }

  // Not a network loss: stop publishing and retrying, for good (the page stops its camera).
  #refuse(code: TokenRefusal): void {
    if (this.state === 'refused' || this.state === 'closed') return;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#refusedTimer);
    this.#recovery.close();
    this.#setState('refused');
    this.#teardown();
    this.socket.close();
    this.#emit('refused', { code });
  }

  #setState(state: MediaClientState): void {
    if (this.state === 'closed' || this.state === 'refused') return;
    this.state = state;
    this.#emit('state', { state });
  }

  /** A new socket: take this peer back (then restart ICE), or join anew and build everything. */
  async #onConnect(): Promise<void> {
    const resume = this.#resume;
    if (!resume || !this.#hasTransports() || this.state === 'closed') return this.#restart('connect');
    this.#setState('recovering');
    let joined: MediaReplies['media:join'];
    try {
      joined = await this.request('media:join', { clientId: this.#options.clientId, resume }, 5000);
    } catch (error) {
      // No answer on this socket either: the next reconnection tries again; a refusal starts over.
      if ((error as { code?: string }).code === 'no_answer') return;
      this.#teardown();
      return this.#restart('resume refused');
    }
    this.#joined = true;
    this.#afterJoin(joined);
    if (!joined.resumed) {
      // The node no longer had this peer (it restarted, or waited too long): a new one was made.
      this.#teardown();
      return this.#restart('resume refused', joined);
    }
    await this.#recovery.restart('resumed');
  }

  /** What every join tells: the key to come back with, what is on air, which links carry no video. */
  #afterJoin(joined: MediaReplies['media:join']): void {
    this.#resume = { peerId: joined.peerId, key: joined.resumeKey };
    this.#bridgeId = joined.bridgeId;
    this.onAir = joined.onAir;
    this.#emit('onair', { bridgeId: joined.onAir });
    for (const state of replaceAudioOnly(this.audioOnly, joined.audioOnly)) this.#emit('audioonly', state);
  }

  #setAudioOnly(state: AudioOnlyState): void {
    if (setAudioOnly(this.audioOnly, state)) this.#emit('audioonly', state);
  }

  /** The last resort after failed ICE restarts: leave (the node drops the peer) and join anew. */
  #rejoin(reason: string): void {
    this.#emit('error', { message: `rejoining: ${reason}` });
    this.#resume = undefined;
    this.#joined = false;
    this.#teardown();
    this.socket.disconnect();
    this.socket.connect();
  }

  #hasTransports(): boolean {
    return [this.#send, this.#recv].some((t) => t && !t.closed);
  }

  /** (Re)joins and builds transports and producers from scratch (`joined`: a join already answered on this socket). */
  #restart(reason: string, joined?: MediaReplies['media:join']): Promise<void> {
    const request = ++this.#restartRequests;
    const run = async (): Promise<void> => {
      // Whatever retry a failed run scheduled, this run rebuilds instead (a retry firing after it would rebuild a live leg again).
      clearTimeout(this.#retryTimer);
      if (this.state === 'closed' || !this.socket.connected) return;
      this.#setState(this.#joined && !joined ? 'restarting' : 'joining');
      this.#teardown();
      try {
        let reply = joined;
        joined = undefined;
        if (!this.#joined) {
          reply = await this.request('media:join', { clientId: this.#options.clientId, ...(this.#takeOver ? { takeOver: true } : {}), ...(this.#options.screen ? { screen: true } : {}) });
          this.#joined = true;
          this.#takeOver = false;
          this.#afterJoin(reply);
        }
        if (reply) {
          this.#device = new Device();
          await this.#device.load({ routerRtpCapabilities: reply.rtpCapabilities as msc.RtpCapabilities });
        }
        // A screen leg receives nothing: no receive transport.
        if (!this.#options.screen) {
          await this.#createRecv();
          await this.request('media:capabilities', { rtpCapabilities: this.#device!.rtpCapabilities as never });
        }
        if (this.#options.localStream) await this.#publish(await this.#options.localStream());
        this.#failures = 0;
        this.#setState('live');
      } catch (err) {
        if (this.closed) return;
        // Another page publishes this hall: ask the person (takeOver), do not retry by itself.
        if ((err as { code?: string }).code === 'bridge_in_use') {
          this.#setState('in_use');
          return;
        }
        // A newer restart is queued (e.g. media:restart after a worker loss came during this run): it rebuilds, no retry.
        if (request !== this.#restartRequests) {
          this.#emit('error', { message: `start failed (${reason}), a newer restart follows: ${(err as Error).message}` });
          return;
        }
        // Retry with backoff; tearing down and rebuilding in a tight loop exhausts the browser.
        this.#failures++;
        const delay = Math.min(10_000, 500 * 2 ** Math.min(this.#failures - 1, 5));
        this.#emit('error', { message: `start failed (${reason}), retry in ${delay} ms: ${(err as Error).message}` });
        clearTimeout(this.#retryTimer);
        this.#retryTimer = setTimeout(() => void this.#restart(reason), delay);
      }
    };
    this.#starting = (this.#starting ?? Promise.resolve()).then(run, run);
    return this.#starting;
  }

  #closeConsumers(): void {
    for (const id of [...this.consumers.keys()]) this.#closeConsumer(id);
  }

  #teardown(): void {
    this.#closeConsumers();
    this.#stopUplinkLoop();
    this.#cam = undefined;
    this.#mic = undefined;
    this.#screen = undefined;
    this.#send?.close();
    this.#recv?.close();
    this.#send = undefined;
    this.#recv = undefined;
  }

  async #createRecv(): Promise<void> {
    const params = await this.request('media:createTransport', { direction: 'recv' });
    const transport = this.#device!.createRecvTransport(transportOptions(params));
    transport.on('connect', ({ dtlsParameters }, ok, fail) => {
      this.request('media:connectTransport', { transportId: transport.id, dtlsParameters: dtlsParameters as never }).then(() => ok(), fail);
    });
    this.#recovery.watch(transport);
    this.#recv = transport;
  }

  async #publish(stream: MediaStream): Promise<void> {
    const params = await this.request('media:createTransport', { direction: 'send' });
    const transport = this.#device!.createSendTransport(transportOptions(params));
    transport.on('connect', ({ dtlsParameters }, ok, fail) => {
      this.request('media:connectTransport', { transportId: transport.id, dtlsParameters: dtlsParameters as never }).then(() => ok(), fail);
    });
    transport.on('produce', ({ kind, rtpParameters, appData }, ok, fail) => {
      this.request('media:produce', {
        transportId: transport.id,
        kind,
        rtpParameters: rtpParameters as never,
        source: appData.source as 'mic' | 'cam' | 'screen',
      }).then(ok, fail);
    });
    this.#recovery.watch(transport);
    this.#send = transport;
    if (this.#options.screen) return this.#publishScreen(transport, stream);
    const audio = stream.getAudioTracks()[0];
    const video = stream.getVideoTracks()[0];
    // stopTracks false: the camera and microphone outlive transports rebuilt after a worker loss, and a move to another node.
    if (audio) this.#mic = await transport.produce({ track: audio, encodings: [MIC_ENCODING], codecOptions: MIC_CODEC_OPTIONS, stopTracks: false, appData: { source: 'mic' } });
    if (video) {
      this.#cam = await transport.produce({
        track: video,
        encodings: SIMULCAST_ENCODINGS,
        stopTracks: false,
        // Paused (audio only): the video sender goes inactive, so that nothing of the camera, not
        // even a retransmission of video lost while the link filled up, takes the audio's room;
        // the camera's track stays enabled for the hall's own screen.
        disableTrackOnPause: false,
        zeroRtpOnPause: true,
        codecOptions: { videoGoogleStartBitrate: 1000 },
        appData: { source: 'cam' },
      });
      await setDegradation(this.#cam.rtpSender, CAM_DEGRADATION);
      this.#sendRule = new SendRule();
      this.sendMode = 'video';
      await this.#applyVideo();
      if (this.#options.audioFirst ?? true) this.#startUplinkLoop();
    }
  }

  /** Publishes a screen leg's capture: its video track, one layer, kept sharp (the page stops the capture, not the leg). */
  async #publishScreen(transport: msc.Transport, stream: MediaStream): Promise<void> {
    const track = stream.getVideoTracks()[0];
    if (!track || track.readyState === 'ended') throw new Error('no screen to share');
    this.#screen = await transport.produce({
      track,
      encodings: [SCREEN_ENCODING],
      stopTracks: false,
      codecOptions: { videoGoogleStartBitrate: 1000 },
      appData: { source: 'screen' },
    });
    await setDegradation(this.#screen.rtpSender, 'maintain-resolution');
  }

  /** Reads the uplink every half second, every 100 ms while a trial runs or the camera just came back. */
  #startUplinkLoop(): void {
    this.#stopUplinkLoop();
    const run = this.#uplinkRun;
    const next = (): void => {
      if (run !== this.#uplinkRun) return;
      this.#sendTimer = setTimeout(() => {
        void this.#checkUplink().finally(next);
      }, this.#sendRule.watchful ? 100 : 500);
    };
    next();
  }

  #stopUplinkLoop(): void {
    this.#uplinkRun++;
    clearTimeout(this.#sendTimer);
    this.#sendTimer = undefined;
    this.#uplinkLoss.reset();
  }

  /** The audio-first rule on this hall's uplink (audioFirst.ts): stops and restores the camera, and tells the server. */
  async #checkUplink(): Promise<void> {
    const send = this.#send;
    if (!send || send.closed || send.connectionState !== 'connected' || !this.#cam || this.#cam.closed) return;
    const report = await send.getStats().catch(() => null);
    const kbps = availableKbpsOf(report);
    const parts = report ? uplinkLossParts(report) : null;
    const lossSeen = parts ? this.#uplinkLoss.read(parts) : false;
    const downHeld = this.#bridgeId !== undefined && (this.audioOnly.get(this.#bridgeId)?.down ?? false);
    const trialBefore = this.#sendRule.decision.trial;
    const now = Date.now();
    const changed = this.#sendRule.step(now, { availableKbps: kbps, downlinkKbps: await this.#downlinkKbps(), lossSeen, downHeld });
    if (!changed) return;
    // The microphone's reports count toward a trial from when it began (UplinkLossWatch).
    if (changed.trial && !trialBefore) this.#uplinkLoss.trialStarted(now);
    else if (!changed.trial) this.#uplinkLoss.trialEnded();
    const modeChanged = changed.mode !== this.sendMode;
    this.sendMode = changed.mode;
    this.#emit('sendmode', { ...changed, kbps: kbps === null ? null : Math.round(kbps), lossSeen, ...(parts ?? {}) });
    await this.#applyVideo();
    if (modeChanged) {
      // The microphone takes a little less on a weak link (its cap comes off with the video).
      const mic = this.#mic;
      if (mic && !mic.closed) await mic.setRtpEncodingParameters({ maxBitrate: changed.mode === 'audio-only' ? WEAK_LINK_AUDIO_BPS : undefined }).catch(() => undefined);
      await this.request('media:sendMode', { mode: changed.mode, availableKbps: kbps === null ? null : Math.round(kbps) }, 5000).catch((err: Error) =>
        this.#emit('error', { message: `sendMode: ${err.message}` }),
      );
    }
  }

  /** What the receive transport received since the last call, in kbit/s (null without one). */
  async #downlinkKbps(): Promise<number | null> {
    const recv = this.#recv;
    if (!recv || recv.closed) return null;
    let bytes = 0;
    (await recv.getStats().catch(() => null))?.forEach((s: Record<string, unknown>) => {
      if (s.type === 'transport') bytes += Number(s.bytesReceived ?? 0);
    });
    const now = Date.now();
    const before = this.#recvBytes;
    this.#recvBytes = { bytes, at: now };
    if (!before.at || bytes < before.bytes || now <= before.at) return null;
    return ((bytes - before.bytes) * 8) / (now - before.at);
  }

  /**
   * The camera's encodings now: off in audio only; the low layer alone during a trial (at its
   * smallest while it probes, at its own size while it verifies); every layer during a link test
   * (the browser probes the link up to what is allocated); else the layers the server asked for.
   */
  #applyVideo(): Promise<void> {
    const apply = async (): Promise<void> => {
      const cam = this.#cam;
      if (!cam || cam.closed) return;
      const { trial } = this.#sendRule.decision;
      try {
        if (this.#probing) {
          await setLowLayer(cam.rtpSender, SIMULCAST_ENCODINGS[0]!);
          await cam.setMaxSpatialLayer(SIMULCAST_ENCODINGS.length - 1);
          if (cam.paused) cam.resume();
        } else if (this.sendMode === 'audio-only' && !trial) {
          await cam.setRtpEncodingParameters({ active: false });
          // mediasoup-client skips a setMaxSpatialLayer to the layer it last set; every layer is off now.
          Reflect.set(cam, '_maxSpatialLayer', undefined);
          // And the sender inactive: the browser no longer answers the SFU's NACKs for old video.
          if (!cam.paused) cam.pause();
        } else {
          // Resized while off where it can be (the probe), so that the first frame is already small.
          await setLowLayer(cam.rtpSender, trial === 'probe' ? TRIAL_PROBE_LAYER : SIMULCAST_ENCODINGS[0]!);
          await cam.setMaxSpatialLayer(trial ? 0 : this.maxSpatialLayer);
          if (cam.paused) cam.resume();
        }
      } catch (err) {
        this.#emit('error', { message: `camera encodings: ${(err as Error).message}` });
      }
    };
    this.#encodings = this.#encodings.then(apply, apply);
    return this.#encodings;
  }

  async #onConsume(msg: ConsumeMessage): Promise<void> {
    const transport = this.#recv;
    if (!transport) throw new Error('no receive transport');
    const consumer = await transport.consume({
      id: msg.consumerId,
      producerId: msg.producerId,
      kind: msg.kind,
      rtpParameters: msg.rtpParameters as msc.RtpParameters,
    });
    const rc: ReceivedConsumer = { consumer, bridgeId: msg.bridgeId, slot: msg.slot, source: msg.source, receivedAt: Date.now() };
    this.consumers.set(consumer.id, rc);
    this.#emit('consumer', rc);
    this.#activate(rc);
  }

  /** Starts timing a video consumer once it is meant to be shown (not while prepared). */
  #activate(rc: ReceivedConsumer): void {
    if (rc.slot === 'next' || rc.consumer.kind !== 'video') return;
    rc.activatedAt = Date.now();
    rc.firstDecodedAt = undefined;
    void this.#watchFirstFrame(rc, rc.activatedAt);
  }

  /** Polls the receiver until a frame is decoded after activation and records when. */
  async #watchFirstFrame(rc: ReceivedConsumer, activatedAt: number): Promise<void> {
    const until = Date.now() + 15_000;
    const decodedNow = async (): Promise<number> => {
      const report = await rc.consumer.getStats().catch(() => undefined);
      let decoded = 0;
      report?.forEach((s: Record<string, unknown>) => {
        if (s.type === 'inbound-rtp') decoded += Number(s.framesDecoded ?? 0);
      });
      return decoded;
    };
    const base = await decodedNow();
    while (!rc.consumer.closed && Date.now() < until && rc.activatedAt === activatedAt) {
      const decoded = await decodedNow();
      if (decoded > base) {
        rc.firstDecodedAt = Date.now();
        this.#emit('firstframe', rc);
        return;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  #closeConsumer(consumerId: string): void {
    const rc = this.consumers.get(consumerId);
    if (!rc) return;
    this.consumers.delete(consumerId);
    rc.consumer.close();
    this.#emit('consumerclosed', rc);
  }
}

/** Sets a sender's degradation preference (kept by the browser across renegotiations). */
async function setDegradation(sender: RTCRtpSender | undefined, preference: RTCDegradationPreference): Promise<void> {
  if (!sender) return;
  const params = sender.getParameters() as RTCRtpSendParameters & { degradationPreference?: RTCDegradationPreference };
  if (params.degradationPreference === preference) return;
  params.degradationPreference = preference;
  await sender.setParameters(params).catch(() => undefined);
}

/** Sets the low layer's size, frame rate and cap (the other layers keep theirs; mediasoup-client sets which are active). */
async function setLowLayer(sender: RTCRtpSender | undefined, spec: { scaleResolutionDownBy?: number; maxBitrate?: number; maxFramerate?: number }): Promise<void> {
  if (!sender) return;
  const params = sender.getParameters();
  const low = params.encodings[0];
  if (!low) return;
  if (low.scaleResolutionDownBy === spec.scaleResolutionDownBy && low.maxBitrate === spec.maxBitrate && low.maxFramerate === spec.maxFramerate) return;
  low.scaleResolutionDownBy = spec.scaleResolutionDownBy;
  low.maxBitrate = spec.maxBitrate;
  if (spec.maxFramerate === undefined) delete low.maxFramerate;
  else low.maxFramerate = spec.maxFramerate;
  await sender.setParameters(params);
}
