import type { types as ms } from 'mediasoup';

/** Codecs every conference router offers: Opus for the halls' microphones, VP8 (simulcast) for cameras. */
export const mediaCodecs: ms.RtpCodecCapability[] = [
  { kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
  {
    kind: 'video',
    mimeType: 'video/VP8',
    clockRate: 90000,
    parameters: { 'x-google-start-bitrate': 1000 },
  },
];

/**
 * H264 as room conference codecs send it (constrained baseline, packetization mode 1), offered
 * after VP8 only in conferences with such a hardware hall: browsers keep sending VP8 (the first
 * video codec), and decode H264 when a hardware hall has the floor.
 */
export const h264Codec: ms.RtpCodecCapability = {
  kind: 'video',
  mimeType: 'video/H264',
  clockRate: 90000,
  parameters: { 'packetization-mode': 1, 'profile-level-id': '42e01f', 'level-asymmetry-allowed': 1 },
};

/** Highest simulcast spatial layer a hall sends (3 layers: 0, 1, 2). */
export const TOP_SPATIAL_LAYER = 2;

/**
 * Delay before a producer honours a second keyframe request. Chrome ignores a request within
 * 300 ms of the previous one and mediasoup retries an unanswered one after 1 s; 350 ms lets a
 * late viewer get the next keyframe quickly instead of freezing for a second.
 */
export const KEYFRAME_REQUEST_DELAY_MS = 350;
