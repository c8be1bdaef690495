// Weak links across media nodes (issues 13 and 17): the pure book that merges every node's list
// of halls without video (server/core/weak-links.ts), the message that carries it (zod), the
// control plane's feed that takes it from the links channel (live nodes only; a node that goes
// takes its list with it), and the node's publisher (a change goes at once, every sample carries
// the whole list). In-memory channel and registry, fake clock; the node's publisher runs with a
// stand-in session (an EventEmitter with the session's four members it reads), not mediasoup.
import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import { AudioOnlyBook, mergeAudioOnly, mergeLevels, NodeBook, sameLevels, type HallLevel } from '../../../server/core/weak-links.ts';
import { FakeClock } from '../../../server/core/conference/clock.ts';
import { LinkSampleMessage, type MediaNodeRecord } from '../../../server/protocol/cluster.ts';
import { LinkSampleFeed } from '../../../server/app/LinkSampleFeed.ts';
import { publishLinkSamples } from '../../../server/app/media-node/link-samples.ts';
import { MemoryLinkChannel, MemoryNodeRegistry } from '../../../server/store/index.ts';
import type { MediaSession } from '../../../sfu/index.ts';

const CONF = 'weak-links';
const HALLS = ['p-20', 'd-178', 'c-05971', 'c-05974'];
const known = (id: string): boolean => HALLS.includes(id);
const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

function record(nodeId: string): MediaNodeRecord {
  return {
    nodeId,
    mediaUrl: `https://${nodeId}.example:4443`,
    nodeApiUrl: `http://${nodeId}.internal:4444`,
    announcedIp: '10.0.0.1',
    workers: 1,
    load: { peers: 0, consumers: 0, cpu: 0 },
    capacity: 100,
    labels: {},
    draining: false,
    startedAt: 0,
    renewedAt: 0,
  };
}

describe('Weak links across media nodes', () => {
  describe('AudioOnlyBook (pure)', () => {
    it('merges the nodes\' lists (a hall on two nodes at once: either one\'s word per direction), drops unknown halls and flag-less entries', () => {
      const book = new AudioOnlyBook(known);
      expect(book.take('a', [{ bridgeId: 'c-05971', up: true, down: false }, { bridgeId: 'x-unknown', up: true, down: true }, { bridgeId: 'd-178', up: false, down: false }], 1)).to.deep.equal([
        { bridgeId: 'c-05971', up: true, down: false },
      ]);
      expect(book.take('b', [{ bridgeId: 'c-05971', up: false, down: true }], 2)).to.deep.equal([{ bridgeId: 'c-05971', up: true, down: true }]);
      // The same word again: nothing to tell.
      expect(book.take('b', [{ bridgeId: 'c-05971', up: false, down: true }], 3)).to.equal(null);
      expect(book.of('c-05971')).to.deep.equal({ bridgeId: 'c-05971', up: true, down: true });
      expect(book.of('p-20')).to.deep.equal({ bridgeId: 'p-20', up: false, down: false });
    });

    it('a node\'s new list replaces its last one; a node dropped or stale takes its halls with it', () => {
      const book = new AudioOnlyBook(known);
      book.take('a', [{ bridgeId: 'c-05971', up: true, down: false }], 1000);
      book.take('b', [{ bridgeId: 'd-178', up: true, down: true }], 1000);
      expect(book.take('a', [], 1500)).to.deep.equal([{ bridgeId: 'd-178', up: true, down: true }]);
      book.take('a', [{ bridgeId: 'c-05974', up: false, down: true }], 2000);
      expect(book.drop('b')).to.deep.equal([{ bridgeId: 'c-05974', up: false, down: true }]);
      expect(book.drop('b'), 'a node dropped twice').to.equal(null);
      expect(book.expire(7900, 6000), 'heard 5.9 s ago: still stands').to.equal(null);
      expect(book.expire(8001, 6000)).to.deep.equal([]);
      expect(book.nodes()).to.deep.equal([]);
    });

    it('mergeLevels: every node\'s halls, loudest first; a hall heard on two nodes at once counts once, at its louder level', () => {
      expect(mergeLevels([[{ bridgeId: 'c-05971', dBov: -30 }, { bridgeId: 'p-20', dBov: -40 }], [{ bridgeId: 'd-178', dBov: -12 }, { bridgeId: 'c-05971', dBov: -25 }]])).to.deep.equal([
        { bridgeId: 'd-178', dBov: -12 },
        { bridgeId: 'c-05971', dBov: -25 },
        { bridgeId: 'p-20', dBov: -40 },
      ]);
    });

    it('NodeBook (levels): each node\'s latest word, merged; told only when the merge changes; a node dropped or stale takes its word with it', () => {
      const book = new NodeBook<HallLevel[], HallLevel[]>(mergeLevels, sameLevels);
      expect(book.merged).to.deep.equal([]);
      expect(book.take('a', [{ bridgeId: 'c-1', dBov: -30 }], 0)).to.deep.equal([{ bridgeId: 'c-1', dBov: -30 }]);
      expect(book.take('b', [{ bridgeId: 'c-1', dBov: -40 }, { bridgeId: 'c-2', dBov: -20 }], 100)).to.deep.equal([{ bridgeId: 'c-2', dBov: -20 }, { bridgeId: 'c-1', dBov: -30 }]);
      expect(book.take('b', [{ bridgeId: 'c-2', dBov: -20 }, { bridgeId: 'c-1', dBov: -41 }], 200), 'the same merge: not told').to.equal(null);
      expect(book.drop('x'), 'a node it never heard').to.equal(null);
      expect(book.expire(6000, 6000), 'node a heard at 0: not stale at 6000').to.equal(null);
      expect(book.expire(6001, 6000)).to.deep.equal([{ bridgeId: 'c-2', dBov: -20 }, { bridgeId: 'c-1', dBov: -41 }]);
      expect(book.nodes()).to.deep.equal(['b']);
      expect(book.drop('b')).to.deep.equal([]);
      expect(book.merged).to.deep.equal([]);
    });

    it('mergeAudioOnly sorts by hall', () => {
      expect(mergeAudioOnly([[{ bridgeId: 'p-20', up: true, down: false }], [{ bridgeId: 'c-05971', up: false, down: true }]]).map((h) => h.bridgeId)).to.deep.equal(['c-05971', 'p-20']);
    });
  });

  describe('the message (zod)', () => {
    const base = { nodeId: 'node1', at: 1, links: {} };
    it('takes a node\'s list, and a sample without one (a node of an older version)', () => {
      expect(LinkSampleMessage.safeParse({ ...base, audioOnly: [{ bridgeId: 'c-05971', up: true, down: false }] }).success).to.equal(true);
      expect(LinkSampleMessage.safeParse({ ...base, audioOnly: [] }).success).to.equal(true);
      expect(LinkSampleMessage.safeParse(base).success).to.equal(true);
    });
    for (const [what, audioOnly] of [
      ['a flag that is not a boolean', [{ bridgeId: 'c-05971', up: 'yes', down: false }]],
      ['an entry with no flag set', [{ bridgeId: 'c-05971', up: false, down: false }]],
      ['a hall twice', [{ bridgeId: 'c-05971', up: true, down: false }, { bridgeId: 'c-05971', up: false, down: true }]],
      ['an unknown key', [{ bridgeId: 'c-05971', up: true, down: false, admin: true }]],
      ['a bridge id of 41 characters', [{ bridgeId: 'x'.repeat(41), up: true, down: false }]],
      ['not a list', { 'c-05971': { up: true } }],
    ] as const) {
      it(`refuses ${what}`, () => {
        expect(LinkSampleMessage.safeParse({ ...base, audioOnly }).success).to.equal(false);
      });
    }
    for (const [what, levels] of [
      ['a level above 0 dBov', [{ bridgeId: 'c-05971', dBov: 3 }]],
      ['a level that is not whole', [{ bridgeId: 'c-05971', dBov: -20.5 }]],
      ['a level without its hall', [{ dBov: -20 }]],
    ] as const) {
      it(`refuses levels with ${what}`, () => {
        expect(LinkSampleMessage.safeParse({ ...base, levels }).success).to.equal(false);
      });
    }
    it('refuses a list from a node id that is not one', () => {
      expect(LinkSampleMessage.safeParse({ ...base, nodeId: 'node 1; DROP', audioOnly: [] }).success).to.equal(false);
    });
  });

  describe('LinkSampleFeed (the control plane)', () => {
    let channel: MemoryLinkChannel;
    let nodes: MemoryNodeRegistry;
    let clock: FakeClock;
    let feed: LinkSampleFeed;
    let told: { bridgeId: string; up: boolean; down: boolean }[][];
    let problems: string[];

    beforeEach(async () => {
      clock = new FakeClock(10_000);
      channel = new MemoryLinkChannel();
      nodes = new MemoryNodeRegistry(clock);
      await nodes.announce(record('node1'), 3000);
      await nodes.announce(record('node2'), 3000);
      problems = [];
      feed = await LinkSampleFeed.start(channel, CONF, { clock, bridgeIds: HALLS, nodes, staleMs: 6000, problem: (m) => problems.push(m) });
      told = [];
      feed.on('audioonly', (halls) => told.push(halls));
    });
    afterEach(async () => {
      await feed.close();
      await nodes.close();
      await channel.close();
    });

    it('a live node\'s list is told; a list from a node the registry does not hold changes nothing and is logged once', async () => {
      await channel.publishLinks(CONF, { nodeId: 'node2', at: 1, links: {}, audioOnly: [{ bridgeId: 'c-05971', up: true, down: false }] });
      await flush();
      expect(told).to.deep.equal([[{ bridgeId: 'c-05971', up: true, down: false }]]);
      for (let i = 0; i < 2; i++) await channel.publishLinks(CONF, { nodeId: 'node9', at: 1, links: {}, audioOnly: [{ bridgeId: 'd-178', up: true, down: true }] });
      await flush();
      expect(told).to.have.length(1);
      expect(feed.audioOnlyOf('d-178')).to.deep.equal({ bridgeId: 'd-178', up: false, down: false });
      expect(problems).to.deep.equal(['weak links or levels from a node that is not live refused: node9']);
    });

    it('levels: every live node\'s, merged and told when they change; a forged node\'s refused; a dead node\'s gone at once', async () => {
      const levels: { bridgeId: string; dBov: number }[][] = [];
      feed.on('levels', (l) => levels.push(l));
      await channel.publishLinks(CONF, { nodeId: 'node1', at: 1, links: {}, levels: [{ bridgeId: 'p-20', dBov: -30 }] });
      await channel.publishLinks(CONF, { nodeId: 'node2', at: 1, links: {}, levels: [{ bridgeId: 'c-05971', dBov: -20 }, { bridgeId: 'x-unknown', dBov: -5 }] });
      await channel.publishLinks(CONF, { nodeId: 'node2', at: 2, links: {}, audioOnly: [] });
      await channel.publishLinks(CONF, { nodeId: 'node9', at: 1, links: {}, levels: [{ bridgeId: 'd-178', dBov: -3 }] });
      await flush();
      expect(levels).to.deep.equal([
        [{ bridgeId: 'p-20', dBov: -30 }],
        [{ bridgeId: 'c-05971', dBov: -20 }, { bridgeId: 'p-20', dBov: -30 }],
      ]);
      await nodes.withdraw('node2');
      await flush();
      expect(levels.at(-1)).to.deep.equal([{ bridgeId: 'p-20', dBov: -30 }]);
    });

    it('a node whose lease ends takes its list with it, at once; the other node\'s stays', async () => {
      await channel.publishLinks(CONF, { nodeId: 'node1', at: 1, links: {}, audioOnly: [{ bridgeId: 'p-20', up: false, down: true }] });
      await channel.publishLinks(CONF, { nodeId: 'node2', at: 1, links: {}, audioOnly: [{ bridgeId: 'c-05971', up: true, down: false }] });
      await flush();
      expect(feed.audioOnly().map((h) => h.bridgeId)).to.deep.equal(['c-05971', 'p-20']);
      await nodes.withdraw('node2');
      await flush();
      expect(told.at(-1)).to.deep.equal([{ bridgeId: 'p-20', up: false, down: true }]);
      // A message of the dead node still on its way changes nothing.
      await channel.publishLinks(CONF, { nodeId: 'node2', at: 2, links: {}, audioOnly: [{ bridgeId: 'c-05971', up: true, down: false }] });
      await flush();
      expect(feed.audioOnlyOf('c-05971').up).to.equal(false);
    });

    it('a node that stops telling (its lease kept, its conference gone quietly) loses its list after staleMs', async () => {
      await channel.publishLinks(CONF, { nodeId: 'node1', at: 1, links: {}, audioOnly: [{ bridgeId: 'p-20', up: true, down: true }] });
      await flush();
      await nodes.announce({ ...record('node1'), renewedAt: 1 }, 60_000);
      clock.increment(5000);
      expect(feed.audioOnlyOf('p-20').up, 'after 5 s').to.equal(true);
      clock.increment(2000);
      expect(feed.audioOnlyOf('p-20').up, 'after 7 s').to.equal(false);
      expect(told.at(-1)).to.deep.equal([]);
    });
  });

  describe('publishLinkSamples (a media node; a stand-in session, not mediasoup)', () => {
    it('a change goes at once as the whole list (the changes of one tick in one message); every sample carries the list; who is heard goes at once too; the last message empties both', async () => {
      const clock = new FakeClock(0);
      const channel = new MemoryLinkChannel();
      const heard: LinkSampleMessage[] = [];
      await channel.watchLinks(CONF, (m) => heard.push(m));
      let list: { bridgeId: string; up: boolean; down: boolean }[] = [];
      const session = Object.assign(new EventEmitter(), {
        closed: false,
        audioOnly: () => list,
        linkCounters: async () => null,
      }) as unknown as MediaSession;
      const stop = publishLinkSamples({ conferenceId: CONF, nodeId: 'node1', session, bridgeIds: HALLS, links: channel, clock, intervalMs: 2000, problem: () => undefined });

      list = [{ bridgeId: 'c-05971', up: true, down: false }, { bridgeId: 'd-178', up: false, down: true }];
      session.emit('audioonly', { bridgeId: 'c-05971', up: true, down: false });
      session.emit('audioonly', { bridgeId: 'd-178', up: false, down: true });
      await flush();
      expect(heard, 'one message for the two changes of one tick, no timer moved').to.deep.equal([{ nodeId: 'node1', at: 0, links: {}, audioOnly: list }]);

      clock.increment(2000);
      await flush();
      expect(heard).to.have.length(2);
      expect(heard[1]!.audioOnly, 'the periodic sample carries the whole list (no counters: halls without a peer)').to.deep.equal(list);

      // Who is heard: at once, alone; then in the samples too.
      session.emit('audiolevels', { levels: [{ bridgeId: 'c-05971', dBov: -20.4 }] });
      await flush();
      expect(heard[2]).to.deep.equal({ nodeId: 'node1', at: 2000, links: {}, levels: [{ bridgeId: 'c-05971', dBov: -20 }] });
      clock.increment(2000);
      await flush();
      expect(heard[3]).to.deep.include({ audioOnly: list, levels: [{ bridgeId: 'c-05971', dBov: -20 }] });
      session.emit('audiolevels', { levels: [] });
      list = [];
      clock.increment(2000);
      await flush();
      expect(heard, 'no counters, nothing audio only, silence: nothing more to say').to.have.length(5);
      stop();
      await flush();
      expect(heard.at(-1)).to.deep.include({ nodeId: 'node1', links: {}, audioOnly: [], levels: [] });
      session.emit('audioonly', { bridgeId: 'c-05971', up: true, down: false });
      clock.increment(4000);
      await flush();
      expect(heard, 'stopped: nothing more').to.have.length(6);
      await channel.close();
    });
  });
});
