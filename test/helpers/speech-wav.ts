// A speech-like microphone for test Chromiums (`--use-file-for-fake-audio-capture`), made here,
// nothing downloaded. Chromium's own fake microphone is a beep, which Opus codes as music (CELT),
// where there is no in-band FEC; speech is coded in SILK or hybrid mode, whose packets carry a
// low-rate copy of the one before (docs/benchmarks.md, the weak-link trace). A source-filter
// synthesis, as a formant synthesiser does it: a glottal pulse train whose pitch follows a
// Vietnamese-like tone per syllable and falls over each phrase, through four formant resonators
// that glide from vowel to vowel, with fricative and plosive noise for consonants, nasals, and
// pauses between phrases. Deterministic (a fixed seed): every run hears the same 12 seconds,
// which Chromium loops.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const RATE = 48_000;
const SECONDS = 12;

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A two-pole resonator (Klatt's): centre frequency and bandwidth may change every sample. */
class Resonator {
  #y1 = 0;
  #y2 = 0;
  step(x: number, f: number, bw: number): number {
    const c = -Math.exp((-2 * Math.PI * bw) / RATE);
    const b = 2 * Math.exp((-Math.PI * bw) / RATE) * Math.cos((2 * Math.PI * f) / RATE);
    const a = 1 - b - c;
    const y = a * x + b * this.#y1 + c * this.#y2;
    this.#y2 = this.#y1;
    this.#y1 = y;
    return y;
  }
}

/** Formants (Hz) of Vietnamese-like vowels: a, i, u, e, o, ơ, ư. */
const VOWELS: readonly [number, number, number, number][] = [
  [800, 1300, 2600, 3400],
  [300, 2300, 3000, 3700],
  [320, 800, 2400, 3300],
  [500, 1900, 2600, 3500],
  [500, 900, 2500, 3300],
  [550, 1300, 2500, 3400],
  [350, 1400, 2400, 3400],
];

/** Pitch contours of six tones, as multiples of the phrase's pitch over a syllable (0..1). */
const TONES: readonly ((x: number) => number)[] = [
  () => 1.05, // ngang: level
  (x) => 1.0 - 0.18 * x, // huyền: low falling
  (x) => 0.95 + 0.3 * x * x, // sắc: rising
  (x) => 0.95 - 0.2 * Math.sin(Math.PI * x), // hỏi: dipping
  (x) => 1.0 + 0.25 * x - 0.3 * Math.max(0, x - 0.6), // ngã: broken rising
  (x) => 0.95 - 0.25 * x, // nặng: heavy falling
];

type Onset = 'none' | 'fricative' | 'plosive' | 'nasal';

interface Syllable {
  start: number;
  len: number;
  vowel: number;
  tone: number;
  onset: Onset;
  onsetLen: number;
}

/** The samples, 16-bit mono at 48 kHz. */
export function speechSamples(seed = 17): Int16Array {
  // Pitch jitter, breath beside the voice and the room's noise: with breath at 0.04 a few per cent
  // of the packets were coded as music (CELT) by libopus; at 0.3, none (ffmpeg's libopus at
  // 24 and 32 kbit/s, 40 ms packets, application voip).
  const jitter = 0.01;
  const breath = 0.3;
  const room = 0.0015;
  const rand = prng(seed);
  const n = RATE * SECONDS;
  // Phrases of 5–11 syllables (about 4.5 a second), pauses of 0.25–0.6 s between them.
  const syllables: Syllable[] = [];
  const phrases: { start: number; end: number; pitch: number }[] = [];
  let t = Math.round(0.15 * RATE);
  while (t < n - RATE) {
    const count = 5 + Math.floor(rand() * 7);
    const phraseStart = t;
    for (let i = 0; i < count && t < n - RATE / 2; i++) {
      const len = Math.round((0.17 + rand() * 0.12) * RATE);
      const r = rand();
      const onset: Onset = r < 0.25 ? 'none' : r < 0.5 ? 'fricative' : r < 0.75 ? 'plosive' : 'nasal';
      syllables.push({ start: t, len, vowel: Math.floor(rand() * VOWELS.length), tone: Math.floor(rand() * TONES.length), onset, onsetLen: Math.round((0.04 + rand() * 0.05) * RATE) });
      t += len + Math.round(rand() * 0.03 * RATE);
    }
    phrases.push({ start: phraseStart, end: t, pitch: 105 + rand() * 40 });
    t += Math.round((0.25 + rand() * 0.35) * RATE);
  }

  const out = new Float64Array(n);
  const formants = [new Resonator(), new Resonator(), new Resonator(), new Resonator()];
  const fricative = new Resonator();
  const burst = new Resonator();
  let phase = 0;
  let syl = 0;
  let ph = 0;
  const current = [...VOWELS[0]!];
  for (let i = 0; i < n; i++) {
    while (syl < syllables.length - 1 && i >= syllables[syl]!.start + syllables[syl]!.len) syl++;
    while (ph < phrases.length - 1 && i >= phrases[ph]!.end) ph++;
    const s = syllables[syl]!;
    const p = phrases[ph]!;
    const noise = rand() * 2 - 1;
    let sample = room * noise; // the room
    if (s && i >= s.start && i < s.start + s.len) {
      const x = (i - s.start) / s.len;
      const inOnset = i - s.start < s.onsetLen && s.onset !== 'none';
      // Formants glide to the syllable's vowel (about 30 ms), the pitch follows the tone and falls over the phrase.
      const target = s.onset === 'nasal' && inOnset ? [280, 1100, 2500, 3300] : VOWELS[s.vowel]!;
      for (let k = 0; k < 4; k++) current[k] = current[k]! + (target[k]! - current[k]!) * 0.0007;
      const declination = 1 - 0.2 * ((i - p.start) / Math.max(1, p.end - p.start));
      const f0 = p.pitch * declination * TONES[s.tone]!(x) * (1 + jitter * (rand() - 0.5));
      phase += f0 / RATE;
      let source = 0;
      if (phase >= 1) {
        phase -= 1;
        source = 1;
      }
      // A glottal pulse softened (the resonators shape it), some breath beside it.
      const voiced = inOnset && (s.onset === 'fricative' || s.onset === 'plosive') ? 0 : 1;
      const env = Math.min(1, x / 0.08) * Math.min(1, (1 - x) / 0.15) * (0.8 + 0.2 * Math.sin(2 * Math.PI * 3 * x));
      const excitation = voiced * (source * 6 + breath * noise) * env;
      let y = excitation;
      const bws = [80, 110, 160, 220];
      for (let k = 0; k < 4; k++) y = formants[k]!.step(y, current[k]!, bws[k]!);
      sample += 0.5 * y;
      if (inOnset && s.onset === 'fricative') sample += 0.25 * fricative.step(noise, 5200, 1800);
      if (inOnset && s.onset === 'plosive' && i - s.start > s.onsetLen * 0.6) sample += 0.5 * burst.step(noise, 2500, 1500);
    }
    out[i] = sample;
  }
  // A speaking level: the loud half of the 50 ms windows at about −20 dBFS RMS; the rare peaks
  // above full scale are limited softly.
  const win = RATE / 20;
  const rms: number[] = [];
  for (let i = 0; i + win <= n; i += win) {
    let e = 0;
    for (let j = i; j < i + win; j++) e += out[j]! ** 2;
    rms.push(Math.sqrt(e / win));
  }
  rms.sort((a, b) => a - b);
  const loud = rms[Math.floor(rms.length * 0.75)] ?? 0;
  const gain = loud > 0 ? 0.1 / loud : 0;
  const pcm = new Int16Array(n);
  for (let i = 0; i < n; i++) pcm[i] = Math.round(32767 * Math.tanh(out[i]! * gain));
  return pcm;
}

/** A RIFF/WAVE file of the samples (PCM, 16-bit, mono, 48 kHz). */
export function speechWav(seed = 17): Buffer {
  const pcm = speechSamples(seed);
  const data = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(RATE, 24);
  h.writeUInt32LE(RATE * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** Writes the WAV once per machine (tmpdir) and returns its path. */
export function speechWavFile(seed = 17): string {
  const file = path.join(os.tmpdir(), `diemcau-speech-${seed}-v1.wav`);
  if (!fs.existsSync(file)) {
    const tmp = `${file}.${process.pid}`;
    fs.writeFileSync(tmp, speechWav(seed));
    fs.renameSync(tmp, file);
  }
  return file;
}

/** Chromium's flags for a microphone that speaks (the file is looped). */
export function speechMicFlags(seed = 17): string[] {
  return [`--use-file-for-fake-audio-capture=${speechWavFile(seed)}`];
}
