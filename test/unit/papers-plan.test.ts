import { expect } from 'chai';
import { defaultPlan, langSon2021PlanInput } from '../../config/default-plan.ts';
import { parsePlan } from '../../server/protocol/plan.ts';
import { planToCore } from '../../server/app/conference/plan-to-core.ts';
import { paperSlots } from '../../server/core/conference/index.ts';
import { paperFaultText } from '../../server/protocol/papers.ts';

describe('plan: papers (deadline and limits)', () => {
  it('seed 004: before 15/11/2021, at most 4 A4 pages, 20 MB; every named district and commune has a slot', () => {
    const plan = defaultPlan();
    expect(plan.papers).to.deep.equal({ deadline: '2021-11-15T00:00:00+07:00', maxPages: 4, maxSizeMB: 20, pageSize: 'A4', toleranceMm: 3, landscape: true });
    const config = planToCore(plan);
    expect(config.papers).to.deep.equal({ deadline: Date.UTC(2021, 10, 14, 17, 0, 0), maxPages: 4, maxBytes: 20 * 1024 * 1024, toleranceMm: 3, landscape: true });
    const slots = paperSlots(config);
    // 11 districts (seed 004 IV.2) and 3 communes.
    expect(slots).to.have.length(14);
    expect(slots.filter((s) => s.bridgeId.startsWith('c-')).map((s) => s.slotId)).to.include('tham-luan-cap-xa.c-06010');
  });

  it('a plan without papers gets the defaults (no deadline)', () => {
    const input = langSon2021PlanInput();
    delete (input as { papers?: unknown }).papers;
    const result = parsePlan(input);
    expect(result.ok).to.equal(true);
    if (result.ok) expect(result.plan.papers).to.deep.equal({ deadline: null, maxPages: 4, maxSizeMB: 20, pageSize: 'A4', toleranceMm: 3, landscape: true });
  });

  it('wrong paper rules are refused with the path of each field, in Vietnamese', () => {
    const input = { ...langSon2021PlanInput(), papers: { deadline: '15/11/2021', maxPages: 0, maxSizeMB: 500, pageSize: 'Letter', toleranceMm: -1, extra: 1 } };
    const result = parsePlan(input);
    expect(result.ok).to.equal(false);
    if (result.ok) return;
    const paths = result.errors.map((e) => e.path);
    expect(paths).to.include.members(['papers.deadline', 'papers.maxPages', 'papers.maxSizeMB', 'papers.pageSize', 'papers.toleranceMm', 'papers.extra']);
    expect(result.errors.find((e) => e.path === 'papers.deadline')!.message).to.contain('Hạn nộp');
  });

  it('refusals read as the office would say them', () => {
    expect(paperFaultText({ code: 'too_many_pages', pages: 5, maxPages: 4 })).to.equal('Tham luận có 5 trang, vượt quá 4 trang A4');
    expect(paperFaultText({ code: 'not_a4', page: 1, widthMm: 216, heightMm: 279, format: 'Letter', allPages: true })).to.equal('Khổ giấy Letter, không phải A4');
    expect(paperFaultText({ code: 'not_a4', page: 3, widthMm: 176, heightMm: 176, format: null, allPages: false })).to.equal('Trang 3: khổ giấy 176 × 176 mm, không phải A4');
    expect(paperFaultText({ code: 'not_pdf' })).to.equal('Tệp không phải PDF');
    expect(paperFaultText({ code: 'too_large', bytes: 23.4 * 1024 * 1024, maxBytes: 20 * 1024 * 1024 })).to.equal('Tệp 23,4 MB, vượt quá 20 MB');
  });
});

describe('papers: the uploader\'s file name is only shown, never used', () => {
  it('keeps the base name, NFC, without control characters, bounded; nothing becomes null', async () => {
    const { cleanFileName } = await import('../../server/app/papers/PaperDesk.ts');
    expect(cleanFileName('C:\\Users\\vp\\Tham luận.pdf')).to.equal('Tham luận.pdf');
    expect(cleanFileName('../../etc/passwd')).to.equal('passwd');
    expect(cleanFileName('a\u0000b\u001fc.pdf')).to.equal('abc.pdf');
    expect(cleanFileName('Tha\u0300m.pdf')).to.equal('Thàm.pdf');
    expect(cleanFileName('x'.repeat(500))).to.have.length(200);
    expect(cleanFileName('  ')).to.equal(null);
    expect(cleanFileName(null)).to.equal(null);
  });

  it('follows the text rule by leaving out what it refuses (issue 18): bidi, invisible, lone surrogates, piled-up marks; what is left always passes the rule', async () => {
    const { cleanFileName } = await import('../../server/app/papers/PaperDesk.ts');
    const { checkText, MAX_PAPER_FILE_NAME } = await import('../../server/core/conference/index.ts');
    expect(cleanFileName('Tham luận\u202Efdp.exe')).to.equal('Tham luậnfdp.exe');
    expect(cleanFileName('Báo\u200B cáo\uFEFF.pdf')).to.equal('Báo cáo.pdf');
    expect(cleanFileName('x\uD800y\uDC00.pdf')).to.equal('xy.pdf');
    expect(cleanFileName('Z' + '\u0301'.repeat(119) + '.pdf')).to.equal('\u0179\u0301\u0301\u0301.pdf');
    expect(cleanFileName('\u0301\u0301a.pdf')).to.equal('a.pdf');
    expect(cleanFileName('a\u2028b\u00A0c\uE000.pdf')).to.equal('ab c.pdf');
    expect(cleanFileName('\u200B\u202E')).to.equal(null);
    expect(cleanFileName('🙂'.repeat(150))).to.have.length(200);
    const hostile = ['Nguyễn\u0000Văn', 'Lê\u202EVăn', 'Lê\u200BVăn', 'Lê\uD800Văn', 'Z' + '\u0301'.repeat(119), '\u3164x', 'Lê\u2028Văn', '\u{E0001}tag', '🙂'.repeat(101), 'e\u0301'.repeat(150)];
    for (const name of hostile) {
      const clean = cleanFileName(name);
      if (clean !== null) expect(checkText(clean, MAX_PAPER_FILE_NAME), JSON.stringify(name)).to.deep.include({ ok: true, text: clean });
    }
  });
});
