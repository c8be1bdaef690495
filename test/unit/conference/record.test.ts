// Bounds of the record (issue 18, finding 6): a flapping or hostile link cannot grow the state
// without bound, and the report keeps its meaning (online time, connections, drop-outs).
import { expect } from 'chai';
import { DROP_OUT_MERGE_MS, MAX_INCIDENTS_PER_BRIDGE, MAX_SESSIONS_PER_BRIDGE, report, reportCsv } from '../../../server/core/conference/index.ts';
import { chair, commune, connectAll, Harness, op, PROVINCE, secretary, system, T0 } from './fixture.ts';

const MIN = 60_000;

function meeting(): Harness {
  const h = new Harness();
  connectAll(h, [PROVINCE, commune(1), commune(2)]);
  h.run(chair, { type: 'start_meeting' });
  return h;
}

describe('record bounds (a flapping link, repeated commands)', () => {
  it('1,000 reconnects of one hall: a few sessions and one drop-out incident with its count; online time and connections exact', () => {
    const h = meeting();
    const bridgeId = commune(1);
    let offlineMs = 0;
    for (let i = 0; i < 1000; i++) {
      h.advance(2000);
      h.run(system, { type: 'bridge_disconnected', bridgeId });
      h.advance(500);
      offlineMs += 500;
      h.run(system, { type: 'bridge_connected', bridgeId });
    }
    h.advance(MIN);
    const p = h.state.presence[bridgeId]!;
    expect(p.sessions.length).to.be.at.most(MAX_SESSIONS_PER_BRIDGE);
    expect(p.dropOuts).to.equal(1000);
    const mine = h.state.incidents.filter((i) => i.bridgeId === bridgeId);
    expect(mine).to.have.length(1);
    expect(mine[0]).to.deep.include({ kind: 'drop_out', count: 1000, at: T0 + 2000 });
    const r = report(h.state, h.state.config, h.clock.now());
    const row = r.attendance.find((a) => a.bridgeId === bridgeId)!;
    expect(row.connections).to.equal(1001);
    expect(row.onlineSec).to.equal(Math.round((h.clock.now() - T0 - offlineMs) / 1000));
    expect(row.dropOuts).to.equal(1000);
    expect(r.incidents.find((i) => i.bridgeId === bridgeId)).to.deep.include({ count: 1000, lastAt: T0 + 1000 * 2500 - 500 });
    const csv = reportCsv(r)['incidents.csv'].split('\r\n');
    expect(csv[0]).to.equal('at,kind,bridge_id,bridge_name,detail,count,last_at');
    expect(csv[1]).to.match(/^2021-11-26T08:00:02\+07:00,drop_out,c-00001,Xã Số 1,dropped,1000,/);
    // The whole state stays about the size of a quiet meeting's.
    expect(JSON.stringify(h.state.presence[bridgeId]).length).to.be.below(1000);
  });

  it('drop-outs far apart are separate incidents up to a cap per bridge, the oldest summed up; a drop that cost the floor stays its own line', () => {
    const h = meeting();
    const bridgeId = commune(2);
    const drops = 30;
    for (let i = 0; i < drops; i++) {
      h.advance(DROP_OUT_MERGE_MS + MIN);
      h.run(system, { type: 'bridge_disconnected', bridgeId });
      h.advance(MIN);
      h.run(system, { type: 'bridge_connected', bridgeId });
    }
    const mine = h.state.incidents.filter((i) => i.bridgeId === bridgeId);
    expect(mine).to.have.length(MAX_INCIDENTS_PER_BRIDGE);
    expect(mine.reduce((n, i) => n + (i.count ?? 1), 0)).to.equal(drops);
    expect(mine[0]!.at).to.equal(T0 + DROP_OUT_MERGE_MS + MIN);
    // The speaker's hall drops: that line is not merged into the others.
    h.run(op(bridgeId), { type: 'request_floor', bridgeId, speakerName: 'Nguyễn Thị Ánh Tuyết', speakerTitle: 'Chủ tịch HĐND xã' });
    h.run(chair, { type: 'grant_next' });
    h.advance(MIN);
    h.run(system, { type: 'bridge_disconnected', bridgeId });
    const last = h.state.incidents.filter((i) => i.bridgeId === bridgeId).at(-1)!;
    expect(last).to.deep.include({ detail: 'dropped while holding the floor', at: h.clock.now() });
    expect(h.state.incidents.filter((i) => i.bridgeId === bridgeId)).to.have.length(MAX_INCIDENTS_PER_BRIDGE);
  });

  it('a command that changes nothing is not recorded: the same date, the same maket, the same headcount', () => {
    const h = meeting();
    const seq = () => h.state.seq;
    h.run(secretary, { type: 'set_date', date: '2021-11-26' });
    const afterDate = seq();
    for (let i = 0; i < 100; i++) expect(h.run(secretary, { type: 'set_date', date: '2021-11-26' })).to.deep.equal([]);
    expect(seq()).to.equal(afterDate);
    h.run(secretary, { type: 'set_maket', maket: { lines: ['HỘI NGHỊ TRỰC TUYẾN'], background: '#c00000' } });
    const afterMaket = seq();
    expect(h.run(secretary, { type: 'set_maket', maket: { lines: [' HỘI NGHỊ TRỰC TUYẾN '], background: '#c00000' } })).to.deep.equal([]);
    expect(seq()).to.equal(afterMaket);
    h.run(op(commune(1)), { type: 'report_ready', bridgeId: commune(1), attendees: 18 });
    const afterReady = seq();
    expect(h.run(op(commune(1)), { type: 'report_ready', bridgeId: commune(1), attendees: 18, ready: true })).to.deep.equal([]);
    expect(seq()).to.equal(afterReady);
    expect(h.run(op(commune(1)), { type: 'report_ready', bridgeId: commune(1), attendees: 19 })).to.have.length(1);
  });
});
