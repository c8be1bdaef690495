// The plain data the routing rule reads and returns: no mediasoup objects, no I/O.

/** What a hall publishes: its microphone, its camera, and a shared window or screen (the content track). */
export type MediaSource = 'mic' | 'cam' | 'screen';

/**
 * Why a peer receives a consumer: `onair` the video of the bridge on air, `audio` an audio
 * stream (on air or the chair), `thumb` a thumbnail, or `next`: prepared (paused) for the bridge
 * expected to get the floor, so that the switch only has to resume it; `content` the shared screen.
 */
export type ConsumerSlot = 'onair' | 'audio' | 'thumb' | 'next' | 'content';

/** One published track, as routing sees it. */
export interface PublishedTrack {
  bridgeId: string;
  source: MediaSource;
  /** The producer's id: consumers of one track share it, so it keys them. */
  trackId: string;
}

/** What one bridge publishes now (a source that is absent is not published, or closed). */
export type BridgeTracks<T extends PublishedTrack = PublishedTrack> = Partial<Record<MediaSource, T>>;

/** Looks up what a bridge publishes (a Map in tests; the session's live peers in the SFU). */
export interface TrackLookup<T extends PublishedTrack = PublishedTrack> {
  get(bridgeId: string): BridgeTracks<T> | undefined;
}

/** The conference-wide routing state the control plane sets. */
export interface RoutingState {
  /** The chair's (province) bridge: heard everywhere, always. */
  readonly chairBridgeId: string;
  /** The bridge every hall receives (video and audio). */
  readonly onAir: string;
  /** The bridge prepared as the next speaker (paused consumers at every hall), if any. */
  readonly next: string | undefined;
  /** The bridges whose microphones are open (from the core's `openMicrophones`). */
  readonly openMicrophones: ReadonlySet<string>;
  /** The bridge whose screen every hall receives (from the core's `sharingBridgeOf`); one at a time. */
  readonly content?: string;
}

/** How one peer takes part, as routing needs it. */
export interface RoutedPeer {
  /** The hall this peer is (undefined for consoles, technicians and the press). */
  readonly bridgeId?: string;
  /** Receives what is on air (halls, the chair's console, the press). */
  readonly receiveOnAir: boolean;
  /** May receive thumbnails (chair, secretary, technicians, the province hall). */
  readonly thumbnails: boolean;
  /** Plays one audio stream only (a hardware hall): the speaker's, or the chair's when on air itself. */
  readonly singleAudio?: boolean;
  /** The halls it chose to see as thumbnails (ignored without `thumbnails`). */
  readonly thumbnailChoice: readonly string[];
}

/** A consumer a peer should hold: keyed so that the same track in the same role keeps its consumer. */
export interface DesiredConsumer<T extends PublishedTrack = PublishedTrack> {
  /** `main:<trackId>` (on air, audio and next share it: a prepared consumer goes live in place), `thumb:<trackId>` or `content:<trackId>`. */
  key: string;
  track: T;
  slot: ConsumerSlot;
}
