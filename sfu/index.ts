export { WorkerPool } from './WorkerPool.ts';
export type { WorkerPoolOptions, WorkerSlot, WorkerPoolEvents } from './WorkerPool.ts';
export { MediaSession } from './MediaSession.ts';
export type {
  ConsumeRequest,
  ConsumerSlot,
  MediaPeerSink,
  MediaSessionOptions,
  MediaSource,
  MicReportEntry,
  LinkCounters,
  LinkSide,
  PeerOptions,
  PlainTransportInfo,
  PlainTransportOptions,
  SessionSnapshot,
  TransportDirection,
} from './MediaSession.ts';
export { SfuError } from './errors.ts';
export type { SfuErrorCode } from './errors.ts';
export { mediaCodecs, h264Codec, TOP_SPATIAL_LAYER } from './codecs.ts';
