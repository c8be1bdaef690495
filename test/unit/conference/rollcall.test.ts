import { expect } from 'chai';
import { rollCallSummary } from '../../../server/core/conference/index.ts';
import { ask, chair, commune, connectAll, DISTRICTS, Harness, op, PROVINCE, secretary, system } from './fixture.ts';

describe('RollCall', () => {
  it('212 bridges, 3 communes offline: districts 11/11, communes 197/200', () => {
    const h = new Harness();
    const offline = [commune(1), commune(20), commune(200)];
    connectAll(h, h.state.config.bridges.map((b) => b.id).filter((id) => !offline.includes(id)));
    const s = rollCallSummary(h.state, h.state.config);
    expect(s.all).to.deep.equal({ total: 212, online: 209, offline: 3, ready: 0, attendees: 0 });
    expect(s.byTier.province).to.deep.include({ total: 1, online: 1 });
    expect(s.byTier.district).to.deep.include({ total: 11, online: 11, offline: 0 });
    expect(s.byTier.commune).to.deep.include({ total: 200, online: 197, offline: 3 });
    expect(s.offline).to.deep.equal(offline);
    expect(s.byDistrict).to.have.length(11);
    // c-00001 is in the first district (19 communes), c-00020 in the second (19), c-00200 in the last (18).
    expect(s.byDistrict.map((d) => `${d.communes.online}/${d.communes.total}`)).to.deep.equal([
      '18/19', '18/19', '18/18', '18/18', '18/18', '18/18', '18/18', '18/18', '18/18', '18/18', '17/18',
    ]);
    expect(s.byDistrict[0]).to.include({ districtId: DISTRICTS[0], name: 'Huyện Số 1', online: true });
  });

  it('ready reports with headcounts add up per tier and district', () => {
    const h = new Harness();
    connectAll(h);
    h.run(op(PROVINCE), { type: 'report_ready', bridgeId: PROVINCE, attendees: 60 });
    h.run(op('d-178'), { type: 'report_ready', bridgeId: 'd-178', attendees: 25 });
    h.run(op(commune(1)), { type: 'report_ready', bridgeId: commune(1), attendees: 12 });
    h.run(op(commune(2)), { type: 'report_ready', bridgeId: commune(2), attendees: 9 });
    h.run(secretary, { type: 'report_ready', bridgeId: commune(30), attendees: 15 }); // by phone, district 2
    const events = h.run(op(commune(2)), { type: 'report_ready', bridgeId: commune(2), attendees: 11, ready: false });
    expect(events).to.deep.equal([{ type: 'bridge_ready', bridgeId: commune(2), ready: false, attendees: 11 }]);
    const s = rollCallSummary(h.state);
    expect(s.all).to.deep.equal({ total: 212, online: 212, offline: 0, ready: 4, attendees: 60 + 25 + 12 + 11 + 15 });
    expect(s.byTier.commune).to.deep.equal({ total: 200, online: 200, offline: 0, ready: 2, attendees: 38 });
    expect(s.byDistrict[0]).to.deep.include({ ready: true, attendees: 25, communes: { total: 19, online: 19, offline: 0, ready: 1, attendees: 23 } });
    expect(s.byDistrict[1]!.communes.ready).to.equal(1);
    expect(h.refused(op(commune(3)), { type: 'report_ready', bridgeId: commune(3), attendees: -1 }).code).to.equal('invalid_argument');
  });

  it('a drop-out clears ready, keeps the headcount, and is logged as an incident during the meeting only', () => {
    const h = new Harness();
    connectAll(h, [PROVINCE, commune(1), commune(2)]);
    h.run(system, { type: 'bridge_disconnected', bridgeId: commune(2) }); // before the start: not a drop-out
    h.run(op(commune(1)), { type: 'report_ready', bridgeId: commune(1), attendees: 14 });
    h.run(chair, { type: 'start_meeting' });
    h.advance(60_000);
    const events = h.run(system, { type: 'bridge_disconnected', bridgeId: commune(1) });
    expect(events).to.deep.equal([{ type: 'bridge_offline', bridgeId: commune(1), dropOut: true }]);
    expect(h.state.presence[commune(1)]).to.deep.include({ online: false, ready: false, attendees: 14, dropOuts: 1 });
    expect(h.state.incidents.map((i) => [i.kind, i.bridgeId])).to.deep.equal([['drop_out', commune(1)]]);
    expect(h.refused(op(commune(1)), { type: 'report_ready', bridgeId: commune(1), attendees: 3 }).code).to.equal('bridge_offline');
    // A second disconnect of an offline hall is a no-op.
    expect(h.run(system, { type: 'bridge_disconnected', bridgeId: commune(1) })).to.deep.equal([]);
  });

  it('late joins are flagged and logged; a return after a drop-out is a rejoin, not a late join', () => {
    const h = new Harness();
    connectAll(h, [PROVINCE, commune(1)]);
    h.run(chair, { type: 'start_meeting' });
    h.advance(5 * 60_000);
    expect(h.run(system, { type: 'bridge_connected', bridgeId: commune(2) })).to.deep.equal([
      { type: 'bridge_online', bridgeId: commune(2), late: true, rejoin: false },
    ]);
    h.run(system, { type: 'bridge_disconnected', bridgeId: commune(1) });
    expect(h.run(system, { type: 'bridge_connected', bridgeId: commune(1) })).to.deep.equal([
      { type: 'bridge_online', bridgeId: commune(1), late: false, rejoin: true },
    ]);
    // A second socket of an online hall changes nothing.
    expect(h.run(system, { type: 'bridge_connected', bridgeId: commune(1) })).to.deep.equal([]);
    expect(h.state.incidents.map((i) => i.kind)).to.deep.equal(['late_join', 'drop_out']);
    expect(h.state.presence[commune(2)]!.lateJoin).to.equal(true);
    expect(h.state.presence[commune(1)]!.sessions).to.have.length(2);
    expect(h.refused(system, { type: 'bridge_connected', bridgeId: 'toString' }).code).to.equal('unknown_bridge');
    expect(h.refused(system, { type: 'bridge_connected', bridgeId: '__proto__' }).code).to.equal('unknown_bridge');
  });
});

describe('presence_update (several halls\' connections in one command)', () => {
  /** A meeting under way with the holder on the floor, and a few halls in and out. */
  const scene = (): Harness => {
    const h = new Harness();
    connectAll(h, [PROVINCE, 'd-178', commune(1), commune(2)]);
    h.run(chair, { type: 'start_meeting' });
    h.advance(30_000);
    return h;
  };
  const changes = [
    { bridgeId: commune(3), online: true }, // late
    { bridgeId: commune(1), online: false }, // a drop-out
    { bridgeId: 'd-179', online: true },
    { bridgeId: commune(1), online: true }, // back in the same batch: a rejoin
    { bridgeId: commune(2), online: true }, // already online: nothing
    { bridgeId: commune(4), online: false }, // already offline: nothing
  ];

  it('is the same as the bridge_connected / bridge_disconnected commands one after the other: state and events', () => {
    const one = scene();
    const batch = scene();
    const events = changes.flatMap(({ bridgeId, online }) => one.run(system, { type: online ? 'bridge_connected' : 'bridge_disconnected', bridgeId }));
    expect(batch.run(system, { type: 'presence_update', changes })).to.deep.equal(events);
    expect(events.map((e) => e.type)).to.deep.equal(['bridge_online', 'bridge_offline', 'bridge_online', 'bridge_online']);
    const { log: _a, seq: seqOne, ...restOne } = one.state;
    const { log: _b, seq: seqBatch, ...restBatch } = batch.state;
    expect(restBatch).to.deep.equal(restOne);
    expect(seqBatch).to.equal(seqOne);
  });

  it('the holder dropping and coming back in one batch keeps the floor', () => {
    const h = scene();
    const requestId = ask(h, commune(2));
    h.run(chair, { type: 'grant_floor', requestId });
    const events = h.run(system, { type: 'presence_update', changes: [{ bridgeId: commune(2), online: false }, { bridgeId: commune(2), online: true }] });
    expect(events.map((e) => e.type)).to.include.members(['bridge_offline', 'holder_reconnecting', 'bridge_online', 'holder_returned']);
    expect(h.state.floor?.bridgeId).to.equal(commune(2));
    expect(h.state.floor?.reconnectingUntil ?? null).to.equal(null);
  });

  it('refuses a batch with one unknown hall or a malformed change, and changes nothing; only the app may send it', () => {
    const h = scene();
    expect(h.refused(system, { type: 'presence_update', changes: [{ bridgeId: commune(3), online: true }, { bridgeId: 'c-99999', online: true }] }).code).to.equal('unknown_bridge');
    expect(h.refused(system, { type: 'presence_update', changes: [{ bridgeId: commune(3), online: 'yes' as never }] }).code).to.equal('invalid_argument');
    expect(h.refused(system, { type: 'presence_update', changes: [null as never] }).code).to.equal('invalid_argument');
    expect(h.refused(system, { type: 'presence_update', changes: 'all' as never }).code).to.equal('invalid_argument');
    expect(h.refused(system, { type: 'presence_update', changes: [{ bridgeId: '__proto__', online: true }] }).code).to.equal('unknown_bridge');
    expect(h.refused(op(commune(3)), { type: 'presence_update', changes: [{ bridgeId: commune(3), online: true }] }).code).to.equal('forbidden');
    expect(h.refused(chair, { type: 'presence_update', changes: [] }).code).to.equal('forbidden');
    expect(h.run(system, { type: 'presence_update', changes: [] })).to.deep.equal([]);
  });

  it('a join storm of every hall is one command: one new state, one event per hall', () => {
    const h = new Harness();
    const ids = h.state.config.bridges.map((b) => b.id);
    const events = h.run(system, { type: 'presence_update', changes: ids.map((bridgeId) => ({ bridgeId, online: true })) });
    expect(events).to.have.length(ids.length);
    expect(rollCallSummary(h.state).all).to.deep.include({ total: 212, online: 212 });
    expect(h.state.seq).to.equal(ids.length);
  });
});
