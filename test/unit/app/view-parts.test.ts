// The views of one state are built from parts computed once per state (view.ts, ViewParts): a
// hall that connects in a join storm of 10,000 must not summarise the whole roll-call again.
// Views built from kept parts, at another instant, are the views built from scratch.
import { expect } from 'chai';
import { defaultPlan } from '../../../config/default-plan.ts';
import { buildView, viewBuilder, viewParts } from '../../../server/app/view.ts';
import { rollCallSummary } from '../../../server/core/conference/index.ts';
import type { Principal } from '../../../server/protocol/control.ts';
import { planToCore } from '../../../server/app/conference/plan-to-core.ts';
import { ask, chair, op, started } from '../conference/fixture.ts';

describe('views from parts kept per state', () => {
  it('are the views built from scratch, for every role, at any instant', () => {
    const plan = defaultPlan();
    const h = started(0, planToCore(plan));
    const communes = plan.bridges.filter((b) => b.tier === 'commune').map((b) => b.id);
    const district = plan.bridges.find((b) => b.tier === 'district')!.id;
    const speaker = communes[7]!;
    const requestId = ask(h, speaker);
    h.run(chair, { type: 'grant_floor', requestId });
    h.run(op(communes[3]!), { type: 'send_message', to: 'staff', kind: 'no_sound' });
    const parts = viewParts(plan, h.state);
    const principals: Principal[] = [{ role: 'chair' }, { role: 'technician' }, { role: 'viewer' }, { role: 'operator', bridgeId: speaker }, { role: 'operator', bridgeId: communes[3]! }, { role: 'operator', bridgeId: district }];
    for (const at of [h.clock.now(), h.clock.now() + 65_000]) {
      const kept = viewBuilder('c', plan, h.state, at, speaker, parts);
      for (const p of principals) {
        expect(kept(p), `${p.role} ${'bridgeId' in p ? p.bridgeId : ''} at +${at - h.clock.now()} ms`).to.deep.equal(buildView('c', plan, h.state, p, at, speaker));
      }
    }
    // The time-dependent parts follow the instant, not the parts.
    const later = viewBuilder('c', plan, h.state, h.clock.now() + 65_000, speaker, parts)({ role: 'chair' });
    expect(later.floor!.timer.remainingMs).to.be.lessThan(buildView('c', plan, h.state, { role: 'chair' }, h.clock.now(), speaker).floor!.timer.remainingMs);
    expect(later.serverNow).to.equal(h.clock.now() + 65_000);
    expect(later.rollCall.communes.online).to.equal(rollCallSummary(h.state).byTier.commune.online);
  });
});
