/**
 * The level of a microphone, read with a WebAudio AnalyserNode: peak of the last frame, 0..1.
 * The browser starts an AudioContext suspended until a click; `resume()` is called on the
 * first click on the page.
 */
export class LevelMeter {
  readonly #context: AudioContext;
  readonly #analyser: AnalyserNode;
  readonly #buffer: Float32Array<ArrayBuffer>;
  #source?: MediaStreamAudioSourceNode;
  #closed = false;

  constructor() {
    this.#context = new AudioContext();
    this.#analyser = this.#context.createAnalyser();
    this.#analyser.fftSize = 1024;
    this.#buffer = new Float32Array(this.#analyser.fftSize);
  }

  /** Whether the browser still holds the audio back (no click yet). */
  get suspended(): boolean {
    return this.#context.state === 'suspended';
  }

  /** Meters this track from now on (the previous one is let go, not stopped). */
  attach(track: MediaStreamTrack | undefined): void {
    this.#source?.disconnect();
    this.#source = undefined;
    if (!track || this.#closed) return;
    this.#source = this.#context.createMediaStreamSource(new MediaStream([track]));
    // The analyser is a sink: nothing goes to the speakers, so no feedback into the hall.
    this.#source.connect(this.#analyser);
  }

  async resume(): Promise<void> {
    if (this.#context.state === 'suspended') await this.#context.resume().catch(() => undefined);
  }

  /** Peak amplitude of the last frame, 0..1. */
  level(): number {
    if (!this.#source) return 0;
    this.#analyser.getFloatTimeDomainData(this.#buffer);
    let peak = 0;
    for (const v of this.#buffer) peak = Math.max(peak, Math.abs(v));
    return Math.min(1, peak);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#source?.disconnect();
    void this.#context.close().catch(() => undefined);
  }
}

/** dBFS of a peak level, floored at -60. */
export function levelDb(peak: number): number {
  return peak <= 0.001 ? -60 : Math.max(-60, 20 * Math.log10(peak));
}
