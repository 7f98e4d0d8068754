/** What one part of a chunked encode left on the staging volume (the job's value; the parent reads it). */
export interface ChunkOutcome {
  kind: 'video' | 'audio';
  /** The video chunk's index. */
  index?: number;
  /** The ladder rung it was encoded for (absent for a single-rendition encode). */
  rung?: number;
  /** Staged path of the part, relative to the staging directory. */
  path: string;
  bytes: number;
  /** Video frames in the chunk. */
  frames?: number;
  /** False when a previous run's output was found whole and nothing was encoded. */
  encoded: boolean;
  /** Seconds ffmpeg ran (0 when nothing was encoded). */
  wallSeconds: number;
  /** The replica that ran this part. */
  replica: string;
  /** The job's attempt (1 on the first run). */
  attempt: number;
  /** True when the part was taken from the speculative encode of the same plan (nothing encoded). */
  taken?: boolean;
  /** A chunk of several rungs (handle-ladder-chunk.ts): each rung's chunk, in the job's order. */
  outputs?: RungChunkOutcome[];
  /** The chunks of the same rung this job encoded beside its own (part.alongside), in the job's order. */
  alongside?: ChunkOutcome[];
}

/** One rung's chunk of a job that encoded several rungs from one decode. */
export interface RungChunkOutcome {
  rung: number;
  /** Staged path of the chunk, relative to the staging directory. */
  path: string;
  bytes: number;
  frames: number;
  /** False when a previous run's chunk was found whole and kept. */
  encoded: boolean;
}
