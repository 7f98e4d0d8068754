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

// The end of a long video is cut finer: half-length pieces over the last TAPER_CHUNKS chunks'
// worth of source, quarter-length over the last half of that. Replicas take chunks in order, so the
// last round is made of short pieces, and no replica is left encoding a whole chunk while the
// others wait (with 60 equal chunks and 8 replicas, half the replicas would idle through the last
// chunk). Only sources of at least MIN_CHUNKS_TO_TAPER chunks are tapered: a short one has few chunks
// and few replicas to balance, and each extra piece costs a process start and an encoder start.
const TAPER_CHUNKS = 4;
const MIN_CHUNKS_TO_TAPER = 12;
// Pieces are never shorter than this (nor than one chunk when chunks are shorter).
const MIN_PIECE_SECONDS = 2;

/**
 * Splits a long video into chunks of about `chunkSeconds`, the last few of a long video cut finer
 * (see TAPER_CHUNKS). Each boundary moves to the source keyframe nearest its grid point (within a
 * quarter of a chunk), so a chunk's input seek decodes nothing it throws away, then to a
 * whole output frame. A last piece shorter than half a piece joins the one before. A source at most
 * `thresholdSeconds` long, or too short for two chunks, is encoded whole.
 */
export function planChunks(input: ChunkPlanInput): ChunkPlan {
  const { durationSeconds, fps, chunkSeconds, thresholdSeconds } = input;
  if (!(fps > 0) || !(chunkSeconds > 0)) throw new RangeError(`fps and chunkSeconds must be > 0 (got ${fps}, ${chunkSeconds})`);
  if (!(durationSeconds > thresholdSeconds) || durationSeconds < 1.5 * chunkSeconds) return { kind: 'single' };
  const totalFrames = Math.round(durationSeconds * fps);
  const starts = [0];
  for (const { at: grid, step } of gridPoints(durationSeconds, chunkSeconds)) {
    const keyframe = nearest(input.keyframeSeconds, grid);
    const at = keyframe !== undefined && Math.abs(keyframe - grid) <= chunkSeconds / 4 ? keyframe : grid;
    const frame = Math.round(at * fps);
    const previous = starts.at(-1) ?? 0;
    const minimumFrames = Math.max(1, Math.round((step / 2) * fps));
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

/** The grid points after 0, each with the length of the piece it starts. */
function* gridPoints(durationSeconds: number, chunkSeconds: number): Generator<{ at: number; step: number }> {
  const tapered = durationSeconds >= MIN_CHUNKS_TO_TAPER * chunkSeconds;
  const half = Math.max(chunkSeconds / 2, Math.min(chunkSeconds, MIN_PIECE_SECONDS));
  const quarter = Math.max(chunkSeconds / 4, Math.min(chunkSeconds, MIN_PIECE_SECONDS));
  const taperFrom = durationSeconds - TAPER_CHUNKS * chunkSeconds;
  const quarterFrom = durationSeconds - (TAPER_CHUNKS / 2) * chunkSeconds;
  // The length of the piece starting at `at`: a piece is not cut to fit its region, the next one
  // simply starts where it ends.
  const stepAt = (at: number) => (!tapered || at < taperFrom ? chunkSeconds : at < quarterFrom ? half : quarter);
  for (let at = stepAt(0); at < durationSeconds; at += stepAt(at)) yield { at, step: stepAt(at) };
}

function nearest(sorted: readonly number[], target: number): number | undefined {
  let best: number | undefined;
  for (const value of sorted) {
    if (best === undefined || Math.abs(value - target) < Math.abs(best - target)) best = value;
    if (value > target) break;
  }
  return best;
}
