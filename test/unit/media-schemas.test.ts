// Issue 18, finding 8: media parameters are validated at the edge like every other payload. What
// a browser's mediasoup-client sends passes; what no encoder sends (an SSRC of 2^40, L99T99, a
// clock rate of 2^40, -1 channels…) is refused before mediasoup sees it.
import { expect } from 'chai';
import { MediaRequests } from '../../server/protocol/media.ts';

const UUID = '2f6c1f5e-7f77-4a5e-9d7a-3b2f3a4f5c6d';

/** A camera's producer parameters as mediasoup-client (Chrome111 handler) sends them: VP8 simulcast with RTX. */
function cam() {
  return {
    mid: '1',
    codecs: [
      { mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {}, rtcpFeedback: [{ type: 'goog-remb', parameter: '' }, { type: 'transport-cc', parameter: '' }, { type: 'ccm', parameter: 'fir' }, { type: 'nack', parameter: '' }, { type: 'nack', parameter: 'pli' }] },
      { mimeType: 'video/rtx', payloadType: 97, clockRate: 90000, parameters: { apt: 96 }, rtcpFeedback: [] },
    ],
    headerExtensions: [
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4, encrypt: false, parameters: {} },
      { uri: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time', id: 2, encrypt: false, parameters: {} },
      { uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 3, encrypt: false, parameters: {} },
    ],
    encodings: [
      { active: true, rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150000, scalabilityMode: 'L1T3' },
      { active: true, rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500000, scalabilityMode: 'L1T3' },
      { active: true, rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1500000, scalabilityMode: 'L1T3' },
    ],
    // Chromium sends an empty CNAME with simulcast (seen in the e2e tests).
    rtcp: { cname: '', reducedSize: true },
    msid: 'ba60eea7-c71a-4cb5-ac10-e7a135fe5655 fa93bc90-496f-48e3-9c2a-db0302c7ea6a',
  };
}

/** A microphone's: Opus, two channels in SDP, with its fmtp parameters and an SSRC. */
function mic() {
  return {
    mid: '0',
    codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1, usedtx: 1 }, rtcpFeedback: [{ type: 'transport-cc', parameter: '' }] }],
    headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: 1, encrypt: false, parameters: {} }],
    encodings: [{ ssrc: 3_907_226_518, dtx: true }],
    rtcp: { cname: 'hT1W+8kq/3wQpZ2b', reducedSize: true },
  };
}

function capabilities() {
  return {
    codecs: [
      { kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2, parameters: { minptime: 10, useinbandfec: 1 }, rtcpFeedback: [{ type: 'transport-cc', parameter: '' }] },
      { kind: 'video', mimeType: 'video/VP8', preferredPayloadType: 101, clockRate: 90000, parameters: {}, rtcpFeedback: [{ type: 'nack', parameter: '' }, { type: 'nack', parameter: 'pli' }] },
      { kind: 'video', mimeType: 'video/rtx', preferredPayloadType: 102, clockRate: 90000, parameters: { apt: 101 }, rtcpFeedback: [] },
      { kind: 'video', mimeType: 'video/H264', preferredPayloadType: 103, clockRate: 90000, parameters: { 'level-asymmetry-allowed': 1, 'packetization-mode': 1, 'profile-level-id': '42e01f' }, rtcpFeedback: [] },
    ],
    headerExtensions: [
      { kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1, preferredEncrypt: false, direction: 'sendrecv' },
      { kind: 'video', uri: 'urn:3gpp:video-orientation', preferredId: 11, preferredEncrypt: false, direction: 'sendrecv' },
    ],
  };
}

const produce = (kind: 'audio' | 'video', rtpParameters: unknown) => MediaRequests['media:produce'].safeParse({ transportId: UUID, kind, source: kind === 'audio' ? 'mic' : 'cam', rtpParameters });

describe('media parameters at the edge', () => {
  it('passes what a browser sends, dropping what mediasoup does not read', () => {
    const video = produce('video', cam());
    expect(video.success, JSON.stringify(video.error?.issues)).to.equal(true);
    expect(video.data!.rtpParameters.encodings![0]).to.deep.equal({ rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150000, scalabilityMode: 'L1T3' });
    expect(produce('audio', mic()).success).to.equal(true);
    expect(MediaRequests['media:capabilities'].safeParse({ rtpCapabilities: capabilities() }).success).to.equal(true);
    const fingerprint = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, '0').toUpperCase()).join(':');
    expect(MediaRequests['media:connectTransport'].safeParse({ transportId: UUID, dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: fingerprint }] } }).success).to.equal(true);
    for (const mode of ['L1T1', 'L1T3', 'L3T3_KEY', 'S3T3', 'L2T2_KEY_SHIFT', 'L3T3h']) {
      const p = cam();
      p.encodings[0]!.scalabilityMode = mode;
      expect(produce('video', p).success, mode).to.equal(true);
    }
  });

  it('refuses what the issue found the media layer took (ssrc 2^40, L99T99, clock rate 2^40, channels -1) and its kin', () => {
    const bad: [string, (p: ReturnType<typeof mic> & ReturnType<typeof cam>) => void, 'audio' | 'video'][] = [
      ['ssrc 2^40', (p) => (p.encodings = [{ ssrc: 2 ** 40 }] as never), 'audio'],
      ['ssrc -1', (p) => (p.encodings = [{ ssrc: -1 }] as never), 'audio'],
      ['ssrc 1.5', (p) => (p.encodings = [{ ssrc: 1.5 }] as never), 'audio'],
      ['rtx ssrc 2^32', (p) => (p.encodings = [{ ssrc: 1, rtx: { ssrc: 2 ** 32 } }] as never), 'video'],
      ['scalabilityMode L99T99', (p) => (p.encodings[0]!.scalabilityMode = 'L99T99'), 'video'],
      ['scalabilityMode L1T3; DROP', (p) => (p.encodings[0]!.scalabilityMode = 'L1T3; DROP'), 'video'],
      ['clockRate 2^40', (p) => (p.codecs[0]!.clockRate = 2 ** 40), 'audio'],
      ['clockRate 12345', (p) => (p.codecs[0]!.clockRate = 12345), 'audio'],
      ['channels -1', (p) => ((p.codecs[0] as { channels?: number }).channels = -1), 'audio'],
      ['channels 255', (p) => ((p.codecs[0] as { channels?: number }).channels = 255), 'audio'],
      ['payloadType 128', (p) => (p.codecs[0]!.payloadType = 128), 'audio'],
      ['mimeType not a media type', (p) => (p.codecs[0]!.mimeType = 'application/x-evil'), 'audio'],
      ['17 codec parameters', (p) => (p.codecs[0]!.parameters = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`p${i}`, i])) as never), 'audio'],
      ['a codec parameter of 1 kB', (p) => (p.codecs[0]!.parameters = { x: 'y'.repeat(1000) } as never), 'audio'],
      ['a header extension id 0', (p) => (p.headerExtensions[0]!.id = 0), 'audio'],
      ['a header extension id 256', (p) => (p.headerExtensions[0]!.id = 256), 'audio'],
      ['a header extension uri with spaces', (p) => (p.headerExtensions[0]!.uri = 'urn:x y'), 'audio'],
      ['a rid of 40 characters', (p) => (p.encodings[0]!.rid = 'r'.repeat(40)), 'video'],
      ['maxBitrate 10^12', (p) => (p.encodings[0]!.maxBitrate = 1e12), 'video'],
      ['scaleResolutionDownBy 0', (p) => (p.encodings[0]!.scaleResolutionDownBy = 0), 'video'],
      ['a cname of 1 kB', (p) => (p.rtcp.cname = 'c'.repeat(1000)), 'audio'],
      ['an rtcpFeedback of 20 entries', (p) => (p.codecs[0]!.rtcpFeedback = Array(20).fill({ type: 'nack' })), 'audio'],
    ];
    for (const [label, spoil, kind] of bad) {
      const p = (kind === 'audio' ? mic() : cam()) as ReturnType<typeof mic> & ReturnType<typeof cam>;
      spoil(p);
      expect(produce(kind, p).success, label).to.equal(false);
    }
    // A __proto__ key (as JSON.parse makes it: an own property) is dropped, and pollutes nothing.
    const polluted = mic();
    polluted.codecs[0]!.parameters = JSON.parse('{"__proto__": {"polluted": 1}, "minptime": 10}');
    const parsed = produce('audio', polluted);
    expect(parsed.success).to.equal(true);
    const parameters = parsed.data!.rtpParameters.codecs[0]!.parameters!;
    expect(Object.keys(parameters)).to.deep.equal(['minptime']);
    expect(Object.getPrototypeOf(parameters)).to.equal(Object.prototype);
    expect(({} as { polluted?: number }).polluted).to.equal(undefined);
    const caps = capabilities();
    caps.codecs[0]!.clockRate = 2 ** 40;
    expect(MediaRequests['media:capabilities'].safeParse({ rtpCapabilities: caps }).success, 'capability clockRate 2^40').to.equal(false);
    const caps2 = capabilities();
    caps2.headerExtensions[0]!.preferredId = 1000;
    expect(MediaRequests['media:capabilities'].safeParse({ rtpCapabilities: caps2 }).success, 'capability extension id 1000').to.equal(false);
    for (const value of ['AB', 'zz:'.repeat(31) + 'zz', '00:'.repeat(70) + '00']) {
      expect(MediaRequests['media:connectTransport'].safeParse({ transportId: UUID, dtlsParameters: { fingerprints: [{ algorithm: 'sha-256', value }] } }).success, value.slice(0, 12)).to.equal(false);
    }
    expect(MediaRequests['media:connectTransport'].safeParse({ transportId: UUID, dtlsParameters: { fingerprints: [{ algorithm: 'md5', value: '00:'.repeat(15) + '00' }] } }).success, 'md5').to.equal(false);
    expect(MediaRequests['media:produce'].safeParse({ transportId: UUID, kind: 'audio', source: 'mic', rtpParameters: mic(), admin: true }).success, 'an unknown request field').to.equal(false);
    // Found by the hostile-input suite: mediasoup 3.12 created a video producer with an Opus codec.
    expect(produce('video', mic()).success, 'an audio codec for a camera').to.equal(false);
    expect(produce('audio', cam()).success, 'a video codec for a microphone').to.equal(false);
  });
});
