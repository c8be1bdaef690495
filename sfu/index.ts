export { WorkerPool } from './WorkerPool.ts';
export type { WorkerPoolOptions, WorkerSlot, WorkerPoolEvents } from './WorkerPool.ts';
export { MediaSession } from './MediaSession.ts';
export type {
  ConsumeRequest,
  ConsumerSlot,
  MediaPeerSink,
  MediaSessionEvents,
  MediaSessionOptions,
  JoinOptions,
  MediaSource,
  AudioOnlyState,
  SendMode,
  PeerOptions,
  PlainTransportInfo,
  PlainTransportOptions,
  RemoteTrack,
  RoutedTrack,
  TransportDirection,
  WebRtcTransportInfo,
} from './types.ts';
export type { LinkCounters, LinkSide, MicReportEntry, SessionSnapshot } from './stats.ts';
export { SfuError } from './errors.ts';
export { Cascade } from './Cascade.ts';
export type { CascadeChannel, CascadeLinkStats, CascadePipeCounts, PipeAnswer, PipeEnd } from './Cascade.ts';
export type { AudioLevel } from './AudioLevels.ts';
export type { SfuErrorCode } from './errors.ts';
export { mediaCodecs, h264Codec, TOP_SPATIAL_LAYER } from './codecs.ts';
export { VIDEO_PRIORITY } from './routing/index.ts';
