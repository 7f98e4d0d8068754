/** What the chunk plan is decided from. */
export interface ChunkPlanInput {
  /** The source's duration. */
  durationSeconds: number;
  /** Output frame rate (the source's, capped): chunk boundaries are whole frames of it. */
  fps: number;
  /** The source's keyframe times, ascending (may be empty: boundaries then fall on the plain grid). */
  keyframeSeconds: readonly number[];
  /** About this much source per chunk. */
  chunkSeconds: number;
  /** Sources at most this long are encoded in one piece. */
  thresholdSeconds: number;
}

/** One chunk: a run of output frames. */
export interface PlannedChunk {
  index: number;
  startFrame: number;
  /** Absent for the last chunk, which runs to the end of the source (its frame count is whatever the source has). */
  frames?: number;
}

/** How a video is encoded: in one piece, or in chunks. */
export type ChunkPlan = { kind: 'single' } | { kind: 'chunked'; fps: number; totalFrames: number; chunks: PlannedChunk[] };

/**
 * Splits a long video into chunks of about `chunkSeconds`. Each boundary moves to the source keyframe
 * nearest its grid point (within a quarter of a chunk), so a chunk's input seek decodes nothing it
 * throws away, then to a whole output frame. A last piece shorter than half a chunk joins the one
 * before. A source at most `thresholdSeconds` long, or too short for two chunks, is encoded whole.
 */
export function planChunks(input: ChunkPlanInput): ChunkPlan {
  const { durationSeconds, fps, chunkSeconds, thresholdSeconds } = input;
  if (!(fps > 0) || !(chunkSeconds > 0)) throw new RangeError(`fps and chunkSeconds must be > 0 (got ${fps}, ${chunkSeconds})`);
  if (!(durationSeconds > thresholdSeconds) || durationSeconds < 1.5 * chunkSeconds) return { kind: 'single' };
  const totalFrames = Math.round(durationSeconds * fps);
  const starts = [0];
  const tolerance = chunkSeconds / 4;
  const minimumFrames = Math.max(1, Math.round((chunkSeconds / 2) * fps));
  for (let grid = chunkSeconds; grid < durationSeconds; grid += chunkSeconds) {
    const keyframe = nearest(input.keyframeSeconds, grid);
    const at = keyframe !== undefined && Math.abs(keyframe - grid) <= tolerance ? keyframe : grid;
    const frame = Math.round(at * fps);
    const previous = starts.at(-1) ?? 0;
    // Too close to the previous boundary or to the end: this piece joins its neighbour.
    if (frame - previous < minimumFrames || totalFrames - frame < minimumFrames) continue;
    starts.push(frame);
  }
  if (starts.length < 2) return { kind: 'single' };
  const chunks = starts.map((startFrame, index): PlannedChunk => {
    const next = starts[index + 1];
    return next === undefined ? { index, startFrame } : { index, startFrame, frames: next - startFrame };
  });
  return { kind: 'chunked', fps, totalFrames, chunks };
}

function nearest(sorted: readonly number[], target: number): number | undefined {
  let best: number | undefined;
  for (const value of sorted) {
    if (best === undefined || Math.abs(value - target) < Math.abs(best - target)) best = value;
    if (value > target) break;
  }
  return best;
}
