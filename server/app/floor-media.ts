// The floor drives the media. This is the one place the conference calls the MediaSession's
// routing: the floor holder goes on air (setOnAir), the hall grant_next would pick is prepared
// at every hall (setNext), the microphones the core's rule opens are open at the SFU
// (setOpenMicrophones, on every state change), and the view reads who is on air (onAir).
import type { MediaSession } from '../../sfu/index.ts';
import { openMicrophones } from '../core/conference/index.ts';
import type { ConferenceRunner, NextChange, OnAirChange } from './conference/ConferenceRunner.ts';

/** Keeps the media session's routing on the conference's floor. */
export class FloorMedia {
  readonly #runner: ConferenceRunner;
  readonly #media: MediaSession;
  readonly #problem: (message: string, error: unknown) => void;
  /** The open microphones last given to the media (so that only a change is sent). */
  #openMics = '';
  #closed = false;

  readonly #onAir = ({ bridgeId }: OnAirChange): void => {
    this.#media.setOnAir(bridgeId).catch((e: unknown) => this.#problem('setOnAir failed', e));
  };

  readonly #onNext = ({ bridgeId }: NextChange): void => {
    this.#media.setNext(bridgeId).catch((e: unknown) => this.#problem('setNext failed', e));
  };

  readonly #onState = (): void => {
    this.#applyMicrophones().catch((e: unknown) => this.#problem('setOpenMicrophones failed', e));
  };

  private constructor(runner: ConferenceRunner, media: MediaSession, problem: (message: string, error: unknown) => void) {
    this.#runner = runner;
    this.#media = media;
    this.#problem = problem;
  }

  /**
   * Follows the runner from now on, and puts the media where the state says: after a restart the
   * floor holder is back on air (its microphone open) as soon as it publishes again, and the hall
   * waiting first is prepared.
   */
  static async start(runner: ConferenceRunner, media: MediaSession, problem: (message: string, error: unknown) => void): Promise<FloorMedia> {
    const link = new FloorMedia(runner, media, problem);
    runner.on('onair', link.#onAir);
    runner.on('next', link.#onNext);
    runner.on('state', link.#onState);
    try {
      await link.#applyMicrophones();
      const holder = runner.state.floor?.bridgeId;
      if (holder) await media.setOnAir(holder);
      await media.setNext(runner.nextSpeaker);
    } catch (error) {
      link.close();
      throw error;
    }
    return link;
  }

  /** The bridge on air now. */
  get onAir(): string {
    return this.#media.onAir;
  }

  /** Gives the media the microphones the core's rule opens now, when they changed. */
  async #applyMicrophones(): Promise<void> {
    if (this.#closed) return;
    const open = openMicrophones(this.#runner.state);
    const key = open.join(' ');
    if (key === this.#openMics) return;
    this.#openMics = key;
    await this.#media.setOpenMicrophones(open);
  }

  /** Stops following the runner; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#runner.off('onair', this.#onAir);
    this.#runner.off('next', this.#onNext);
    this.#runner.off('state', this.#onState);
  }
}
