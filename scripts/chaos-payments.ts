/**
 * The payments drill, long version: a reliability script (not part of the suite, which
 * runs a short version as fault 8 of test/faults/faults.test.ts). Paid uploads go through the real six
 * services on private Redis/Postgres/S3/anvil while two payment-watcher replicas are SIGKILLed at
 * random moments (seeded, every kill logged) and Redis is restarted once; then every upload must have
 * ended saved exactly once and reconciliation must find nothing. Writes docs/reliability/payment-chaos.md.
 *
 *   node --import tsx scripts/chaos-payments.ts [--uploads 50] [--seed 7]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connectDatabase } from '@reelboard/db';
import { repoRoot } from '@reelboard/testkit/infra-env';
import { makeClip } from '@reelboard/testkit/media';
import { startPrivateInfra } from '@reelboard/testkit/private-infra';
import { startStack } from '@reelboard/testkit/stack';
import { runPaymentChaos } from '../test/faults/payment-chaos.js';

const { values } = parseArgs({ options: { uploads: { type: 'string', default: '50' }, seed: { type: 'string', default: '7' } } });
const uploads = Number(values.uploads);
const seed = Number(values.seed);
const basePort = Number(process.env.TEST_BASE_PORT ?? 31080);
const work = await mkdtemp(join(tmpdir(), 'reelboard-chaos-'));
const video = join(work, 'clip.mp4');
const [infra] = await Promise.all([startPrivateInfra(basePort + 20), makeClip(video, { width: 320, height: 180, seconds: 1 })]);
const stack = await startStack({
  ...infra.env,
  JOB_LOCK_MS: '4000',
  JOB_STALLED_INTERVAL_MS: '2000',
  SHUTDOWN_GRACE_MS: '4000',
  PREVIEW_SECONDS: '1',
  CONFIRMATIONS: '2',
  // One person posting many uploads in a few minutes: the per-IP and per-wallet limits would refuse them.
  RATE_LIMIT_AUTH_PER_IP_PER_MINUTE: '1000',
  RATE_LIMIT_PER_IP_PER_MINUTE: '10000',
  RATE_LIMIT_UPLOADS_PER_WALLET_PER_HOUR: '1000',
  STAGING_MAX_UNPAID_UPLOADS_PER_WALLET: '1000',
});
const db = connectDatabase(infra.env.DATABASE_URL ?? '', { min: 0, max: 2 });
try {
  const result = await runPaymentChaos({ stack, redis: infra.redis, db, video, uploads, seed, log: (line) => process.stdout.write(`${line}\n`) });
  const saved = Object.values(result.outcomes).filter((event) => event === 'profile.saved').length;
  const kills = result.events.filter((e) => e.includes('SIGKILL')).length;
  const report = `## Payments drill: ${uploads} paid uploads, payment-watchers SIGKILLed at random, Redis restarted

Run ${new Date().toISOString()} on ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), Node ${process.version}.
Command: \`node --import tsx scripts/chaos-payments.ts --uploads ${uploads} --seed ${seed}\` (private Redis with AOF, Postgres+PostGIS,
s3rver and anvil with 1 s blocks, the seven services plus a second payment-watcher; half the uploads sent their tx hash, half
left it to the deposit passes).

| | |
|---|---|
| uploads paid | ${uploads} |
| ended \`profile.saved\` | ${saved} |
| with exactly one listing and one paid, linked ledger row | ${uploads - result.wrong.length} |
| payment-watcher SIGKILLs | ${kills} |
| Redis restarts | 1 |
| reconciliation | exit ${result.reconcile.code}: ${result.reconcile.stdout.trim().split('\n').at(-1)} |
| wall time | ${result.seconds.toFixed(0)} s |

Every kill and restart, in order (seed ${seed}; the same seed replays the same schedule against the same timing):

\`\`\`
${result.events.join('\n')}
\`\`\`
`;
  mkdirSync(join(repoRoot, 'docs', 'reliability'), { recursive: true });
  writeFileSync(join(repoRoot, 'docs', 'reliability', 'payment-chaos.md'), report);
  process.stdout.write(report);
  process.exitCode = result.wrong.length === 0 && result.reconcile.code === 0 ? 0 : 1;
} finally {
  await stack.shutdown();
  await db.destroy();
  await infra.close();
  await rm(work, { recursive: true, force: true });
}
