import { expect } from 'chai';
import {
  DEFAULT_PAPER_RULES,
  judgePaper,
  mayReadPaper,
  maySubmitTo,
  paperSlots,
  report,
  reportCsv,
  type ConferenceEvent,
  type MeasuredPage,
  type PaperRules,
} from '../../../server/core/conference/index.ts';
import { ask, chair, commune, Harness, makeConfig, op, secretary, started, system, T0, technician, viewer } from './fixture.ts';

const SLOT = (bridgeId: string) => `tham-luan.${bridgeId}`;
const sha = 'a'.repeat(64);
let nextId = 0;
const pid = () => `paper${String(++nextId).padStart(10, '0')}`;

/** A submission as the server issues it after the check. */
function submit(h: Harness, actor: Parameters<Harness['run']>[0], bridgeId: string, pages = 4): { paperId: string; events: ConferenceEvent[] } {
  const paperId = pid();
  const events = h.run(actor, { type: 'paper_submit', slotId: SLOT(bridgeId), paperId, pages, bytes: 120_000, sha256: sha, fileName: 'tham-luan.pdf' });
  return { paperId, events };
}

const a4 = (rotate = 0): MeasuredPage => ({ widthPt: 595.28, heightPt: 841.89, rotate, userUnit: 1 });

describe('papers: slots, submission, content on screen (pure core)', () => {
  it('every speaker of a designated-paper item has a slot', () => {
    expect(paperSlots(makeConfig()).map((s) => s.slotId)).to.deep.equal([SLOT('d-180'), SLOT(commune(5)), SLOT('d-179')]);
    expect(paperSlots(makeConfig())[1]).to.deep.include({ bridgeId: commune(5), topic: 'Tiếp xúc cử tri', itemId: 'tham-luan' });
  });

  it('an operator submits for its own hall only; the secretary for any; others are refused before and in decide', () => {
    const h = new Harness();
    const config = h.state.config;
    expect(maySubmitTo(config, op('d-180'), SLOT('d-180'))).to.equal('ok');
    expect(maySubmitTo(config, op('d-179'), SLOT('d-180'))).to.equal('forbidden');
    expect(maySubmitTo(config, secretary, SLOT('d-180'))).to.equal('ok');
    expect(maySubmitTo(config, viewer, SLOT('d-180'))).to.equal('forbidden');
    expect(maySubmitTo(config, technician, SLOT('d-180'))).to.equal('forbidden');
    expect(maySubmitTo(config, secretary, 'tham-luan.d-181')).to.equal('unknown_slot');
    // An operator learns nothing about slots that are not its own.
    expect(maySubmitTo(config, op('d-181'), 'tham-luan.d-181')).to.equal('forbidden');

    const base = { type: 'paper_submit' as const, paperId: pid(), pages: 4, bytes: 1000, sha256: sha };
    expect(h.refused(op('d-179'), { ...base, slotId: SLOT('d-180') }).code).to.equal('forbidden');
    expect(h.refused(viewer, { ...base, slotId: SLOT('d-180') }).code).to.equal('forbidden');
    expect(h.refused(secretary, { ...base, slotId: 'nope.d-180' }).code).to.equal('unknown_slot');
    expect(h.refused(secretary, { ...base, slotId: SLOT('d-180'), pages: 5 }).code).to.equal('invalid_argument');
    expect(h.refused(secretary, { ...base, slotId: SLOT('d-180'), bytes: 21 * 1024 * 1024 }).code).to.equal('invalid_argument');
    expect(h.refused(secretary, { ...base, slotId: SLOT('d-180'), paperId: '../../etc' }).code).to.equal('invalid_argument');
    expect(h.refused(secretary, { ...base, slotId: SLOT('d-180'), sha256: 'x' }).code).to.equal('invalid_argument');

    const { events } = submit(h, op('d-180'), 'd-180');
    expect(events).to.have.length(1);
    expect(events[0]).to.deep.include({ type: 'paper_received', slotId: SLOT('d-180'), bridgeId: 'd-180', version: 1, pages: 4, late: false });
    expect(h.state.log.at(-1)).to.deep.include({ type: 'paper_received', actor: { role: 'operator', bridgeId: 'd-180' } });
  });

  it('a new version replaces the current one and the history is kept; a paper after the deadline is accepted and marked late', () => {
    const config = makeConfig();
    config.papers = { ...DEFAULT_PAPER_RULES, deadline: T0 + 60_000 };
    const h = new Harness(config);
    const first = submit(h, op(commune(5)), commune(5), 3);
    h.advance(120_000);
    const second = submit(h, secretary, commune(5), 4);
    expect(second.events[0]).to.deep.include({ version: 2, late: true });
    const versions = h.state.papers![SLOT(commune(5))]!;
    expect(versions.map((v) => [v.paperId, v.version, v.pages, v.late, v.by.role])).to.deep.equal([
      [first.paperId, 1, 3, false, 'operator'],
      [second.paperId, 2, 4, true, 'secretary'],
    ]);
    // The same id twice is refused (ids name files on disk).
    expect(h.refused(secretary, { type: 'paper_submit', slotId: SLOT('d-180'), paperId: first.paperId, pages: 1, bytes: 1, sha256: sha }).code).to.equal('invalid_argument');
  });

  it('the speaking hall puts up its own paper and turns its pages; the secretary too; others may not', () => {
    const h = started(2);
    const { paperId } = submit(h, op(commune(5)), commune(5));
    const other = submit(h, op('d-180'), 'd-180').paperId;
    // Not holding the floor: refused.
    expect(h.refused(op(commune(5)), { type: 'content_show', paperId }).code).to.equal('forbidden');
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(5)) });
    expect(h.refused(op(commune(5)), { type: 'content_show', paperId: other }).code).to.equal('forbidden');
    expect(h.refused(op(commune(5)), { type: 'content_show', paperId, page: 5 }).code).to.equal('invalid_argument');
    expect(h.refused(op(commune(5)), { type: 'content_show', paperId: 'zzzzzzzzzzzzzzzz' }).code).to.equal('unknown_paper');
    const [shown] = h.run(op(commune(5)), { type: 'content_show', paperId });
    expect(shown).to.deep.include({ type: 'content_shown', kind: 'document', paperId, bridgeId: commune(5), page: 1, pages: 4 });
    expect(h.run(op(commune(5)), { type: 'content_page', page: 2 })).to.deep.equal([{ type: 'content_page_changed', paperId, page: 2, pages: 4 }]);
    // The same page again changes nothing.
    expect(h.run(op(commune(5)), { type: 'content_page', page: 2 })).to.deep.equal([]);
    expect(h.refused(op('d-180'), { type: 'content_page', page: 3 }).code).to.equal('forbidden');
    expect(h.refused(viewer, { type: 'content_page', page: 3 }).code).to.equal('forbidden');
    expect(h.refused(technician, { type: 'content_page', page: 3 }).code).to.equal('forbidden');
    expect(h.refused(secretary, { type: 'content_page', page: 0 }).code).to.equal('invalid_argument');
    h.run(secretary, { type: 'content_page', page: 3 });
    expect(h.state.content).to.deep.include({ paperId, page: 3 });
    expect(h.state.showings).to.deep.equal([{ paperId, slotId: SLOT(commune(5)), bridgeId: commune(5), from: h.clock.now(), to: null, pages: [1, 2, 3] }]);
  });

  it("the end of the hall's speech takes its paper down; a document the secretary put up stays; the end of the meeting clears it", () => {
    const h = started(2);
    const own = submit(h, op(commune(5)), commune(5)).paperId;
    const other = submit(h, secretary, 'd-180').paperId;
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(5)) });
    h.run(op(commune(5)), { type: 'content_show', paperId: own });
    h.advance(30_000);
    const ended = h.run(op(commune(5)), { type: 'yield_floor' });
    expect(ended.map((e) => e.type)).to.include('content_cleared');
    expect(ended.find((e) => e.type === 'content_cleared')).to.deep.include({ paperId: own, reason: 'speech_ended' });
    expect(h.state.content).to.equal(null);
    h.run(secretary, { type: 'content_show', paperId: other, page: 2 });
    // Replacing: the old one is cleared first.
    const replaced = h.run(secretary, { type: 'content_show', paperId: own });
    expect(replaced.map((e) => e.type)).to.deep.equal(['content_cleared', 'content_shown']);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-179') });
    expect(h.state.content?.paperId, 'not the speaking hall\'s paper: stays').to.equal(own);
    expect(h.refused(op('d-179'), { type: 'content_clear' }).code).to.equal('forbidden');
    const end = h.run(chair, { type: 'end_meeting' });
    expect(end.find((e) => e.type === 'content_cleared')).to.deep.include({ reason: 'meeting_ended' });
    expect(h.refused(secretary, { type: 'content_show', paperId: own }).code).to.equal('invalid_state');
  });

  it('content is shown only while the meeting runs', () => {
    const h = new Harness();
    const { paperId } = submit(h, secretary, 'd-180');
    expect(h.refused(secretary, { type: 'content_show', paperId }).code).to.equal('invalid_state');
    expect(h.refused(secretary, { type: 'content_page', page: 1 }).code).to.equal('invalid_state');
  });

  it('only staff and the owning hall read a paper before it is shown; after it was shown, every hall and the press may', () => {
    const h = started(2);
    const { paperId } = submit(h, op(commune(5)), commune(5));
    for (const actor of [secretary, chair, technician, op(commune(5))]) expect(mayReadPaper(h.state, actor, paperId), actor.role).to.equal(true);
    for (const actor of [viewer, op('d-180')]) expect(mayReadPaper(h.state, actor, paperId), actor.role).to.equal(false);
    h.run(secretary, { type: 'content_show', paperId });
    expect(mayReadPaper(h.state, viewer, paperId)).to.equal(true);
    h.run(secretary, { type: 'content_clear' });
    expect(mayReadPaper(h.state, op('d-180'), paperId), 'once shown, stays readable').to.equal(true);
    expect(mayReadPaper(h.state, secretary, 'nosuchpaper0000')).to.equal(false);
  });

  it('the report lists every paper: submitted when, pages, late, shown during which speech and pages', () => {
    const h = started(2);
    const { paperId } = submit(h, op(commune(5)), commune(5), 3);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-180') });
    h.advance(10_000);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, commune(5)) });
    h.run(op(commune(5)), { type: 'content_show', paperId });
    h.advance(5_000);
    h.run(op(commune(5)), { type: 'content_page', page: 3 });
    h.advance(5_000);
    h.run(op(commune(5)), { type: 'yield_floor' });
    const r = report(h.state);
    expect(r.papers.map((p) => p.slotId)).to.deep.equal([SLOT('d-180'), SLOT(commune(5)), SLOT('d-179')]);
    const row = r.papers[1]!;
    expect(row).to.deep.include({ paperId, versions: 1, pages: 3, late: false, submittedAt: h.clock.now() - 20_000, shownSec: 10 });
    expect(row.shownDuringSpeeches).to.deep.equal([2]);
    expect(row.shownDuring).to.deep.equal([{ order: 2, bridgeId: commune(5), bridgeName: 'Xã Số 5', speakerName: `Đại biểu ${commune(5)}` }]);
    expect(row.pagesShown).to.deep.equal([1, 3]);
    expect(r.papers[0]).to.deep.include({ paperId: null, versions: 0, submittedAt: null, late: null });
    const csv = reportCsv(r)['papers.csv'].split('\r\n');
    expect(csv[0]).to.equal('slot_id,item_id,bridge_id,bridge_name,topic,submitted,submitted_at,first_submitted_at,deadline,versions,pages,bytes,late,shown_during_speeches,shown_during,pages_shown,shown_sec');
    expect(csv[2]).to.match(/^tham-luan\.c-00005,tham-luan,c-00005,Xã Số 5,Tiếp xúc cử tri,true,2021-11-26T08:00:00\+07:00,2021-11-26T08:00:00\+07:00,,1,3,120000,false,2,2\. Đại biểu c-00005 \(Xã Số 5\),1 3,10$/);
    // A paper shown during two speeches (the secretary's, across a change of speaker) lists both; a missing paper is not submitted.
    h.run(secretary, { type: 'content_show', paperId });
    h.advance(2_000);
    h.run(chair, { type: 'grant_floor', requestId: ask(h, 'd-179') });
    h.advance(3_000);
    h.run(chair, { type: 'revoke_floor' });
    const again = report(h.state).papers[1]!;
    expect(again.shownDuring.map((s) => [s.order, s.bridgeId])).to.deep.equal([[2, commune(5)], [3, 'd-179']]);
    expect(csv[1]).to.match(/^tham-luan\.d-180,tham-luan,d-180,[^,]+,[^,]*,false,,,,0,,,,,,,0$/);
  });

  it('system and refusals: a paper cannot be submitted by the system from a socket-less path without a slot', () => {
    const h = new Harness();
    expect(h.refused(system, { type: 'paper_submit', slotId: SLOT('d-180'), paperId: pid(), pages: 1, bytes: 1, sha256: sha }).code).to.equal('forbidden');
  });
});

describe('papers: judging the measures of a file', () => {
  const rules: PaperRules = { ...DEFAULT_PAPER_RULES };
  const file = (pages: MeasuredPage[], bytes = 50_000) => ({ bytes, pageCount: pages.length, pages });

  it('accepts 1..4 A4 pages, landscape, rotated, within the tolerance', () => {
    expect(judgePaper(rules, file([a4(), a4(90), { widthPt: 841.89, heightPt: 595.28, rotate: 0, userUnit: 1 }, { widthPt: 595, heightPt: 842, rotate: 180, userUnit: 1 }]))).to.equal(null);
    // 2 mm off on each side is within 3 mm.
    expect(judgePaper(rules, file([{ widthPt: 212 * (72 / 25.4), heightPt: 295 * (72 / 25.4), rotate: 0, userUnit: 1 }]))).to.equal(null);
  });

  it('refuses 5 pages, Letter, an unnamed size, no pages, too large, landscape when the plan forbids it', () => {
    expect(judgePaper(rules, file([a4(), a4(), a4(), a4(), a4()]))).to.deep.equal({ code: 'too_many_pages', pages: 5, maxPages: 4 });
    expect(judgePaper(rules, file([{ widthPt: 612, heightPt: 792, rotate: 0, userUnit: 1 }]))).to.deep.equal({ code: 'not_a4', page: 1, widthMm: 216, heightMm: 279, format: 'Letter', allPages: true });
    expect(judgePaper(rules, file([a4(), { widthPt: 500, heightPt: 500, rotate: 0, userUnit: 1 }]))).to.deep.include({ code: 'not_a4', page: 2, format: null, allPages: false });
    // A user unit of 2 makes a half-size box a full A3... not A4.
    expect(judgePaper(rules, file([{ widthPt: 595.28, heightPt: 841.89, rotate: 0, userUnit: 2 }]))).to.deep.include({ code: 'not_a4' });
    expect(judgePaper(rules, file([]))).to.deep.equal({ code: 'no_pages' });
    expect(judgePaper(rules, file([a4()], 21 * 1024 * 1024))).to.deep.include({ code: 'too_large' });
    expect(judgePaper({ ...rules, landscape: false }, file([a4(), a4(90)]))).to.deep.equal({ code: 'landscape', page: 2 });
  });
});
