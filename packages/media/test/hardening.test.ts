import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FfmpegRunner } from '../src/ffmpeg-runner.js';
import { createMediaAdapter, MediaError } from '../src/index.js';
import { ffmpegCli } from './helpers.js';

const execFileAsync = promisify(execFile);
// A stand-in ffmpeg's first line: fluent-ffmpeg asks a binary for its formats and encoders once per
// process, and the real ffmpeg answers those, so a stand-in behaves the same whether or not an
// earlier test of the file already had them asked (`-t` runs one test alone).
const REAL_FFMPEG_ANSWERS_QUERIES = 'case "$1" in -formats | -encoders | -codecs | -filters) exec ffmpeg "$@" ;; esac\n';
let dir = '';
const file = (name: string): string => join(dir, name);
const media = createMediaAdapter();
const failure = (work: Promise<unknown>): Promise<MediaError> =>
  work.then(
    () => {
      throw new Error('expected a MediaError');
    },
    (e: unknown) => {
      expect(e).toBeInstanceOf(MediaError);
      return e as MediaError;
    },
  );

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reelboard-media-hardening-'));
  await ffmpegCli([
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x240:rate=30',
    '-t',
    '2',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    file('real.mp4'),
  ]);
  // A secret beside the upload that a playlist could point ffmpeg at.
  await writeFile(file('secret.txt'), 'not for the public\n');
  // HLS: a real playlist with its segments next to it, renamed as an upload would be.
  await ffmpegCli(['-i', file('real.mp4'), '-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_segment_filename', file('seg%d.ts'), file('list.m3u8')]);
  await writeFile(file('hls.mp4'), await readFile(file('list.m3u8')));
  // DASH: a manifest whose segments are other local files.
  await writeFile(
    file('dash.mp4'),
    `<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT2S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011"><Period><AdaptationSet><Representation id="1" bandwidth="1000" mimeType="video/mp4"><BaseURL>${file('real.mp4')}</BaseURL></Representation></AdaptationSet></Period></MPD>\n`,
  );
  // ffconcat: a script naming other files beside it (relative names pass the concat demuxer's own "safe" check).
  await writeFile(file('concat.mp4'), `ffconcat version 1.0\nfile 'real.mp4'\nfile 'seg0.ts'\n`);
  await execFileAsync('mkfifo', [file('never-written.mp4')]);
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('inputs are the staged file only', () => {
  it('the playlists would be read as playlists without the restriction (so the tests below prove something)', async () => {
    const formatOf = (name: string, forced: string[] = []) =>
      execFileAsync('ffprobe', ['-v', 'error', ...forced, '-show_entries', 'format=format_name', '-of', 'csv=p=0', file(name)]).then(
        ({ stdout }) => stdout.trim(),
        (error: { stderr: string }) => error.stderr,
      );
    expect(await formatOf('concat.mp4')).toBe('concat');
    // ffmpeg 7.1 and later no longer take hls.mp4 for HLS by its content (they say why; ffmpeg 5.1
    // and 6.1 do); named as HLS it is read as one, segments and all.
    const sniffed = await formatOf('hls.mp4');
    if (sniffed !== 'hls') expect(sniffed).toContain('Not detecting m3u8/hls with non standard extension');
    expect(await formatOf('hls.mp4', ['-f', 'hls'])).toBe('hls');
  });

  for (const [name, demuxer] of [
    ['hls.mp4', 'hls'],
    ['dash.mp4', 'dash'],
    ['concat.mp4', 'concat'],
  ] as const) {
    it(`refuses for good an ${demuxer} playlist renamed .mp4, in ffprobe and in ffmpeg`, async () => {
      const probed = await failure(media.probe(file(name)));
      expect(probed.code).toBe('not_media');
      expect(probed.permanent).toBe(true);
      if (demuxer !== 'dash') expect(probed.message).toContain(`a ${demuxer} file`);
      // Even without the probe in front (a caller passing its own), ffmpeg refuses the format.
      const source = {
        formatName: 'mov,mp4',
        durationSeconds: 2,
        sizeBytes: 1,
        video: { codec: 'h264', width: 320, height: 240, rotation: 0, fps: 30, pixelFormat: 'yuv420p', bitDepth: 8 },
      };
      const ran = await failure(media.transcodeToVp9(file(name), file(`${demuxer}-out.webm`), { maxHeight: 240, threads: 1, source }));
      expect(ran.code).toBe('not_media');
      const cut = await failure(
        media.extractPreviewAndPoster(file(name), file(`${demuxer}-preview.webm`), file(`${demuxer}-poster.webp`), { seconds: 1, threads: 1, source }),
      );
      expect(cut.code).toBe('not_media');
    }, 30_000);
  }

  it('still reads a real mp4', async () => {
    const info = await media.probe(file('real.mp4'));
    expect(info.video?.width).toBe(320);
    const poster = await media.extractPoster(file('real.mp4'), file('poster.webp'), { threads: 1 });
    expect(poster.width).toBe(320);
  }, 30_000);
});

describe('what each ffmpeg says about a playlist renamed .mp4', () => {
  it("ffmpeg 7.1's words (no HLS by content, then no moov atom) are a refused hls file, not a truncated upload", async () => {
    // A stand-in ffprobe saying what ffprobe 7.1 says for hls.mp4 under the restriction.
    const fake = file('ffprobe-7.1-hls.sh');
    await writeFile(
      fake,
      '#!/bin/sh\necho "$@" >/dev/null\nprintf "%s\\n" "Not detecting m3u8/hls with non standard extension and non standard mime type" "    Last message repeated 1 times" "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55ecf53d1100] moov atom not found" "hls.mp4: Invalid data found when processing input" >&2\nexit 1\n',
    );
    await chmod(fake, 0o755);
    const error = await failure(createMediaAdapter({ ffprobePath: fake }).probe(file('hls.mp4')));
    expect(error).toMatchObject({ code: 'not_media', permanent: true });
    expect(error.message).toContain('a hls file');
  });
});

describe('transient read errors are retried, not refused', () => {
  it('reports EIO from the staging volume as a retryable io_error', async () => {
    // A stand-in ffprobe that fails the way a flaky network mount does.
    const fake = file('ffprobe-eio.sh');
    await writeFile(fake, '#!/bin/sh\necho "$@" >/dev/null\necho "source: Input/output error" >&2\nexit 1\n');
    await chmod(fake, 0o755);
    const error = await failure(createMediaAdapter({ ffprobePath: fake }).probe(file('real.mp4')));
    expect(error).toMatchObject({ code: 'io_error', permanent: false });
  });
});

describe('no encode can hang', () => {
  it('stops an ffmpeg that makes no progress, runs it again, then fails as stalled (retryable)', async () => {
    const runner = new FfmpegRunner({ stallSeconds: 1, stallAttempts: 2 });
    const started = Date.now();
    // Opening a FIFO nobody writes blocks forever: ffmpeg prints nothing and reads nothing.
    const error = await failure(runner.run({ input: file('never-written.mp4'), output: file('hung.webm'), outputOptions: ['-f', 'webm'] }));
    const seconds = (Date.now() - started) / 1000;
    expect(error).toMatchObject({ code: 'stalled', permanent: false });
    expect(error.message).toMatch(/no progress for 1 s/);
    // Two runs of about one second each: it was started again once.
    expect(seconds).toBeGreaterThanOrEqual(2);
    expect(seconds).toBeLessThan(15);
  }, 30_000);

  it('counts the runs: a stalled command is started again up to FFMPEG_STALL_ATTEMPTS times', async () => {
    const counter = file('runs.txt');
    const fake = file('ffmpeg-hangs.sh');
    await writeFile(
      fake,
      `#!/bin/sh\n${REAL_FFMPEG_ANSWERS_QUERIES}echo run >> '${counter}'\necho "frame=    1 fps=0.0 q=0.0 size=       0kB time=00:00:00.03 bitrate=N/A speed=N/A" >&2\nexec sleep 30\n`,
    );
    await chmod(fake, 0o755);
    const error = await failure(
      new FfmpegRunner({ ffmpegPath: fake, stallSeconds: 1, stallAttempts: 3 }).run({ input: file('real.mp4'), output: file('x.webm'), outputOptions: [] }),
    );
    expect(error.code).toBe('stalled');
    expect((await readFile(counter, 'utf8')).trim().split('\n')).toHaveLength(3);
  }, 30_000);

  it('lets a slow encode that keeps moving run to the end', async () => {
    // A stand-in encode that reports a frame every 0.25 s for 5 s: it runs 2.5 times the 2 s stall
    // limit, so only progress keeps it alive, and a gap between reports is an eighth of the limit, so
    // a loaded machine cannot pass for a stall. (A real 2 s encode under a 3 s limit tested neither:
    // idle, it ended before the limit; under load, its start-up alone could reach it.)
    const fake = file('ffmpeg-slow.sh');
    await writeFile(
      fake,
      `#!/bin/sh\n${REAL_FFMPEG_ANSWERS_QUERIES}i=1\nwhile [ $i -le 20 ]; do\n  echo "frame=$i fps=4.0 q=0.0 size=       0kB time=N/A bitrate=N/A speed=N/A" >&2\n  sleep 0.25\n  i=$((i + 1))\ndone\n`,
    );
    await chmod(fake, 0o755);
    const result = await new FfmpegRunner({ ffmpegPath: fake, stallSeconds: 2, stallAttempts: 1 }).run({
      input: file('real.mp4'),
      output: file('moving.webm'),
      outputOptions: [],
    });
    expect(result).toMatchObject({ attempts: 1, frames: 20 });
    expect(result.wallSeconds).toBeGreaterThan(4);
  }, 30_000);

  it('stops an ffprobe that does not answer (a FIFO, a hung mount) as stalled, retryable', async () => {
    const error = await failure(createMediaAdapter({ stallSeconds: 1 }).probe(file('never-written.mp4')));
    expect(error).toMatchObject({ code: 'stalled', permanent: false });
  }, 30_000);

  it('stops a run at its time limit whatever its progress', async () => {
    const error = await failure(
      new FfmpegRunner({ stallSeconds: 60 }).run({
        input: file('never-written.mp4'),
        output: file('late.webm'),
        outputOptions: ['-f', 'webm'],
        timeoutSeconds: 1,
      }),
    );
    expect(error).toMatchObject({ code: 'timeout', permanent: false });
    expect(error.message).toMatch(/1 s limit/);
  }, 30_000);
});
