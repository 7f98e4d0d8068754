// The settings-change drill, short version (scripts/drill-settings-change.ts runs it as a report): the
// real services on private Redis/Postgres/S3/anvil; one quote opened before MERCHANT_ADDRESS and
// PAYMENT_TOKEN change, one after, both paid after the change.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type Knex } from '@reelboard/db';
import { makeClip } from '@reelboard/testkit/media';
import { type PrivateInfra, startPrivateInfra } from '@reelboard/testkit/private-infra';
import { type Stack, startStack } from '@reelboard/testkit/stack';
import { runSettingsChangeDrill, settingsChangeChecks, settingsChangeStackEnv } from './settings-change-drill.js';

const BASE_PORT = Number(process.env.TEST_BASE_PORT ?? 18080);

let infra: PrivateInfra;
let stack: Stack;
let db: Knex;
let work: string;
let video: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'reelboard-settings-'));
  video = join(work, 'clip.mp4');
  [infra] = await Promise.all([startPrivateInfra(BASE_PORT + 20), makeClip(video, { width: 320, height: 180, seconds: 1 })]);
  stack = await startStack({ ...infra.env, ...settingsChangeStackEnv });
  db = connectDatabase(infra.env.DATABASE_URL ?? '', { min: 0, max: 2 });
});

afterAll(async () => {
  await stack?.shutdown();
  await db?.destroy();
  await infra?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('settings-change drill', () => {
  it('merchant and token changed with quotes open: old quotes still credited and swept to their own merchant, new ones to the new; reconciliation clean under both', async () => {
    const result = await runSettingsChangeDrill({
      stack,
      db,
      video,
      oldQuotes: 1,
      newQuotes: 1,
      log: (line) => process.stdout.write(`[settings drill] ${line}\n`),
    });
    const failed = settingsChangeChecks(result).filter(([, ok]) => !ok);
    expect(
      failed,
      JSON.stringify(result, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2),
    ).toEqual([]);
    // Not vacuous: each era's quote went to its own merchant, in its own asset.
    expect(result.quotes.map((q) => [q.era, q.token === null ? 'native' : 'token', q.storedMerchant])).toEqual([
      ['old', 'native', result.before.merchant],
      ['new', 'token', result.after.merchant],
    ]);
    expect(result.oldMerchantReceived).toBeGreaterThan(0n);
  }, 420_000);
});
