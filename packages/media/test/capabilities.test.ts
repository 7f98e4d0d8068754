import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FfmpegRunner } from '../src/ffmpeg-runner.js';

// Its own file: fluent-ffmpeg keeps what it learnt about ffmpeg for the whole process, so this test
// needs a process where no command has run yet.

let dir = '';
const file = (name: string): string => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reelboard-media-capabilities-'));
  // A stand-in ffmpeg and ffprobe that write down how they were called.
  for (const name of ['ffmpeg', 'ffprobe']) {
    await writeFile(file(name), `#!/bin/sh\necho "${name} $*" >> '${file('calls.txt')}'\necho "${name} version 5.1-fake"\nexit 0\n`);
    await chmod(file(name), 0o755);
  }
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the start-up check', () => {
  it("has fluent-ffmpeg list ffmpeg's formats and encoders, so a process's first job starts its ffmpeg at once", async () => {
    const runner = new FfmpegRunner({ ffmpegPath: file('ffmpeg'), ffprobePath: file('ffprobe') });
    await runner.info();
    const atStart = (await readFile(file('calls.txt'), 'utf8')).trim().split('\n');
    expect(atStart).toEqual(expect.arrayContaining(['ffmpeg -formats', 'ffmpeg -encoders']));

    await writeFile(file('calls.txt'), '');
    await runner.run({ input: file('in.mp4'), output: file('out.webm'), outputOptions: ['-an'] });
    const forTheJob = (await readFile(file('calls.txt'), 'utf8')).trim().split('\n');
    // Only the job's own ffmpeg: no listing of formats or encoders before it.
    expect(forTheJob).toHaveLength(1);
    expect(forTheJob[0]).toMatch(/^ffmpeg .*-i .*in\.mp4/);
  });
});
