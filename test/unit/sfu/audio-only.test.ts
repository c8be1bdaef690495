import { expect } from 'chai';
import { AUDIO_ONLY_HOLD_MS, AudioOnlyHysteresis, audioOnlyNow, CAM_SETTLE_MS, type LinkVideoFacts } from '../../../sfu/audio-only.ts';
import { consumerPriority, VIDEO_PRIORITY } from '../../../sfu/routing/index.ts';
import { TOP_SPATIAL_LAYER } from '../../../sfu/codecs.ts';

const sending: LinkVideoFacts = {
  reportedAudioOnly: false,
  cam: { paused: false, ageMs: 60_000, scores: [10, 9, 0] },
  onAirVideo: { resumed: true, sourceSending: true, hasLayers: true },
};

describe('audio only: which links carry no video (pure rule)', () => {
  it('a hall that sends and receives video is not audio only', () => {
    expect(audioOnlyNow(sending)).to.deep.equal({ up: false, down: false, reported: false, held: false });
  });

  it('up: the hall says so, or every encoding of its camera scores 0 once the camera has settled', () => {
    expect(audioOnlyNow({ ...sending, reportedAudioOnly: true })).to.include({ up: true, reported: true });
    expect(audioOnlyNow({ ...sending, cam: { paused: false, ageMs: 60_000, scores: [0, 0, 0] } })).to.include({ up: true, reported: false });
    // A new camera has no score yet; a paused one is the hall's choice, not its link; no camera at all is neither.
    expect(audioOnlyNow({ ...sending, cam: { paused: false, ageMs: CAM_SETTLE_MS - 1, scores: [] } }).up).to.equal(false);
    expect(audioOnlyNow({ ...sending, cam: { paused: true, ageMs: 60_000, scores: [0, 0, 0] } }).up).to.equal(false);
    expect(audioOnlyNow({ ...sending, cam: undefined }).up).to.equal(false);
  });

  it('down: the SFU forwards no layer of the programme to it, though the programme sends one and the consumer runs', () => {
    expect(audioOnlyNow({ ...sending, onAirVideo: { resumed: true, sourceSending: true, hasLayers: false } }).down).to.equal(true);
    // The speaker sends nothing (its own uplink is the weak one), or the consumer is paused: not this hall's link.
    expect(audioOnlyNow({ ...sending, onAirVideo: { resumed: true, sourceSending: false, hasLayers: false } }).down).to.equal(false);
    expect(audioOnlyNow({ ...sending, onAirVideo: { resumed: false, sourceSending: true, hasLayers: false } }).down).to.equal(false);
    expect(audioOnlyNow({ ...sending, onAirVideo: undefined }).down).to.equal(false);
  });
});

describe('audio only: hysteresis before a change is told', () => {
  const silentCam = audioOnlyNow({ ...sending, cam: { paused: false, ageMs: 60_000, scores: [0, 0, 0] } });
  const noLayer = audioOnlyNow({ ...sending, onAirVideo: { resumed: true, sourceSending: true, hasLayers: false } });
  const video = audioOnlyNow(sending);

  it('the hall\'s own report enters and leaves at once (its browser already waited, and verified the link before it ends); the SFU\'s signs must hold both ways', () => {
    const book = new AudioOnlyHysteresis();
    expect(book.step('d-178', audioOnlyNow({ ...sending, reportedAudioOnly: true }), 0)).to.deep.equal({ up: true, down: false });
    expect(book.audioOnly()).to.deep.equal([{ bridgeId: 'd-178', up: true, down: false }]);
    expect(book.step('d-178', video, 100), 'the report ended').to.deep.equal({ up: false, down: false });
    expect(book.audioOnly()).to.deep.equal([]);
    expect(book.bridges(), 'a hall back to video is not kept').to.deep.equal([]);
    // A silent camera entered after its hold; it leaves after its hold too.
    book.step('d-178', silentCam, 0);
    expect(book.step('d-178', silentCam, AUDIO_ONLY_HOLD_MS.enterUp)).to.deep.equal({ up: true, down: false });
    expect(book.step('d-178', video, AUDIO_ONLY_HOLD_MS.enterUp + 100), 'leaving holds').to.equal(null);
    expect(book.step('d-178', video, AUDIO_ONLY_HOLD_MS.enterUp + 100 + AUDIO_ONLY_HOLD_MS.leave)).to.deep.equal({ up: false, down: false });
  });

  it('a report that ends while the camera still scores nothing: the camera\'s sign holds as usual', () => {
    const book = new AudioOnlyHysteresis();
    book.step('d-178', audioOnlyNow({ ...sending, reportedAudioOnly: true }), 0);
    expect(book.step('d-178', silentCam, 100), 'still up: the camera sends nothing yet').to.equal(null);
    expect(book.step('d-178', video, 200)).to.equal(null);
    expect(book.step('d-178', video, 200 + AUDIO_ONLY_HOLD_MS.leave)).to.deep.equal({ up: false, down: false });
  });

  it('a silent camera for less than the hold is a flicker, not a state', () => {
    const book = new AudioOnlyHysteresis();
    expect(book.step('c-06010', silentCam, 0)).to.equal(null);
    expect(book.step('c-06010', silentCam, AUDIO_ONLY_HOLD_MS.enterUp - 1)).to.equal(null);
    expect(book.step('c-06010', video, AUDIO_ONLY_HOLD_MS.enterUp), 'back before the hold: nothing told').to.equal(null);
    expect(book.step('c-06010', silentCam, AUDIO_ONLY_HOLD_MS.enterUp + 10)).to.equal(null);
    expect(book.step('c-06010', silentCam, 2 * AUDIO_ONLY_HOLD_MS.enterUp + 10)).to.deep.equal({ up: true, down: false });
  });

  it('down holds longer (a switch leaves a consumer without layers for a moment); up and down are told apart', () => {
    const book = new AudioOnlyHysteresis();
    expect(book.step('c-06010', noLayer, 0)).to.equal(null);
    expect(book.step('c-06010', noLayer, AUDIO_ONLY_HOLD_MS.enterDown - 1)).to.equal(null);
    expect(book.step('c-06010', noLayer, AUDIO_ONLY_HOLD_MS.enterDown)).to.deep.equal({ up: false, down: true });
    expect(book.flags('c-06010')).to.deep.equal({ up: false, down: true });
    expect(book.flags('c-05971'), 'unknown: video').to.deep.equal({ up: false, down: false });
  });

  it('a hall that left is told as video again (only if it was audio only)', () => {
    const book = new AudioOnlyHysteresis();
    book.step('d-178', audioOnlyNow({ ...sending, reportedAudioOnly: true }), 0);
    expect(book.forget('d-178')).to.deep.equal({ up: false, down: false });
    expect(book.forget('d-178')).to.equal(null);
  });
});

describe('consumer priorities under a short downlink (mediasoup 3.12)', () => {
  it('the programme and the prepared speaker before thumbnails; audio is outside the estimate; the default needs no request', () => {
    expect(consumerPriority('onair', 'video')).to.equal(VIDEO_PRIORITY.onair);
    expect(consumerPriority('next', 'video')).to.equal(VIDEO_PRIORITY.onair);
    expect(consumerPriority('thumb', 'video')).to.equal(null);
    expect(consumerPriority('audio', 'audio')).to.equal(null);
    expect(consumerPriority('onair', 'audio')).to.equal(null);
    // Above the layers a simulcast producer has (3 spatial × 3 temporal), so the programme takes all it can first.
    expect(VIDEO_PRIORITY.onair).to.be.greaterThan((TOP_SPATIAL_LAYER + 1) * 3);
    expect(VIDEO_PRIORITY.onair).to.be.lessThan(256);
  });
});
