// A control instance of a deployment with several (DIEMCAU_CONTROL_URLS): the apps are handed the
// list, and the other instances' pages may call its REST (CORS for those origins only).
import { expect } from 'chai';
import type { RunningServer } from '../../server/app/server.ts';
import { startTestServer, tokenOf } from '../helpers/server.ts';

const OTHER = 'https://dk2.hdnd-langson.example';

describe('control URLs of a deployment: handed to the apps, CORS between the instances (real server)', function () {
  this.timeout(30_000);
  let server: RunningServer;

  before(async () => {
    server = await startTestServer(1, { controlUrls: ['https://dk1.hdnd-langson.example', OTHER] });
  });
  after(async () => {
    await server?.close();
  });

  it('/api/me hands the list to the apps', async () => {
    const me = (await (await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${await tokenOf(server, 'chair')}` } })).json()) as { controlUrls: string[] };
    expect(me.controlUrls).to.deep.equal(['https://dk1.hdnd-langson.example', OTHER]);
  });

  it('a page of another instance may call the REST with its token (preflight answered); any other origin gets no CORS header', async () => {
    const preflight = await fetch(`${server.url}/api/health`, { method: 'OPTIONS', headers: { origin: OTHER, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
    expect(preflight.status).to.equal(204);
    expect(preflight.headers.get('access-control-allow-origin')).to.equal(OTHER);
    expect(preflight.headers.get('access-control-allow-headers')).to.contain('authorization');
    const health = await fetch(`${server.url}/api/health`, { headers: { origin: OTHER, authorization: `Bearer ${await tokenOf(server, 'technician')}` } });
    expect([health.status, health.headers.get('access-control-allow-origin')]).to.deep.equal([200, OTHER]);
    const stranger = await fetch(`${server.url}/api/health`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(stranger.headers.get('access-control-allow-origin')).to.equal(null);
    const metrics = await fetch(`${server.url}/metrics`, { headers: { origin: OTHER, authorization: `Bearer ${await tokenOf(server, 'technician')}` } });
    expect(metrics.headers.get('access-control-allow-origin')).to.equal(OTHER);
    expect(await metrics.text()).to.match(/^diemcau_node_up\{node="local"\} 1$/m).and.match(/^diemcau_node_placed\{node="local"\} 0$/m);
  });
});
