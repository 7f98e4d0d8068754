import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Knex, migrateToLatest } from '@reelboard/db';
import { makeClip } from '@reelboard/testkit/media';
import { type Stack, startStack } from '@reelboard/testkit/stack';
import { runScaleInDrill, scaleInChecks } from './scale-in-drill.js';

// The scale-in drill, short: an 8 s 360p upload in 2 s chunks (two rungs: 8 chunk jobs and the
// audio) on two transcoder replicas, one stopped with SIGTERM mid-encode. The grace is 0.5 s, so
// the running chunk is handed back rather than finished: the case that costs a re-encode.
// scripts/drill-scale-in.ts runs it at the deployment's grace and writes a report.

/** About 40 s on an idle 2-core machine (start-up included); a shared one under load needs far more. */
const TEST_TIMEOUT_MS = 600_000;

let stack: Stack;
let db: Knex;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'reelboard-scale-in-'));
  await makeClip(join(work, 'clip.mp4'), { width: 640, height: 360, seconds: 8 });
  // No lowest rung encoded while paying: its finished chunks would be taken without ffmpeg, and the
  // drill is about a chunk whose ffmpeg is running when the replica is told to stop.
  stack = await startStack({ PREVIEW_SECONDS: '1', CHUNK_THRESHOLD_SECONDS: '3', CHUNK_SECONDS: '2', SHUTDOWN_GRACE_MS: '500', SPECULATIVE_RUNG: 'false' });
  db = connectDatabase(stack.env.DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  await stack?.shutdown();
  await db?.destroy();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('transcoder scale-in', () => {
  it(
    'SIGTERM to a replica mid-encode: it exits 0 handing its chunk back, the upload is saved, no chunk encoded from zero more than twice',
    async () => {
      const result = await runScaleInDrill({ stack, video: join(work, 'clip.mp4'), log: (line) => process.stdout.write(`${line}\n`) });
      for (const [what, ok, seen] of scaleInChecks(result)) expect(ok, `${what}: ${seen}`).toBe(true);
      // Two rungs of four chunks and the audio, all in the records counted: the lowest rung's chunks
      // two to a job (FFMPEG_THREADS 2, side by side), the upper rung's one to a job.
      expect(result.chunks.map((chunk) => chunk.part).sort()).toEqual(['240p#0+1', '240p#2+3', '360p#0', '360p#1', '360p#2', '360p#3', 'audio']);
      const listing = await db('listings').where({ id: result.uploadId }).first();
      expect(listing).toBeDefined();
    },
    TEST_TIMEOUT_MS,
  );
});
