/**
 * The settings-change drill, long version: a reliability script (the suite runs the same drill as
 * test/faults/settings-change.test.ts). Quotes are opened through the real services on private
 * Redis/Postgres/S3/anvil under one merchant in the native coin; MERCHANT_ADDRESS and PAYMENT_TOKEN are
 * then changed (the api-gateway and the payment-watcher restarted with the new values), new quotes are
 * opened in the token, and every quote is paid. Each old quote must be credited in its own asset and
 * swept to its own merchant, and `pnpm payments reconcile` find nothing unexplained under both
 * settings. Prints each step and a verdict; exits 1 naming each check that failed. Writes
 * docs/reliability/settings-change-drill.md.
 *
 *   node --import tsx scripts/drill-settings-change.ts [--old 3] [--new 2]
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
import { runSettingsChangeDrill, settingsChangeChecks, settingsChangeStackEnv } from '../test/faults/settings-change-drill.js';

const { values } = parseArgs({ options: { old: { type: 'string', default: '3' }, new: { type: 'string', default: '2' } } });
const counts = { old: Number(values.old), new: Number(values.new) };
for (const [name, count] of Object.entries(counts)) {
  if (!Number.isInteger(count) || count < 1) {
    process.stderr.write(`--${name} must be a whole number of quotes, at least 1 (got ${values[name as 'old' | 'new']})\n`);
    process.exit(2);
  }
}
const basePort = Number(process.env.TEST_BASE_PORT ?? 31080);
const work = await mkdtemp(join(tmpdir(), 'reelboard-settings-'));
const video = join(work, 'clip.mp4');
const [infra] = await Promise.all([startPrivateInfra(basePort + 20), makeClip(video, { width: 320, height: 180, seconds: 1 })]);
const stack = await startStack({ ...infra.env, ...settingsChangeStackEnv });
const db = connectDatabase(infra.env.DATABASE_URL ?? '', { min: 0, max: 2 });
try {
  const lines: string[] = [];
  const result = await runSettingsChangeDrill({
    stack,
    db,
    video,
    oldQuotes: counts.old,
    newQuotes: counts.new,
    log: (line) => {
      lines.push(line);
      process.stdout.write(`${line}\n`);
    },
  });
  const checks = settingsChangeChecks(result);
  const failed = checks.filter(([, ok]) => !ok);
  const report = `## Settings-change drill: merchant and token changed with quotes open

Run ${new Date().toISOString()} on ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), Node ${process.version}.
Command: \`node --import tsx scripts/drill-settings-change.ts --old ${counts.old} --new ${counts.new}\` (private Redis, Postgres+PostGIS,
s3rver and anvil with 1 s blocks, the seven services, automatic sweeps every 2 s). ${counts.old} quote(s) were opened in the native
coin for merchant ${result.before.merchant}; the api-gateway and the payment-watcher were then restarted with a new
MERCHANT_ADDRESS (${result.after.merchant}) and PAYMENT_TOKEN (a test ERC-20, ${result.after.token}), ${counts.new} quote(s) were opened in
the token, and every quote was paid after the change. Verdict: ${failed.length === 0 ? '**every check held**' : `**${failed.length} check(s) failed**`}.

| check | ok | seen |
|---|---|---|
${checks.map(([what, ok, seen]) => `| ${what} | ${ok ? 'yes' : '**no**'} | ${seen.replace(/\|/g, '\\|')} |`).join('\n')}

Each step, in order:

\`\`\`
${lines.join('\n')}
\`\`\`
`;
  mkdirSync(join(repoRoot, 'docs', 'reliability'), { recursive: true });
  writeFileSync(join(repoRoot, 'docs', 'reliability', 'settings-change-drill.md'), report);
  process.stdout.write(report);
  if (failed.length > 0) process.stderr.write(`settings-change drill failed: ${failed.map(([what]) => what).join('; ')}\n`);
  process.exitCode = failed.length === 0 ? 0 : 1;
} finally {
  await stack.shutdown();
  await db.destroy();
  await infra.close();
  await rm(work, { recursive: true, force: true });
}
