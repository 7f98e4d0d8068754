import { copyFile, link, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { MediaAdapter, MediaInfo } from '@reelboard/media';

/** A part of the lowest rung the speculative encode finished, now in the paid path's place. */
export interface TakenPart {
  outputBytes: number;
  /** Video frames in the chunk (absent for the audio track). */
  frames?: number;
}

/**
 * A lowest-rung chunk the speculative encode finished before the payment (same plan: its folder is
 * named by the plan's hash), put where the paid path's join reads it. Checked as a retried chunk is
 * (whole, the planned frames, starting on a keyframe): a chunk its ffmpeg was stopped in is never
 * there, since chunks are written atomically. Undefined when it is not there: the job encodes it.
 */
export async function takeSpeculativeChunk(
  media: Pick<MediaAdapter, 'findVideoChunk'>,
  stagingDir: string,
  from: string,
  output: string,
  frames: number | undefined,
  fps: number,
): Promise<TakenPart | undefined> {
  const found = await media.findVideoChunk(join(stagingDir, from), frames, fps);
  if (!found) return undefined;
  await placeFile(join(stagingDir, from), output);
  return { outputBytes: found.outputBytes, frames: found.frames };
}

/** The audio track the speculative encode finished (it encodes the audio before the chunks), or undefined. */
export async function takeSpeculativeAudio(
  media: Pick<MediaAdapter, 'findAudioTrack'>,
  stagingDir: string,
  from: string,
  output: string,
  source: MediaInfo,
): Promise<TakenPart | undefined> {
  const found = await media.findAudioTrack(join(stagingDir, from), source);
  if (!found) return undefined;
  await placeFile(join(stagingDir, from), output);
  return { outputBytes: found.outputBytes };
}

/**
 * A hard link (no bytes copied; the staging sweep deleting the speculative folder leaves this name
 * whole), or a copy where the volume refuses links; renamed into place so a reader never sees half.
 */
async function placeFile(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  const part = `${to}.taken`;
  await rm(part, { force: true });
  await link(from, part).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EXDEV' && error.code !== 'EPERM' && error.code !== 'ENOTSUP') throw error;
    await copyFile(from, part);
  });
  await rename(part, to);
}
