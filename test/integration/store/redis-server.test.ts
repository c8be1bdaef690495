import { expect } from 'chai';
import { alive, startRedisServer } from './redis-server.ts';

describe('redis-server fixture', () => {
  it('fails with a clear message when redis-server is missing', async () => {
    let error: unknown;
    await startRedisServer({ binary: '/nonexistent/redis-server' }).catch((e) => (error = e));
    expect(String((error as Error)?.message)).to.match(/redis-server is required by the redis integration tests .*install it/);
  });

  it('starts a daemon on a loopback port and stops it by pid', async () => {
    const redis = await startRedisServer();
    expect(redis.url).to.equal(`redis://127.0.0.1:${redis.port}`);
    expect(alive(redis.pid)).to.equal(true);
    await redis.stop();
    await redis.stop();
    expect(alive(redis.pid)).to.equal(false);
  });
});
