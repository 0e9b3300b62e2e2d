// Writes small PCM WAV files for Chromium's `--use-file-for-fake-audio-capture`.

import fs from 'node:fs';

/**
 * A speech-like test signal: a 160 Hz voice with its first harmonics, its loudness modulated at
 * 3 Hz (syllables) between `floor` and 1 × `peak` (linear, full scale 1). 16-bit mono PCM.
 */
export function writeVoiceWav(file, { seconds = 4, sampleRate = 48000, peak = 0.5, floor = 0.3 } = {}) {
  const n = seconds * sampleRate;
  const data = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate;
    const envelope = floor + (1 - floor) * (0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t));
    const voice = 0.6 * Math.sin(2 * Math.PI * 160 * t) + 0.25 * Math.sin(2 * Math.PI * 320 * t) + 0.15 * Math.sin(2 * Math.PI * 480 * t + 0.3);
    const v = Math.max(-1, Math.min(1, peak * envelope * voice));
    data.writeInt16LE(Math.round(v * 32767), i * 2);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([header, data]));
  return file;
}
