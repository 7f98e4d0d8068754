import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, createWebhookDelivery, createWebhookEndpoint, finishWebhookDelivery, type Knex, migrateToLatest } from '@reelboard/db';
import { createLogger } from '@reelboard/logger';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { deliverWebhook, type EarlierEvents } from '../src/deliver-webhook.js';

// Two notifier replicas share the status log: one may hold an upload's event 1 while the other
// already made event 2's delivery. Event 2 must not reach the receiver before event 1 does.

const log = createLogger('webhook-order-test', 'error');
const settings = { retryForMs: 10_000, firstRetryMs: 100, timeoutMs: 2_000 };
let db: Knex;
let server: Server;
let url: string;
const received: number[] = [];
let endpointId: string;

beforeAll(async () => {
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      received.push((JSON.parse(body) as { seq: number }).seq);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  endpointId = (await createWebhookEndpoint(db, { url, events: ['*'], secret: 's'.repeat(32), createdBy: 'test' })).id;
});

afterAll(async () => {
  await db?.('webhook_endpoints').where({ id: endpointId }).delete();
  await db?.destroy();
  server?.close();
});

describe('webhook order across notifier replicas', () => {
  it("waits for an earlier event's delivery that another replica has not created yet, then sends in order", async () => {
    const uploadId = randomUUID();
    const at = new Date(Date.now() + 1_000).toISOString();
    const history: EarlierEvents = async (_id, beforeSeq) =>
      [
        { seq: 1, event: 'upload.received', at },
        // Progress makes no notification: nothing waits for one.
        { seq: 2, event: 'progress', at },
        { seq: 3, event: 'payment.confirmed', at },
      ].filter((event) => event.seq < beforeSeq);
    const second = await createWebhookDelivery(db, { endpointId, uploadId, seq: 3, event: 'payment.confirmed', payload: { seq: 3 } });

    // Event 1 is still in the other replica's hands: event 2 waits, nothing is sent.
    const waited = await deliverWebhook(db, { deliveryId: second.id }, settings, log, history);
    expect(waited).toMatchObject({ next: 'later', why: 'ordering' });
    expect(received).toEqual([]);

    // Its delivery appears and is sent; then event 2 goes.
    const first = await createWebhookDelivery(db, { endpointId, uploadId, seq: 1, event: 'upload.received', payload: { seq: 1 } });
    expect(await deliverWebhook(db, { deliveryId: first.id }, settings, log, history)).toMatchObject({ next: 'done', outcome: 'delivered' });
    expect(await deliverWebhook(db, { deliveryId: second.id }, settings, log, history)).toMatchObject({ next: 'done', outcome: 'delivered' });
    expect(received).toEqual([1, 3]);
  });

  it('does not wait for events the endpoint does not receive, nor for ones from before it was registered', async () => {
    const uploadId = randomUUID();
    const before = new Date(Date.now() - 3_600_000).toISOString();
    const history: EarlierEvents = async () => [{ seq: 1, event: 'upload.received', at: before }];
    const second = await createWebhookDelivery(db, { endpointId, uploadId, seq: 2, event: 'payment.confirmed', payload: { seq: 2 } });
    expect(await deliverWebhook(db, { deliveryId: second.id }, settings, log, history)).toMatchObject({ next: 'done', outcome: 'delivered' });
    await finishWebhookDelivery(db, second.id, 'delivered');
  });
});
