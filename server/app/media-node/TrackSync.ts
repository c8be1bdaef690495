// A media node's tracks and the track registry (issue 13), for one conference: what the halls on
// this node publish is written there (the other nodes learn where to pipe it from), and what the
// other live nodes publish is handed to the media session after every change of the registry or
// of the set of live nodes. Entries of nodes whose lease ended are ignored (and cleaned by
// whoever sees the node go).
import type { MediaSession, MediaSessionEvents, RemoteTrack } from '../../../sfu/index.ts';
import type { TrackRegistry, TrackWatch } from '../../store/index.ts';
import { coalescing } from '../coalesce.ts';

/** Options of TrackSync.start. */
export interface TrackSyncOptions {
  conferenceId: string;
  nodeId: string;
  session: MediaSession;
  tracks: TrackRegistry;
  /** Whether a node's lease is alive. */
  isLive: (nodeId: string) => boolean;
  problem: (message: string, error: unknown) => void;
}

/** Keeps the registry and the session's remote tracks in step with each other. */
export class TrackSync {
  readonly #o: TrackSyncOptions;
  #watch: TrackWatch | undefined;
  /** Registry writes of one bridge and source, in the order the session announced them. */
  readonly #writes = new Map<string, Promise<void>>();
  #closed = false;
  /** Reads the registry and gives the session the live tracks of the other nodes (one read for a burst of changes). */
  readonly reload = coalescing(() => this.#load());
  readonly #onPublishing = (p: MediaSessionEvents['publishing'][0]): void => {
    const { conferenceId, nodeId, tracks } = this.#o;
    const key = `${p.bridgeId}:${p.source}`;
    const write = (this.#writes.get(key) ?? Promise.resolve()).then(() =>
      p.on
        ? tracks.publishTrack(conferenceId, { bridgeId: p.bridgeId, source: p.source, kind: p.kind, nodeId, producerId: p.trackId, epoch: p.epoch })
        : tracks.unpublishTrack(conferenceId, p.bridgeId, p.source, p.trackId),
    );
    const settled = write.catch((e: unknown) => this.#o.problem(`track registry ${p.on ? 'publish' : 'unpublish'} failed`, e));
    this.#writes.set(key, settled);
    void settled.then(() => this.#writes.get(key) === settled && this.#writes.delete(key));
  };

  private constructor(options: TrackSyncOptions) {
    this.#o = options;
  }

  /** Forgets what an earlier run of this node published, then follows the registry and the session. */
  static async start(options: TrackSyncOptions): Promise<TrackSync> {
    const sync = new TrackSync(options);
    await options.tracks.dropNodeTracks(options.conferenceId, options.nodeId);
    options.session.on('publishing', sync.#onPublishing);
    sync.#watch = await options.tracks.watchTracks(options.conferenceId, () => void sync.reload());
    await sync.reload();
    return sync;
  }

  async #load(): Promise<void> {
    if (this.#closed || this.#o.session.closed) return;
    try {
      const records = await this.#o.tracks.tracks(this.#o.conferenceId);
      const remote: RemoteTrack[] = records
        .filter((t) => t.nodeId !== this.#o.nodeId && this.#o.isLive(t.nodeId))
        .map((t) => ({ bridgeId: t.bridgeId, source: t.source, trackId: t.producerId, kind: t.kind, home: { node: t.nodeId }, epoch: t.epoch }));
      if (!this.#closed && !this.#o.session.closed) this.#o.session.setRemoteTracks(remote);
    } catch (error) {
      if (!this.#closed) this.#o.problem('reading the track registry failed', error);
    }
  }

  /** Stops following and withdraws this node's tracks (an orderly shutdown); idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#o.session.off('publishing', this.#onPublishing);
    await this.#watch?.close();
    await Promise.allSettled(this.#writes.values());
    await this.#o.tracks.dropNodeTracks(this.#o.conferenceId, this.#o.nodeId).catch((e: unknown) => this.#o.problem('withdrawing the tracks failed', e));
  }
}
