// The reorg drill, short version (scripts/drill-reorg.ts runs it as a report): the real services on
// private Redis/Postgres/S3/anvil, one upload paid and saved, then a reorg deeper than the confirmations.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Knex } from '@reelboard/db';
import { makeClip } from '@reelboard/testkit/media';
import { type PrivateInfra, startPrivateInfra } from '@reelboard/testkit/private-infra';
import { type Stack, startStack } from '@reelboard/testkit/stack';
import { runReorgDrill } from './reorg-drill.js';

const BASE_PORT = Number(process.env.TEST_BASE_PORT ?? 18080);

let infra: PrivateInfra;
let stack: Stack;
let db: Knex;
let work: string;
let video: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'reelboard-reorg-'));
  video = join(work, 'clip.mp4');
  [infra] = await Promise.all([startPrivateInfra(BASE_PORT + 20), makeClip(video, { width: 320, height: 180, seconds: 1 })]);
  stack = await startStack({ ...infra.env, PREVIEW_SECONDS: '1', CONFIRMATIONS: '2' });
  db = connectDatabase(infra.env.DATABASE_URL ?? '', { min: 0, max: 2 });
});

afterAll(async () => {
  await stack?.shutdown();
  await db?.destroy();
  await infra?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('reorg drill', () => {
  it('a reorg deeper than the confirmations after the listing is saved: the credit reversed, the listing held (not deleted), the owner told, reconciliation clean', async () => {
    const result = await runReorgDrill({ stack, db, video, log: (line) => process.stdout.write(`[reorg drill] ${line}\n`) });
    expect(result.depth).toBeGreaterThan(result.confirmations);
    expect(result.publicBefore).toBe(200);
    expect(result.rows).toEqual([expect.objectContaining({ status: 'reversed', refund_due: '0' })]);
    // The reorg's blocks are recorded, and the payment's block is among them.
    expect(BigInt(result.rows[0]?.reversed_from_block ?? '-1')).toBeLessThanOrEqual(result.paidBlock);
    expect(BigInt(result.rows[0]?.reversed_to_block ?? '-1')).toBeGreaterThanOrEqual(result.paidBlock);
    expect(result.heldReason).toContain('reorg');
    expect(result.listingKept).toBe(true);
    expect(result.publicAfter).toBe(404);
    expect(result.lastStatus).toBe('payment.reversed');
    expect(result.reconcile, result.reconcile.stdout).toMatchObject({ code: 0, stdout: expect.stringContaining('the ledger matches the chain') });
  }, 300_000);
});
