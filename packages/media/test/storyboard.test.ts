import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMediaAdapter, planStoryboard, storyboardVtt } from '../src/index.js';
import { ffmpegCli } from './helpers.js';

const execFileAsync = promisify(execFile);
const media = createMediaAdapter();
let work = '';

/** Mean RGB of one rectangle of an image (an independent ffmpeg crop, not the code under test). */
async function meanRgb(image: string, x: number, y: number, w: number, h: number): Promise<[number, number, number]> {
  const { stdout } = await execFileAsync(
    'ffmpeg',
    ['-v', 'error', '-i', image, '-vf', `crop=${w}:${h}:${x}:${y},scale=1:1:flags=area`, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    { encoding: 'buffer' },
  );
  return [stdout[0] ?? 0, stdout[1] ?? 0, stdout[2] ?? 0];
}

/** Which of red, green, blue dominates. */
const colourOf = ([r, g, b]: [number, number, number]) => (r > g && r > b ? 'red' : g > b ? 'green' : 'blue');

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'reelboard-storyboard-'));
  // Red until 2.5 s, green until 4.5 s, blue to 9 s: off the 2 s grid, so each thumbnail's colour
  // says which instant it was taken at (0, 2: red; 4: green; 6, 8: blue).
  await ffmpegCli([
    ...['-f', 'lavfi', '-i', 'color=red:s=640x360:r=30:d=2.5'],
    ...['-f', 'lavfi', '-i', 'color=lime:s=640x360:r=30:d=2'],
    ...['-f', 'lavfi', '-i', 'color=blue:s=640x360:r=30:d=4.5'],
    ...['-filter_complex', '[0][1][2]concat=n=3:v=1:a=0', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', join(work, 'colours.mp4')],
  ]);
}, 60_000);
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('storyboards', () => {
  it('plans one thumbnail per interval, row by row, with a longer interval for long videos', () => {
    const plan = planStoryboard(9, { width: 1920, height: 1080 }, { intervalSeconds: 2, maxThumbnails: 200, thumbnailLongSide: 160, columns: 2, rows: 1 });
    expect(plan.thumbnail).toEqual({ width: 160, height: 90 });
    expect(plan.sprites).toBe(3);
    expect(plan.cues.map((cue) => [cue.startSeconds, cue.endSeconds, cue.sprite, cue.x, cue.y])).toEqual([
      [0, 2, 1, 0, 0],
      [2, 4, 1, 160, 0],
      [4, 6, 2, 0, 0],
      [6, 8, 2, 160, 0],
      [8, 9, 3, 0, 0],
    ]);
    // A portrait video keeps its long side at the thumbnail size.
    expect(planStoryboard(10, { width: 1080, height: 1920 }).thumbnail).toEqual({ width: 90, height: 160 });
    // 600 s at 2 s would be 300 thumbnails: the interval grows to stay under 200.
    const long = planStoryboard(600, { width: 1280, height: 720 });
    expect(long.intervalSeconds).toBe(3);
    expect(long.cues).toHaveLength(200);
    expect(storyboardVtt(plan).split('\n').slice(0, 5)).toEqual(['WEBVTT', '', '00:00:00.000 --> 00:00:02.000', 'sprite-1.jpg#xywh=0,0,160,90', '']);
  });

  it('writes sprite sheets whose thumbnails show the frame at each cue start, and an index naming them relatively', async () => {
    const out = join(work, 'storyboard');
    const result = await media.extractStoryboard(join(work, 'colours.mp4'), out, {
      settings: { intervalSeconds: 2, maxThumbnails: 200, thumbnailLongSide: 160, columns: 2, rows: 1 },
      threads: 1,
    });
    expect(result.files).toEqual(['storyboard.vtt', 'sprite-1.jpg', 'sprite-2.jpg', 'sprite-3.jpg']);
    expect((await readdir(out)).sort()).toEqual([...result.files].sort());
    const vtt = await readFile(join(out, 'storyboard.vtt'), 'utf8');
    const cues = [...vtt.matchAll(/(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(sprite-\d+\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)/g)];
    expect(cues.map((cue) => `${cue[1]}-${cue[2]}`)).toEqual([
      '00:00:00.000-00:00:02.000',
      '00:00:02.000-00:00:04.000',
      '00:00:04.000-00:00:06.000',
      '00:00:06.000-00:00:08.000',
      '00:00:08.000-00:00:09.000',
    ]);
    const colours = [];
    for (const cue of cues) {
      const [x, y, w, h] = cue.slice(4, 8).map(Number) as [number, number, number, number];
      colours.push(colourOf(await meanRgb(join(out, cue[3] ?? ''), x + 8, y + 8, w - 16, h - 16)));
    }
    expect(colours).toEqual(['red', 'red', 'green', 'blue', 'blue']);
  }, 60_000);
});
