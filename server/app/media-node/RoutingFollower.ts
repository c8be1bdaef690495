// The media follows the conference (issue 13; it was floor-media.ts, driven by the runner's
// events). On every state change it derives, with the core's pure functions, what the media of
// this node must do: the bridge on air (`onAirOf`: the floor holder, or the chair), the hall that
// grant_next would pick (`nextSpeaker`: prepared, paused, at every hall), the open microphones
// (`openMicrophones`) and the hall whose shared screen every hall receives (`sharingBridgeOf`). Every node of a deployment does the same from the same state, so no control
// instance ever tells a media node what to route.
import type { MediaSession } from '../../../sfu/index.ts';
import { nextSpeaker, onAirOf, openMicrophones, sharingBridgeOf } from '../../core/conference/index.ts';
import type { ConferenceStateSource } from '../conference/ConferenceFollower.ts';

/** Keeps a media session's routing on its conference's state. */
export class RoutingFollower {
  readonly #source: ConferenceStateSource;
  readonly #media: MediaSession;
  readonly #problem: (message: string, error: unknown) => void;
  /** What was last derived (only a change is passed on: the media may be set by hand meanwhile, as tests do). */
  #onAir: string;
  #next: string | null | undefined;
  #openMics = '';
  #content: string | null = null;
  #closed = false;
  readonly #onState = (): void => this.#follow();

  private constructor(source: ConferenceStateSource, media: MediaSession, problem: (message: string, error: unknown) => void) {
    this.#source = source;
    this.#media = media;
    this.#problem = problem;
    this.#onAir = media.onAir;
  }

  /**
   * Follows the state from now on, and puts the media where it says: after a restart the floor
   * holder is back on air (its microphone open) as soon as it publishes again, and the hall
   * waiting first is prepared.
   */
  static async start(source: ConferenceStateSource, media: MediaSession, problem: (message: string, error: unknown) => void): Promise<RoutingFollower> {
    const follower = new RoutingFollower(source, media, problem);
    source.on('state', follower.#onState);
    try {
      await Promise.all(follower.#apply());
    } catch (error) {
      follower.close();
      throw error;
    }
    return follower;
  }

  /** The bridge on air by the state. */
  get onAir(): string {
    return this.#onAir;
  }

  /** Stops following; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#source.off('state', this.#onState);
  }

  #follow(): void {
    for (const work of this.#apply()) work.catch((e: unknown) => this.#problem('routing the media failed', e));
  }

  /** Passes on what changed, in the order a grant needs: on air, then next, then microphones; then the shared screen. */
  #apply(): Promise<void>[] {
    if (this.#closed || this.#media.closed) return [];
    const state = this.#source.state;
    const work: Promise<void>[] = [];
    const onAir = onAirOf(state);
    if (onAir !== this.#onAir) {
      this.#onAir = onAir;
      work.push(this.#media.setOnAir(onAir));
    }
    const next = nextSpeaker(state)?.bridgeId ?? null;
    if (next !== this.#next) {
      this.#next = next;
      work.push(this.#media.setNext(next));
    }
    const open = openMicrophones(state);
    const key = open.join(' ');
    if (key !== this.#openMics) {
      this.#openMics = key;
      work.push(this.#media.setOpenMicrophones(open));
    }
    const content = sharingBridgeOf(state) ?? null;
    if (content !== this.#content) {
      this.#content = content;
      work.push(this.#media.setContent(content));
    }
    return work;
  }
}
