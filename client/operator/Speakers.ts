// The hall's loudspeaker (where the programme plays, an audio output of the PC) and a test sound
// on it, so the operator hears before the meeting that the hall's speakers work.
import type { DisplayStatus, PanelEnd } from '../shared/HallLink.ts';
import { loadDeviceChoice, saveDeviceChoice } from '../shared/HallLink.ts';
import { $ } from '../shared/ui.ts';

type SinkAudio = HTMLAudioElement & { setSinkId(id: string): Promise<void>; sinkId: string };

/** How long the test sound lasts (two tones). */
export const TEST_SOUND_MS = 1200;

/**
 * The loudspeaker select and the test sound button of the operator panel. The choice is
 * remembered on this PC and sent to the display (which plays the programme there, setSinkId);
 * the test sound plays here on the same output.
 */
export class Speakers {
  readonly #bridgeId: string;
  readonly #link: PanelEnd;
  readonly #select = $<HTMLSelectElement>('speaker');
  readonly #audio: SinkAudio;
  #context?: AudioContext;
  #reqNo = 0;

  constructor(bridgeId: string, link: PanelEnd) {
    this.#bridgeId = bridgeId;
    this.#link = link;
    this.#audio = document.createElement('audio') as SinkAudio;
    this.#audio.id = 'test-audio';
    document.body.append(this.#audio);
    this.#select.onchange = () => void this.choose(this.#select.value);
    $('test-sound').onclick = () => void this.test();
    navigator.mediaDevices.addEventListener('devicechange', () => void this.list());
  }

  /** Lists the audio outputs (labels come once the page may use the microphone). */
  async list(): Promise<void> {
    const outputs = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'audiooutput');
    const chosen = loadDeviceChoice(this.#bridgeId).speakerId ?? 'default';
    this.#select.replaceChildren(
      ...outputs.map((d, i) => {
        const o = document.createElement('option');
        o.value = d.deviceId;
        o.textContent = d.deviceId === 'default' ? `Loa mặc định của máy${d.label ? ` (${d.label.replace(/^Default - /, '')})` : ''}` : d.label || `Loa ${i + 1}`;
        return o;
      }),
    );
    if (outputs.length === 0) this.#select.append(new Option('Loa mặc định của máy', ''));
    if ([...this.#select.options].some((o) => o.value === chosen)) this.#select.value = chosen;
    this.#select.disabled = !('setSinkId' in HTMLMediaElement.prototype) || outputs.length < 2;
  }

  /** Keeps the select on the display's loudspeaker. */
  onDisplay(status: DisplayStatus): void {
    const id = status.devices.speakerId;
    if (id && document.activeElement !== this.#select && [...this.#select.options].some((o) => o.value === id)) this.#select.value = id;
  }

  /** The operator picked a loudspeaker: remembered here, used by the display. */
  async choose(deviceId: string): Promise<void> {
    saveDeviceChoice(this.#bridgeId, 'speaker', deviceId);
    this.#link.post({ type: 'use-device', reqId: `s${++this.#reqNo}`, kind: 'speaker', deviceId });
    $('device-msg').textContent = 'Đã chọn loa cho tiếng của hội nghị.';
  }

  /** Plays two short tones on the chosen loudspeaker. */
  async test(): Promise<void> {
    const msg = $('device-msg');
    try {
      this.#context ??= new AudioContext();
      const ctx = this.#context;
      await ctx.resume();
      const out = ctx.createMediaStreamDestination();
      const gain = ctx.createGain();
      gain.gain.value = 0.25;
      gain.connect(out);
      const t = ctx.currentTime + 0.05;
      for (const [freq, at] of [[880, 0], [1320, TEST_SOUND_MS / 2000]] as const) {
        const osc = ctx.createOscillator();
        osc.frequency.value = freq;
        osc.connect(gain);
        osc.start(t + at);
        osc.stop(t + at + TEST_SOUND_MS / 2000 - 0.05);
      }
      const sink = this.#select.value;
      if (sink && 'setSinkId' in this.#audio) await this.#audio.setSinkId(sink);
      this.#audio.srcObject = out.stream;
      await this.#audio.play();
      this.#audio.dataset.played = String(Date.now());
      msg.textContent = 'Đang phát âm thanh thử trên loa đã chọn: hội trường phải nghe thấy hai tiếng "bíp".';
      setTimeout(() => {
        this.#audio.pause();
        this.#audio.srcObject = null;
      }, TEST_SOUND_MS + 200);
    } catch (err) {
      msg.textContent = `Không phát được âm thanh thử: ${(err as Error).message}`;
    }
  }
}
