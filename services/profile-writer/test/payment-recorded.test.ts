import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StageContext } from '@reelboard/bus';
import type { PaymentRecorded } from '@reelboard/contracts';
import { connectDatabase, migrateToLatest, type Knex } from '@reelboard/db';
import { createLogger } from '@reelboard/logger';
import { infraEnv } from '../../../test/support/infra-env.js';
import { handlePaymentRecorded } from '../src/handle-payment-recorded.js';

let db: Knex;
const context: StageContext = {
  log: createLogger('profile-writer-test', 'error'),
  attempt: 1,
  emit: async () => undefined,
  status: async () => undefined,
};

beforeAll(async () => {
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
});

afterAll(async () => {
  await db?.destroy();
});

function recorded(status: PaymentRecorded['payment']['status'], reason: string): PaymentRecorded {
  const owner = `0x${randomBytes(20).toString('hex')}` as `0x${string}`;
  return {
    uploadId: randomUUID(),
    owner,
    reason,
    payment: {
      chainId: 31337,
      txHash: `0x${randomBytes(32).toString('hex')}`,
      logIndex: null,
      from: owner,
      to: `0x${randomBytes(20).toString('hex')}`,
      token: null,
      amount: '5000000000000000',
      blockNumber: '12',
      blockTime: new Date().toISOString(),
      status,
    },
  };
}

describe('payments that do not fulfil an upload', () => {
  it.each(['partial', 'late'] as const)('records a %s payment with its reason, without a listing, once however often it arrives', async (status) => {
    const input = recorded(status, `${status} for the test`);
    await handlePaymentRecorded(db, input, context);
    await handlePaymentRecorded(db, input, context);
    const rows = await db('payments').where({ tx_hash: input.payment.txHash });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ upload_id: input.uploadId, status, listing_id: null, failure_reason: `${status} for the test`, amount: '5000000000000000' });
  });
});
