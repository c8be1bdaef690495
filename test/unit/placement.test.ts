// The placement rules (server/core/placement.ts), table by table: affinity by labels, a district
// and its communes together, capacity, load, draining and lost nodes. Pure: no store, no clock.
import { expect } from 'chai';
import { drainMoves, movesOffLostNodes, place, placementRules, placeWithGroup } from '../../server/core/placement.ts';
import type { MediaNodeRecord, PlacementRecord } from '../../server/protocol/cluster.ts';
import { parsePlan, parsePlanOrThrow, type ConferencePlanInput } from '../../server/protocol/plan.ts';

const T = Date.UTC(2021, 10, 26, 1);

/** The province, two districts with two communes each (Thành phố Lạng Sơn, Tràng Định). */
function planOf(placement?: ConferencePlanInput['placement']): ReturnType<typeof parsePlanOrThrow> {
  return parsePlanOrThrow({
    title: 'Hội nghị giao ban',
    organiser: 'Thường trực HĐND tỉnh Lạng Sơn',
    venue: 'Hội trường UBND tỉnh',
    bridges: [
      { id: 'p-20', tier: 'province', name: 'Tỉnh Lạng Sơn', parentId: null, code: '20' },
      { id: 'd-178', tier: 'district', name: 'Thành phố Lạng Sơn', parentId: 'p-20', code: '178' },
      { id: 'c-05971', tier: 'commune', name: 'Phường Hoàng Văn Thụ', parentId: 'd-178', code: '05971' },
      { id: 'c-05974', tier: 'commune', name: 'Phường Tam Thanh', parentId: 'd-178', code: '05974' },
      { id: 'd-180', tier: 'district', name: 'Huyện Tràng Định', parentId: 'p-20', code: '180' },
      { id: 'c-05995', tier: 'commune', name: 'Thị trấn Thất Khê', parentId: 'd-180', code: '05995' },
      { id: 'c-05998', tier: 'commune', name: 'Xã Khánh Long', parentId: 'd-180', code: '05998' },
    ],
    ...(placement ? { placement } : {}),
  });
}

/** A live node record. */
function node(nodeId: string, o: Partial<MediaNodeRecord> & { cpu?: number; peers?: number } = {}): MediaNodeRecord {
  return {
    nodeId,
    mediaUrl: `https://${nodeId}.vt.example:4443`,
    nodeApiUrl: `http://${nodeId}.internal:4444`,
    announcedIp: '10.0.0.1',
    workers: o.workers ?? 2,
    load: { peers: o.peers ?? 0, consumers: 0, cpu: o.cpu ?? 0 },
    capacity: o.capacity ?? 100,
    labels: o.labels ?? {},
    draining: o.draining ?? false,
    startedAt: T,
    renewedAt: T,
  };
}

/** Placements from [peerKey, nodeId] pairs. */
function placed(...pairs: [string, string][]): Map<string, PlacementRecord> {
  return new Map(pairs.map(([peerKey, nodeId]) => [peerKey, { peerKey, nodeId, epoch: 1, at: T, reason: 'placed' as const }]));
}

describe('placement rules (pure)', () => {
  const plan = planOf();

  describe('place: one peer', () => {
    const cases: { name: string; nodes: MediaNodeRecord[]; placements: Map<string, PlacementRecord>; peer: string; want: string | null; plan?: ReturnType<typeof planOf> }[] = [
      { name: 'no node at all: nowhere', nodes: [], placements: placed(), peer: 'd-178', want: null },
      { name: 'one node: there', nodes: [node('a')], placements: placed(), peer: 'd-178', want: 'a' },
      { name: 'load: the node with fewer placements for its capacity', nodes: [node('a'), node('b')], placements: placed(['d-180', 'a']), peer: 'd-178', want: 'b' },
      { name: 'load is relative to capacity', nodes: [node('a', { capacity: 10 }), node('b', { capacity: 100 })], placements: placed(['x1', 'a'], ['x2', 'a'], ['y1', 'b'], ['y2', 'b'], ['y3', 'b']), peer: 'd-178', want: 'b' },
      { name: 'equal placements: less CPU per worker wins', nodes: [node('a', { cpu: 1.2 }), node('b', { cpu: 0.4 })], placements: placed(), peer: 'd-178', want: 'b' },
      { name: 'equal CPU: fewer peers connected wins', nodes: [node('a', { peers: 9 }), node('b', { peers: 3 })], placements: placed(), peer: 'd-178', want: 'b' },
      { name: 'all equal: the smallest node id (every instance decides the same)', nodes: [node('b'), node('a')], placements: placed(), peer: 'd-178', want: 'a' },
      { name: 'together: a commune follows its district', nodes: [node('a'), node('b')], placements: placed(['d-178', 'b'], ['d-180', 'a'], ['c-05995', 'a']), peer: 'c-05971', want: 'b' },
      { name: 'together: a district follows its communes', nodes: [node('a'), node('b')], placements: placed(['c-05971', 'b'], ['p-20', 'a']), peer: 'd-178', want: 'b' },
      { name: 'together: the chair goes with the province hall', nodes: [node('a'), node('b')], placements: placed(['p-20', 'b'], ['d-178', 'a']), peer: 'chair', want: 'b' },
      { name: 'together: the press console too', nodes: [node('a'), node('b')], placements: placed(['chair', 'a'], ['d-178', 'b'], ['d-180', 'b']), peer: 'viewer', want: 'a' },
      { name: 'together: the node with most of the group, though busier', nodes: [node('a'), node('b')], placements: placed(['chair', 'a'], ['secretary', 'b'], ['technician', 'b']), peer: 'viewer', want: 'b' },
      { name: 'together "none": load only', nodes: [node('a'), node('b')], placements: placed(['d-178', 'b'], ['d-180', 'a'], ['c-05995', 'a']), peer: 'c-05971', want: 'b', plan: planOf({ together: 'none' }) },
      { name: 'together "none": a commune does not follow its district', nodes: [node('a'), node('b')], placements: placed(['d-178', 'a'], ['d-180', 'b'], ['c-05995', 'b']), peer: 'c-05971', want: 'a', plan: planOf({ together: 'none' }) },
      { name: 'capacity: a full node takes nobody, even the group', nodes: [node('a', { capacity: 2 }), node('b')], placements: placed(['d-178', 'a'], ['c-05974', 'a']), peer: 'c-05971', want: 'b' },
      { name: 'capacity: every node full: nowhere', nodes: [node('a', { capacity: 1 }), node('b', { capacity: 1 })], placements: placed(['d-178', 'a'], ['d-180', 'b']), peer: 'c-05971', want: null },
      { name: 'capacity 0 takes nobody', nodes: [node('a', { capacity: 0 })], placements: placed(), peer: 'd-178', want: null },
      { name: 'draining: takes nobody new', nodes: [node('a', { draining: true }), node('b', { cpu: 2 })], placements: placed(['d-178', 'a']), peer: 'c-05971', want: 'b' },
      { name: 'draining only: nowhere', nodes: [node('a', { draining: true })], placements: placed(), peer: 'd-178', want: null },
      { name: 'stays where it is on a live node, even a busier one', nodes: [node('a', { cpu: 1.9 }), node('b')], placements: placed(['d-178', 'a']), peer: 'd-178', want: 'a' },
      { name: 'stays even when over capacity (the capacity was lowered)', nodes: [node('a', { capacity: 1 }), node('b')], placements: placed(['d-180', 'a'], ['d-178', 'a']), peer: 'd-178', want: 'a' },
      { name: 'on a draining node: moves', nodes: [node('a', { draining: true }), node('b')], placements: placed(['d-178', 'a']), peer: 'd-178', want: 'b' },
      { name: 'on a lost node: moves, its own old place not counted', nodes: [node('b'), node('c', { cpu: 1 })], placements: placed(['d-178', 'a']), peer: 'd-178', want: 'b' },
      { name: 'a lost node\'s group is not followed', nodes: [node('b'), node('c')], placements: placed(['d-178', 'a'], ['c-05974', 'c'], ['d-180', 'b']), peer: 'c-05971', want: 'c' },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(place(c.nodes, c.placements, c.peer, c.plan ?? plan)).to.equal(c.want);
      });
    }
  });

  describe('place: affinity by labels', () => {
    const labelled = planOf({
      affinity: [
        { bridges: ['d-180'], labels: { region: 'bac' } },
        { bridges: ['c-05971', 'p-20'], labels: { region: 'tp', site: 'vt-lang-son' } },
      ],
    });
    const north = node('north', { labels: { region: 'bac' } });
    const city = node('city', { labels: { region: 'tp', site: 'vt-lang-son' } });
    const cityOther = node('city2', { labels: { region: 'tp' } });
    const cases: { name: string; nodes: MediaNodeRecord[]; placements: Map<string, PlacementRecord>; peer: string; want: string | null }[] = [
      { name: 'a district goes to a node with its labels, though busier', nodes: [node('a'), { ...north, load: { peers: 50, consumers: 0, cpu: 1.5 } }], placements: placed(['x', 'north']), peer: 'd-180', want: 'north' },
      { name: 'its communes follow the district\'s rule', nodes: [node('a'), north], placements: placed(), peer: 'c-05998', want: 'north' },
      { name: 'a commune\'s own rule (its district has none)', nodes: [node('a'), north, city], placements: placed(['d-178', 'a']), peer: 'c-05971', want: 'city' },
      { name: 'every label must match', nodes: [cityOther, city], placements: placed(['y', 'city'], ['z', 'city']), peer: 'p-20', want: 'city' },
      { name: 'staff follow the province\'s rule', nodes: [node('a'), city], placements: placed(['q', 'city']), peer: 'secretary', want: 'city' },
      { name: 'labels before together: a commune goes to its labels though its district is elsewhere', nodes: [node('a'), city], placements: placed(['d-178', 'a']), peer: 'c-05971', want: 'city' },
      { name: 'no node with the labels: anywhere (soft), together still', nodes: [node('a'), node('b')], placements: placed(['c-05995', 'b'], ['y', 'a']), peer: 'd-180', want: 'b' },
      { name: 'the labelled node full: elsewhere', nodes: [node('a'), { ...north, capacity: 1 }], placements: placed(['d-180', 'north']), peer: 'c-05995', want: 'a' },
      { name: 'the labelled node draining: elsewhere', nodes: [node('a'), { ...north, draining: true }], placements: placed(), peer: 'd-180', want: 'a' },
      { name: 'a hall with no rule: load only', nodes: [north, node('a', { cpu: 1 })], placements: placed(), peer: 'd-178', want: 'north' },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(place(c.nodes, c.placements, c.peer, labelled)).to.equal(c.want);
      });
    }
  });

  describe('placeWithGroup: the first of a group brings the rest', () => {
    const moves = (nodes: MediaNodeRecord[], placements: Map<string, PlacementRecord>, peer: string, p = plan): [string, string | null][] =>
      placeWithGroup(nodes, placements, peer, p).map((m) => [m.peerKey, m.to]);

    it('a commune first: itself, then its district and the other commune, on one node', () => {
      expect(moves([node('a'), node('b', { cpu: 1 })], placed(), 'c-05974')).to.deep.equal([
        ['c-05974', 'a'],
        ['d-178', 'a'],
        ['c-05971', 'a'],
      ]);
    });

    it('the province hall brings the consoles; a console brings the province hall', () => {
      expect(moves([node('a')], placed(), 'chair').map(([k]) => k)).to.deep.equal(['chair', 'p-20', 'secretary', 'technician', 'viewer']);
    });

    it('members already on a live node stay (not moved); those on a lost node come along', () => {
      expect(moves([node('a'), node('b')], placed(['d-178', 'b'], ['c-05971', 'gone']), 'c-05974')).to.deep.equal([
        ['c-05974', 'b'],
        ['c-05971', 'b'],
      ]);
    });

    it('the node fills up: the rest spill to another; the peer itself nowhere: nothing at all', () => {
      expect(moves([node('a', { capacity: 2 }), node('b', { cpu: 1 })], placed(), 'd-178')).to.deep.equal([
        ['d-178', 'a'],
        ['c-05971', 'a'],
        ['c-05974', 'b'],
      ]);
      expect(moves([node('a', { capacity: 0 })], placed(), 'd-178')).to.deep.equal([]);
    });

    it('together "none": the peer alone', () => {
      expect(moves([node('a')], placed(), 'c-05974', planOf({ together: 'none' }))).to.deep.equal([['c-05974', 'a']]);
      expect(placementRules(planOf({ together: 'none' })).groupOf('chair')).to.equal('chair');
    });
  });

  describe('movesOffLostNodes: every peer of a node that is gone', () => {
    it('moves each peer of the lost node once, a district with its communes, within capacity', () => {
      const nodes = [node('b', { capacity: 4 }), node('c', { capacity: 4 })];
      const placements = placed(['d-178', 'a'], ['c-05971', 'a'], ['c-05974', 'a'], ['d-180', 'a'], ['c-05995', 'a'], ['c-05998', 'b'], ['p-20', 'c'], ['chair', 'c']);
      const moves = movesOffLostNodes(nodes, placements, plan);
      expect(moves.map((m) => m.peerKey).sort()).to.deep.equal(['c-05971', 'c-05974', 'c-05995', 'd-178', 'd-180']);
      const to = new Map(moves.map((m) => [m.peerKey, m.to]));
      // Thành phố Lạng Sơn's three halls go together to the less used node: b (1 of 4 against 2 of 4).
      expect(['d-178', 'c-05971', 'c-05974'].map((k) => to.get(k))).to.deep.equal(['b', 'b', 'b']);
      // b is full then: Tràng Định's two go together to c, though its commune c-05998 is on b.
      expect(['d-180', 'c-05995'].map((k) => to.get(k))).to.deep.equal(['c', 'c']);
      expect(moves.every((m) => m.from === 'a' && m.epoch === 1)).to.equal(true);
    });

    it('nothing lost: no move; no live node: every move goes nowhere', () => {
      expect(movesOffLostNodes([node('a')], placed(['d-178', 'a']), plan)).to.deep.equal([]);
      expect(movesOffLostNodes([], placed(['d-178', 'a']), plan)).to.deep.equal([{ peerKey: 'd-178', from: 'a', to: null, epoch: 1 }]);
    });

    it('a draining survivor takes none of them', () => {
      const moves = movesOffLostNodes([node('b', { draining: true }), node('c', { cpu: 3 })], placed(['d-178', 'a']), plan);
      expect(moves.map((m) => m.to)).to.deep.equal(['c']);
    });
  });

  describe('drainMoves: one connected peer at a time, the unconnected all at once', () => {
    const nodes = [node('a', { draining: true }), node('b')];
    const placements = placed(['d-178', 'a'], ['c-05971', 'a'], ['c-05974', 'a'], ['d-180', 'b']);

    it('the first connected peer (by group, then key) is the next; offline ones go now', () => {
      const online = new Set(['c-05971', 'd-178']);
      const { offline, next } = drainMoves(nodes, placements, plan, (k) => online.has(k));
      expect(next).to.deep.equal({ peerKey: 'c-05971', from: 'a', to: 'b', epoch: 1 });
      expect(offline.map((m) => [m.peerKey, m.to])).to.deep.equal([['c-05974', 'b']]);
    });

    it('nothing on a draining node, or no node to go to: no move', () => {
      expect(drainMoves([node('a'), node('b')], placements, plan, () => true)).to.deep.equal({ offline: [], next: null });
      expect(drainMoves([node('a', { draining: true })], placements, plan, () => true)).to.deep.equal({ offline: [], next: null });
    });
  });

  describe('the plan\'s placement section', () => {
    it('defaults: a district and its communes together, the province with the staff', () => {
      const rules = placementRules(plan);
      expect(plan.placement).to.equal(undefined);
      expect(['d-178', 'c-05971', 'c-05974'].map((k) => rules.groupOf(k))).to.deep.equal(['d-178', 'd-178', 'd-178']);
      expect(['p-20', 'chair', 'secretary', 'technician', 'viewer'].map((k) => rules.groupOf(k))).to.deep.equal(Array(5).fill('p-20'));
      expect(rules.labelsOf('c-05971')).to.equal(null);
    });

    it('refuses unknown bridges, a bridge in two rules and bad labels, in Vietnamese, with their paths', () => {
      const input = { ...planOf(), placement: { together: 'tỉnh', affinity: [{ bridges: ['d-999', 'd-178'], labels: { Region: 'x' } }, { bridges: ['d-178'], labels: {} }] } };
      const result = parsePlan(input);
      expect(result.ok).to.equal(false);
      const errors = result.ok ? [] : result.errors;
      const at = (path: string): string | undefined => errors.find((e) => e.path === path)?.message;
      expect(at('placement.together')).to.match(/district/);
      expect(at('placement.affinity.0.bridges.0')).to.equal('Không có điểm cầu "d-999"');
      expect(at('placement.affinity.1.bridges.0')).to.equal('Điểm cầu "d-178" đã có trong quy tắc placement.affinity.0');
      expect(at('placement.affinity.0.labels.Region')).to.match(/Tên nhãn/);
      expect(at('placement.affinity.1.labels')).to.match(/từ 1 đến 16 nhãn/);
    });
  });
});
