// Redis high availability on real processes: one master, one replica and three sentinels, and the
// seven services connected through the sentinels (REDIS_SENTINELS, REDIS_SENTINEL_MASTER). The
// master is SIGKILLed while an upload is in the chain; the sentinels promote the replica, every
// service (BullMQ workers and queues, the gateway's status subscriber) follows it, and the upload
// ends saved, its status stream complete.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { connectDatabase, type Knex } from '@reelboard/db';
import { followEvents, pay, postListing, signIn } from '@reelboard/testkit/client';
import { makeClip } from '@reelboard/testkit/media';
import { type RedisProcess, type RedisProcesses, redisProcesses } from '@reelboard/testkit/redis-processes';
import { ANVIL_ACCOUNTS, type Stack, startStack } from '@reelboard/testkit/stack';

const MASTER_NAME = 'reelboard-failover';

let processes: RedisProcesses;
let master: RedisProcess;
let replica: RedisProcess;
let sentinels: RedisProcess[];
let stack: Stack;
let db: Knex;
let work: string;

/** What a sentinel says about the group: the master's port, and how many replicas and other sentinels it knows. */
async function sentinelView(sentinel: RedisProcess): Promise<{ masterPort: number; replicas: number; sentinels: number }> {
  const client = new Redis({ host: '127.0.0.1', port: sentinel.port, maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  client.on('error', () => {});
  try {
    await client.connect();
    const [, port] = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as [string, string];
    const replicas = ((await client.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as unknown[]).length;
    const others = ((await client.call('SENTINEL', 'SENTINELS', MASTER_NAME)) as unknown[]).length;
    return { masterPort: Number(port), replicas, sentinels: others };
  } finally {
    client.disconnect();
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'reelboard-failover-'));
  const clip = makeClip(join(work, 'clip.mp4'), { width: 320, height: 240, seconds: 2, fps: 15 });
  processes = await redisProcesses('failover');
  master = await processes.server();
  replica = await processes.server({ replicaOf: master.port });
  sentinels = await Promise.all([0, 1, 2].map(() => processes.sentinel({ master: master.port, name: MASTER_NAME, quorum: 2, downAfterMs: 1_000 })));
  // Every sentinel knows the replica and the two other sentinels before anything relies on a
  // failover (they find each other while the services start).
  const discovered = until(
    'the sentinels did not find the replica and each other',
    async () =>
      (await Promise.all(sentinels.map(sentinelView))).every((view) => view.masterPort === master.port && view.replicas === 1 && view.sentinels === 2)
        ? true
        : undefined,
    30_000,
  );
  stack = await startStack({
    REDIS_URL: '',
    REDIS_SENTINELS: sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(','),
    REDIS_SENTINEL_MASTER: MASTER_NAME,
    PREVIEW_SECONDS: '1',
  });
  await discovered;
  db = connectDatabase(stack.env.DATABASE_URL ?? '', { min: 0, max: 2 });
  await clip;
});

afterAll(async () => {
  await stack?.shutdown();
  await db?.destroy();
  await processes?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a Sentinel failover in the middle of the chain', () => {
  it('promotes the replica, and the upload still ends saved with every status event', async () => {
    const buyer = ANVIL_ACCOUNTS.buyer;
    const { token } = await signIn(stack.gatewayUrl, buyer.key, Number(stack.env.CHAIN_ID));
    const res = await postListing(
      stack.gatewayUrl,
      token,
      { video: join(work, 'clip.mp4') },
      { title: 'Failover', hashtags: '#failover', latitude: '1', longitude: '2' },
    );
    expect(res.status).toBe(202);
    const { uploadId, payment } = (await res.json()) as { uploadId: string; payment: { to: `0x${string}`; amount: string } };
    const stream = followEvents(stack.gatewayUrl, uploadId, token, 120_000);
    await stream.waitFor('upload.received', 15_000);
    const txHash = await pay(stack.env.RPC_URL ?? '', buyer.key, payment.to, BigInt(payment.amount));
    const submitted = await fetch(`${stack.gatewayUrl}/v1/uploads/${uploadId}/payment`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ txHash }),
    });
    expect(submitted.status).toBe(202);

    // Mid-chain: paid, the transcoder at work, the next stages still to come.
    await stream.waitFor('payment.confirmed', 60_000);
    await master.kill('SIGKILL');
    const promoted = await until(
      'no sentinel promoted the replica',
      async () => ((await Promise.all(sentinels.map(sentinelView))).every((view) => view.masterPort === replica.port) ? replica.port : undefined),
      30_000,
    );
    expect(promoted).toBe(replica.port);

    const events = await stream.untilEnd;
    const names = events.map((event) => event.name);
    expect(names.at(-1), `stream ended with ${JSON.stringify(events.at(-1)?.data)}`).toBe('profile.saved');
    // Nothing announced while the status subscription was down is missing: the stream caught up
    // from the history (sequence numbers without a gap, in order).
    const chainOrder = ['upload.received', 'payment.confirmed', 'video.transcoded', 'preview.extracted', 'assets.stored', 'profile.saved'];
    expect(names.filter((name) => chainOrder.includes(name))).toEqual(chainOrder);
    const seqs = events.map((event) => event.data.seq);
    expect(seqs).toEqual(seqs.map((_, index) => seqs[0]! + index));

    // The listing is in Postgres, and the new master holds the upload's final state.
    expect(await db('listings').where({ id: uploadId }).first()).toMatchObject({ id: uploadId, title: 'Failover' });
    const promotedClient = replica.client();
    try {
      expect((await promotedClient.info('replication')).match(/^role:(\w+)/m)?.[1]).toBe('master');
      expect(await promotedClient.hget(`${stack.env.REDIS_PREFIX}:upload:${uploadId}`, 'state')).toBe('saved');
    } finally {
      promotedClient.disconnect();
    }
    // Every service is still ready after the failover.
    for (const name of ['payment-watcher', 'transcoder', 'preview-extractor', 'uploader', 'profile-writer', 'notifier'] as const) {
      const ready = await fetch(`http://127.0.0.1:${stack.portOf(name)}/readyz`);
      expect(ready.status, name).toBe(200);
    }
  });
});
