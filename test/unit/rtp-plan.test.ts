// Hardware halls in the conference plan: the `rtp` block of a bridge, and the device sheet's SDP.
import { expect } from 'chai';
import { parsePlan, rtpEndpointOf, type PlanIssue } from '../../server/protocol/plan.ts';
import { ffmpegSendCommand, programmeSdp, sheetKey, type DeviceSheet } from '../../server/app/rtp-halls/DeviceSheet.ts';

function plan(commune: Record<string, unknown>): Record<string, unknown> {
  return {
    title: 'Hội nghị thử',
    organiser: 'Thường trực HĐND tỉnh Lạng Sơn',
    venue: 'Hội trường UBND tỉnh',
    bridges: [
      { id: 'p-20', tier: 'province', name: 'Tỉnh Lạng Sơn', parentId: null, code: '20' },
      { id: 'd-185', tier: 'district', name: 'Huyện Bắc Sơn', parentId: 'p-20', code: '185' },
      { id: 'c-06319', tier: 'commune', name: 'Thị trấn Bắc Sơn', parentId: 'd-185', code: '06319', ...commune },
    ],
  };
}

function errorsOf(input: unknown): PlanIssue[] {
  const result = parsePlan(input);
  if (result.ok) throw new Error('expected the plan to be refused');
  return result.errors;
}

describe('plan: hardware (RTP) halls', () => {
  it('a bridge is a browser hall by default; kind rtp without a block means SRTP and the address given later', () => {
    const browser = parsePlan(plan({}));
    expect(browser.ok && browser.plan.bridges[2]!.kind).to.equal('browser');
    expect(browser.ok && rtpEndpointOf(browser.plan.bridges[2]!)).to.equal(null);
    const rtp = parsePlan(plan({ kind: 'rtp' }));
    expect(rtp.ok && rtpEndpointOf(rtp.plan.bridges[2]!)).to.deep.equal({ srtp: true, videoCodec: 'VP8' });
  });

  it('takes the rtp block: SRTP on or off, where the device receives the programme', () => {
    const parsed = parsePlan(plan({ kind: 'rtp', rtp: { srtp: false, videoCodec: 'H264', receive: { ip: '10.20.0.15', audioPort: 5004, videoPort: 5006 } } }));
    expect(parsed.ok, JSON.stringify(parsed)).to.equal(true);
    expect(parsed.ok && rtpEndpointOf(parsed.plan.bridges[2]!)).to.deep.equal({ srtp: false, videoCodec: 'H264', receive: { ip: '10.20.0.15', audioPort: 5004, videoPort: 5006 } });
  });

  it('refuses a wrong rtp block with the path of each field and a Vietnamese message', () => {
    expect(errorsOf(plan({ rtp: { srtp: true } }))).to.deep.equal([
      { path: 'bridges.2.rtp', message: 'Khối "rtp" chỉ dùng cho điểm cầu có kind: rtp (thiết bị phần cứng)' },
    ]);
    const wrong = errorsOf(plan({ kind: 'rtp', rtp: { srtp: 'yes', videoCodec: 'H265', receive: { ip: 'hall.local', audioPort: 80, videoPort: 70000 } } }));
    expect(wrong.map((e) => e.path)).to.deep.equal(['bridges.2.rtp.srtp', 'bridges.2.rtp.videoCodec', 'bridges.2.rtp.receive.ip', 'bridges.2.rtp.receive.audioPort', 'bridges.2.rtp.receive.videoPort']);
    expect(wrong[1]!.message).to.equal('videoCodec là "VP8" hoặc "H264"');
    expect(wrong[2]!.message).to.equal('Địa chỉ nhận của thiết bị phải là địa chỉ IPv4 (ví dụ "10.20.0.15")');
    expect(wrong[3]!.message).to.equal('Cổng nhận âm thanh phải từ 1024 đến 65535');
    expect(errorsOf(plan({ kind: 'rtp', rtp: { receive: { ip: '10.0.0.1', audioPort: 5004, videoPort: 5004 } } }))).to.deep.equal([
      { path: 'bridges.2.rtp.receive.videoPort', message: 'Cổng nhận âm thanh và cổng nhận hình ảnh phải khác nhau' },
    ]);
    expect(errorsOf(plan({ kind: 'rtp', rtp: { srtp: true, port: 5004 } })).map((e) => e.path)).to.deep.equal(['bridges.2.rtp.port']);
  });
});

describe('device sheet: the programme SDP and the ffmpeg command', () => {
  const opus = { name: 'opus', payloadType: 100, clockRate: 48000, channels: 2, fmtp: 'minptime=10;useinbandfec=1' };
  const vp8 = { name: 'VP8', payloadType: 101, clockRate: 90000, fmtp: '' };
  const key = sheetKey('AES_CM_128_HMAC_SHA1_80', 'QUJD');
  const sheet = (srtp: boolean, ip: string | null): Pick<DeviceSheet, 'bridgeId' | 'receive' | 'send'> => ({
    bridgeId: 'c-06319',
    send: { ip: '203.0.113.5', audio: { port: 41000, codec: opus, ssrc: 111 }, video: { port: 41002, codec: vp8, ssrc: 222 }, srtp: srtp ? key : null },
    receive: { ip, fromIp: '203.0.113.5', audio: { port: ip ? 5004 : null, codecs: [opus], srtp: srtp ? key : null }, video: { port: ip ? 5006 : null, codecs: [vp8], srtp: srtp ? key : null } },
  });

  it('describes what the device receives on its ports, with a=crypto per stream under SRTP', () => {
    expect(programmeSdp(sheet(true, '10.20.0.15'))).to.equal(
      [
        'v=0',
        'o=- 0 0 IN IP4 203.0.113.5',
        's=diemcau programme c-06319',
        'c=IN IP4 10.20.0.15',
        't=0 0',
        'm=audio 5004 RTP/SAVP 100',
        'a=rtpmap:100 opus/48000/2',
        'a=fmtp:100 minptime=10;useinbandfec=1',
        'a=rtcp-mux',
        'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJD',
        'a=recvonly',
        'm=video 5006 RTP/SAVP 101',
        'a=rtpmap:101 VP8/90000',
        'a=rtcp-mux',
        'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUJD',
        'a=recvonly',
        '',
      ].join('\r\n'),
    );
    expect(programmeSdp(sheet(false, '10.20.0.15'))).to.contain('m=video 5006 RTP/AVP 101').and.not.contain('a=crypto');
    expect(programmeSdp(sheet(false, null))).to.equal(null);
  });

  it('gives an ffmpeg command with the sheet\'s ports, payload types, SSRCs and key', () => {
    const cmd = ffmpegSendCommand(sheet(true, null));
    expect(cmd).to.contain('-payload_type 101 -ssrc 222 -f rtp -srtp_out_suite AES_CM_128_HMAC_SHA1_80 -srtp_out_params QUJD "srtp://203.0.113.5:41002?rtcpport=41002&pkt_size=1200"');
    expect(cmd).to.contain('-payload_type 100 -ssrc 111 -f rtp');
    expect(ffmpegSendCommand(sheet(false, null))).to.contain('"rtp://203.0.113.5:41000?rtcpport=41000').and.not.contain('srtp');
  });
});
