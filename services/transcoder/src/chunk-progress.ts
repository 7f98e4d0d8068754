import type { StageContext } from '@reelboard/bus';
import type { ChunkedEncode, ChunkPart } from '@reelboard/contracts';

/** The key of a part in the shared progress of its upload's encode. */
export function partKey(part: ChunkPart): string {
  if (part.kind === 'audio') return 'audio';
  if (part.rungs) return `video-${part.rungs.join('-')}p-${part.index}`;
  return part.rung ? `video-${part.rung}p-${part.index}` : `video-${part.index}`;
}

/**
 * How much each part weighs in the encode's progress: a video chunk by its frames (an average chunk
 * weighs 1; the end of a long video is cut in shorter pieces), and the audio track, encoded in a
 * fraction of a chunk's time, a tenth of an average chunk.
 */
export function partWeights(chunked: Pick<ChunkedEncode, 'chunks' | 'totalFrames' | 'starts' | 'ladder'>, withAudio: boolean): Record<string, number> {
  const weights: Record<string, number> = {};
  if (chunked.ladder) {
    // A ladder: every chunk once for the lowest rung and once for all the rungs above it (one job,
    // ladderChunkParts), a rung's share weighing its pixels against the top rung's (the encoder's
    // work grows with them); the audio a tenth of an average top-rung chunk.
    const top = chunked.ladder.at(-1);
    const topPixels = top ? top.width * top.height : 1;
    const single = partWeights({ ...chunked, ladder: undefined }, false);
    const [lowest, ...upper] = chunked.ladder;
    const pixels = (rungs: typeof chunked.ladder) => rungs.reduce((sum, rung) => sum + rung.width * rung.height, 0) / topPixels;
    for (const [key, weight] of Object.entries(single)) {
      if (lowest) weights[key.replace('video-', `video-${lowest.name}p-`)] = weight * pixels([lowest]);
      if (upper.length > 0) weights[key.replace('video-', `video-${upper.map((rung) => rung.name).join('-')}p-`)] = weight * pixels(upper);
    }
    if (withAudio) weights.audio = 0.1;
    return weights;
  }
  // Without every chunk's start (a job planned before they were sent), chunks weigh the same.
  const starts = chunked.starts?.length === chunked.chunks ? chunked.starts : undefined;
  const average = chunked.totalFrames / chunked.chunks;
  for (let index = 0; index < chunked.chunks; index++) {
    const start = starts?.[index] ?? 0;
    const end = starts?.[index + 1] ?? chunked.totalFrames;
    weights[`video-${index}`] = starts ? Math.max(0, end - start) / average : 1;
  }
  if (withAudio) weights.audio = 0.1;
  return weights;
}

/**
 * Reports one part's percent as the whole upload's progress (every part of the chunked encode,
 * whichever replica runs it, weighted by partWeights). A report behind another replica's newer one
 * is dropped: publishing it would move the bar back.
 */
export function shareChunkProgress(
  context: Pick<StageContext, 'shareProgress' | 'status'>,
  uploadId: string,
  chunked: Pick<ChunkedEncode, 'chunks' | 'totalFrames' | 'starts' | 'ladder'>,
  part: ChunkPart,
  withAudio: boolean,
): (percent: number) => Promise<void> {
  const weights = partWeights(chunked, withAudio);
  const key = partKey(part);
  return async (percent) => {
    const whole = context.shareProgress ? await context.shareProgress(`${uploadId}.transcode`, key, percent, weights) : percent;
    if (whole < 0) return;
    await context.status('progress', { progress: Math.floor(whole), message: `transcoding in ${chunked.chunks} chunks` });
  };
}
