// The re-encoder's output does not wait for one of its inputs: real ffmpeg fed by the relay with
// no speaker at all and no hold frames, so its video is the slate's keyframe once a second while
// both microphones' streams (silence) come every 20 ms. What it writes must keep coming between
// two pictures (the audio), as the press feed must when a speaker's video stalls or a switch
// waits for a keyframe; a muxer that lines its streams up waits for the video instead.
import { expect } from 'chai';
import { systemClock } from '../../server/core/conference/index.ts';
import { FeedRelay } from '../../server/app/feed/FeedRelay.ts';
import { FeedEncoder } from '../../server/app/feed/FeedEncoder.ts';
import { ffmpegHasFilter, freeUdpPorts, renderSlateKeyframe } from '../../server/app/feed/ffmpeg.ts';
import { waitFor } from './media-fixture.ts';

describe('feed re-encoder: its output keeps coming while one input pauses (ffmpeg)', function () {
  this.timeout(60_000);
  let relay: FeedRelay | undefined;
  let encoder: FeedEncoder | undefined;
  after(async () => {
    await encoder?.close();
    relay?.close();
  });

  it('with video once a second and audio every 20 ms, the MPEG-TS never stops for more than 400 ms', async () => {
    const W = 640;
    const H = 360;
    const base = await freeUdpPorts(6);
    const ports = { video: base, speaker: base + 2, chair: base + 4 };
    // No hold frames: between two slate keyframes (one a second) the video input says nothing.
    relay = await FeedRelay.create({ chairBridgeId: 'p-20', ports, slate: await renderSlateKeyframe(W, H), requestKeyFrame: () => undefined, clock: systemClock });
    encoder = new FeedEncoder(
      {
        ports, width: W, height: H, fps: 25, videoKbps: 600, preset: 'ultrafast', maketBackground: '#c00000', maketText: '#ffde00',
        clock: systemClock, panel: null, switchable: await ffmpegHasFilter('zmq'),
      },
      { maket: ['HỘI NGHỊ'], lowerThird: ['Chủ tọa', 'Tỉnh'] },
    );
    const arrivals: number[] = [];
    encoder.on('data', () => arrivals.push(Date.now()));
    encoder.start();
    await waitFor('the re-encoder writes', () => arrivals.length > 20, 20_000);
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 5000));
    const to = Date.now();
    let prev = from;
    let longest = 0;
    for (const at of arrivals.filter((a) => a > from && a <= to)) {
      longest = Math.max(longest, at - prev);
      prev = at;
    }
    longest = Math.max(longest, to - prev);
    const r = relay.counters;
    console.log(`      slate frames ${r.slateFrames}, silence frames ${r.silenceFrames}; longest time without output ${longest} ms`);
    expect(r.holdFrames, 'no hold frames (none to send)').to.equal(0);
    // Before: the output came once a second, with the slate (the audio waited in the muxer for the video).
    expect(longest, 'longest time without MPEG-TS from the re-encoder (ms)').to.be.lessThan(400);
  });
});
