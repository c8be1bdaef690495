// Which tracks of other nodes a media node pipes in as soon as it learns of them (sfu/routing/pipe-ahead.ts):
// the programme's, each once, cameras first; never a thumbnail, never a track of its own.
import { expect } from 'chai';
import { programmeTracksToPipe, type BridgeTracks, type MediaSource, type RoutedPeer, type RoutingState } from '../../../sfu/routing/index.ts';

const P = 'p-20'; // the chair's hall (province)
const D = 'd-178'; // the speaker, its hall republished on node b after its node died
const C = 'c-05971';
const N = 'd-180'; // prepared as next, on node c

type Track = { bridgeId: string; source: MediaSource; trackId: string; home: { node: string } | { worker: number } };

function tracks(where: Record<string, { node: string } | { worker: number }>): Map<string, BridgeTracks<Track>> {
  const t = (bridgeId: string, source: MediaSource): Track => ({ bridgeId, source, trackId: `${bridgeId}/${source}`, home: where[bridgeId]! });
  return new Map(Object.keys(where).map((b) => [b, { mic: t(b, 'mic'), cam: t(b, 'cam') }]));
}

const state = (onAir: string, next?: string): RoutingState => ({ chairBridgeId: P, onAir, next, openMicrophones: new Set([P, onAir]) });
const hall = (bridgeId: string): RoutedPeer => ({ bridgeId, receiveOnAir: true, thumbnails: false, thumbnailChoice: [] });
const wall: RoutedPeer = { receiveOnAir: false, thumbnails: true, thumbnailChoice: [P, D, C, N] };

describe('programmeTracksToPipe: the tracks of other nodes a node pipes in before its peers\' runs', () => {
  it('the speaker\'s camera and microphone from its new home, camera first, once for all the halls here', () => {
    const published = tracks({ [P]: { worker: 0 }, [D]: { node: 'b' }, [C]: { worker: 0 } });
    const out = programmeTracksToPipe(state(D), [hall(P), hall(C), { receiveOnAir: true, thumbnails: true, thumbnailChoice: [D] }], published);
    expect(out.map((t) => t.trackId)).to.deep.equal([`${D}/cam`, `${D}/mic`]);
    expect(out.every((t) => t.home.node === 'b')).to.equal(true);
  });

  it('the prepared next speaker\'s tracks too, and the chair\'s microphone when the chair is elsewhere', () => {
    const published = tracks({ [P]: { node: 'c' }, [D]: { node: 'b' }, [N]: { node: 'c' }, [C]: { worker: 0 } });
    const out = programmeTracksToPipe(state(D, N), [hall(C)], published).map((t) => t.trackId);
    expect(out.slice(0, 2).sort()).to.deep.equal([`${D}/cam`, `${N}/cam`]);
    expect(out.slice(2).sort()).to.deep.equal([`${D}/mic`, `${N}/mic`, `${P}/mic`]);
  });

  it('no thumbnail (the technicians\' wall waits its turn), no track homed here, nothing without a peer', () => {
    const published = tracks({ [P]: { worker: 0 }, [D]: { node: 'b' }, [C]: { node: 'b' }, [N]: { node: 'c' } });
    expect(programmeTracksToPipe(state(P), [wall], published)).to.deep.equal([]);
    expect(programmeTracksToPipe(state(P), [hall(C)], published)).to.deep.equal([]);
    expect(programmeTracksToPipe(state(D), [], published)).to.deep.equal([]);
  });
});
