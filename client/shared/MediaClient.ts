// The browser side of the media, for a page: the hall's camera and microphone, and its
// connection to the media node the control plane placed it on (a MediaLeg). When the control
// plane moves the page (its node died or drains, or the page reached another control instance
// in the embedded default), the client opens the new node; while the old one still works it
// keeps it until the new one publishes, receives and decodes the programme (make before break),
// otherwise it goes at once. When its node stops answering it asks the control plane again;
// it never guesses a node.
import type { AudioOnlyState } from '../../server/protocol/media.ts';
import type { SendMode } from './audioFirst.ts';
import { MediaLeg, type MediaClientState, type MediaLegEventMap, type ReceivedConsumer } from './MediaLeg.ts';
import { TypedEvents } from './events.ts';
import type { LinkSample } from './linkQuality.ts';
import type { TokenRefusal } from './refusal.ts';

export { SIMULCAST_ENCODINGS, type MediaClientState, type ReceivedConsumer } from './MediaLeg.ts';

/** Where the page's media goes: the node's origin, as the control plane says. */
export interface MediaTarget {
  url: string;
  nodeId: string;
  epoch: number;
  reason: 'placed' | 'node_lost' | 'drained' | 'rebalanced';
}

/** The control plane's answers about where the page's media goes (ControlClient.mediaTargets()). */
export interface MediaTargetSource {
  /** Asks now; null when it cannot say (no node can take the page, or no control instance answers). */
  where(): Promise<MediaTarget | null>;
  /** Calls fn with every later answer: a move pushed by the control plane, or the answer after a control reconnect. Returns the unsubscribe. */
  onMoved(fn: (target: MediaTarget) => void): () => void;
}

export interface MediaClientOptions {
  /** A fixed media origin (tools and tests); otherwise `placement` says where. */
  url?: string;
  /** Where the control plane places this page's media. */
  placement?: MediaTargetSource;
  /** The access token of the invite link. */
  token: string;
  /** Publish camera and microphone (halls). */
  publish: boolean;
  /** Camera constraints; 1280×720 gives the three simulcast layers 320×180, 640×360, 1280×720. */
  video?: MediaTrackConstraints;
  /** Microphone constraints (e.g. the deviceId the operator chose); echo cancellation and noise suppression by default. */
  audio?: MediaTrackConstraints;
  /** Which page this is, kept across its reloads (see pageClientId); a new random one by default. */
  clientId?: string;
  /** Stop the camera when the uplink fits no video beside the audio (default: on for publishing halls). */
  audioFirst?: boolean;
  /**
   * Share this capture (getDisplayMedia's) as the hall's screen, and nothing else: the client
   * publishes its video track as the `screen` source beside the page that publishes the hall,
   * and receives nothing. The page stops the capture; closing the client leaves it running.
   */
  share?: MediaStream;
}

/** A new random page id. */
function randomClientId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** This tab's id for the server (kept in sessionStorage: a reload is the same page, another tab or PC is not). */
export function pageClientId(): string {
  let id = sessionStorage.getItem('diemcau.clientId');
  if (!id) {
    id = randomClientId();
    sessionStorage.setItem('diemcau.clientId', id);
  }
  return id;
}

/**
 * Leaves the media when the page goes away (the tab closed, the PC navigating elsewhere): the
 * server then lets the hall go at once, so its link opened again in a new tab goes live without
 * asking "open on another PC, take over?". A lost network, by contrast, keeps the hall's media
 * waiting for it to come back (the server's resume window). A page kept in the back-forward cache
 * (`persisted`) may come back: it keeps its media.
 */
export function leaveOnPageHide(client: { close(): void }): void {
  addEventListener('pagehide', (e) => {
    if (!e.persisted) client.close();
  });
}

/** The camera constraints a hall publishes with unless told otherwise. */
export const DEFAULT_VIDEO: MediaTrackConstraints = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 25 } };
/** The microphone constraints a hall publishes with unless told otherwise. */
export const DEFAULT_AUDIO: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true };

/** While the old node works, the new one has this long to publish, receive and decode before the page moves anyway. */
export const MAKE_BEFORE_BREAK_MAX_MS = 8000;
/** How often a page whose node stopped answering (or that was placed nowhere) asks the control plane again. */
export const ASK_AGAIN_MS = 2000;

/** What a MediaClient tells the page, by event. */
export type MediaClientEventMap = MediaLegEventMap & {
  localstream: { stream: MediaStream };
  /** The page's media moved to another node (after the new one took over). */
  moved: { from: string | null; to: string };
};

const NO_CONSUMERS: ReadonlyMap<string, ReceivedConsumer> = new Map();
const NO_AUDIO_ONLY: ReadonlyMap<string, AudioOnlyState> = new Map();

/**
 * The browser side of the media: publishes the hall's camera (3 simulcast layers) and
 * microphone and receives what its media node routes to it, on the node the control plane
 * placed it on, following it when it moves.
 */
export class MediaClient {
  readonly options: MediaClientOptions;
  state: MediaClientState = 'connecting';
  localStream?: MediaStream;
  #leg: MediaLeg | null = null;
  /** The next node's leg while the current one still serves (make before break). */
  #pending: { leg: MediaLeg; timer: ReturnType<typeof setTimeout> } | null = null;
  #thumbnails: string[] | null = null;
  #capturing: Promise<MediaStream> | null = null;
  #askTimer?: ReturnType<typeof setTimeout>;
  /** Stops following the placement (a closed client must not stay subscribed: a page shares its screen many times). */
  #unfollow: () => void = () => {};
  readonly #clientId: string;
  readonly #events = new TypedEvents<MediaClientEventMap>();

  constructor(options: MediaClientOptions) {
    this.options = options;
    this.#clientId = options.clientId ?? randomClientId();
    if (options.url) {
      this.#leg = this.#openLeg(options.url);
    } else if (options.placement) {
      this.#unfollow = options.placement.onMoved((target) => this.#moveTo(target));
      void this.#ask();
    } else {
      throw new Error('MediaClient: a url or a placement source is required');
    }
  }

  /** Received consumers of the node in use. */
  get consumers(): ReadonlyMap<string, ReceivedConsumer> {
    return this.#leg?.consumers ?? NO_CONSUMERS;
  }

  /** The bridge on air. */
  get onAir(): string {
    return this.#leg?.onAir ?? '';
  }

  get micOpen(): boolean {
    return this.#leg?.micOpen ?? false;
  }

  /** The socket of the node in use (what a lost link cuts; the e2e tests cut it), none before a node is chosen. */
  get socket(): MediaLeg['socket'] | undefined {
    return this.#leg?.socket;
  }

  get maxSpatialLayer(): number {
    return this.#leg?.maxSpatialLayer ?? 0;
  }

  /**
   * Bridges whose links carry no video now, as the node in use tells: only the halls whose media
   * is on that node (this hall's own send rule reads it). What pages show comes from the control
   * client's `audioOnly`, which knows every node's halls.
   */
  get audioOnly(): ReadonlyMap<string, AudioOnlyState> {
    return this.#leg?.audioOnly ?? NO_AUDIO_ONLY;
  }

  /** How this hall's camera leaves it: the layers its uplink carries, or none (audio only). */
  get sendMode(): SendMode {
    return this.#leg?.sendMode ?? 'video';
  }

  /** ICE restarts that brought the media back on the node in use. */
  get iceRestarts(): number {
    return this.#leg?.iceRestarts ?? 0;
  }

  /** Restarts ICE now, as after a network change. */
  async restartIce(reason = 'asked'): Promise<void> {
    await this.#leg?.restartIce(reason);
  }

  /** Turns the audio-first rule on or off (the benchmark compares both). */
  async setAudioFirst(on: boolean): Promise<void> {
    this.options.audioFirst = on;
    for (const leg of [this.#leg, this.#pending?.leg]) await leg?.setAudioFirst(on);
  }

  /** The origin of the media node in use (null before the control plane said where). */
  get mediaUrl(): string | null {
    return this.#leg?.url ?? null;
  }

  /** When another page took this hall over (server time), while `replaced`. */
  get replacedAt(): number | null {
    return this.#leg?.replacedAt ?? null;
  }

  /** Whether the hall is publishing its microphone and camera. */
  get publishing(): { mic: boolean; cam: boolean } {
    return this.#leg?.publishing ?? { mic: false, cam: false };
  }

  /** Whether a sharing client (`share`) is publishing its screen. */
  get sharing(): boolean {
    return this.#leg?.sharing ?? false;
  }

  /** Subscribes to 'state', 'consumer', 'consumerclosed', 'consumerslot', 'onair', 'mic', 'localstream', 'firstframe', 'audioonly', 'sendmode', 'recovery', 'moved', 'error'. */
  on<K extends keyof MediaClientEventMap>(event: K, fn: (detail: MediaClientEventMap[K]) => void): void {
    this.#events.on(event, fn);
  }

  /**
   * Takes the hall over from the page that publishes it now (state `in_use`), or back from the
   * page that took it (state `replaced`): the other page is told and stops.
   */
  takeOver(): void {
    this.#leg?.takeOver();
  }

  /** Asks the node for thumbnails of these bridges (chair and technicians); remembered for the next node. */
  async setThumbnails(bridgeIds: string[]): Promise<void> {
    this.#thumbnails = [...bridgeIds];
    if (!this.#leg) throw new Error('no media node yet');
    await this.#leg.request('media:thumbnails', { bridgeIds });
  }

  /**
   * Puts another camera or microphone on the air without renegotiating (the producer keeps its
   * id, so every consumer keeps receiving). The local stream keeps the new track and the old one
   * is stopped. Before the first publish it only sets what will be published.
   */
  async replaceTrack(kind: 'audio' | 'video', track: MediaStreamTrack): Promise<void> {
    if (track.kind !== kind) throw new Error(`replaceTrack: a ${track.kind} track is not ${kind}`);
    for (const leg of [this.#leg, this.#pending?.leg]) await leg?.replaceTrack(kind, track);
    const stream = this.localStream ?? new MediaStream();
    for (const old of kind === 'audio' ? stream.getAudioTracks() : stream.getVideoTracks()) {
      if (old === track) continue;
      stream.removeTrack(old);
      old.stop();
    }
    if (!stream.getTracks().includes(track)) stream.addTrack(track);
    this.localStream = stream;
    this.#emit('localstream', { stream });
  }

  /** Counters of the hall's link summed over both transports (round trip, packets, bytes); null before they exist. */
  linkStats(): Promise<LinkSample | null> {
    return this.#leg ? this.#leg.linkStats() : Promise.resolve(null);
  }

  /** Frames decoded and resolution per received video consumer. */
  receiverStats(): ReturnType<MediaLeg['receiverStats']> {
    return this.#leg ? this.#leg.receiverStats() : Promise.resolve([]);
  }

  /** Raw WebRTC statistics of the send and receive transports and whether the send transport is connected: for the link reporter. */
  transportStats(): ReturnType<MediaLeg['transportStats']> {
    return this.#leg ? this.#leg.transportStats() : Promise.resolve({ send: null, recv: null, sendConnected: false });
  }

  /** For the link test: sends every simulcast layer, or goes back to the layers the node asked for. */
  async probeAllLayers(on: boolean): Promise<void> {
    await this.#leg?.probeAllLayers(on);
  }

  /** Leaves and stops the camera and microphone. */
  close(): void {
    clearTimeout(this.#askTimer);
    this.#unfollow();
    this.#dropPending();
    // The closed leg stays in place: its socket says it is closed (nothing retries), its consumers are gone.
    this.#leg?.close();
    this.#setState('closed');
    this.localStream?.getTracks().forEach((t) => t.stop());
  }

  #emit<K extends keyof MediaClientEventMap>(event: K, detail: MediaClientEventMap[K]): void {
    this.#events.emit(event, detail);
  }

  /** Closed, refused, or replaced by another page of the same hall: it follows nothing any more. */
  #done(): boolean {
    return this.state === 'closed' || this.state === 'refused' || this.state === 'replaced';
  }

  // Not a network loss: every leg stops, the camera and microphone too, for good.
  #refuse(code: TokenRefusal): void {
    if (this.state === 'refused' || this.state === 'closed') return;
    clearTimeout(this.#askTimer);
    this.#dropPending();
    this.#setState('refused');
    this.localStream?.getTracks().forEach((t) => t.stop());
    this.#emit('refused', { code });
  }

  #setState(state: MediaClientState): void {
    if (this.state === 'closed' || this.state === 'refused') return;
    this.state = state;
    this.#emit('state', { state });
  }

  /** Asks the control plane where the media goes; asks again later while it cannot say or the node does not answer. */
  async #ask(): Promise<void> {
    clearTimeout(this.#askTimer);
    if (this.#done() || !this.options.placement) return;
    const target = await this.options.placement.where().catch(() => null);
    if (target) this.#moveTo(target);
    if (this.#done()) return;
    if (!this.#leg || this.#leg.state !== 'live') this.#askTimer = setTimeout(() => void this.#ask(), ASK_AGAIN_MS);
  }

  /** The control plane says the media goes to `target`. */
  #moveTo(target: MediaTarget): void {
    if (this.#done()) return;
    if (this.#leg?.url === target.url) {
      this.#dropPending();
      return;
    }
    if (this.#pending?.leg.url === target.url) return;
    this.#dropPending();
    if (this.#leg?.state === 'live') this.#prepare(target.url);
    else this.#switchTo(target.url);
  }

  /** Leaves the current node at once (it does not serve) and opens the new one. */
  #switchTo(url: string): void {
    const from = this.#leg;
    if (from) this.#forget(from);
    this.#leg = this.#openLeg(url);
    if (from) this.#emit('moved', { from: from.url, to: url });
    this.#setState('connecting');
  }

  /** Opens the new node beside the current one; the page moves once the new one serves. */
  #prepare(url: string): void {
    const leg = this.#openLeg(url);
    const timer = setTimeout(() => {
      if (this.#pending?.leg !== leg) return;
      if (leg.state === 'live') this.#promote();
      else {
        // The new node did not come up in time: the old one goes anyway (it is being emptied), the new one goes on trying.
        this.#pending = null;
        const from = this.#leg;
        if (from) this.#forget(from);
        this.#leg = leg;
        this.#setState(leg.state);
        if (from) this.#emit('moved', { from: from.url, to: url });
      }
    }, MAKE_BEFORE_BREAK_MAX_MS);
    this.#pending = { leg, timer };
  }

  /** Whether the new node serves as well as the old one: live, and decoding the programme if the old one showed it. */
  #pendingReady(): boolean {
    const next = this.#pending?.leg;
    if (!next || next.state !== 'live') return false;
    const current = this.#leg;
    if (!current || current.state !== 'live') return true;
    const programme = (leg: MediaLeg): ReceivedConsumer | undefined => [...leg.consumers.values()].find((c) => c.slot === 'onair' && c.consumer.kind === 'video');
    if (!programme(current)) return true;
    return programme(next)?.firstDecodedAt !== undefined;
  }

  /** The new node takes over: the page's consumers are the new node's, the old node is left. */
  #promote(): void {
    const pending = this.#pending;
    if (!pending) return;
    clearTimeout(pending.timer);
    this.#pending = null;
    const from = this.#leg;
    if (from) this.#forget(from);
    const leg = pending.leg;
    this.#leg = leg;
    for (const rc of leg.consumers.values()) this.#emit('consumer', rc);
    this.#emit('onair', { bridgeId: leg.onAir });
    this.#emit('mic', { open: leg.micOpen });
    this.#setState(leg.state);
    this.#emit('moved', { from: from?.url ?? null, to: leg.url });
  }

  /** Closes a leg after telling the page its consumers are gone. */
  #forget(leg: MediaLeg): void {
    for (const rc of leg.consumers.values()) this.#emit('consumerclosed', rc);
    leg.close();
  }

  #dropPending(): void {
    if (!this.#pending) return;
    clearTimeout(this.#pending.timer);
    this.#pending.leg.close();
    this.#pending = null;
  }

  /** A leg to a node: its events reach the page while it is the current one; a pending one's decide when it takes over. */
  #openLeg(url: string): MediaLeg {
    const leg: MediaLeg = new MediaLeg({
      url,
      token: this.options.token,
      clientId: this.#clientId,
      localStream: this.options.share ? () => Promise.resolve(this.options.share!) : this.options.publish ? () => this.#capture() : null,
      audioFirst: this.options.audioFirst,
      screen: !!this.options.share,
      emit: (event, detail) => {
        if (leg === this.#leg) this.#fromCurrent(leg, event, detail);
        else if (leg === this.#pending?.leg) this.#fromPending(leg, event, detail);
      },
    });
    return leg;
  }

  #fromCurrent<K extends keyof MediaLegEventMap>(leg: MediaLeg, event: K, detail: MediaLegEventMap[K]): void {
    if (event === 'refused') return this.#refuse((detail as MediaLegEventMap['refused']).code);
    if (event !== 'state') {
      this.#emit(event, detail as never);
      // The old node stopped showing what the new one already does: no reason to wait longer.
      if (event === 'consumerclosed' && this.#pendingReady()) this.#promote();
      return;
    }
    const { state } = detail as MediaLegEventMap['state'];
    this.#setState(state);
    if (state === 'live') {
      clearTimeout(this.#askTimer);
      if (this.#thumbnails?.length) void leg.request('media:thumbnails', { bridgeIds: this.#thumbnails }).catch(() => undefined);
    } else if (state === 'reconnecting' && this.options.placement) {
      // The node went away: ask where the media goes now (the push may also come).
      if (this.#pendingReady()) this.#promote();
      else void this.#ask();
    }
  }

  #fromPending<K extends keyof MediaLegEventMap>(leg: MediaLeg, event: K, detail: MediaLegEventMap[K]): void {
    if (event === 'state' && (detail as MediaLegEventMap['state']).state === 'live' && this.#thumbnails?.length) {
      void leg.request('media:thumbnails', { bridgeIds: this.#thumbnails }).catch(() => undefined);
    }
    if (event === 'error') this.#emit('error', detail as MediaLegEventMap['error']);
    if (event === 'refused') return this.#refuse((detail as MediaLegEventMap['refused']).code);
    if ((event === 'state' || event === 'firstframe' || event === 'consumer') && this.#pendingReady()) this.#promote();
  }

  /** The page's camera and microphone, captured once (again for a device that was unplugged or ended). */
  #capture(): Promise<MediaStream> {
    this.#capturing ??= (async () => {
      const stream = this.localStream ?? new MediaStream();
      for (const t of stream.getTracks()) if (t.readyState === 'ended') stream.removeTrack(t);
      const needAudio = stream.getAudioTracks().length === 0;
      const needVideo = stream.getVideoTracks().length === 0;
      if (needAudio || needVideo) {
        const captured = await navigator.mediaDevices.getUserMedia({
          audio: needAudio ? (this.options.audio ?? DEFAULT_AUDIO) : false,
          video: needVideo ? (this.options.video ?? DEFAULT_VIDEO) : false,
        });
        captured.getTracks().forEach((t) => stream.addTrack(t));
        this.localStream = stream;
        this.#emit('localstream', { stream });
      }
      this.localStream = stream;
      return stream;
    })().finally(() => (this.#capturing = null));
    return this.#capturing;
  }
}
