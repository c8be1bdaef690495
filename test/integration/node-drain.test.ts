// The technicians' drain command (npm run node:drain, REST /api/nodes/:id/drain) against a real
// server whose placement reads a registry of media nodes (records written by the test stand in
// for media nodes): it marks the node, takes the mark off, and refuses what it must.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningServer } from '../../server/app/server.ts';
import { MemoryNodeRegistry } from '../../server/store/index.ts';
import { startTestServer, tokenOf } from '../helpers/server.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('drain a media node: npm run node:drain and its REST call (registry records stand in for media nodes)', function () {
  this.timeout(60_000);
  let server: RunningServer;
  let registry: MemoryNodeRegistry;

  before(async () => {
    registry = new MemoryNodeRegistry();
    await registry.announce(
      { nodeId: 'vt-bac-son', mediaUrl: 'https://media1.example:4443', nodeApiUrl: 'http://10.0.0.2:4444', announcedIp: '10.0.0.2', workers: 2, load: { peers: 0, consumers: 0, cpu: 0 }, capacity: 100, labels: {}, draining: false, startedAt: 1, renewedAt: 1 },
      600_000,
    );
    server = await startTestServer(1, {}, { nodes: registry });
  });
  after(async () => {
    await server?.close();
    await registry?.close();
  });

  /** Runs the command as a technician would (asynchronously: the server answers from this process); its exit code and output. */
  const drain = async (args: string[], token?: string): Promise<{ code: number | null; out: string }> => {
    const env = { ...process.env, DIEMCAU_URL: server.url, DIEMCAU_TOKEN: token ?? (await tokenOf(server, 'technician')) };
    return new Promise((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'scripts/node-drain.ts', ...args], { cwd: ROOT, env }, (error, stdout, stderr) => {
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
      });
    });
  };
  const marked = async (): Promise<boolean> => (await server.stores.placements.drainingNodes(server.conference.conferenceId)).has('vt-bac-son');

  it('marks the node draining, and --undo takes the mark off; the panel says so', async () => {
    const on = await drain(['vt-bac-son']);
    expect(on.code, on.out).to.equal(0);
    expect(on.out).to.contain('Đang chuyển lần lượt các điểm cầu khỏi máy chủ media vt-bac-son');
    expect(await marked()).to.equal(true);
    expect(server.conference.placement.nodes().find((n) => n.nodeId === 'vt-bac-son')).to.include({ draining: true, drainMarked: true });
    const off = await drain(['vt-bac-son', '--undo']);
    expect(off.code, off.out).to.equal(0);
    expect(await marked()).to.equal(false);
  });

  it('refuses an unknown node (404 unknown_node), another role (403), a bad body (400); nothing changes', async () => {
    const unknown = await drain(['vt-khong-co']);
    expect(unknown.code).to.equal(1);
    expect(unknown.out).to.contain('404 unknown_node');
    const chair = await drain(['vt-bac-son'], await tokenOf(server, 'chair'));
    expect(chair.out).to.contain('403 forbidden');
    const tech = await tokenOf(server, 'technician');
    const bad = await fetch(`${server.url}/api/nodes/vt-bac-son/drain`, { method: 'POST', headers: { authorization: `Bearer ${tech}`, 'content-type': 'application/json' }, body: '{"draining":"yes"}' });
    expect([bad.status, ((await bad.json()) as { error: { code: string } }).error.code]).to.deep.equal([400, 'invalid_payload']);
    expect(await marked()).to.equal(false);
    const usage = await drain([]);
    expect(usage.code).to.equal(2);
  });

  it('a one-server deployment (no registry) has nothing to drain: 409 not_clustered', async () => {
    const single = await startTestServer(1);
    try {
      const res = await fetch(`${single.url}/api/nodes/local/drain`, { method: 'POST', headers: { authorization: `Bearer ${await tokenOf(single, 'technician')}`, 'content-type': 'application/json' }, body: '{"draining":true}' });
      expect([res.status, ((await res.json()) as { error: { code: string } }).error.code]).to.deep.equal([409, 'not_clustered']);
      const nodes = (await (await fetch(`${single.url}/api/nodes`, { headers: { authorization: `Bearer ${await tokenOf(single, 'technician')}` } })).json()) as { mode: string; nodes: { nodeId: string }[] };
      expect([nodes.mode, nodes.nodes.map((n) => n.nodeId)]).to.deep.equal(['local', ['local']]);
    } finally {
      await single.close();
    }
  });
});
