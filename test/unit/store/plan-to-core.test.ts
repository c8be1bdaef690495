import { expect } from 'chai';
import { COMMUNE_PAPER_TOPIC, DISTRICT_PAPER_TOPICS, defaultPlan } from '../../../config/default-plan.ts';
import { planToCore, PlanMappingError } from '../../../server/app/conference/plan-to-core.ts';
import { checkConfig, initialState } from '../../../server/core/conference/index.ts';
import { parsePlan, parsePlanOrThrow, type ConferencePlan } from '../../../server/protocol/plan.ts';

describe('planToCore', () => {
  it('maps the default Lạng Sơn plan: 212 bridges, the province as chair, programme and speaking rules', () => {
    const plan = defaultPlan();
    const config = planToCore(plan);
    expect(checkConfig(config)).to.deep.equal([]);
    expect(config.bridges).to.have.length(212);
    expect(config.bridges.filter((b) => b.tier === 'province').map((b) => b.id)).to.deep.equal(['p-20']);
    expect(config.bridges.filter((b) => b.tier === 'district')).to.have.length(11);
    expect(config.bridges.filter((b) => b.tier === 'commune')).to.have.length(200);
    expect(config.chairBridgeId).to.equal('p-20');
    expect(config.bridges[0]).to.deep.equal({ id: 'p-20', tier: 'province', parentId: null, name: plan.bridges[0]!.name });
    // Only what the core needs: no GSO code, no media kind.
    expect(Object.keys(config.bridges[5]!).sort()).to.deep.equal(['id', 'name', 'parentId', 'tier']);
    expect(config.agenda.map((i) => [i.id, i.kind, i.plannedMinutes])).to.deep.equal(plan.programme.map((i) => [i.id, i.kind, i.plannedMinutes]));
    expect(config.speaking).to.deep.equal({ defaultLimitMinutes: 10, warningMarksSeconds: [120, 60, 30], expiryPolicy: 'notify_chair', graceSeconds: 30, holderGraceSeconds: 30 });
  });

  it('keeps the designated speakers in plan order with their topics and limits', () => {
    const plan = defaultPlan();
    const config = planToCore(plan);
    const districts = config.agenda.find((i) => i.id === 'tham-luan-cap-huyen')!;
    expect(districts.speakers).to.have.length(11);
    expect(districts.speakers.map((s) => s.topic)).to.deep.equal(DISTRICT_PAPER_TOPICS.flatMap((t) => t.districts.map(() => t.topic)));
    expect(districts.speakers.map((s) => s.bridgeId)).to.deep.equal(plan.programme[3]!.speakers.map((s) => s.bridgeId));
    const communes = config.agenda.find((i) => i.id === 'tham-luan-cap-xa')!;
    expect(communes.speakers.map((s) => s.topic)).to.deep.equal([COMMUNE_PAPER_TOPIC, COMMUNE_PAPER_TOPIC, COMMUNE_PAPER_TOPIC]);
    expect(communes.speakers.map((s) => s.bridgeId)).to.include('c-06010'); // Xã Cao Minh, Tràng Định
    const report = config.agenda.find((i) => i.id === 'bao-cao')!;
    expect(report.speakers).to.deep.equal([{ bridgeId: 'p-20', topic: 'Báo cáo của Thường trực HĐND tỉnh', limitMinutes: 15 }]);
    // Absent optional fields stay absent, so the config survives a JSON round trip unchanged.
    expect(config.agenda[0]!.speakers).to.deep.equal([{ bridgeId: 'p-20' }]);
    expect(JSON.parse(JSON.stringify(config))).to.deep.equal(config);
  });

  it('copies, so that changing the config leaves the plan alone; the core starts from it', () => {
    const plan = defaultPlan();
    const config = planToCore(plan);
    config.speaking.warningMarksSeconds.push(5);
    config.agenda[3]!.speakers[0]!.topic = 'x';
    expect(plan.speaking.warningMarksSeconds).to.deep.equal([120, 60, 30]);
    expect(plan.programme[3]!.speakers[0]!.topic).to.not.equal('x');
    const state = initialState(planToCore(plan), { date: plan.date });
    expect(Object.keys(state.presence)).to.have.length(212);
  });

  it('maps a plan with per-speaker limits, speaker names and the close_mic policy', () => {
    const plan = parsePlanOrThrow({
      title: 'Hội nghị thử',
      organiser: 'Thường trực HĐND tỉnh Lạng Sơn',
      venue: 'Hội trường UBND tỉnh',
      bridges: [
        { id: 'p-20', tier: 'province', name: 'Tỉnh Lạng Sơn', parentId: null, code: '20' },
        { id: 'd-185', tier: 'district', name: 'Huyện Bắc Sơn', parentId: 'p-20', code: '185' },
        { id: 'c-06322', tier: 'commune', name: 'Xã Long Đống', parentId: 'd-185', code: '06322' },
      ],
      programme: [
        {
          id: 'tham-luan',
          kind: 'designated_paper',
          title: 'Tham luận',
          plannedMinutes: 20,
          speakers: [{ bridgeId: 'c-06322', speakerName: 'Hoàng Văn B', topic: 'Giám sát', limitMinutes: 7 }],
        },
      ],
      speaking: { defaultLimitMinutes: 8, warningMarksSeconds: [30, 90], expiryPolicy: 'close_mic', graceSeconds: 10, holderGraceSeconds: 45 },
    });
    const config = planToCore(plan);
    expect(config.agenda[0]!.speakers).to.deep.equal([{ bridgeId: 'c-06322', topic: 'Giám sát', speakerName: 'Hoàng Văn B', limitMinutes: 7 }]);
    expect(config.speaking).to.deep.equal({ defaultLimitMinutes: 8, warningMarksSeconds: [90, 30], expiryPolicy: 'close_mic', graceSeconds: 10, holderGraceSeconds: 45 });
  });

  it('carries a per-item speaking limit from the plan to the core, and the core applies it', () => {
    const input = structuredClone(defaultPlan()) as Record<string, any>;
    const discussion = input.programme.findIndex((it: { kind: string }) => it.kind === 'discussion');
    input.programme[discussion].limitMinutes = 5;
    const parsed = parsePlan(input);
    expect(parsed.ok, JSON.stringify(!parsed.ok && parsed.errors)).to.equal(true);
    const config = planToCore((parsed as { ok: true; plan: ConferencePlan }).plan);
    expect(config.agenda[discussion]!.limitMinutes).to.equal(5);
    const other = config.agenda.findIndex((it) => it.kind === 'opening');
    expect(config.agenda[other]!.limitMinutes).to.equal(undefined);
    const bad = structuredClone(input);
    bad.programme[discussion].limitMinutes = 0;
    const refused = parsePlan(bad);
    expect(refused.ok).to.equal(false);
    expect((refused as { ok: false; errors: { path: string }[] }).errors.map((e) => e.path)).to.include(`programme.${discussion}.limitMinutes`);
  });

  it('refuses a plan the core cannot run (only possible without the schema)', () => {
    const plan = defaultPlan();
    expect(() => planToCore({ ...plan, bridges: plan.bridges.filter((b) => b.tier !== 'province') })).to.throw(PlanMappingError);
    const bad = defaultPlan();
    bad.programme[0]!.speakers = [{ bridgeId: 'c-99999' }];
    expect(() => planToCore(bad)).to.throw(PlanMappingError, /unknown speaker bridge/);
  });
});
