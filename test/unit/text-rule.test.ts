// The text rule (issue 18, finding 5): every free-text field that reaches a screen is NFC and holds
// nothing a person does not type. One rule in the core, used by the wire schemas and the plan.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { checkText, MAX_COMBINING_MARKS } from '../../server/core/conference/validate.ts';
import { ClientCommand, ControlRequests } from '../../server/protocol/control.ts';
import { parsePlan } from '../../server/protocol/plan.ts';
import { defaultPlan } from '../../config/default-plan.ts';
import { chair, commune, op, started } from './conference/fixture.ts';

const data = JSON.parse(readFileSync(new URL('../../config/data/langson-2021.json', import.meta.url), 'utf8')) as {
  province: { name: string };
  districts: { name: string; communes: { name: string }[] }[];
};
/** Every real unit name of Lạng Sơn in 2021 (1 + 11 + 200). */
const REAL_NAMES = [data.province.name, ...data.districts.flatMap((d) => [d.name, ...d.communes.map((c) => c.name)])];
/** Names that carry every kind of Vietnamese diacritic, stacked (horn + tone, circumflex + tone, breve + tone). */
const TRICKY = ['Ưởng', 'Nguyễn Thị Ánh Tuyết', 'Xã Quốc Khánh', 'Đặng Thị Ngọc Hằng', 'Lường Văn Ước', 'Hoàng Thị Thuỷ', 'Vi Văn Thưởng', 'Ủy viên Ban Thường vụ Huyện ủy, Phó Chủ tịch Thường trực HĐND huyện'];

/** What no person types, each with the fault the rule names. */
const JUNK: [string, string][] = [
  ['Nguyễn\u0000Văn', 'control'],
  ['Chuông\u0007', 'control'],
  ['\u001B[31mĐỏ', 'control'],
  ['Tên\u0085C1', 'control'],
  ['Lê\u007FVăn', 'control'],
  ['Nguyễn\u200BVăn', 'invisible'],
  ['Nguyễn\u200DVăn', 'invisible'],
  ['Ng\uFEFFuyễn', 'invisible'],
  ['Ng\u00ADuyễn', 'invisible'],
  ['Lê\u2060Văn', 'invisible'],
  ['\u3164', 'invisible'],
  ['Tên\u{E0041}', 'invisible'],
  ['Chủ tịch \u202Enầv', 'bidi'],
  ['\u202Bأ\u202C', 'bidi'],
  ['Lê \u2066Văn\u2069', 'bidi'],
  ['Lê\u200FVăn', 'bidi'],
  ['Lê \uD800 Văn', 'surrogate'],
  ['Văn\uDFFF', 'surrogate'],
  ['Lê\u2028Văn', 'line_break'],
  ['Lê\uE000Văn', 'private_use'],
  ['Lê\u0378Văn', 'unassigned'],
  ['Z' + '\u0301'.repeat(119), 'marks'],
  ['a' + '\u0300\u0301\u0302\u0303\u0304', 'marks'],
  ['\u0301Lê', 'marks'],
];

describe('the text rule (NFC, nothing no person types)', () => {
  it('passes every real name of Lạng Sơn 2021, precomposed or decomposed, and comes back NFC', () => {
    expect(REAL_NAMES).to.have.length(212);
    for (const name of [...REAL_NAMES, ...TRICKY]) {
      for (const input of [name, name.normalize('NFD'), ` ${name.normalize('NFD')}\u00A0`]) {
        const check = checkText(input, 200);
        expect(check, JSON.stringify(input)).to.deep.equal({ ok: true, text: name.normalize('NFC') });
      }
    }
  });

  it('refuses control, invisible, bidi, lone-surrogate, private-use, unassigned characters and piled-up marks, naming what and where', () => {
    for (const [input, fault] of JUNK) {
      const check = checkText(input, 200);
      expect(check.ok, JSON.stringify(input)).to.equal(false);
      expect(check, JSON.stringify(input)).to.include({ fault });
      if (!check.ok) expect(check.codePoint).to.match(/^U\+[0-9A-F]{4,6}$/);
    }
    // A few marks on one letter pass (other Latin scripts), more do not.
    expect(checkText('a' + '\u0301'.repeat(MAX_COMBINING_MARKS), 10).ok).to.equal(true);
  });

  it('the core refuses it in every text a command carries, with code invalid_text, and changes nothing', () => {
    const h = started();
    const bridgeId = commune(7);
    for (const [junk] of JUNK) {
      const fields = { speakerName: 'Nguyễn Thị Ánh Tuyết', speakerTitle: 'Phó Chủ tịch HĐND xã', topic: 'Xã Quốc Khánh' };
      for (const field of ['speakerName', 'speakerTitle', 'topic'] as const) {
        const error = h.refused(op(bridgeId), { type: 'request_floor', bridgeId, ...fields, [field]: junk });
        expect(error.code, `${field} ${JSON.stringify(junk)}`).to.equal('invalid_text');
      }
      expect(h.refused(chair, { type: 'set_maket', maket: { lines: ['HỘI NGHỊ TRỰC TUYẾN', junk] } }).code).to.equal('invalid_text');
      // The back-channel (shown to the organisers and the halls) too.
      expect(h.refused(op(bridgeId), { type: 'send_message', to: 'staff', kind: 'text', text: junk }).code, `message ${JSON.stringify(junk)}`).to.equal('invalid_text');
    }
    // Vietnamese typed decomposed is stored composed.
    const [event] = h.run(op(bridgeId), { type: 'request_floor', bridgeId, speakerName: 'Ưởng'.normalize('NFD'), speakerTitle: 'Nguyễn Thị Ánh Tuyết'.normalize('NFD') });
    expect(event).to.include({ speakerName: 'Ưởng', speakerTitle: 'Nguyễn Thị Ánh Tuyết' });
  });

  it('the wire schemas use the same rule: every free-text field of a command refuses junk as a text fault', () => {
    const base = { type: 'request_floor', bridgeId: 'c-06010', speakerName: 'Nguyễn Thị Ánh Tuyết', speakerTitle: 'Chủ tịch', topic: 'Xã Quốc Khánh' };
    expect(ClientCommand.parse({ ...base, speakerName: 'Ưởng'.normalize('NFD') })).to.include({ speakerName: 'Ưởng' });
    for (const [junk] of JUNK) {
      for (const field of ['speakerName', 'speakerTitle', 'topic']) {
        const parsed = ClientCommand.safeParse({ ...base, [field]: junk });
        expect(parsed.success, `${field} ${JSON.stringify(junk)}`).to.equal(false);
        expect(parsed.error!.issues.some((i) => (i as { params?: { code?: string } }).params?.code === 'invalid_text')).to.equal(true);
      }
      expect(ControlRequests['control:command'].safeParse({ type: 'set_maket', maket: { lines: [junk] } }).success).to.equal(false);
      const message = ClientCommand.safeParse({ type: 'send_message', to: 'staff', kind: 'text', text: junk });
      expect(message.success, `message ${JSON.stringify(junk)}`).to.equal(false);
      expect(message.error!.issues.some((i) => (i as { params?: { code?: string } }).params?.code === 'invalid_text')).to.equal(true);
    }
    expect(ClientCommand.parse({ type: 'send_message', to: 'staff', kind: 'text', text: 'Không nghe rõ'.normalize('NFD') })).to.include({ text: 'Không nghe rõ' });
  });

  it('the plan uses the same rule for every text field, with a Vietnamese message and the path', () => {
    const fields: [string, (p: ReturnType<typeof clone>, junk: string) => void][] = [
      ['title', (p, j) => (p.title = j)],
      ['organiser', (p, j) => (p.organiser = j)],
      ['venue', (p, j) => (p.venue = j)],
      ['dateNote', (p, j) => (p.dateNote = j)],
      ['bridges.5.name', (p, j) => (p.bridges[5]!.name = `Xã ${j}`)],
      ['programme.1.title', (p, j) => (p.programme[1]!.title = j)],
      ['programme.3.speakers.0.topic', (p, j) => (p.programme[3]!.speakers![0]!.topic = j)],
      ['maket.lines.1', (p, j) => (p.maket.lines = ['HỘI NGHỊ', j])],
    ];
    for (const [path, set] of fields) {
      const plan = clone();
      set(plan, 'Lê\u202EVăn');
      const result = parsePlan(plan);
      expect(result.ok, path).to.equal(false);
      if (!result.ok) expect(result.errors.find((e) => e.path === path)?.message, path).to.match(/ký tự đảo chiều văn bản \(U\+202E/);
    }
    const decomposed = clone();
    decomposed.title = decomposed.title.normalize('NFD');
    const result = parsePlan(decomposed);
    expect(result.ok && result.plan.title).to.equal(defaultPlan().title.normalize('NFC'));
  });
});

function clone() {
  return JSON.parse(JSON.stringify(defaultPlan())) as ReturnType<typeof defaultPlan> & { dateNote?: string; maket: { lines?: string[] } };
}
