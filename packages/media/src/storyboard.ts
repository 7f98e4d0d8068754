import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type FfmpegCommand, restrictedInputOptions } from './commands.js';
import type { FfmpegRunner } from './ffmpeg-runner.js';
import type { FrameSize } from './geometry.js';
import { assertPlayableVideo, probeMedia } from './probe.js';
import type { MediaInfo, VideoStreamInfo } from './types.js';
import { videoFilterChain } from './video-filters.js';

/** How a storyboard is laid out: one thumbnail every `intervalSeconds`, tiled into sprite sheets. */
export interface StoryboardSettings {
  /** Seconds between two thumbnails (at least); longer videos get a longer interval to stay under `maxThumbnails`. */
  intervalSeconds: number;
  /** Thumbnails in all, at most. */
  maxThumbnails: number;
  /** A thumbnail's long side in pixels. */
  thumbnailLongSide: number;
  /** Thumbnails per sprite sheet: columns x rows. */
  columns: number;
  rows: number;
}

export const DEFAULT_STORYBOARD: StoryboardSettings = { intervalSeconds: 2, maxThumbnails: 200, thumbnailLongSide: 160, columns: 5, rows: 5 };

/** One thumbnail: the span of the video it stands for and where it is in which sprite sheet. */
export interface StoryboardCue {
  startSeconds: number;
  endSeconds: number;
  /** 1-based sprite sheet number (`sprite-<n>.jpg`). */
  sprite: number;
  x: number;
  y: number;
}

export interface StoryboardPlan {
  intervalSeconds: number;
  thumbnail: FrameSize;
  columns: number;
  rows: number;
  sprites: number;
  cues: StoryboardCue[];
}

/** A sprite sheet's file name, relative to the WebVTT index beside it. */
export const spriteName = (sprite: number): string => `sprite-${sprite}.jpg`;
export const STORYBOARD_VTT = 'storyboard.vtt';

/**
 * Which thumbnails a video of this length and size gets: thumbnail n shows the frame at n x interval
 * and stands for [n x interval, (n + 1) x interval) (the last one up to the end), laid out row by row.
 */
export function planStoryboard(durationSeconds: number, video: FrameSize, settings: StoryboardSettings = DEFAULT_STORYBOARD): StoryboardPlan {
  const intervalSeconds = Math.max(settings.intervalSeconds, Math.ceil(durationSeconds / settings.maxThumbnails));
  // The last thumbnail starts a little before the end, where a frame still is (a container's duration
  // may run a few ms past the last video frame, e.g. to the audio's end).
  const count = Math.max(1, Math.floor(Math.max(0, durationSeconds - 0.05) / intervalSeconds) + 1);
  const scale = settings.thumbnailLongSide / Math.max(video.width, video.height);
  const even = (value: number) => Math.max(2, Math.round((value * Math.min(1, scale)) / 2) * 2);
  const thumbnail = { width: even(video.width), height: even(video.height) };
  const perSprite = settings.columns * settings.rows;
  const cues: StoryboardCue[] = [];
  for (let n = 0; n < count; n++) {
    const within = n % perSprite;
    cues.push({
      startSeconds: n * intervalSeconds,
      endSeconds: Math.min((n + 1) * intervalSeconds, durationSeconds),
      sprite: Math.floor(n / perSprite) + 1,
      x: (within % settings.columns) * thumbnail.width,
      y: Math.floor(within / settings.columns) * thumbnail.height,
    });
  }
  return { intervalSeconds, thumbnail, columns: settings.columns, rows: settings.rows, sprites: Math.ceil(count / perSprite), cues };
}

/** WebVTT time: hh:mm:ss.mmm. */
function vttTime(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return `${pad(Math.floor(ms / 3_600_000))}:${pad(Math.floor(ms / 60_000) % 60)}:${pad(Math.floor(ms / 1000) % 60)}.${pad(ms % 1000, 3)}`;
}

/** The WebVTT thumbnail index: each cue's text is `sprite-<n>.jpg#xywh=x,y,w,h`, relative to the index. */
export function storyboardVtt(plan: StoryboardPlan): string {
  const { width, height } = plan.thumbnail;
  const cues = plan.cues.map(
    (cue) => `${vttTime(cue.startSeconds)} --> ${vttTime(cue.endSeconds)}\n${spriteName(cue.sprite)}#xywh=${cue.x},${cue.y},${width},${height}`,
  );
  return `WEBVTT\n\n${cues.join('\n\n')}\n`;
}

/**
 * One decode of the video into every sprite sheet: select keeps the first frame at or after each
 * multiple of the interval (the fps filter would take the frame nearest the middle of each interval
 * instead), before scaling so only those are scaled; trim stops at the planned count, and tile lays
 * them out row by row (the last sheet's empty places stay black).
 */
export function buildStoryboardCommand(input: string, outputPattern: string, video: VideoStreamInfo, plan: StoryboardPlan, threads?: number): FfmpegCommand {
  const filters = [
    `select=gte(t\\,selected_n*${plan.intervalSeconds})`,
    `trim=end_frame=${plan.cues.length}`,
    videoFilterChain(video, plan.thumbnail),
    `tile=${plan.columns}x${plan.rows}`,
  ];
  return {
    input,
    inputOptions: restrictedInputOptions(threads === undefined ? {} : { threads }),
    output: outputPattern,
    outputOptions: [
      ...['-map', '0:v:0', '-an', '-sn', '-dn', '-map_metadata', '-1', '-vf', filters.join(',')],
      // One image per sheet as the filters made them: a constant-rate output would repeat sheets to fill the time between.
      ...['-fps_mode', 'passthrough', '-frames:v', String(plan.sprites)],
      ...['-c:v', 'mjpeg', '-q:v', '5', '-f', 'image2'],
    ],
  };
}

export interface StoryboardOptions {
  settings?: StoryboardSettings;
  /** The video's probe, if the caller has it. */
  source?: MediaInfo;
  threads?: number;
  signal?: AbortSignal;
  /** The runner that starts ffmpeg (the adapter passes its own). */
  runner: FfmpegRunner;
}

export interface StoryboardResult {
  plan: StoryboardPlan;
  /** File names in the output folder: the index first, then the sprite sheets in order. */
  files: string[];
  bytes: number;
  wallSeconds: number;
}

/**
 * Writes a storyboard of the video into `outputDir` (replacing what was there): sprite-<n>.jpg and
 * storyboard.vtt. Written into a `.part` folder and renamed, so the folder is whole or absent.
 */
export async function extractStoryboard(input: string, outputDir: string, options: StoryboardOptions): Promise<StoryboardResult> {
  const { runner } = options;
  const source = options.source ?? (await probeMedia(input, runner));
  assertPlayableVideo(source, input);
  const plan = planStoryboard(source.durationSeconds, source.video, options.settings);
  const partDir = `${outputDir}.part`;
  await rm(partDir, { recursive: true, force: true });
  await mkdir(partDir, { recursive: true });
  try {
    const command = buildStoryboardCommand(input, join(partDir, 'sprite-%d.jpg'), source.video, plan, options.threads);
    const run = await runner.run({ ...command, ...(options.signal ? { signal: options.signal } : {}) });
    const written = (await readdir(partDir)).filter((name) => /^sprite-\d+\.jpg$/.test(name));
    if (written.length !== plan.sprites) {
      throw new Error(`storyboard of ${input}: ffmpeg wrote ${written.length} sprite sheets, ${plan.sprites} planned`);
    }
    await writeFile(join(partDir, STORYBOARD_VTT), storyboardVtt(plan));
    const files = [STORYBOARD_VTT, ...Array.from({ length: plan.sprites }, (_, i) => spriteName(i + 1))];
    const sizes = await Promise.all(files.map(async (name) => (await stat(join(partDir, name))).size));
    await rm(outputDir, { recursive: true, force: true });
    await rename(partDir, outputDir);
    return { plan, files, bytes: sizes.reduce((sum, size) => sum + size, 0), wallSeconds: run.wallSeconds };
  } catch (error) {
    await rm(partDir, { recursive: true, force: true });
    throw error;
  }
}
