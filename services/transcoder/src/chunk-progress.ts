import type { ChunkedEncode, ChunkPart } from '@reelboard/contracts';

/** The key of a part in the shared progress of its upload's encode. */
export function partKey(part: ChunkPart): string {
  return part.kind === 'audio' ? 'audio' : `video-${part.index}`;
}

/**
 * How much each part weighs in the encode's progress: video chunks are about equal by the plan, and
 * the audio track, encoded in a fraction of a chunk's time, counts a tenth of one.
 */
export function partWeights(chunked: Pick<ChunkedEncode, 'chunks'>, withAudio: boolean): Record<string, number> {
  const weights: Record<string, number> = {};
  for (let index = 0; index < chunked.chunks; index++) weights[`video-${index}`] = 1;
  if (withAudio) weights['audio'] = 0.1;
  return weights;
}
