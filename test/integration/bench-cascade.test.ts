// bench:cascade's plumbing (issue 13), in its quick mode: 3 media node processes in network
// namespaces, a control instance and redis, 12 bridges fed by the native generator and sink,
// 2 switches across nodes, 2 SIGKILLs with restarts. What is checked is that the benchmark
// measures what it says, not its timing goals (those live in the benchmark): the tracks crossing
// between nodes are exactly those needed, each once per node; after each kill every hall of the
// killed node receives the programme again (through the placement's move); each switch reaches
// the halls on other nodes; and the verdict line agrees with the exit code.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { netRigSkipReason } from '../helpers/netns.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('bench:cascade --quick (3 media node processes in namespaces, 2 kills)', function () {
  this.timeout(180_000);

  it('measures the crossing tracks, the switches across nodes and each failover, and says whether it was valid', async function () {
    const skip = netRigSkipReason();
    if (skip) {
      console.warn(`skipped: ${skip}`);
      this.skip();
    }
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/cascade.ts', '--quick'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    const last = stdout.trim().split('\n').pop() ?? '';
    expect(code, `exit code (0 valid, 3 not valid)\n${stderr.slice(-3000)}`).to.be.oneOf([0, 3]);
    const out = JSON.parse(last) as Record<string, any>;
    expect(out.valid, 'the verdict agrees with the exit code').to.equal(code === 0);
    if (!out.valid) expect(out.invalid_reasons).to.be.an('array').that.is.not.empty;
    const f = out.valid ? out : out.not_valid_figures;
    expect(out.nodes).to.equal(3);
    expect(out.bridges).to.equal(12);
    expect(out.harness, 'the C generator and sink by default').to.equal('native');
    // The harness's headroom as bench:fanout measures it, per phase.
    expect(out.headroom).to.include.keys('window_sink_socket_drops', 'window_generator_socket_drops', 'window_sink_read_delay_p99_ms', 'window_generator_late_p99_ms', 'switches_sink_read_delay_p99_ms', 'failover_sink_socket_drops');
    expect(f.cpu_per_node_pct).to.have.length(3);
    expect(f.inter_node_tracks, 'tracks cross between the nodes').to.be.greaterThan(0);
    expect(f.inter_node_equals_producers_times_nodes, `crossing tracks ${f.inter_node_tracks} against needed ${f.inter_node_tracks_needed}`).to.equal(true);
    expect(f.inter_node_pps).to.be.greaterThan(0);
    expect(f.loss_pct).to.be.a('number');
    expect(f.sfu_socket_drops_by_kind, 'the nodes\' drops by kind of socket').to.be.an('object');
    expect(f.switches).to.equal(2);
    expect(f.switch_p95_ms, 'every switch reached the halls on other nodes').to.be.a('number');
    expect(f.kills).to.have.length(2);
    for (const k of f.kills as { node: string; halls: number; seconds: number | null }[]) {
      expect(k.halls, `${k.node} had halls`).to.be.greaterThan(0);
      expect(k.seconds, `the halls of ${k.node} receive the programme again; the harness said:\n${stderr.split('\n').filter((l) => l.startsWith('kill ') || l.includes('lease')).join('\n').slice(-4000)}`).to.be.a('number');
    }
    expect(f.failover_p95_s).to.be.a('number');
    expect(out.openssl_gcm_us_per_1200B === null || typeof out.openssl_gcm_us_per_1200B === 'number').to.equal(true);
  });
});
