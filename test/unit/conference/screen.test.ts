import { expect } from 'chai';
import {
  mayStartScreenShare,
  SCREEN_SOURCE_FIRST_GRACE_MS,
  SCREEN_SOURCE_GRACE_MS,
  screenSourceDeadline,
  sharerBridge,
  sharingBridgeOf,
  type ConferenceEvent,
} from '../../../server/core/conference/index.ts';
import { ask, chair, commune, connectAll, Harness, op, PROVINCE, secretary, started, system, technician, viewer } from './fixture.ts';

const sha = 'b'.repeat(64);
let n = 0;
function submit(h: Harness, bridgeId: string): string {
  const paperId = `screenpaper${String(++n).padStart(6, '0')}`;
  h.run(secretary, { type: 'paper_submit', slotId: `tham-luan.${bridgeId}`, paperId, pages: 4, bytes: 1000, sha256: sha });
  return paperId;
}
const types = (events: ConferenceEvent[]): string[] => events.map((e) => e.type);

describe('screen sharing: who shares is conference state (pure core)', () => {
  it('a hall shares only while it holds the floor; the province at any time; others are refused', () => {
    const h = started(2);
    expect(h.refused(op(commune(5)), { type: 'screen_share_start' }).code).to.equal('forbidden');
    expect(h.refused(viewer, { type: 'screen_share_start' }).code).to.equal('forbidden');
    expect(h.refused(technician, { type: 'screen_share_start' }).code).to.equal('forbidden');
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(5)) });
    expect(h.run(op(commune(5)), { type: 'screen_share_start' })).to.deep.equal([{ type: 'screen_shared', bridgeId: commune(5), speechRequestId: h.state.floor!.requestId }]);
    expect(sharingBridgeOf(h.state)).to.equal(commune(5));
    // The same hall again (a new track after a reload): nothing changes.
    expect(h.run(op(commune(5)), { type: 'screen_share_start' })).to.deep.equal([]);
  });

  it('which hall a page shares as, and whether it may start now (what the media signalling and the panels read)', () => {
    expect(sharerBridge(op(commune(5)), PROVINCE)).to.equal(commune(5));
    expect(sharerBridge(chair, PROVINCE)).to.equal(PROVINCE);
    expect(sharerBridge(secretary, PROVINCE)).to.equal(PROVINCE);
    expect(sharerBridge(technician, PROVINCE)).to.equal(undefined);
    expect(sharerBridge(viewer, PROVINCE)).to.equal(undefined);
    // Before the meeting nobody may start (the command would be refused with invalid_state).
    const before = new Harness();
    connectAll(before);
    expect(mayStartScreenShare(before.state, op(PROVINCE))).to.equal(false);
    expect(before.refused(op(PROVINCE), { type: 'screen_share_start' }).code).to.equal('invalid_state');
    const h = started(2);
    expect(mayStartScreenShare(h.state, op(PROVINCE))).to.equal(true);
    expect(mayStartScreenShare(h.state, chair)).to.equal(true);
    expect(mayStartScreenShare(h.state, op(commune(5)))).to.equal(false);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(5)) });
    expect(mayStartScreenShare(h.state, op(commune(5)))).to.equal(true);
    expect(mayStartScreenShare(h.state, op(commune(6)))).to.equal(false);
    h.run(chair, { type: 'end_meeting' });
    expect(mayStartScreenShare(h.state, op(PROVINCE))).to.equal(false);
  });

  it('one content at a time: another sharer is refused with content_busy until the chair stops the share', () => {
    const h = started(2);
    h.run(op(PROVINCE), { type: 'screen_share_start' });
    expect(sharingBridgeOf(h.state)).to.equal(PROVINCE);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-180') });
    expect(h.refused(op('d-180'), { type: 'screen_share_start' }).code).to.equal('content_busy');
    // A hall cannot stop the province's share; the chair can.
    expect(h.refused(op('d-180'), { type: 'screen_share_stop' }).code).to.equal('forbidden');
    const stopped = h.run(chair, { type: 'screen_share_stop' });
    expect(stopped).to.deep.equal([{ type: 'screen_share_stopped', bridgeId: PROVINCE, reason: 'stopped', sharedSec: 0 }]);
    expect(sharingBridgeOf(h.state)).to.equal(undefined);
    expect(h.refused(chair, { type: 'screen_share_stop' }).code).to.equal('invalid_state');
    h.run(op('d-180'), { type: 'screen_share_start' });
    expect(h.refused(chair, { type: 'screen_share_start' }).code, 'the chair too stops it first').to.equal('content_busy');
    expect(types(h.run(op('d-180'), { type: 'screen_share_stop' }))).to.deep.equal(['screen_share_stopped']);
  });

  it("a share and a document exclude each other: the office replaces either; a hall may not replace another's", () => {
    const h = started(2);
    const other = submit(h, 'd-180');
    const own = submit(h, commune(5));
    h.run(secretary, { type: 'content_show', paperId: other });
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(5)) });
    expect(h.refused(op(commune(5)), { type: 'screen_share_start' }).code, "the secretary's document stays").to.equal('content_busy');
    h.run(secretary, { type: 'content_show', paperId: own });
    // Its own paper on screen: the speaking hall may take it down, so sharing replaces it.
    const shared = h.run(op(commune(5)), { type: 'screen_share_start' });
    expect(types(shared)).to.deep.equal(['content_cleared', 'screen_shared']);
    expect(shared[0]).to.deep.include({ paperId: own, reason: 'replaced' });
    expect(h.state.content).to.equal(null);
    expect(h.refused(op(commune(5)), { type: 'content_show', paperId: own }).code).to.equal('content_busy');
    const replaced = h.run(secretary, { type: 'content_show', paperId: other });
    expect(types(replaced)).to.deep.equal(['screen_share_stopped', 'content_shown']);
    expect(replaced[0]).to.deep.include({ reason: 'replaced' });
  });

  it("the sharing hall's speech ending stops its share; the province's share outlives speeches; the end of the meeting stops it", () => {
    const h = started(2);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(5)) });
    h.run(op(commune(5)), { type: 'screen_share_start' });
    h.advance(12_000);
    const ended = h.run(op(commune(5)), { type: 'yield_floor' });
    expect(ended.find((e) => e.type === 'screen_share_stopped')).to.deep.include({ bridgeId: commune(5), reason: 'speech_ended', sharedSec: 12 });
    h.run(secretary, { type: 'screen_share_start' });
    expect(sharingBridgeOf(h.state), 'the secretary shares as the chair\'s hall').to.equal(PROVINCE);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-179') });
    h.run(chair, { type: 'revoke_floor' });
    expect(sharingBridgeOf(h.state)).to.equal(PROVINCE);
    const end = h.run(chair, { type: 'end_meeting' });
    expect(end.find((e) => e.type === 'screen_share_stopped')).to.deep.include({ reason: 'meeting_ended' });
    expect(h.refused(secretary, { type: 'screen_share_start' }).code).to.equal('invalid_state');
  });

  it('a share whose picture is gone ends by itself: screen_source_lost, from the system only, stops that hall\'s share with source_lost', () => {
    const h = started(2);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(5)) });
    h.run(op(commune(5)), { type: 'screen_share_start' });
    const startedAt = h.state.screen!.startedAt;
    // Nobody but the server says a picture is gone: a stable code, and nothing changes.
    for (const actor of [chair, secretary, op(commune(5)), op(PROVINCE), technician, viewer]) {
      expect(h.refused(actor, { type: 'screen_source_lost', bridgeId: commune(5), startedAt }).code, actor.role).to.equal('forbidden');
    }
    expect(sharingBridgeOf(h.state)).to.equal(commune(5));
    // Bad arguments are refused with their code.
    expect(h.refused(system, { type: 'screen_source_lost' } as never).code).to.equal('invalid_argument');
    expect(h.refused(system, { type: 'screen_source_lost', bridgeId: commune(5), startedAt: Number.NaN }).code).to.equal('invalid_argument');
    // Another hall's picture, or an older share of this hall than the one on: the share stays.
    expect(h.run(system, { type: 'screen_source_lost', bridgeId: PROVINCE })).to.deep.equal([]);
    expect(h.run(system, { type: 'screen_source_lost', bridgeId: commune(5), startedAt: startedAt - 1 })).to.deep.equal([]);
    expect(sharingBridgeOf(h.state)).to.equal(commune(5));
    h.advance(40_000);
    const lost = h.run(system, { type: 'screen_source_lost', bridgeId: commune(5), startedAt });
    expect(lost).to.deep.equal([{ type: 'screen_share_stopped', bridgeId: commune(5), reason: 'source_lost', sharedSec: 40 }]);
    expect(sharingBridgeOf(h.state)).to.equal(undefined);
    expect(h.state.screenEnded).to.deep.equal({ bridgeId: commune(5), reason: 'source_lost', at: h.clock.now() });
    expect(h.state.log.at(-1)).to.deep.include({ type: 'screen_share_stopped', actor: { role: 'system' } });
    // Idempotent: no share (another instance's watch was quicker) changes nothing.
    const seq = h.state.seq;
    expect(h.run(system, { type: 'screen_source_lost', bridgeId: commune(5), startedAt })).to.deep.equal([]);
    expect(h.state.seq).to.equal(seq);
    // The hall may share again at once (nobody is left content_busy), and a new share forgets the last one's end.
    h.run(op(commune(5)), { type: 'screen_share_start' });
    expect(h.state.screenEnded).to.equal(null);
  });

  it('the grace of a share without its picture: the first track may take the picker\'s time; a track gone, the shorter grace', () => {
    const screen = { startedAt: 1_000_000 };
    expect(SCREEN_SOURCE_GRACE_MS).to.be.within(5_000, 30_000);
    expect(SCREEN_SOURCE_FIRST_GRACE_MS).to.be.at.least(SCREEN_SOURCE_GRACE_MS);
    expect(screenSourceDeadline(screen, null)).to.equal(1_000_000 + SCREEN_SOURCE_FIRST_GRACE_MS);
    expect(screenSourceDeadline(screen, 1_005_000)).to.equal(1_005_000 + SCREEN_SOURCE_GRACE_MS);
    // A track gone before this share started counts from the start.
    expect(screenSourceDeadline(screen, 900_000)).to.equal(1_000_000 + SCREEN_SOURCE_GRACE_MS);
  });
});
