import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import data from '../../config/data/langson-2021.json' with { type: 'json' };
import { COMMUNE_PAPER_TOPIC, DEFAULT_TITLE, DISTRICT_PAPER_TOPICS, defaultPlan } from '../../config/default-plan.ts';
import { loadPlanFile, PlanError } from '../../config/plan-file.ts';
import {
  bridgeIdFor,
  parsePlan,
  type Bridge,
  type ConferencePlan,
  type PlanIssue,
} from '../../server/protocol/plan.ts';

function errorsOf(input: unknown): PlanIssue[] {
  const result = parsePlan(input);
  if (result.ok) throw new Error('expected the plan to be refused');
  return result.errors;
}

const pathsOf = (input: unknown) => errorsOf(input).map((e) => e.path);

/** A small valid plan: province, one district, two communes. */
function smallPlan(): Record<string, unknown> {
  return {
    title: 'Hội nghị thử',
    organiser: 'Thường trực HĐND tỉnh Lạng Sơn',
    date: null,
    venue: 'Hội trường UBND tỉnh',
    bridges: [
      { id: 'p-20', tier: 'province', name: 'Tỉnh Lạng Sơn', parentId: null, code: '20' },
      { id: 'd-185', tier: 'district', name: 'Huyện Bắc Sơn', parentId: 'p-20', code: '185' },
      { id: 'c-06319', tier: 'commune', name: 'Thị trấn Bắc Sơn', parentId: 'd-185', code: '06319' },
      { id: 'c-06322', tier: 'commune', name: 'Xã Long Đống', parentId: 'd-185', code: '06322' },
    ],
    programme: [
      { id: 'khai-mac', kind: 'opening', title: 'Khai mạc', plannedMinutes: 5, speakers: [{ bridgeId: 'p-20' }] },
      {
        id: 'tham-luan',
        kind: 'designated_paper',
        title: 'Tham luận',
        plannedMinutes: 20,
        speakers: [{ bridgeId: 'd-185', topic: 'Chủ đề' }, { bridgeId: 'c-06322', limitMinutes: 5 }],
      },
    ],
  };
}

describe('conference plan schema', () => {
  it('applies the documented defaults', () => {
    const result = parsePlan(smallPlan());
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    const plan = result.plan;
    expect(plan.speaking).to.deep.equal({
      defaultLimitMinutes: 10,
      warningMarksSeconds: [120, 60, 30],
      expiryPolicy: 'notify_chair',
      graceSeconds: 30,
      holderGraceSeconds: 30,
    });
    expect(plan.maket.background).to.equal('#c00000');
    expect(plan.maket.textColour).to.equal('#ffde00');
    expect(plan.maket.lines).to.deep.equal([
      'THƯỜNG TRỰC HĐND {LOCALITY_UPPER}',
      'HỘI NGHỊ TRỰC TUYẾN',
      '{TITLE_UPPER}',
      '{PLACE}, ngày {DD} tháng {MM} năm {YYYY}',
    ]);
    expect(plan.bridges.map((b) => b.kind)).to.deep.equal(['browser', 'browser', 'browser', 'browser']);
    expect(plan.date).to.equal(null);
  });

  it('treats a missing date as not announced and sorts warning marks longest first', () => {
    const input = smallPlan();
    delete input.date;
    input.speaking = { warningMarksSeconds: [30, 120, 60, 60] };
    const result = parsePlan(input);
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    expect(result.plan.date).to.equal(null);
    expect(result.plan.speaking.warningMarksSeconds).to.deep.equal([120, 60, 30]);
  });

  it('builds ids from tier and GSO code', () => {
    expect(bridgeIdFor('province', '20')).to.equal('p-20');
    expect(bridgeIdFor('district', '178')).to.equal('d-178');
    expect(bridgeIdFor('commune', '05971')).to.equal('c-05971');
  });

  it('refuses a duplicate bridge id', () => {
    const input = smallPlan();
    const bridges = input.bridges as Record<string, unknown>[];
    bridges.push({ ...bridges[2], name: 'Xã Long Đống' });
    const errors = errorsOf(input);
    expect(errors).to.have.length(1);
    expect(errors[0]!.path).to.equal('bridges.4.id');
    expect(errors[0]!.message).to.contain('c-06319').and.contain('bridges.2');
  });

  it('refuses a commune whose parent is missing', () => {
    const input = smallPlan();
    (input.bridges as Record<string, unknown>[])[2]!.parentId = 'd-999';
    expect(errorsOf(input)).to.deep.equal([{ path: 'bridges.2.parentId', message: 'Không có điểm cầu "d-999"' }]);
  });

  it('refuses a commune hanging under the province and a district under a commune', () => {
    const input = smallPlan();
    const bridges = input.bridges as Record<string, unknown>[];
    bridges[3]!.parentId = 'p-20';
    bridges.push({ id: 'd-178', tier: 'district', name: 'Thành phố Lạng Sơn', parentId: 'c-06319', code: '178' });
    expect(pathsOf(input)).to.deep.equal(['bridges.3.parentId', 'bridges.4.parentId']);
  });

  it('refuses zero or two provinces, a province with a parent and a district without one', () => {
    const none = smallPlan();
    (none.bridges as Record<string, unknown>[]).splice(0, 1);
    expect(pathsOf(none)).to.include('bridges');

    const two = smallPlan();
    const bridges = two.bridges as Record<string, unknown>[];
    bridges.push({ id: 'p-19', tier: 'province', name: 'Tỉnh Thái Nguyên', parentId: 'p-20', code: '19' });
    bridges[1]!.parentId = null;
    expect(pathsOf(two)).to.deep.equal(['bridges.4.tier', 'bridges.1.parentId', 'bridges.4.parentId']);
  });

  it('refuses a speaker pointing at an unknown bridge, with the exact path', () => {
    const input = smallPlan();
    const programme = input.programme as { speakers: Record<string, unknown>[] }[];
    programme[1]!.speakers[1]!.bridgeId = 'c-99999';
    expect(errorsOf(input)).to.deep.equal([
      { path: 'programme.1.speakers.1.bridgeId', message: 'Không có điểm cầu "c-99999"' },
    ]);
  });

  it('refuses fields of the wrong type, naming each path', () => {
    const input = smallPlan();
    const bridges = input.bridges as Record<string, unknown>[];
    bridges[1]!.tier = 'village';
    bridges[2]!.code = 6319; // unquoted YAML number
    (input.programme as Record<string, unknown>[])[0]!.plannedMinutes = '5';
    input.startTime = '7h30';
    input.maket = { background: 'red' };
    expect(pathsOf(input)).to.have.members([
      'startTime',
      'bridges.1.tier',
      'bridges.2.code',
      'programme.0.plannedMinutes',
      'maket.background',
    ]);
    const codeError = errorsOf(input).find((e) => e.path === 'bridges.2.code')!;
    expect(codeError.message).to.contain('dấu nháy');
  });

  it('reports every mistake at once, cross-field ones included', () => {
    const input = smallPlan();
    const bridges = input.bridges as Record<string, unknown>[];
    bridges.push({ ...bridges[3] }); // duplicate
    bridges[2]!.parentId = 'd-404'; // missing parent
    (input.programme as { speakers: Record<string, unknown>[] }[])[1]!.speakers[0]!.bridgeId = 'd-404';
    (input.programme as Record<string, unknown>[])[0]!.plannedMinutes = -1; // wrong value
    input.date = '2021-02-30'; // not a calendar day
    expect(pathsOf(input)).to.have.members([
      'date',
      'programme.0.plannedMinutes',
      'bridges.4.id',
      'bridges.2.parentId',
      'programme.1.speakers.0.bridgeId',
    ]);
  });

  it('points at a misspelt key instead of its object', () => {
    const input = smallPlan();
    (input.bridges as Record<string, unknown>[])[1]!.parentID = 'p-20';
    expect(pathsOf(input)).to.deep.equal(['bridges.1.parentID']);
  });

  it('checks id against tier and code, name prefix against tier, and maket placeholders', () => {
    const input = smallPlan();
    const bridges = input.bridges as Record<string, unknown>[];
    bridges[2]!.id = 'd-06319';
    bridges[3]!.name = 'Long Đống';
    input.maket = { lines: ['THƯỜNG TRỰC HĐND {LOCALITY_UPPER}', '{PLACE}, ngày {NGAY}'] };
    // the programme does not mention c-06319, so the renamed id leaves no dangling speaker
    expect(pathsOf(input)).to.deep.equal(['maket.lines.1', 'bridges.2.id', 'bridges.3.name']);
  });

  it('refuses a warning mark longer than the speaking limit', () => {
    const input = smallPlan();
    input.speaking = { defaultLimitMinutes: 1, warningMarksSeconds: [120, 30] };
    expect(pathsOf(input)).to.deep.equal(['speaking.warningMarksSeconds']);
  });

  it('refuses something that is not a plan at all', () => {
    expect(pathsOf(42)).to.deep.equal(['']);
    expect(pathsOf({})).to.include.members(['title', 'organiser', 'venue', 'bridges']);
  });
});

describe('default plan (Lạng Sơn 2021)', () => {
  let plan: ConferencePlan;
  const byId = (id: string): Bridge => {
    const b = plan.bridges.find((x) => x.id === id);
    if (!b) throw new Error(`no bridge ${id}`);
    return b;
  };

  before(() => {
    plan = defaultPlan();
  });

  it('parses through the public schema', () => {
    const result = parsePlan(JSON.parse(JSON.stringify(plan)));
    expect(result.ok).to.equal(true);
  });

  it('carries the seed 004 header', () => {
    expect(plan.title).to.equal(DEFAULT_TITLE);
    expect(plan.title).to.equal(
      'Hội nghị giao ban Thường trực HĐND tỉnh với Thường trực HĐND cấp huyện, Thường trực HĐND cấp xã năm 2021',
    );
    expect(plan.organiser).to.equal('Thường trực HĐND tỉnh Lạng Sơn');
    expect(plan.date).to.equal(null);
    expect(plan.tentativeMonth).to.equal('2021-11');
    expect(plan.dateNote).to.contain('25 đến ngày 30/11/2021');
    expect(plan.venue).to.equal('Hội trường UBND tỉnh, số 02 đường Hùng Vương, phường Chi Lăng, thành phố Lạng Sơn');
  });

  it('has 1 + 11 + 200 bridges', () => {
    const count = (tier: Bridge['tier']) => plan.bridges.filter((b) => b.tier === tier).length;
    expect(plan.bridges).to.have.length(212);
    expect([count('province'), count('district'), count('commune')]).to.deep.equal([1, 11, 200]);
    expect(byId('p-20').name).to.equal('Tỉnh Lạng Sơn');
    expect(byId('d-178')).to.deep.include({ name: 'Thành phố Lạng Sơn', parentId: 'p-20', tier: 'district' });
    expect(byId('c-05971')).to.deep.include({ name: 'Phường Hoàng Văn Thụ', parentId: 'd-178', tier: 'commune' });
  });

  it('gives every district the commune count of the data file', () => {
    const counts = Object.fromEntries(
      plan.bridges
        .filter((b) => b.tier === 'district')
        .map((d) => [d.name, plan.bridges.filter((c) => c.parentId === d.id).length]),
    );
    // Per-district table of langson-2021.SOURCES.md.
    expect(counts).to.deep.equal({
      'Thành phố Lạng Sơn': 8,
      'Huyện Tràng Định': 22,
      'Huyện Bình Gia': 19,
      'Huyện Văn Lãng': 17,
      'Huyện Cao Lộc': 22,
      'Huyện Văn Quan': 17,
      'Huyện Bắc Sơn': 18,
      'Huyện Hữu Lũng': 24,
      'Huyện Chi Lăng': 20,
      'Huyện Lộc Bình': 21,
      'Huyện Đình Lập': 12,
    });
    for (const d of data.districts) {
      expect(plan.bridges.filter((c) => c.parentId === `d-${d.code}`).map((c) => c.code)).to.deep.equal(
        d.communes.map((c) => c.code),
      );
    }
  });

  it('follows the programme of the seed, with a break and the chair concluding', () => {
    expect(plan.programme.map((i) => i.kind)).to.deep.equal([
      'opening',
      'report',
      'directive',
      'designated_paper',
      'designated_paper',
      'break',
      'discussion',
      'conclusion',
    ]);
    expect(plan.programme[2]!.title).to.contain('892-TB/VPTU');
    expect(plan.programme[5]!.title).to.equal('Giải lao');
    expect(plan.programme[7]!.speakers.map((s) => s.bridgeId)).to.deep.equal(['p-20']);
    expect(plan.speaking.defaultLimitMinutes).to.equal(10);
  });

  it('gives the floor for district papers to the named districts, with their topics', () => {
    const papers = plan.programme.find((i) => i.id === 'tham-luan-cap-huyen')!;
    const named = papers.speakers.map((s) => [byId(s.bridgeId).name, s.topic]);
    const topic = (n: number) => DISTRICT_PAPER_TOPICS[n]!.topic;
    expect(named).to.deep.equal([
      ['Huyện Bắc Sơn', topic(0)],
      ['Thành phố Lạng Sơn', topic(0)],
      ['Huyện Văn Lãng', topic(1)],
      ['Huyện Bình Gia', topic(1)],
      ['Huyện Văn Quan', topic(2)],
      ['Huyện Cao Lộc', topic(2)],
      ['Huyện Chi Lăng', topic(3)],
      ['Huyện Tràng Định', topic(3)],
      ['Huyện Lộc Bình', topic(4)],
      ['Huyện Đình Lập', topic(4)],
      ['Huyện Hữu Lũng', topic(4)],
    ]);
    expect(topic(0)).to.equal('Kinh nghiệm, giải pháp nâng cao chất lượng phiên giải trình của Thường trực HĐND cấp huyện');
    expect(topic(4)).to.match(/ban hành Nghị quyết .* quốc phòng – an ninh$/);
    expect(papers.speakers.map((s) => s.bridgeId)).to.deep.equal([
      'd-185', 'd-178', 'd-182', 'd-181', 'd-184', 'd-183', 'd-187', 'd-180', 'd-188', 'd-189', 'd-186',
    ]);
  });

  it('gives the floor for commune papers to Cường Lợi, Hòa Thắng and Cao Minh within their districts', () => {
    const papers = plan.programme.find((i) => i.id === 'tham-luan-cap-xa')!;
    const named = papers.speakers.map((s) => {
      const commune = byId(s.bridgeId);
      return [commune.name, byId(commune.parentId!).name, s.topic];
    });
    expect(named).to.deep.equal([
      ['Xã Cường Lợi', 'Huyện Đình Lập', COMMUNE_PAPER_TOPIC],
      ['Xã Hòa Thắng', 'Huyện Hữu Lũng', COMMUNE_PAPER_TOPIC],
      ['Xã Cao Minh', 'Huyện Tràng Định', COMMUNE_PAPER_TOPIC],
    ]);
    expect(papers.speakers.map((s) => s.bridgeId)).to.deep.equal(['c-06634', 'c-06460', 'c-06010']);
    expect(COMMUNE_PAPER_TOPIC).to.equal(
      'Kinh nghiệm và giải pháp tổ chức, triển khai thực hiện nghị quyết của Hội đồng nhân dân cấp tỉnh ban hành',
    );
  });

  it('uses the red-and-yellow maket of seed 004', () => {
    expect(plan.maket.background).to.equal('#c00000');
    expect(plan.maket.textColour).to.equal('#ffde00');
    // The title lines are the title itself, in capitals, after "HỘI NGHỊ".
    expect(plan.maket.lines.slice(2, 5).join(' ')).to.equal(
      plan.title.toLocaleUpperCase('vi').replace(/^HỘI NGHỊ /, ''),
    );
  });

  it('returns a fresh copy each time', () => {
    const a = defaultPlan();
    a.bridges.pop();
    expect(defaultPlan().bridges).to.have.length(212);
  });
});

describe('loadPlanFile', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'diemcau-plan-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a hand-written YAML plan (unquoted date stays a date string)', async () => {
    const file = join(dir, 'plan.yaml');
    await writeFile(
      file,
      [
        'title: Hội nghị thử',
        'organiser: Thường trực HĐND tỉnh Lạng Sơn',
        'date: 2021-11-26',
        'startTime: "07:30"',
        'venue: Hội trường UBND tỉnh',
        'bridges:',
        '  - { id: p-20, tier: province, name: Tỉnh Lạng Sơn, parentId: null, code: "20" }',
        '  - { id: d-189, tier: district, name: Huyện Đình Lập, parentId: p-20, code: "189" }',
        '  - { id: c-06634, tier: commune, name: Xã Cường Lợi, parentId: d-189, code: "06634", kind: rtp }',
        'programme:',
        '  - id: tham-luan',
        '    kind: designated_paper',
        '    title: Tham luận',
        '    plannedMinutes: 10',
        '    speakers:',
        '      - bridgeId: c-06634',
        '        topic: Kinh nghiệm',
        '',
      ].join('\n'),
    );
    const plan = await loadPlanFile(file);
    expect(plan.date).to.equal('2021-11-26');
    expect(plan.startTime).to.equal('07:30');
    expect(plan.bridges.map((b) => [b.id, b.kind])).to.deep.equal([
      ['p-20', 'browser'],
      ['d-189', 'browser'],
      ['c-06634', 'rtp'],
    ]);
    expect(plan.programme[0]!.speakers[0]).to.deep.equal({ bridgeId: 'c-06634', topic: 'Kinh nghiệm' });
  });

  it('loads the default plan written as JSON and as .yml', async () => {
    const json = join(dir, 'default.json');
    const yml = join(dir, 'default.yml');
    await writeFile(json, JSON.stringify(defaultPlan(), null, 2));
    await writeFile(yml, stringify(defaultPlan()));
    const fromJson = await loadPlanFile(json);
    const fromYaml = await loadPlanFile(yml);
    expect(fromJson).to.deep.equal(defaultPlan());
    expect(fromYaml).to.deep.equal(defaultPlan());
    expect(fromYaml.bridges.find((b) => b.id === 'c-05971')!.code).to.equal('05971');
  });

  it('throws PlanError listing each wrong field of a YAML file', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(
      file,
      [
        'title: Hội nghị thử',
        'organiser: Thường trực HĐND tỉnh Lạng Sơn',
        'venue: Hội trường',
        'bridges:',
        '  - { id: p-20, tier: province, name: Tỉnh Lạng Sơn, parentId: null, code: "20" }',
        '  - { id: c-06634, tier: commune, name: Xã Cường Lợi, parentId: d-189, code: 06634 }',
        'programme:',
        '  - { id: x, kind: opening, title: Khai mạc, plannedMinutes: 5, speakers: [{ bridgeId: p-21 }] }',
        '',
      ].join('\n'),
    );
    let caught: unknown;
    try {
      await loadPlanFile(file);
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(PlanError);
    const err = caught as PlanError;
    expect(err.code).to.equal('invalid_plan');
    expect(err.errors.map((e) => e.path)).to.deep.equal([
      'bridges.1.code',
      'bridges.1.parentId',
      'programme.0.speakers.0.bridgeId',
    ]);
    expect(err.message).to.contain('bridges.1.parentId');
  });

  it('throws PlanError for bad JSON syntax and for an unknown extension', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{ "title": ');
    const txt = join(dir, 'plan.txt');
    await writeFile(txt, '{}');
    for (const file of [bad, txt]) {
      let caught: unknown;
      try {
        await loadPlanFile(file);
      } catch (err) {
        caught = err;
      }
      expect(caught, file).to.be.instanceOf(PlanError);
      expect((caught as PlanError).errors.map((e) => e.path)).to.deep.equal(['']);
    }
  });
});
