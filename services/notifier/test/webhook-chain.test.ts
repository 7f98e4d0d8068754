import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import type { StatusEvent, UploadReceived } from '@reelboard/contracts';
import { connectDatabase, createWebhookEndpoint, type Knex, migrateToLatest, recordQuote, savePushSubscription } from '@reelboard/db';
import { StatusStore, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { quoteInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { handleStatusEvent } from '../src/handle-status-event.js';

// Several chains and assets are watched: a payment's webhook names the chain and asset of its quote.
const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'webhook-chain-test');
const prefix = `test-webhook-chain-${Date.now().toString(36)}`;
let db: Knex;
let endpointId: string;
const quoteIds: string[] = [];
const owners: string[] = [];

beforeAll(async () => {
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
  endpointId = (
    await createWebhookEndpoint(db, {
      url: 'https://hooks.example/x',
      events: ['payment.confirmed', 'profile.saved', 'refund.sent'],
      secret: 's'.repeat(32),
      createdBy: 'test',
    })
  ).id;
});

afterAll(async () => {
  await db('webhook_deliveries').where({ endpoint_id: endpointId }).delete();
  await db('webhook_endpoints').where({ id: endpointId }).delete();
  if (quoteIds.length) await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  if (owners.length) await db('push_subscriptions').whereIn('wallet_address', owners).delete();
  await db.destroy();
  await redis.quit();
});

describe('webhooks of payment events', () => {
  it('carry the chain and the asset of the quote; other events do not', async () => {
    const uploads = new Uploads(redis, prefix, new StatusStore(redis, prefix));
    const uploadId = randomUUID();
    const token = `0x${'ab'.repeat(20)}` as const;
    const upload = {
      uploadId,
      owner: `0x${'cd'.repeat(20)}`,
      form: { title: 'Bike', description: '', hashtags: [], latitude: 0, longitude: 0 },
      quote: { chainId: 31338, to: `0x${'ef'.repeat(20)}`, amount: '5000000', token, createdAt: new Date().toISOString(), expiresAt: new Date().toISOString() },
      staged: { source: 'x', sourceBytes: 1 },
      receivedAt: new Date().toISOString(),
    } as UploadReceived;
    await uploads.register(upload, 'test');
    const published: unknown[] = [];
    const adapters = {
      db,
      uploads,
      bus: { publish: async (_channel: never, job: unknown) => void published.push(job) },
      log: createLogger('test', 'error'),
      publicUrl: 'https://x',
      pushEnabled: false,
    };
    const event = (seq: number, name: StatusEvent['event'], state: StatusEvent['state']): StatusEvent => ({
      seq,
      uploadId,
      event: name,
      stage: 'payment-watcher',
      state,
      at: new Date().toISOString(),
    });
    expect(await handleStatusEvent(event(2, 'payment.confirmed', 'paid'), adapters as never)).toMatchObject({ webhooks: 1 });
    expect(await handleStatusEvent(event(3, 'profile.saved', 'saved'), adapters as never)).toMatchObject({ webhooks: 1 });
    const payloads = (await db('webhook_deliveries').where({ endpoint_id: endpointId, upload_id: uploadId }).orderBy('seq')).map(
      (row) => row.payload as { data: object },
    );
    expect(payloads[0]?.data).toMatchObject({ chainId: 31338, asset: token, title: 'Bike' });
    expect(payloads[1]?.data).not.toHaveProperty('chainId');
  });

  it("name the chain and the asset of a refund sent after the upload's record is gone, from the ledger's quote, in the webhook and the Web Push text", async () => {
    const token = `0x${'12'.repeat(20)}` as const;
    const quote = quoteInput({ chainId: 31338, token });
    await recordQuote(db, quote);
    quoteIds.push(quote.quoteId);
    owners.push(quote.owner.toLowerCase());
    await savePushSubscription(db, { walletAddress: quote.owner.toLowerCase(), endpoint: `https://push.example/${quote.quoteId}`, p256dh: 'k', auth: 'a' });
    const published: { message?: { body: string } }[] = [];
    const chains = [
      { id: 31337, name: 'Anvil', native: { symbol: 'ETH', decimals: 18 }, tokens: [] },
      { id: 31338, name: 'Second anvil', native: { symbol: 'ETH', decimals: 18 }, tokens: [{ address: token, symbol: 'USDC', decimals: 6 }] },
    ];
    const adapters = {
      db,
      // The upload's record has expired from Redis: the owner comes from the ledger's quote below.
      uploads: { get: async () => undefined },
      bus: { publish: async (_channel: never, job: { message?: { body: string } }) => void published.push(job) },
      log: createLogger('test', 'error'),
      publicUrl: 'https://x',
      pushEnabled: true,
      chains,
    };
    const refundSent: StatusEvent = {
      seq: 9,
      uploadId: quote.uploadId,
      event: 'refund.sent',
      stage: 'refund-wallet',
      state: 'refunded',
      at: new Date().toISOString(),
    };
    // No subject without the upload's record or a listing: no push (the owner is unknown), the webhook still goes.
    expect(await handleStatusEvent(refundSent, adapters as never)).toMatchObject({ webhooks: 1 });
    const [delivery] = await db('webhook_deliveries').where({ endpoint_id: endpointId, upload_id: quote.uploadId });
    expect((delivery.payload as { data: object }).data).toMatchObject({ chainId: 31338, asset: token, chainName: 'Second anvil', assetSymbol: 'USDC' });
    // With the upload's record (its owner and title), the person is told in words where the refund went.
    const withRecord = { ...adapters, uploads: { get: async () => ({ owner: quote.owner, form: { title: 'Bike' } }) } };
    published.length = 0;
    expect(await handleStatusEvent({ ...refundSent, seq: 10 }, withRecord as never)).toMatchObject({ pushes: 1 });
    expect(published.find((job) => job.message)?.message?.body).toBe('A refund for "Bike" was sent back on chain. (USDC on Second anvil)');
  });
});
