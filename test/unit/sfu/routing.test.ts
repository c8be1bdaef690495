// Who hears and sees whom, table by table, without a worker: the pure routing rule of the SFU
// (sfu/routing/) for every role in every state of a conference.
import { expect } from 'chai';
import {
  desiredConsumers,
  maxSpatialLayer,
  receivesFrom,
  microphoneOpen,
  type BridgeTracks,
  type MediaSource,
  type PublishedTrack,
  type RoutedPeer,
  type RoutingState,
} from '../../../sfu/routing/index.ts';

const P = 'p-20'; // the province: the chair's hall
const D = 'd-178'; // a district
const C = 'c-05971'; // a commune
const H = 'c-06010'; // a commune with a hardware codec (one audio stream)
const HALLS = [P, D, C, H, 'd-180'];

/** Every hall publishing its microphone and camera (or only those given). */
function published(bridgeIds: string[] = HALLS): Map<string, BridgeTracks> {
  const track = (bridgeId: string, source: MediaSource): PublishedTrack => ({ bridgeId, source, trackId: `${bridgeId}/${source}` });
  return new Map(bridgeIds.map((b) => [b, { mic: track(b, 'mic'), cam: track(b, 'cam') }]));
}

function state(onAir: string, next?: string, open: string[] = [P]): RoutingState {
  return { chairBridgeId: P, onAir, next, openMicrophones: new Set(open) };
}

const ROLES: Record<string, RoutedPeer> = {
  'province hall': { bridgeId: P, receiveOnAir: true, thumbnails: true, thumbnailChoice: [] },
  'district hall': { bridgeId: D, receiveOnAir: true, thumbnails: false, thumbnailChoice: [] },
  'commune hall': { bridgeId: C, receiveOnAir: true, thumbnails: false, thumbnailChoice: [] },
  'hardware hall (single audio)': { bridgeId: H, receiveOnAir: true, thumbnails: false, singleAudio: true, thumbnailChoice: [] },
  'chair/secretary console': { receiveOnAir: true, thumbnails: true, thumbnailChoice: [] },
  technician: { receiveOnAir: false, thumbnails: true, thumbnailChoice: [] },
  'press/viewer': { receiveOnAir: true, thumbnails: false, thumbnailChoice: [] },
};

/** A peer's desired consumers as sorted "slot bridge/source" lines. */
function lines(s: RoutingState, peer: RoutedPeer, tracks = published()): string[] {
  return desiredConsumers(s, peer, tracks)
    .map((d) => `${d.slot} ${d.track.bridgeId}/${d.track.source}`)
    .sort();
}

/** Every role's lines in one state. */
function table(s: RoutingState, tracks = published()): Record<string, string[]> {
  return Object.fromEntries(Object.entries(ROLES).map(([role, peer]) => [role, lines(s, peer, tracks)]));
}

describe('SFU routing: who hears and sees whom (pure, no worker)', () => {
  it('the chair on air (the start): every hall sees and hears the chair once; the chair\'s hall nothing', () => {
    expect(table(state(P))).to.deep.equal({
      'province hall': [],
      'district hall': [`audio ${P}/mic`, `onair ${P}/cam`],
      'commune hall': [`audio ${P}/mic`, `onair ${P}/cam`],
      'hardware hall (single audio)': [`audio ${P}/mic`, `onair ${P}/cam`],
      'chair/secretary console': [`audio ${P}/mic`, `onair ${P}/cam`],
      technician: [],
      'press/viewer': [`audio ${P}/mic`, `onair ${P}/cam`],
    });
  });

  it('a district on air: halls see it and hear it and the chair; the district sees and hears the chair; a hardware hall hears the speaker only', () => {
    expect(table(state(D))).to.deep.equal({
      'province hall': [`audio ${D}/mic`, `onair ${D}/cam`],
      'district hall': [`audio ${P}/mic`, `onair ${P}/cam`],
      'commune hall': [`audio ${D}/mic`, `audio ${P}/mic`, `onair ${D}/cam`],
      'hardware hall (single audio)': [`audio ${D}/mic`, `onair ${D}/cam`],
      'chair/secretary console': [`audio ${D}/mic`, `audio ${P}/mic`, `onair ${D}/cam`],
      technician: [],
      'press/viewer': [`audio ${D}/mic`, `audio ${P}/mic`, `onair ${D}/cam`],
    });
  });

  it('a commune on air: the same shape, the commune itself sees and hears the chair', () => {
    const t = table(state(C));
    expect(t['commune hall']).to.deep.equal([`audio ${P}/mic`, `onair ${P}/cam`]);
    expect(t['district hall']).to.deep.equal([`audio ${C}/mic`, `audio ${P}/mic`, `onair ${C}/cam`]);
    expect(t['province hall']).to.deep.equal([`audio ${C}/mic`, `onair ${C}/cam`]);
    expect(t['hardware hall (single audio)']).to.deep.equal([`audio ${C}/mic`, `onair ${C}/cam`]);
  });

  it('the hardware hall on air itself: it sees and hears the chair (its one audio stream); the others hear it and the chair', () => {
    const t = table(state(H));
    expect(t['hardware hall (single audio)']).to.deep.equal([`audio ${P}/mic`, `onair ${P}/cam`]);
    expect(t['commune hall']).to.deep.equal([`audio ${H}/mic`, `audio ${P}/mic`, `onair ${H}/cam`]);
    expect(t['province hall']).to.deep.equal([`audio ${H}/mic`, `onair ${H}/cam`]);
  });

  it('a district on air and a commune prepared next: each peer also holds, paused, what it would receive with the commune on air', () => {
    expect(table(state(D, C))).to.deep.equal({
      'province hall': [`audio ${D}/mic`, `next ${C}/cam`, `next ${C}/mic`, `onair ${D}/cam`],
      'district hall': [`audio ${P}/mic`, `next ${C}/cam`, `next ${C}/mic`, `onair ${P}/cam`],
      // The next speaker prepares the chair's picture it will see; the chair's audio it already has.
      'commune hall': [`audio ${D}/mic`, `audio ${P}/mic`, `next ${P}/cam`, `onair ${D}/cam`],
      'hardware hall (single audio)': [`audio ${D}/mic`, `next ${C}/cam`, `next ${C}/mic`, `onair ${D}/cam`],
      'chair/secretary console': [`audio ${D}/mic`, `audio ${P}/mic`, `next ${C}/cam`, `next ${C}/mic`, `onair ${D}/cam`],
      technician: [],
      'press/viewer': [`audio ${D}/mic`, `audio ${P}/mic`, `next ${C}/cam`, `next ${C}/mic`, `onair ${D}/cam`],
    });
  });

  it('the chair on air and a district prepared next', () => {
    expect(table(state(P, D))).to.deep.equal({
      'province hall': [`next ${D}/cam`, `next ${D}/mic`],
      'district hall': [`audio ${P}/mic`, `onair ${P}/cam`],
      'commune hall': [`audio ${P}/mic`, `next ${D}/cam`, `next ${D}/mic`, `onair ${P}/cam`],
      'hardware hall (single audio)': [`audio ${P}/mic`, `next ${D}/cam`, `next ${D}/mic`, `onair ${P}/cam`],
      'chair/secretary console': [`audio ${P}/mic`, `next ${D}/cam`, `next ${D}/mic`, `onair ${P}/cam`],
      technician: [],
      'press/viewer': [`audio ${P}/mic`, `next ${D}/cam`, `next ${D}/mic`, `onair ${P}/cam`],
    });
  });

  it('a prepared consumer keeps its key when its bridge goes on air (it is resumed in place, not renegotiated)', () => {
    const peer = ROLES['commune hall']!;
    const before = desiredConsumers(state(D, 'd-180'), peer, published()).filter((d) => d.slot === 'next');
    const after = desiredConsumers(state('d-180'), peer, published());
    for (const d of before) expect(after.find((a) => a.key === d.key)?.slot, d.key).to.be.oneOf(['onair', 'audio']);
    expect(before.map((d) => d.key).sort()).to.deep.equal(['main:d-180/cam', 'main:d-180/mic']);
  });

  it('nothing published yet: nobody receives anything', () => {
    const none = published([]);
    for (const s of [state(P), state(D), state(D, C)]) {
      expect(Object.values(table(s, none)).flat(), `on air ${s.onAir}`).to.deep.equal([]);
    }
  });

  it('the speaker on air before it publishes: halls keep the chair\'s audio and get the speaker when it comes', () => {
    const withoutD = published(HALLS.filter((b) => b !== D));
    const t = table(state(D), withoutD);
    expect(t['commune hall']).to.deep.equal([`audio ${P}/mic`]);
    expect(t['province hall']).to.deep.equal([]);
    expect(t['district hall']).to.deep.equal([`audio ${P}/mic`, `onair ${P}/cam`]);
    // Only its camera published yet.
    const camOnly = published();
    camOnly.set(D, { cam: camOnly.get(D)!.cam });
    expect(lines(state(D), ROLES['commune hall']!, camOnly)).to.deep.equal([`audio ${P}/mic`, `onair ${D}/cam`]);
  });

  it('thumbnails: who may see them gets the chosen halls\' cameras (unpublished ones left out), beside what is on air', () => {
    const choice = [D, C, 'd-180'];
    const tracks = published([P, D, C]);
    const withChoice = (role: string): RoutedPeer => ({ ...ROLES[role]!, thumbnailChoice: choice });
    expect(lines(state(D), withChoice('technician'), tracks)).to.deep.equal([`thumb ${C}/cam`, `thumb ${D}/cam`]);
    expect(lines(state(D), withChoice('chair/secretary console'), tracks)).to.deep.equal([
      `audio ${D}/mic`,
      `audio ${P}/mic`,
      `onair ${D}/cam`,
      `thumb ${C}/cam`,
      `thumb ${D}/cam`,
    ]);
    expect(lines(state(P), withChoice('province hall'), tracks)).to.deep.equal([`thumb ${C}/cam`, `thumb ${D}/cam`]);
    // Without the permission a choice changes nothing.
    expect(lines(state(D), withChoice('commune hall'), tracks)).to.deep.equal([`audio ${D}/mic`, `audio ${P}/mic`, `onair ${D}/cam`]);
    expect(lines(state(D), withChoice('press/viewer'), tracks)).to.deep.equal([`audio ${D}/mic`, `audio ${P}/mic`, `onair ${D}/cam`]);
    // A thumbnail of the bridge on air is a consumer of its own (the low layer), keyed apart.
    const keys = desiredConsumers(state(D), withChoice('chair/secretary console'), tracks).map((d) => d.key);
    expect(keys).to.include.members([`main:${D}/cam`, `thumb:${D}/cam`]);
  });

  it('the shared screen goes with the programme to every peer that receives it, except the sharing hall; one content at a time', () => {
    const tracks = published();
    const screen = (b: string): PublishedTrack => ({ bridgeId: b, source: 'screen', trackId: `${b}/screen` });
    tracks.set(C, { ...tracks.get(C)!, screen: screen(C) });
    tracks.set(P, { ...tracks.get(P)!, screen: screen(P) });
    const sharing = (onAir: string, content: string | undefined): RoutingState => ({ ...state(onAir), content });
    expect(table(sharing(C, C), tracks)).to.deep.equal({
      'province hall': [`audio ${C}/mic`, `content ${C}/screen`, `onair ${C}/cam`],
      'district hall': [`audio ${C}/mic`, `audio ${P}/mic`, `content ${C}/screen`, `onair ${C}/cam`],
      'commune hall': [`audio ${P}/mic`, `onair ${P}/cam`],
      'hardware hall (single audio)': [`audio ${C}/mic`, `content ${C}/screen`, `onair ${C}/cam`],
      'chair/secretary console': [`audio ${C}/mic`, `audio ${P}/mic`, `content ${C}/screen`, `onair ${C}/cam`],
      technician: [],
      'press/viewer': [`audio ${C}/mic`, `audio ${P}/mic`, `content ${C}/screen`, `onair ${C}/cam`],
    });
    // The province shares while a district speaks: its screen, not the commune's (which is still published).
    expect(lines(sharing(D, P), ROLES['commune hall']!, tracks)).to.deep.equal([`audio ${D}/mic`, `audio ${P}/mic`, `content ${P}/screen`, `onair ${D}/cam`]);
    // Nothing shared, or the sharer's track not (yet) published: no content consumer.
    expect(lines(sharing(C, undefined), ROLES['district hall']!, tracks).filter((l) => l.startsWith('content'))).to.deep.equal([]);
    expect(lines(sharing(D, D), ROLES['commune hall']!, tracks).filter((l) => l.startsWith('content'))).to.deep.equal([]);
    const keys = desiredConsumers(sharing(C, C), ROLES['district hall']!, tracks).map((d) => d.key);
    expect(keys).to.include(`content:${C}/screen`);
  });

  it('in every state, no hall receives itself, and each track is held at most once per key', () => {
    const states = [state(P), state(D), state(C), state(H), state(D, C), state(P, D), state(C, H), state(H, P)];
    for (const s of states) {
      for (const [role, peer] of Object.entries(ROLES)) {
        const desired = desiredConsumers(s, { ...peer, thumbnailChoice: peer.thumbnails ? HALLS.filter((b) => b !== peer.bridgeId) : [] }, published());
        const label = `${role}, on air ${s.onAir}, next ${s.next}`;
        expect(desired.filter((d) => d.track.bridgeId === peer.bridgeId), label).to.deep.equal([]);
        expect(new Set(desired.map((d) => d.key)).size, label).to.equal(desired.length);
      }
    }
  });
});

describe('SFU routing: whose publications a peer receives (receivesFrom: which peers a publish reconciles)', () => {
  const states: RoutingState[] = [state(P), state(D), state(C), state(H), state(D, C), state(P, D), state(C, H), state(H, P), { ...state(D, C), content: H }, { ...state(P), content: D }];
  const choices = [[], [D], [C, H], HALLS];

  it('every bridge whose tracks change what a peer should hold is one it receives from, in every state and role', () => {
    for (const s of states) {
      for (const [role, base] of Object.entries(ROLES)) {
        for (const choice of choices) {
          const peer = { ...base, thumbnailChoice: choice };
          const withAll = published([...HALLS]);
          for (const [bridgeId, tracks] of withAll) tracks.screen = { bridgeId, source: 'screen', trackId: `${bridgeId}/screen` };
          const before = desiredConsumers(s, peer, withAll).map((d) => `${d.key} ${d.slot}`).sort();
          for (const b of HALLS) {
            // The bridge publishes anew (new track ids), or nothing at all.
            const republished = new Map(withAll);
            republished.set(b, { mic: { bridgeId: b, source: 'mic', trackId: `${b}/mic2` }, cam: { bridgeId: b, source: 'cam', trackId: `${b}/cam2` }, screen: { bridgeId: b, source: 'screen', trackId: `${b}/screen2` } });
            const gone = new Map(withAll);
            gone.delete(b);
            const changes = [republished, gone].some((tracks) => JSON.stringify(desiredConsumers(s, peer, tracks).map((d) => `${d.key} ${d.slot}`).sort()) !== JSON.stringify(before));
            if (changes) expect(receivesFrom(s, peer, b), `${role} (thumbnails ${choice.join(',')}), on air ${s.onAir}, next ${s.next}, content ${s.content}: a change of ${b}`).to.equal(true);
          }
        }
      }
    }
  });

  it('a hall off the programme concerns only the peers that chose it as a thumbnail: the join storm of a failover reconciles a few peers per publish, not all', () => {
    const s = state(D, C);
    const other = 'd-180';
    const receivers = Object.entries(ROLES).filter(([, peer]) => receivesFrom(s, { ...peer, thumbnailChoice: peer.thumbnails ? [other] : [] }, other)).map(([role]) => role);
    expect(receivers).to.deep.equal(['province hall', 'chair/secretary console', 'technician']);
    expect(Object.entries(ROLES).filter(([, peer]) => receivesFrom(s, peer, other))).to.deep.equal([]);
    // The programme's bridges concern every peer that receives the programme.
    for (const b of [D, C, P]) expect(Object.entries(ROLES).filter(([, peer]) => receivesFrom(s, peer, b)).map(([role]) => role), b).to.have.length(6);
  });
});

describe('SFU routing: simulcast layers each hall sends', () => {
  it('the top layer for the bridge on air, the chair and the prepared next; the low layer for everyone else', () => {
    const layers = (s: RoutingState) => Object.fromEntries(HALLS.map((b) => [b, maxSpatialLayer(s, b)]));
    expect(layers(state(P))).to.deep.equal({ [P]: 2, [D]: 0, [C]: 0, [H]: 0, 'd-180': 0 });
    expect(layers(state(D))).to.deep.equal({ [P]: 2, [D]: 2, [C]: 0, [H]: 0, 'd-180': 0 });
    expect(layers(state(D, C))).to.deep.equal({ [P]: 2, [D]: 2, [C]: 2, [H]: 0, 'd-180': 0 });
    expect(layers(state(P, H))).to.deep.equal({ [P]: 2, [D]: 0, [C]: 0, [H]: 2, 'd-180': 0 });
  });
});

describe('SFU routing: microphones', () => {
  it('a microphone runs when the control plane opened it, whatever is on air', () => {
    const open = (s: RoutingState) => HALLS.filter((b) => microphoneOpen(s, b));
    expect(open(state(P))).to.deep.equal([P]);
    expect(open(state(D, undefined, [P, D]))).to.deep.equal([P, D]);
    // The SFU no longer derives it from what is on air: the set it was given is the rule.
    expect(open(state(D, undefined, [P]))).to.deep.equal([P]);
    expect(open(state(P, undefined, []))).to.deep.equal([]);
  });
});
