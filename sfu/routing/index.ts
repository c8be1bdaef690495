// Routing: who hears and sees whom in a conference. Pure functions of plain data, unit-tested
// without a worker (test/unit/sfu/routing.test.ts):
//   who-hears-whom.ts  the consumers each peer should hold (on air, prepared next, thumbnails)
//   send-layers.ts     the simulcast layers each hall should send
//   microphones.ts     whose microphone runs at the server (the set comes from the core)
//   priorities.ts      which video a short downlink keeps: the programme before thumbnails
//   downlink-video.ts  when a hall's downlink gets no video at all (audio only), and how it comes back
//   pipe-ahead.ts      which tracks of other nodes are piped in at once, before the peers' runs
export { desiredConsumers, inProgramme, onAirTracks, receivesFrom } from './who-hears-whom.ts';
export { programmeTracksToPipe } from './pipe-ahead.ts';
export { maxSpatialLayer } from './send-layers.ts';
export { microphoneOpen } from './microphones.ts';
export { consumerPriority, VIDEO_PRIORITY } from './priorities.ts';
export { DOWNLINK_RULE, DownlinkVideoRule } from './downlink-video.ts';
export type { DownlinkDecision, DownlinkFacts, DownlinkReason, DownlinkRuleConfig, DownlinkState, TrialReading, TrialRecord } from './downlink-video.ts';
export type {
  BridgeTracks,
  ConsumerSlot,
  DesiredConsumer,
  MediaSource,
  PublishedTrack,
  RoutedPeer,
  RoutingState,
  TrackLookup,
} from './types.ts';
