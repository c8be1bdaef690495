// GET /metrics as Prometheus reads it: prom-client's exposition, base units (seconds, ratios,
// bytes per second), checked by Prometheus's own linter (`promtool check metrics`, Debian's
// prometheus package). Real server, real mediasoup worker; one hall's link reported by "its browser".
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import type { RunningServer } from '../../server/app/server.ts';
import { startTestServer, tokenOf } from '../helpers/server.ts';

const COMMUNE = 'c-06010';

/** Runs promtool check metrics on a text; its exit code and what it said. */
function promtool(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

describe('integration: /metrics (prom-client, promtool check metrics)', function () {
  this.timeout(30_000);
  let server: RunningServer;

  before(async () => {
    server = await startTestServer(1);
  });
  after(async () => {
    await server?.close();
  });

  it('passes promtool, in base units, with every bridge and the halls that never came as absent', async () => {
    await server.conference.bridgeConnected(COMMUNE);
    server.conference.health.reportFromClient(COMMUNE, { rttMs: 48, jitterMs: 12, lossDownPct: 1.5, lossUpPct: 0 });
    await server.conference.health.sampleAll();
    const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${await tokenOf(server, 'technician')}` } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const lint = await promtool(text);
    expect(lint.code, lint.output).to.equal(0);
    expect(lint.output.trim()).to.equal('');
    expect(text).to.contain('diemcau_bridge_rtt_seconds{bridge="c-06010",tier="commune",name="Xã Cao Minh"} 0.048');
    expect(text).to.contain('diemcau_bridge_jitter_seconds{bridge="c-06010",tier="commune",name="Xã Cao Minh"} 0.012');
    expect(text).to.contain('diemcau_bridge_loss_down_ratio{bridge="c-06010",tier="commune",name="Xã Cao Minh"} 0.015');
    expect(text).to.contain('diemcau_bridge_status{bridge="c-06010",tier="commune",name="Xã Cao Minh"} 0');
    expect(text).to.match(/^diemcau_bridges\{status="absent"\} 211$/m);
    expect(text).to.match(/^diemcau_bridges\{status="ok"\} 1$/m);
    expect(text).to.match(/^diemcau_worker_load\{worker="0"\} \d+$/m);
    expect(text).not.to.match(/_ms\b|_kbps\b|_percent\b/);
  });
});
