/**
 * The scale-in drill, long version: a reliability script (the suite runs a short one as
 * test/faults/scale-in.test.ts). A paid upload's ladder is encoded in chunks by two transcoder
 * replicas on private Redis/Postgres/S3/anvil; the replica running ffmpeg gets SIGTERM mid-encode,
 * as on a KEDA scale-in or a node drain, with the grace the deployment gives (SHUTDOWN_GRACE_MS).
 * The upload must end `saved`, the stopped replica exit 0, no chunk be encoded from zero more than
 * twice, no replica run more than TRANSCODE_CONCURRENCY jobs at once. Prints each step and a
 * verdict, writes docs/reliability/scale-in-drill.md, and exits 1 naming each check that failed.
 *
 *   node --import tsx scripts/drill-scale-in.ts [--grace-ms 120000] [--seconds 16] [--height 480] [--chunk-seconds 4]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectDatabase, migrateToLatest } from '@reelboard/db';
import { repoRoot } from '@reelboard/testkit/infra-env';
import { makeClip } from '@reelboard/testkit/media';
import { startPrivateInfra } from '@reelboard/testkit/private-infra';
import { startStack } from '@reelboard/testkit/stack';
import { runScaleInDrill, scaleInChecks } from '../test/faults/scale-in-drill.js';

const { values } = parseArgs({
  options: {
    'grace-ms': { type: 'string', default: '120000' },
    seconds: { type: 'string', default: '16' },
    height: { type: 'string', default: '480' },
    'chunk-seconds': { type: 'string', default: '4' },
  },
});
const wholeAtLeast = (name: string, raw: string | undefined, least: number): number => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < least) {
    process.stderr.write(`--${name} must be a whole number, at least ${least} (got ${raw})\n`);
    process.exit(2);
  }
  return value;
};
const graceMs = wholeAtLeast('grace-ms', values['grace-ms'], 1);
const seconds = wholeAtLeast('seconds', values.seconds, 4);
const height = wholeAtLeast('height', values.height, 144);
const chunkSeconds = wholeAtLeast('chunk-seconds', values['chunk-seconds'], 1);
if (seconds < 2 * chunkSeconds) {
  process.stderr.write(`--seconds (${seconds}) must be at least two chunks (--chunk-seconds ${chunkSeconds}): the drill needs a chunked encode\n`);
  process.exit(2);
}
const width = Math.round((height * 16) / 9 / 2) * 2;

const basePort = Number(process.env.TEST_BASE_PORT ?? 31080);
const work = await mkdtemp(join(tmpdir(), 'reelboard-scale-in-'));
const video = join(work, 'clip.mp4');
process.stdout.write(`private infrastructure and a ${seconds} s ${width}x${height} clip...\n`);
const [infra] = await Promise.all([startPrivateInfra(basePort + 20), makeClip(video, { width, height, seconds })]);
const stack = await startStack({
  ...infra.env,
  PREVIEW_SECONDS: '1',
  CHUNK_SECONDS: String(chunkSeconds),
  CHUNK_THRESHOLD_SECONDS: String(chunkSeconds),
  SHUTDOWN_GRACE_MS: String(graceMs),
  // The paid path encodes every chunk itself (none taken from an encode made while paying): the drill stops a running ffmpeg.
  SPECULATIVE_RUNG: 'false',
});
const db = connectDatabase(infra.env.DATABASE_URL ?? '', { min: 0, max: 2 });
try {
  await migrateToLatest(db);
  const lines: string[] = [];
  const result = await runScaleInDrill({
    stack,
    video,
    log: (line) => {
      lines.push(line);
      process.stdout.write(`${line}\n`);
    },
  });
  const checks = scaleInChecks(result);
  const failed = checks.filter(([, ok]) => !ok);
  const report = `## Scale-in drill: a transcoder replica stopped with SIGTERM mid-encode

Run ${new Date().toISOString()} on ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores, load average ${loadavg()[0]?.toFixed(1)} at the end), Node ${process.version}.
Command: \`node --import tsx scripts/drill-scale-in.ts --grace-ms ${graceMs} --seconds ${seconds} --height ${height} --chunk-seconds ${chunkSeconds}\`
(private Redis, Postgres+PostGIS, s3rver and anvil, the seven services and a second transcoder; the ladder in
${chunkSeconds} s chunks; SHUTDOWN_GRACE_MS=${graceMs}). The upload ended ${result.secondsToSaved.toFixed(1)} s after its payment,
${result.secondsAfterSigterm.toFixed(1)} s after the SIGTERM.

| check | ok | seen |
|---|---|---|
${checks.map(([what, ok, seen]) => `| ${what} | ${ok ? 'yes' : '**no**'} | ${seen.replace(/\|/g, '\\|')} |`).join('\n')}

Each (rung, chunk) job: ${result.chunks.map((chunk) => `${chunk.part} ${chunk.runs}x`).join(', ')}.

Each step, in order:

\`\`\`
${lines.join('\n')}
\`\`\`
`;
  mkdirSync(join(repoRoot, 'docs', 'reliability'), { recursive: true });
  writeFileSync(join(repoRoot, 'docs', 'reliability', 'scale-in-drill.md'), report);
  process.stdout.write(report);
  process.stdout.write(failed.length === 0 ? 'verdict: passed\n' : `verdict: FAILED: ${failed.map(([what, , seen]) => `${what} (${seen})`).join('; ')}\n`);
  process.exitCode = failed.length === 0 ? 0 : 1;
} catch (error) {
  process.stderr.write(`verdict: FAILED: the drill did not run to its end: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await stack.shutdown();
  await db.destroy();
  await infra.close();
  await rm(work, { recursive: true, force: true });
}
