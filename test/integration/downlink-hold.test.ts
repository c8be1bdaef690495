import { expect } from 'chai';
import { MediaSession, WorkerPool } from '../../sfu/index.ts';
import { DOWNLINK_RULE } from '../../sfu/routing/index.ts';
import { COMMUNE, DISTRICT, PROVINCE, eventuallyEqual, expectedRouting, joinHall, poolOptions, routing, waitFor, type TestPeer } from './media-fixture.ts';

/** A hall's consumers as "slot bridge/source paused|running [preferred spatial layer]", from the session's snapshot. */
function consumersOf(session: MediaSession, bridgeId: string): string[] {
  const peer = session.snapshot().peers.find((p) => p.bridgeId === bridgeId);
  return (peer?.consumers ?? [])
    .map((c) => `${c.slot} ${c.bridgeId}/${c.source} ${c.paused ? 'paused' : 'running'}${c.kind === 'video' && c.preferredSpatialLayer !== undefined ? ` L${c.preferredSpatialLayer}` : ''}`)
    .sort();
}

describe('MediaSession: a hall whose downlink carries no video gets audio only from the SFU (real mediasoup worker, unconnected transports)', function () {
  this.timeout(30_000);
  let pool: WorkerPool;
  let session: MediaSession;
  let district: TestPeer;

  before(async () => {
    pool = await WorkerPool.create(await poolOptions(1));
    session = await MediaSession.create(pool, { conferenceId: 'downlink', chairBridgeId: PROVINCE, bridgeIds: [PROVINCE, DISTRICT, COMMUNE], switchBatchMs: 100, consumeTimeoutMs: 2000 });
    await joinHall(session, PROVINCE);
    district = await joinHall(session, DISTRICT);
    await joinHall(session, COMMUNE);
    await eventuallyEqual('routing', () => routing(session), expectedRouting([PROVINCE, DISTRICT, COMMUNE], PROVINCE));
    await waitFor('the programme runs at the district', () => consumersOf(session, DISTRICT).join() === ['audio p-20/mic running', 'onair p-20/cam running L2'].join());
  });

  after(() => {
    session?.close();
    pool?.close();
  });

  it('the hall says its link is weak: its video consumers are paused at the SFU at once, its audio runs; every screen is told "down"', async () => {
    await session.setSendMode(district.peerId, 'audio-only');
    expect(session.downlinkOf(DISTRICT)).to.equal('held');
    await eventuallyEqual('the district\'s consumers', () => consumersOf(session, DISTRICT), ['audio p-20/mic running', 'onair p-20/cam paused L2']);
    await waitFor('told', () => session.audioOnlyOf(DISTRICT).down);
    expect(session.audioOnlyOf(DISTRICT)).to.deep.equal({ bridgeId: DISTRICT, up: true, down: true });
    // Nobody else is touched.
    expect(consumersOf(session, COMMUNE)).to.deep.equal(['audio p-20/mic running', 'onair p-20/cam running L2']);
  });

  it('a switch while held: the new programme video is created paused and stays so, the new audio runs', async () => {
    await session.setOnAir(COMMUNE);
    await eventuallyEqual('the district\'s consumers', () => consumersOf(session, DISTRICT), ['audio c-05971/mic running', 'audio p-20/mic running', 'onair c-05971/cam paused L2']);
    expect(consumersOf(session, PROVINCE)).to.deep.equal(['audio c-05971/mic running', 'onair c-05971/cam running L2']);
  });

  it('its uplink comes back: a trial at once, its programme video at the lowest layer; with no layer ever forwarded (nothing is connected) the trial fails and the video is paused again at its usual layers', async () => {
    await session.setSendMode(district.peerId, 'video');
    expect(session.downlinkOf(DISTRICT)).to.equal('trial');
    await eventuallyEqual('on trial', () => consumersOf(session, DISTRICT), ['audio c-05971/mic running', 'audio p-20/mic running', 'onair c-05971/cam running L0']);
    const started = Date.now();
    await waitFor('the trial failed', () => session.downlinkOf(DISTRICT) === 'held', DOWNLINK_RULE.trialMs + 2000, 50);
    expect(Date.now() - started).to.be.at.most(DOWNLINK_RULE.trialMs + 1000);
    await eventuallyEqual('held again', () => consumersOf(session, DISTRICT), ['audio c-05971/mic running', 'audio p-20/mic running', 'onair c-05971/cam paused L2']);
    expect(session.audioOnlyOf(DISTRICT).down).to.equal(true);
  });

  it('the hall leaves and joins again: a new peer starts with video', async () => {
    session.leave(district.peerId);
    district = await joinHall(session, DISTRICT);
    await waitFor('the programme runs at the district', () => consumersOf(session, DISTRICT).join() === ['audio c-05971/mic running', 'audio p-20/mic running', 'onair c-05971/cam running L2'].join());
    expect(session.downlinkOf(DISTRICT)).to.equal('video');
  });
});
