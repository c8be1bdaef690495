import { expect } from 'chai';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { speechSamples, speechWav } from '../helpers/speech-wav.ts';
import { readOggOpus } from '../../scripts/bench/fanout/media.ts';

const execFileP = promisify(execFile);

/** Opus's coding mode of a packet, from its TOC byte (RFC 6716, 3.1). */
function opusMode(packet: Buffer): 'silk' | 'hybrid' | 'celt' {
  const config = packet[0]! >> 3;
  return config < 12 ? 'silk' : config < 16 ? 'hybrid' : 'celt';
}

/** Codes a WAV as the halls' microphone is coded (libopus through ffmpeg: voip, 40 ms, in-band FEC, 5 % expected loss); the share of packets per mode. */
async function opusModes(wav: Buffer, kbps: number): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'diemcau-opus-'));
  try {
    fs.writeFileSync(path.join(dir, 'in.wav'), wav);
    await execFileP('ffmpeg', ['-v', 'error', '-y', '-i', path.join(dir, 'in.wav'), '-c:a', 'libopus', '-application', 'voip', '-b:a', `${kbps}k`, '-frame_duration', '40', '-packet_loss', '5', '-fec', '1', path.join(dir, 'out.ogg')]);
    const packets = readOggOpus(fs.readFileSync(path.join(dir, 'out.ogg')));
    const out: Record<string, number> = { silk: 0, hybrid: 0, celt: 0 };
    for (const p of packets) out[opusMode(p)]! += 1 / packets.length;
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A WAV of a steady tone, like Chromium's own fake microphone. */
function toneWav(seconds: number): Buffer {
  const pcm = new Int16Array(48_000 * seconds).map((_, i) => Math.round(12_000 * Math.sin((2 * Math.PI * 1000 * i) / 48_000)));
  const wav = speechWav();
  const head = Buffer.from(wav.subarray(0, 44));
  head.writeUInt32LE(36 + pcm.byteLength, 4);
  head.writeUInt32LE(pcm.byteLength, 40);
  return Buffer.concat([head, Buffer.from(pcm.buffer)]);
}

describe('the speech-like fake microphone (test/helpers/speech-wav.ts; ffmpeg\'s libopus)', function () {
  this.timeout(30_000);

  it('is a 48 kHz mono 16-bit WAV, the same every time', () => {
    const wav = speechWav();
    expect(wav.toString('latin1', 0, 4)).to.equal('RIFF');
    expect(wav.toString('latin1', 8, 16)).to.equal('WAVEfmt ');
    expect(wav.toString('latin1', 36, 40)).to.equal('data');
    expect(wav.readUInt16LE(22), 'channels').to.equal(1);
    expect(wav.readUInt32LE(24), 'rate').to.equal(48_000);
    expect(wav.readUInt16LE(34), 'bits').to.equal(16);
    expect(wav.readUInt32LE(40)).to.equal(wav.length - 44);
    expect(speechWav().equals(wav)).to.equal(true);
  });

  it('sounds like speech in its levels: syllables a few times a second and pauses between phrases', () => {
    const pcm = speechSamples();
    const win = 48_000 / 20; // 50 ms
    const dbfs: number[] = [];
    for (let i = 0; i + win <= pcm.length; i += win) {
      let e = 0;
      for (let j = i; j < i + win; j++) e += (pcm[j]! / 32768) ** 2;
      dbfs.push(10 * Math.log10(e / win + 1e-12));
    }
    const quiet = dbfs.filter((d) => d < -40).length / dbfs.length;
    const loud = dbfs.filter((d) => d > -25).length / dbfs.length;
    // Rises from quiet to loud: syllable onsets (the level crosses −30 dBFS upwards).
    let onsets = 0;
    for (let i = 1; i < dbfs.length; i++) if (dbfs[i - 1]! < -30 && dbfs[i]! >= -30) onsets++;
    expect(quiet, 'pauses').to.be.within(0.05, 0.4);
    expect(loud, 'voiced').to.be.greaterThan(0.4);
    expect(onsets / (pcm.length / 48_000), 'onsets a second').to.be.within(1, 8);
  });

  it('Opus codes it as speech (SILK or hybrid, which carry in-band FEC), where a tone like Chromium\'s own fake microphone is coded as music (CELT)', async () => {
    const speech = await opusModes(speechWav(), 32);
    const tone = await opusModes(toneWav(6), 32);
    console.log(`      32 kbit/s, 5 % expected loss: speech ${JSON.stringify(speech)}; tone ${JSON.stringify(tone)}`);
    expect(speech.celt, 'speech coded as music').to.be.lessThan(0.05);
    expect(tone.celt, 'the tone, as the weak-link trace saw in Chromium').to.be.greaterThan(0.9);
  });
});
