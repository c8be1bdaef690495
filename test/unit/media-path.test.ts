import { expect } from 'chai';
import { mediaPathOf, readingFromReports, reportOf } from '../../client/shared/linkReporter.ts';
import { ClientLinkReport } from '../../server/protocol/control.ts';

/** A transport's statistics as Chromium gives them: the selected pair and its local candidate. */
function report(local: Record<string, unknown>): RTCStatsReport {
  const stats = new Map<string, Record<string, unknown>>([
    ['T1', { id: 'T1', type: 'transport', selectedCandidatePairId: 'CP1' }],
    ['CP1', { id: 'CP1', type: 'candidate-pair', state: 'succeeded', nominated: true, localCandidateId: 'L1', remoteCandidateId: 'R1' }],
    ['L1', { id: 'L1', type: 'local-candidate', ...local }],
    ['R1', { id: 'R1', type: 'remote-candidate', candidateType: 'host', protocol: local.protocol }],
  ]);
  return stats as unknown as RTCStatsReport;
}

describe('how a hall\'s media goes, from its selected candidate pair', () => {
  it('host over UDP or TCP; relay by the protocol to the TURN server', () => {
    expect(mediaPathOf(report({ candidateType: 'host', protocol: 'udp' }))).to.equal('udp');
    expect(mediaPathOf(report({ candidateType: 'prflx', protocol: 'tcp', tcpType: 'active' }))).to.equal('tcp');
    expect(mediaPathOf(report({ candidateType: 'relay', protocol: 'udp', relayProtocol: 'tls' }))).to.equal('turn-tls');
    expect(mediaPathOf(report({ candidateType: 'relay', protocol: 'udp', relayProtocol: 'tcp' }))).to.equal('turn-tcp');
    expect(mediaPathOf(report({ candidateType: 'relay', protocol: 'udp', relayProtocol: 'udp' }))).to.equal('turn-udp');
    expect(mediaPathOf(new Map() as unknown as RTCStatsReport)).to.equal(null);
  });

  it('the least direct of the two transports is the hall\'s path, and the report carries it', () => {
    const reading = readingFromReports(report({ candidateType: 'host', protocol: 'udp' }), report({ candidateType: 'relay', protocol: 'udp', relayProtocol: 'tcp' }), null);
    expect(reading.mediaPath).to.equal('turn-tcp');
    const sent = reportOf(null, reading);
    expect(sent.mediaPath).to.equal('turn-tcp');
    expect(ClientLinkReport.safeParse(sent).success).to.equal(true);
    expect(ClientLinkReport.safeParse({ ...sent, mediaPath: 'carrier-pigeon' }).success).to.equal(false);
    expect(readingFromReports(null, null, null).mediaPath).to.equal(null);
  });
});
