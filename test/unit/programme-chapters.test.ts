import { expect } from 'chai';
import { chaptersFromLog, ffmetadata } from '../../server/app/feed/chapters.ts';
import type { LogEntry } from '../../server/core/conference/index.ts';

const names = {
  items: new Map([
    ['khai-mac', 'Khai mạc Hội nghị'],
    ['tham-luan', 'Tham luận của HĐND các xã'],
  ]),
  bridges: new Map([['c-06010', 'Xã Cao Minh']]),
};
let seq = 0;
const entry = (at: number, type: LogEntry['type'], data: Record<string, unknown> = {}): LogEntry => ({ seq: ++seq, at, actor: { role: 'chair' }, type, data });

describe('recording chapters from the event log', () => {
  const log = [
    entry(1000, 'meeting_started', { itemId: 'khai-mac' }),
    entry(30_000, 'agenda_changed', { itemId: 'tham-luan' }),
    entry(30_010, 'floor_granted', { bridgeId: 'c-06010', speakerName: 'Hoàng Thị Mai' }),
    entry(50_000, 'floor_ended', { bridgeId: 'c-06010' }),
    entry(50_200, 'status_changed', { to: 'break' }),
  ];

  it('one chapter per item and per speech, from the file start, steps between commands folded', () => {
    const chapters = chaptersFromLog(log, { from: 10_000, to: 80_000, zeroAt: 10_500 }, names);
    expect(chapters.map((c) => [c.startMs, c.endMs, c.title])).to.deep.equal([
      [0, 19_500, 'Khai mạc Hội nghị'],
      [19_500, 39_500, 'Tham luận của HĐND các xã — Hoàng Thị Mai (điểm cầu xã Cao Minh)'],
      [39_500, 69_500, 'Giải lao'],
    ]);
  });

  it('a recording that starts in the middle of a speech opens with that speech', () => {
    const chapters = chaptersFromLog(log, { from: 40_000, to: 45_000, zeroAt: 40_000 }, names);
    expect(chapters).to.have.length(1);
    expect(chapters[0]).to.deep.include({ startMs: 0, endMs: 5000, kind: 'speech', bridgeId: 'c-06010' });
  });

  it('each chapter notes the paper and the pages on screen during it, and a shared screen', () => {
    const withContent = [
      ...log.slice(0, 3),
      entry(32_000, 'content_shown', { kind: 'document', paperId: 'paperAAAAAAAAAAA', slotId: 'tham-luan.c-06010', bridgeId: 'c-06010', page: 1, pages: 4 }),
      entry(36_000, 'content_page_changed', { paperId: 'paperAAAAAAAAAAA', page: 2, pages: 4 }),
      entry(41_000, 'content_page_changed', { paperId: 'paperAAAAAAAAAAA', page: 4, pages: 4 }),
      entry(50_000, 'content_cleared', { paperId: 'paperAAAAAAAAAAA', reason: 'speech_ended' }),
      entry(50_000, 'floor_ended', { bridgeId: 'c-06010' }),
      entry(50_200, 'status_changed', { to: 'break' }),
      entry(55_000, 'screen_shared', { bridgeId: 'p-20', speechRequestId: null }),
      entry(60_000, 'screen_share_stopped', { bridgeId: 'p-20', reason: 'stopped', sharedSec: 5 }),
    ];
    const chapters = chaptersFromLog(withContent, { from: 10_000, to: 80_000, zeroAt: 10_500 }, names);
    expect(chapters.map((c) => c.title)).to.deep.equal([
      'Khai mạc Hội nghị',
      'Tham luận của HĐND các xã — Hoàng Thị Mai (điểm cầu xã Cao Minh) [trình chiếu: tham luận của điểm cầu xã Cao Minh, trang 1, 2, 4]',
      'Giải lao [trình chiếu: chia sẻ màn hình của điểm cầu p-20]',
    ]);
    expect(chapters[1]!.shown).to.deep.equal([{ kind: 'document', paperId: 'paperAAAAAAAAAAA', slotId: 'tham-luan.c-06010', bridgeId: 'c-06010', pages: [1, 2, 4] }]);
    expect(chapters[0]!.shown).to.equal(undefined);
    // A recording that starts after the first turns notes only the pages it shows.
    const late = chaptersFromLog(withContent, { from: 38_000, to: 45_000, zeroAt: 38_000 }, names);
    expect(late[0]!.shown).to.deep.equal([{ kind: 'document', paperId: 'paperAAAAAAAAAAA', slotId: 'tham-luan.c-06010', bridgeId: 'c-06010', pages: [2, 4] }]);
  });

  it('a shared screen that ended by itself (its picture lost) says so in the chapter it ended in', () => {
    const lost = [
      ...log.slice(0, 3),
      entry(32_000, 'screen_shared', { bridgeId: 'c-06010', speechRequestId: 'r1' }),
      entry(44_000, 'screen_share_stopped', { bridgeId: 'c-06010', reason: 'source_lost', sharedSec: 12 }),
      entry(50_000, 'floor_ended', { bridgeId: 'c-06010' }),
    ];
    const chapters = chaptersFromLog(lost, { from: 10_000, to: 60_000, zeroAt: 10_000 }, names);
    expect(chapters[1]!.title).to.equal(
      'Tham luận của HĐND các xã — Hoàng Thị Mai (điểm cầu xã Cao Minh) [trình chiếu: chia sẻ màn hình của điểm cầu xã Cao Minh (dừng: mất kết nối với máy đang chia sẻ)]',
    );
    expect(chapters[1]!.shown).to.deep.equal([{ kind: 'screen', bridgeId: 'c-06010', sourceLost: true }]);
    // A recording that ends before the share did says nothing of its end.
    const early = chaptersFromLog(lost, { from: 30_000, to: 40_000, zeroAt: 30_000 }, names);
    expect(early[0]!.shown).to.deep.equal([{ kind: 'screen', bridgeId: 'c-06010' }]);
  });

  it('writes FFMETADATA with escaped titles', () => {
    const text = ffmetadata('Hội nghị; giao ban', [{ startMs: 0, endMs: 1000, title: 'A=B', kind: 'item', itemId: null }]);
    expect(text).to.equal(';FFMETADATA1\ntitle=Hội nghị\\; giao ban\n\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=A\\=B\n');
  });
});
