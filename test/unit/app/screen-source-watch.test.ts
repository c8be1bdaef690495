// The watch that ends a screen share whose picture is gone (ScreenSourceWatch): a real runner on a
// memory store and a FakeClock; the media's screen tracks are a set the test changes (standing in
// for a media session's producers), and, for a deployment of several nodes, the memory track
// and node registries (the redis ones' contract twins).
import { expect } from 'chai';
import type { ConferenceRunner } from '../../../server/app/conference/ConferenceRunner.ts';
import { RegistryScreenTracks, ScreenSourceWatch, type ScreenTracks } from '../../../server/app/conference/ScreenSourceWatch.ts';
import { FakeClock, SCREEN_SOURCE_FIRST_GRACE_MS, SCREEN_SOURCE_GRACE_MS, type LogEntry } from '../../../server/core/conference/index.ts';
import { MemoryConferenceStore, MemoryNodeRegistry, MemoryTrackRegistry } from '../../../server/store/index.ts';
import { ask, chair, COMMUNE_2, nodeRecord, op, PROVINCE, startRunner, system, T0 } from '../store/helpers.ts';

/** Screen tracks as a set of halls, changed by the test (a session's producers coming and going). */
class TrackSet implements ScreenTracks {
  readonly #live = new Set<string>();
  readonly #listeners = new Set<() => void>();
  live(bridgeId: string): boolean {
    return this.#live.has(bridgeId);
  }
  watch(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  set(bridgeId: string, on: boolean): void {
    if (on) this.#live.add(bridgeId);
    else this.#live.delete(bridgeId);
    for (const l of this.#listeners) l();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

describe('ScreenSourceWatch (FakeClock, real runner on a memory store; the screen tracks a set the test changes)', () => {
  let clock: FakeClock;
  let runner: ConferenceRunner;
  let tracks: TrackSet;
  let watch: ScreenSourceWatch | undefined;
  let problems: string[];

  /** Moves the clock and lets the runner finish what the watch issued. */
  const advance = async (ms: number): Promise<void> => {
    clock.increment(ms);
    await flush();
    await runner.idle();
  };
  const start = (): ScreenSourceWatch => (watch = ScreenSourceWatch.start({ runner, tracks, clock, problem: (m, e) => problems.push(`${m}: ${String(e)}`) }));
  const lastStop = async (): Promise<LogEntry | undefined> => (await runner.readLog()).filter((e) => e.type === 'screen_share_stopped').at(-1);

  beforeEach(async () => {
    clock = new FakeClock(T0);
    runner = await startRunner(new MemoryConferenceStore(), clock, 'screen-watch');
    tracks = new TrackSet();
    problems = [];
    for (const id of [PROVINCE, COMMUNE_2]) expect((await runner.execute({ type: 'bridge_connected', actor: system, bridgeId: id })).ok).to.equal(true);
    expect((await runner.execute({ type: 'start_meeting', actor: chair })).ok).to.equal(true);
  });

  afterEach(async () => {
    await watch?.close();
    watch = undefined;
    await runner.close();
    expect(problems).to.deep.equal([]);
  });

  it('a track gone for the grace ends the share with source_lost, as the system; one back within the grace keeps it', async () => {
    start();
    expect((await runner.execute({ type: 'screen_share_start', actor: op(PROVINCE) })).ok).to.equal(true);
    tracks.set(PROVINCE, true);
    expect(watch!.deadline, 'a live track: nothing armed').to.equal(null);
    // A blip: the track goes and comes back within the grace.
    await advance(5_000);
    tracks.set(PROVINCE, false);
    expect(watch!.deadline).to.equal(clock.now() + SCREEN_SOURCE_GRACE_MS);
    await advance(SCREEN_SOURCE_GRACE_MS - 1);
    tracks.set(PROVINCE, true);
    await advance(SCREEN_SOURCE_GRACE_MS * 3);
    expect(runner.state.screen?.bridgeId, 'back within the grace: still shared').to.equal(PROVINCE);
    // Gone for good (the PC crashed): the share ends when the grace is over, not a millisecond before.
    tracks.set(PROVINCE, false);
    const goneAt = clock.now();
    await advance(SCREEN_SOURCE_GRACE_MS - 1);
    expect(runner.state.screen?.bridgeId).to.equal(PROVINCE);
    await advance(1);
    expect(runner.state.screen ?? null).to.equal(null);
    expect(await lastStop()).to.deep.include({ at: goneAt + SCREEN_SOURCE_GRACE_MS, actor: { role: 'system' }, type: 'screen_share_stopped' });
    expect((await lastStop())!.data).to.deep.include({ bridgeId: PROVINCE, reason: 'source_lost' });
    expect(runner.state.screenEnded).to.deep.include({ bridgeId: PROVINCE, reason: 'source_lost' });
    expect(watch!.deadline).to.equal(null);
  });

  it("a share whose track never comes ends after the first grace (the picker's time); a track of another hall does not count", async () => {
    start();
    expect((await runner.execute({ type: 'grant_floor', actor: chair, requestId: await ask(runner, COMMUNE_2) })).ok).to.equal(true);
    expect((await runner.execute({ type: 'screen_share_start', actor: op(COMMUNE_2) })).ok).to.equal(true);
    const startedAt = runner.state.screen!.startedAt;
    tracks.set(PROVINCE, true);
    expect(watch!.deadline).to.equal(startedAt + SCREEN_SOURCE_FIRST_GRACE_MS);
    await advance(SCREEN_SOURCE_FIRST_GRACE_MS - 1);
    expect(runner.state.screen?.bridgeId).to.equal(COMMUNE_2);
    await advance(1);
    expect(runner.state.screen ?? null).to.equal(null);
    expect((await lastStop())!.data).to.deep.include({ bridgeId: COMMUNE_2, reason: 'source_lost' });
  });

  it('a share stopped by a person disarms the watch; a new share is judged on its own', async () => {
    start();
    await runner.execute({ type: 'screen_share_start', actor: op(PROVINCE) });
    expect(watch!.deadline).to.not.equal(null);
    await runner.execute({ type: 'screen_share_stop', actor: chair });
    expect(watch!.deadline).to.equal(null);
    await advance(SCREEN_SOURCE_FIRST_GRACE_MS * 2);
    expect((await lastStop())!.data).to.deep.include({ reason: 'stopped' });
    await runner.execute({ type: 'screen_share_start', actor: op(PROVINCE) });
    expect(watch!.deadline).to.equal(clock.now() + SCREEN_SOURCE_FIRST_GRACE_MS);
    tracks.set(PROVINCE, true);
    await advance(SCREEN_SOURCE_FIRST_GRACE_MS * 2);
    expect(runner.state.screen?.bridgeId).to.equal(PROVINCE);
  });

  it('a share found without its track when the watch starts (a server restart) counts as gone from then: the short grace', async () => {
    await runner.execute({ type: 'screen_share_start', actor: op(PROVINCE) });
    await advance(60_000);
    start();
    expect(watch!.deadline).to.equal(clock.now() + SCREEN_SOURCE_GRACE_MS);
    await advance(SCREEN_SOURCE_GRACE_MS);
    expect(runner.state.screen ?? null).to.equal(null);
  });

  it('after close, nothing is issued', async () => {
    start();
    await runner.execute({ type: 'screen_share_start', actor: op(PROVINCE) });
    await watch!.close();
    await advance(SCREEN_SOURCE_FIRST_GRACE_MS * 2);
    expect(runner.state.screen?.bridgeId).to.equal(PROVINCE);
  });
});

describe('RegistryScreenTracks (memory track and node registries standing in for redis)', () => {
  const CONF = 'screen-registry';

  it("a hall's screen is live while a live node publishes it; a node whose lease ended takes it away", async () => {
    const clock = new FakeClock(T0);
    const nodes = new MemoryNodeRegistry(clock);
    const registry = new MemoryTrackRegistry();
    await nodes.announce(nodeRecord('n1', clock.now()), 5_000);
    const problems: string[] = [];
    const screens = await RegistryScreenTracks.start({ conferenceId: CONF, tracks: registry, nodes, problem: (m) => problems.push(m) });
    let changes = 0;
    screens.watch(() => changes++);
    expect(screens.live(COMMUNE_2)).to.equal(false);
    await registry.publishTrack(CONF, { bridgeId: COMMUNE_2, source: 'cam', kind: 'video', nodeId: 'n1', producerId: '00000000-0000-4000-8000-000000000001', epoch: 1 });
    await flush();
    expect(screens.live(COMMUNE_2), 'a camera is not a screen').to.equal(false);
    await registry.publishTrack(CONF, { bridgeId: COMMUNE_2, source: 'screen', kind: 'video', nodeId: 'n1', producerId: '00000000-0000-4000-8000-000000000002', epoch: 1 });
    await flush();
    expect(screens.live(COMMUNE_2)).to.equal(true);
    expect(changes).to.equal(1);
    // The node dies (no withdraw, no unpublish): its lease ends.
    clock.increment(10_000);
    await flush();
    await screens.reload();
    expect(screens.live(COMMUNE_2)).to.equal(false);
    expect(changes).to.equal(2);
    await screens.close();
    await nodes.close();
    expect(problems).to.deep.equal([]);
  });
});
