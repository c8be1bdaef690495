// The floor drives the media. This is the one place the conference calls the MediaSession's
// routing: the floor holder goes on air (setProgram), the hall grant_next would pick is prepared
// at every hall (setNext), and the view reads who is on air (program). The microphone rule of the
// SFU branch (setOpenMicrophones on every state change) belongs here too.
import type { MediaSession } from '../../sfu/index.ts';
import type { ConferenceRunner, NextChange, OnAirChange } from './conference/ConferenceRunner.ts';

/** Keeps the media session's routing on the conference's floor. */
export class FloorMedia {
  readonly #runner: ConferenceRunner;
  readonly #media: MediaSession;
  readonly #problem: (message: string, error: unknown) => void;
  #closed = false;

  readonly #onAir = ({ bridgeId }: OnAirChange): void => {
    this.#media.setProgram(bridgeId).catch((e: unknown) => this.#problem('setProgram failed', e));
  };

  readonly #onNext = ({ bridgeId }: NextChange): void => {
    this.#media.setNext(bridgeId).catch((e: unknown) => this.#problem('setNext failed', e));
  };

  private constructor(runner: ConferenceRunner, media: MediaSession, problem: (message: string, error: unknown) => void) {
    this.#runner = runner;
    this.#media = media;
    this.#problem = problem;
  }

  /**
   * Follows the runner from now on, and puts the media where the state says: after a restart the
   * floor holder is back on air as soon as it publishes again, and the hall waiting first is prepared.
   */
  static async start(runner: ConferenceRunner, media: MediaSession, problem: (message: string, error: unknown) => void): Promise<FloorMedia> {
    const link = new FloorMedia(runner, media, problem);
    runner.on('onair', link.#onAir);
    runner.on('next', link.#onNext);
    try {
      const holder = runner.state.floor?.bridgeId;
      if (holder) await media.setProgram(holder);
      await media.setNext(runner.nextSpeaker);
    } catch (error) {
      link.close();
      throw error;
    }
    return link;
  }

  /** The bridge on air now. */
  get onAir(): string {
    return this.#media.program;
  }

  /** Stops following the runner; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#runner.off('onair', this.#onAir);
    this.#runner.off('next', this.#onNext);
  }
}
