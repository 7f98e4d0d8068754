/**
 * The reorg drill, long version: a reliability script (the suite runs the same drill as
 * test/faults/reorg.test.ts). An upload goes through the real services on private
 * Redis/Postgres/S3/anvil, is saved, approved and public; then the chain is reverted past its payment
 * and the payer's nonce spent on the new branch (a reorg deeper than the confirmations, a double
 * spend). The credit must become `reversed`, the listing be held (not deleted), its owner told, and
 * `pnpm payments reconcile` find nothing unexplained. Writes docs/reliability/reorg-drill.md.
 *
 *   node --import tsx scripts/drill-reorg.ts [--confirmations 2]
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
import { runReorgDrill } from '../test/faults/reorg-drill.js';

const { values } = parseArgs({ options: { confirmations: { type: 'string', default: '2' } } });
const confirmations = Number(values.confirmations);
if (!Number.isInteger(confirmations) || confirmations < 1) {
  process.stderr.write(`--confirmations must be a whole number of blocks, at least 1 (got ${values.confirmations})\n`);
  process.exit(2);
}
const basePort = Number(process.env.TEST_BASE_PORT ?? 31080);
const work = await mkdtemp(join(tmpdir(), 'reelboard-reorg-'));
const video = join(work, 'clip.mp4');
const [infra] = await Promise.all([startPrivateInfra(basePort + 20), makeClip(video, { width: 320, height: 180, seconds: 1 })]);
const stack = await startStack({ ...infra.env, PREVIEW_SECONDS: '1', CONFIRMATIONS: String(confirmations) });
const db = connectDatabase(infra.env.DATABASE_URL ?? '', { min: 0, max: 2 });
try {
  const lines: string[] = [];
  const result = await runReorgDrill({
    stack,
    db,
    video,
    log: (line) => {
      lines.push(line);
      process.stdout.write(`${line}\n`);
    },
  });
  const row = result.rows[0];
  const checks: [string, boolean, string][] = [
    [
      "the credit is `reversed` with the reorg's blocks",
      result.rows.length === 1 && row?.status === 'reversed',
      `${row?.status} ${row?.reversed_from_block}..${row?.reversed_to_block}`,
    ],
    ['nothing is due back for it', row?.refund_due === '0', `refund_due ${row?.refund_due}`],
    ['the listing is held, not deleted', result.listingKept && result.heldReason !== null, result.heldReason ?? 'not held'],
    [
      'the public read no longer shows it',
      result.publicBefore === 200 && result.publicAfter === 404,
      `${result.publicBefore} before, ${result.publicAfter} after`,
    ],
    ["the owner's latest status", result.lastStatus === 'payment.reversed', String(result.lastStatus)],
    ['`pnpm payments reconcile`', result.reconcile.code === 0, `exit ${result.reconcile.code}: ${result.reconcile.stdout.trim().split('\n').at(-1)}`],
  ];
  const report = `## Reorg drill: a reorg deeper than the confirmations after the listing is saved

Run ${new Date().toISOString()} on ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores), Node ${process.version}.
Command: \`node --import tsx scripts/drill-reorg.ts --confirmations ${confirmations}\` (private Redis, Postgres+PostGIS, s3rver and
anvil with 1 s blocks, the seven services). The upload was paid without a hint (the deposit passes found it) in block
${result.paidBlock}; the chain was then reverted ${result.depth} blocks, to before the payment, and the payer's nonce spent on the
new branch (anvil ignores \`anvil_reorg\` while it mines on an interval, so the drill uses a snapshot and \`evm_revert\`).
The reversal was in the ledger ${result.secondsToReversal.toFixed(1)} s after the reorg (this includes mining the new branch's first block).

| check | ok | seen |
|---|---|---|
${checks.map(([what, ok, seen]) => `| ${what} | ${ok ? 'yes' : '**no**'} | ${seen.replace(/\|/g, '\\|')} |`).join('\n')}

Each step, in order:

\`\`\`
${lines.join('\n')}
\`\`\`
`;
  mkdirSync(join(repoRoot, 'docs', 'reliability'), { recursive: true });
  writeFileSync(join(repoRoot, 'docs', 'reliability', 'reorg-drill.md'), report);
  process.stdout.write(report);
  process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
} finally {
  await stack.shutdown();
  await db.destroy();
  await infra.close();
  await rm(work, { recursive: true, force: true });
}
