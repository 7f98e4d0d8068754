import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceCommand, stackEnvironment } from '@reelboard/testkit/stack';

// The media stages (transcoder and preview-extractor, one start-up in @reelboard/runtime/media-stage)
// started on an ffmpeg that says it is 8.0, and on one that is too old: each exits before taking
// work, naming the version and the supported range. The stand-in is the real ffmpeg with another
// version line, so only the version is wrong.

const INTERNAL_PORT = Number(process.env.TEST_BASE_PORT ?? 18080) + 377;
let dir = '';
const children: ChildProcess[] = [];

async function fakeFfmpeg(version: string): Promise<string> {
  const path = join(dir, `ffmpeg-${version}`);
  await writeFile(
    path,
    `#!/bin/sh\nif [ "$1" = "-hide_banner" ] && [ "$2" = "-version" ]; then echo "ffmpeg version ${version} Copyright (c) 2000-2025 the FFmpeg developers"; exit 0; fi\nexec ffmpeg "$@"\n`,
  );
  await chmod(path, 0o755);
  return path;
}

/** Starts a service with FFMPEG_PATH; resolves with its exit code and output, or 'running' if it is still up after `ms`. */
function startWith(service: string, ffmpegPath: string, port: number, ms = 60_000): Promise<{ code: number | 'running'; output: string }> {
  const child = spawn(process.execPath, serviceCommand(service), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...stackEnvironment(dir, { FFMPEG_PATH: ffmpegPath, INTERNAL_PORT: String(port), LOG_LEVEL: 'info' }) },
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ code: 'running', output }), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output });
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ffmpeg-range-'));
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a media stage on an ffmpeg outside the supported range', () => {
  it('refuses to start, naming the version and the range (transcoder: 8.0, preview-extractor: 4.4)', async () => {
    const [transcoder, preview] = await Promise.all([
      startWith('transcoder', await fakeFfmpeg('8.0'), INTERNAL_PORT),
      startWith('preview-extractor', await fakeFfmpeg('4.4.2-0ubuntu0.22.04.1'), INTERNAL_PORT + 1),
    ]);
    expect(transcoder.code, transcoder.output).toBe(1);
    expect(transcoder.output).toContain('ffmpeg is not usable (FFMPEG_PATH): ffmpeg 8.0 (8.0) is outside the supported range 5.1 to 7.x');
    expect(preview.code, preview.output).toBe(1);
    expect(preview.output).toContain('ffmpeg 4.4 (4.4.2-0ubuntu0.22.04.1) is outside the supported range 5.1 to 7.x');
  }, 90_000);
});
