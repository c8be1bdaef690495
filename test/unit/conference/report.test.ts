import { expect } from 'chai';
import { csv, csvCell, formatTime, report, reportCsv } from '../../../server/core/conference/index.ts';
import { chair, commune, connectAll, Harness, op, PROVINCE, system, T0 } from './fixture.ts';

const MIN = 60_000;

// A short meeting: province and two communes; c-00001 speaks 11:20 (80 s over), c-00002 drops out, comes back late.
function meeting(): Harness {
  const h = new Harness();
  connectAll(h, [PROVINCE, commune(1), commune(2)]);
  h.run(op(commune(1)), { type: 'report_ready', bridgeId: commune(1), attendees: 18 });
  h.run(chair, { type: 'start_meeting' });
  h.advance(2 * MIN);
  h.run(system, { type: 'bridge_connected', bridgeId: commune(3) }); // late
  const [req] = h.run(op(commune(1)), {
    type: 'request_floor',
    bridgeId: commune(1),
    speakerName: 'Hoàng Thị "Lan", Bí thư',
    speakerTitle: 'Chủ tịch HĐND xã',
    topic: 'Dòng 1, "Dòng 2"',
  });
  h.run(chair, { type: 'grant_floor', requestId: (req as { requestId: string }).requestId });
  h.advance(11 * MIN + 20_000);
  h.run(chair, { type: 'revoke_floor' });
  h.run(system, { type: 'bridge_disconnected', bridgeId: commune(2) });
  h.advance(MIN);
  h.run(system, { type: 'bridge_connected', bridgeId: commune(2) });
  h.advance(MIN);
  h.run(chair, { type: 'end_meeting' });
  return h;
}

describe('report', () => {
  it('attendance per bridge, speakers with durations and overruns, incidents, time per item', () => {
    const h = meeting();
    const r = report(h.state, h.state.config);
    expect(r).to.include({ startedAt: T0, endedAt: T0 + 15 * MIN + 20_000, asOf: T0 + 15 * MIN + 20_000 });
    expect(r.attendance).to.have.length(212);
    const c1 = r.attendance.find((a) => a.bridgeId === commune(1))!;
    expect(c1).to.deep.include({ firstJoinAt: T0, lastLeaveAt: null, online: true, attendees: 18, ready: true, dropOuts: 0, lateJoin: false, onlineSec: 920 });
    const c2 = r.attendance.find((a) => a.bridgeId === commune(2))!;
    // Back online at the end: no last leave, the drop-out is in its sessions.
    expect(c2).to.deep.include({ firstJoinAt: T0, lastLeaveAt: null, online: true, dropOuts: 1, onlineSec: 860 });
    expect(c2.sessions).to.deep.equal([
      { joinedAt: T0, leftAt: T0 + 13 * MIN + 20_000 },
      { joinedAt: T0 + 14 * MIN + 20_000, leftAt: null },
    ]);
    expect(r.attendance.find((a) => a.bridgeId === commune(3))).to.deep.include({ lateJoin: true, firstJoinAt: T0 + 2 * MIN });
    expect(r.attendance.find((a) => a.bridgeId === commune(4))).to.deep.include({ firstJoinAt: null, onlineSec: 0, attendees: null });
    expect(r.speakers).to.deep.equal([
      {
        order: 1,
        itemId: 'khai-mac',
        itemTitle: 'Khai mạc',
        bridgeId: commune(1),
        bridgeName: 'Xã Số 1',
        speakerName: 'Hoàng Thị "Lan", Bí thư',
        speakerTitle: 'Chủ tịch HĐND xã',
        topic: 'Dòng 1, "Dòng 2"',
        startedAt: T0 + 2 * MIN,
        endedAt: T0 + 13 * MIN + 20_000,
        durationSec: 680,
        limitSec: 600,
        overrunSec: 80,
        endReason: 'revoked',
      },
    ]);
    expect(r.incidents.map((i) => [i.kind, i.bridgeId, i.at - T0])).to.deep.equal([
      ['late_join', commune(3), 2 * MIN],
      ['drop_out', commune(2), 13 * MIN + 20_000],
    ]);
    expect(r.items[0]).to.deep.equal({ itemId: 'khai-mac', title: 'Khai mạc', kind: 'opening', plannedMinutes: 10, elapsedSec: 920 });
    expect(r.items[1]!.elapsedSec).to.equal(0);
    // A hall that leaves after the end: its leave time is recorded, no incident.
    h.advance(MIN);
    h.run(system, { type: 'bridge_disconnected', bridgeId: commune(3) });
    const after = report(h.state);
    expect(after.attendance.find((a) => a.bridgeId === commune(3))).to.deep.include({ lastLeaveAt: T0 + 16 * MIN + 20_000, online: false, onlineSec: 860 });
    expect(after.incidents).to.have.length(2);
    // The report is plain JSON.
    expect(JSON.parse(JSON.stringify(r))).to.deep.equal(r);
  });

  it('CSV files have a header row, Vietnam local times and escaped cells', () => {
    const files = reportCsv(report(meeting().state));
    const speakers = files['speakers.csv'].split('\r\n');
    expect(speakers[0]).to.equal(
      'order,item_id,item_title,bridge_id,bridge_name,speaker_name,speaker_title,topic,started_at,ended_at,duration_sec,limit_sec,overrun_sec,end_reason',
    );
    expect(speakers[1]).to.equal(
      '1,khai-mac,Khai mạc,c-00001,Xã Số 1,"Hoàng Thị ""Lan"", Bí thư",Chủ tịch HĐND xã,"Dòng 1, ""Dòng 2""",' +
        '2021-11-26T08:02:00+07:00,2021-11-26T08:13:20+07:00,680,600,80,revoked',
    );
    expect(speakers.slice(2)).to.deep.equal(['']);

    const attendance = files['attendance.csv'].split('\r\n');
    expect(attendance[0]).to.equal(
      'bridge_id,tier,parent_id,name,first_join,last_leave,online_now,online_sec,sessions,late_join,drop_outs,ready,attendees',
    );
    expect(attendance).to.have.length(1 + 212 + 1);
    expect(attendance[1]).to.equal('p-20,province,,Tỉnh Lạng Sơn,2021-11-26T08:00:00+07:00,,true,920,1,false,0,false,');
    const c2 = attendance.find((l) => l.startsWith('c-00002,'));
    expect(c2).to.equal('c-00002,commune,d-178,Xã Số 2,2021-11-26T08:00:00+07:00,,true,860,2,false,1,false,');
    const c1 = attendance.find((l) => l.startsWith('c-00001,'));
    expect(c1).to.equal('c-00001,commune,d-178,Xã Số 1,2021-11-26T08:00:00+07:00,,true,920,1,false,0,true,18');
    expect(files['incidents.csv'].split('\r\n')[2]).to.equal('2021-11-26T08:13:20+07:00,drop_out,c-00002,Xã Số 2,dropped,1,2021-11-26T08:13:20+07:00');
    expect(files['programme.csv'].split('\r\n')[1]).to.equal('khai-mac,opening,Khai mạc,10,920');
  });

  it('CSV cells: quotes, commas, line breaks, formulas, empties; UTC offset and BOM options', () => {
    expect(csvCell('plain')).to.equal('plain');
    expect(csvCell('a,b')).to.equal('"a,b"');
    expect(csvCell('say "hi"')).to.equal('"say ""hi"""');
    expect(csvCell('x\r\ny')).to.equal('"x\r\ny"');
    expect(csvCell('=HYPERLINK("http://x")')).to.equal(`"'=HYPERLINK(""http://x"")"`);
    expect(csvCell('-1+1')).to.equal("'-1+1");
    expect(csvCell(null)).to.equal('');
    expect(csvCell(-5)).to.equal('-5');
    expect(csvCell(false)).to.equal('false');
    expect(csv([['a', 'b'], [1, null]])).to.equal('a,b\r\n1,\r\n');
    expect(formatTime(T0, 0)).to.equal('2021-11-26T01:00:00+00:00');
    expect(formatTime(T0, -90)).to.equal('2021-11-25T23:30:00-01:30');
    const files = reportCsv(report(meeting().state), { bom: true, utcOffsetMinutes: 0 });
    expect(files['speakers.csv'].startsWith('\uFEFForder,')).to.equal(true);
    expect(files['speakers.csv']).to.include(',2021-11-26T01:02:00+00:00,');
  });
});
