// The roles of a process and a media node's settings in the configuration (issue 13): defaults
// that keep the embedded default as it was, and refusals that name the field.
import { expect } from 'chai';
import { NODE_ID_PATTERN } from '../../../server/protocol/cluster.ts';
import { loadConfig } from '../../../config/index.ts';
import { clusterOf, nodeIdOf, PEERS_PER_WORKER } from '../../../server/app/media-node/from-config.ts';

const SECRET = 's'.repeat(32);

describe('configuration of roles and media nodes', () => {
  it('defaults to both, alone: no node secret, no labels, no control URLs; no cluster without redis and a secret', () => {
    const config = loadConfig({});
    expect(config.role).to.equal('both');
    expect(config.nodeLabels).to.deep.equal({});
    expect(config.controlUrls).to.deep.equal([]);
    expect(clusterOf(config, 'http://127.0.0.1:3000', '127.0.0.1')).to.equal(undefined);
    expect(clusterOf(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }), 'http://127.0.0.1:3000', '127.0.0.1'), 'redis without a secret: alone').to.equal(undefined);
  });

  it('reads a media node\'s settings from the environment', () => {
    const config = loadConfig({
      DIEMCAU_ROLE: 'media',
      REDIS_URL: 'redis://10.0.0.5:6379',
      DIEMCAU_NODE_SECRET: SECRET,
      DIEMCAU_NODE_ID: 'vt-bac-son-1',
      DIEMCAU_NODE_LABELS: 'region=dong-bac, feed=yes',
      DIEMCAU_NODE_CAPACITY: '300',
      DIEMCAU_CONTROL_URLS: 'https://hop.langson.gov.vn, https://hop2.langson.gov.vn',
      DIEMCAU_WORKERS: '4',
    });
    expect(config.role).to.equal('media');
    expect(config.nodeLabels).to.deep.equal({ region: 'dong-bac', feed: 'yes' });
    expect(config.controlUrls).to.deep.equal(['https://hop.langson.gov.vn', 'https://hop2.langson.gov.vn']);
    expect(nodeIdOf(config, 3100, '203.0.113.9')).to.equal('vt-bac-son-1');
    const cluster = clusterOf(config, 'http://0.0.0.0:3100', '203.0.113.9')!;
    expect(cluster).to.deep.include({ mediaUrl: 'http://203.0.113.9:3100', nodeApiUrl: 'http://203.0.113.9:3100', announcedIp: '203.0.113.9', capacity: 300, secret: SECRET });
    expect(clusterOf({ ...config, nodeCapacity: undefined }, 'http://0.0.0.0:3100', '203.0.113.9')!.capacity).to.equal(4 * PEERS_PER_WORKER);
    expect(nodeIdOf(loadConfig({}), 3100, '203.0.113.9')).to.match(/^[A-Za-z0-9][A-Za-z0-9_.-]*-203\.0\.113\.9-3100$/);
  });

  it('without DIEMCAU_NODE_ID, two nodes on hosts that share a host name and a port (cloned machines) have different ids', () => {
    const ids = ['10.0.0.5', '10.0.0.6', '2001:db8::7'].map((ip) => nodeIdOf(loadConfig({}), 3000, ip));
    expect(new Set(ids).size).to.equal(3);
    for (const id of ids) expect(id).to.match(NODE_ID_PATTERN);
  });

  it('refuses a wrong setting with its field: a role, a short secret, labels, a split role without redis, a media node without a secret', () => {
    const refused = (env: Record<string, string>, field: string): void => {
      expect(() => loadConfig(env), JSON.stringify(env)).to.throw(field);
    };
    refused({ DIEMCAU_ROLE: 'sfu' }, 'role');
    refused({ DIEMCAU_NODE_SECRET: 'short' }, 'nodeSecret');
    refused({ DIEMCAU_NODE_LABELS: 'region' }, 'nodeLabels');
    refused({ DIEMCAU_NODE_LABELS: 'Region=x' }, 'nodeLabels');
    refused({ DIEMCAU_NODE_ID: 'bad id' }, 'nodeId');
    refused({ DIEMCAU_CONTROL_URLS: 'not a url' }, 'controlUrls');
    refused({ DIEMCAU_ROLE: 'control' }, 'needs REDIS_URL');
    refused({ DIEMCAU_ROLE: 'media', REDIS_URL: 'redis://x:1' }, 'DIEMCAU_NODE_SECRET');
  });
});
