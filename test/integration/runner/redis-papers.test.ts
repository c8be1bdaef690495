// Papers and the content on screen through redis: what one server instance records (a checked
// paper's metadata, the page on screen) the other instance has, and its runner tells whatever
// follows the content (the programme output, the SFU) with a 'content' event.
import { expect } from 'chai';
import { ConferenceRunner, type ContentChange } from '../../../server/app/conference/ConferenceRunner.ts';
import { FakeClock, type Actor } from '../../../server/core/conference/index.ts';
import { RedisStore } from '../../../server/store/index.ts';
import { freshConferenceId, planWith, run, startMeeting, startRunner, T0 } from '../../unit/store/helpers.ts';
import { startRedisServer, type RedisServer } from '../store/redis-server.ts';

const SPEAKER = 'c-06010';
const SLOT = 'tham-luan-cap-xa.c-06010';
const secretary: Actor = { role: 'secretary' };

describe('papers and the content on screen across two runners on redis (real redis-server)', function () {
  this.timeout(20_000);
  let redis: RedisServer;
  const stores: RedisStore[] = [];
  const runners: ConferenceRunner[] = [];
  const clock = new FakeClock(T0);
  const id = freshConferenceId('papers');

  async function process_(): Promise<ConferenceRunner> {
    const store = await RedisStore.create({ url: redis.url });
    stores.push(store);
    const runner = await startRunner(store, clock, id, planWith());
    runners.push(runner);
    return runner;
  }

  const settled = async (rs: ConferenceRunner[], check: () => boolean): Promise<void> => {
    const until = Date.now() + 3000;
    while (!check()) {
      if (Date.now() > until) throw new Error('runners did not converge');
      await Promise.all(rs.map((r) => r.idle()));
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  before(async () => {
    redis = await startRedisServer();
  });
  after(async () => {
    for (const r of runners) await r.close();
    await stores.find((s) => !s.closed)?.drop(id);
    for (const s of stores) await s.close();
    await redis?.stop();
  });

  it("a paper recorded on A is on B; A's page turns reach B's 'content' event; a restarted instance has both", async () => {
    const a = await process_();
    const b = await process_();
    const seenOnB: ContentChange[] = [];
    b.on('content', (c) => seenOnB.push(c));
    await run(a, { role: 'operator', bridgeId: SPEAKER }, { type: 'paper_submit', slotId: SLOT, paperId: 'paperAAAAAAAAAAA', pages: 4, bytes: 9000, sha256: 'b'.repeat(64), fileName: 'tl.pdf' });
    await settled([a, b], () => b.state.papers?.[SLOT]?.length === 1);
    expect(b.state.papers![SLOT]![0]).to.deep.include({ paperId: 'paperAAAAAAAAAAA', pages: 4, late: true, by: { role: 'operator', bridgeId: SPEAKER } });

    await startMeeting(a, ['p-20', SPEAKER]);
    await run(a, secretary, { type: 'content_show', paperId: 'paperAAAAAAAAAAA' });
    await run(a, secretary, { type: 'content_page', page: 3 });
    await settled([a, b], () => b.state.content?.page === 3);
    // B reloads once or twice (show, turn): it reports the whole content each time, never a step it did not reach.
    expect(seenOnB.every((c) => c.origin === 'remote')).to.equal(true);
    expect([[3], [1, 3]]).to.deep.include(seenOnB.map((c) => c.content?.page));
    expect(seenOnB.at(-1)!.content).to.deep.include({ kind: 'document', paperId: 'paperAAAAAAAAAAA', page: 3, pages: 4, bridgeId: SPEAKER });

    const c = await process_();
    expect(c.state.papers![SLOT]).to.have.length(1);
    expect(c.state.content).to.deep.include({ paperId: 'paperAAAAAAAAAAA', page: 3 });
    await run(c, secretary, { type: 'content_clear' });
    await settled([a, b, c], () => a.state.content === null && b.state.content === null);
    expect(seenOnB.at(-1)).to.deep.equal({ content: null, origin: 'remote' });
    expect(b.state.showings).to.deep.equal([{ paperId: 'paperAAAAAAAAAAA', slotId: SLOT, bridgeId: SPEAKER, from: clock.now(), to: clock.now(), pages: [1, 3] }]);
  });
});
