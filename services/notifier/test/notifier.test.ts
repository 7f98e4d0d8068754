import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import webpush from 'web-push';
import { connectRedis } from '@reelboard/bus';
import { queues, type StatusCode, type StatusEventName, type UploadReceived, type UploadState } from '@reelboard/contracts';
import { saveListing } from '@reelboard/db';
import { bullmqQueueNames } from '@reelboard/testkit/bullmq-queues';
import { listingInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv, repoRoot } from '@reelboard/testkit/infra-env';
import { ANVIL_ACCOUNTS, serviceCommand } from '@reelboard/testkit/stack';
import { type Gateway, startGateway } from '../../api-gateway/test/harness.js';
import { verifySignature } from '../src/sign-webhook.js';
import { BrowserKeys, Receiver, selfSignedCertificate } from './receivers.js';

// The whole path on real parts: a gateway (in this process) takes subscriptions and webhook
// endpoints, two notifier processes follow the status log in Redis and read Postgres, a local
// HTTPS server stands in for the browser vendor's push service (it decrypts what arrives with the
// subscription's keys) and a local HTTP server is the integrator's webhook receiver.

// The local infrastructure's Redis (scripts/infra/up.sh), on whatever port it was started.
const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'notifier-test');
const vapid = webpush.generateVAPIDKeys();
const tls = selfSignedCertificate();
const BASE_PORT = Number(process.env.TEST_BASE_PORT ?? 18080) + 40;
const PUSH_TTL_SECONDS = 3600;

let gateway: Gateway;
let pushService: Receiver;
let hooks: Receiver;
let token: string;
const notifiers: ChildProcess[] = [];
const admin = () => ({ 'x-admin-token': gateway.adminToken, 'content-type': 'application/json' });

async function startNotifier(index: number): Promise<void> {
  const logDir = join(repoRoot, 'test-artifacts', 'logs');
  mkdirSync(logDir, { recursive: true });
  const port = BASE_PORT + index;
  const child = spawn(process.execPath, serviceCommand('notifier'), {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      INTERNAL_PORT: String(port),
      REDIS_URL: gateway.config.REDIS_URL,
      REDIS_PREFIX: gateway.config.REDIS_PREFIX,
      DATABASE_URL: gateway.config.DATABASE_URL,
      PUBLIC_URL: gateway.base,
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: 'mailto:ops@example.org',
      PUSH_TTL_SECONDS: String(PUSH_TTL_SECONDS),
      PUSH_FIRST_RETRY_MS: '200',
      WEBHOOK_FIRST_RETRY_MS: '200',
      // Retries at +0.2 s, +0.6 s and +1.4 s; the next would start at 3 s, past the window.
      WEBHOOK_RETRY_FOR_SECONDS: '2',
      WEBHOOK_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'debug',
      // The stand-in push service's self-signed certificate, trusted the way an operator trusts a private CA.
      NODE_EXTRA_CA_CERTS: tls.certPath,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(join(logDir, `notifier-test-${index}.log`), { flags: 'a' });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  notifiers.push(child);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`notifier ${index} exited with ${child.exitCode} (test-artifacts/logs/notifier-test-${index}.log)`);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (res) => res.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`notifier ${index} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** An upload as the gateway registers it, owned by the buyer, titled `title`. */
async function newUpload(title: string): Promise<string> {
  const uploadId = randomUUID();
  const upload: UploadReceived = {
    uploadId,
    owner: ANVIL_ACCOUNTS.buyer.address.toLowerCase() as `0x${string}`,
    form: { title, description: '', hashtags: [], latitude: 52.5, longitude: 13.4 },
    quote: {
      chainId: 31337,
      to: ANVIL_ACCOUNTS.merchant.address.toLowerCase() as `0x${string}`,
      amount: '1',
      token: null,
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
    },
    staged: { source: `${uploadId}/source`, sourceBytes: 1 },
    receivedAt: new Date().toISOString(),
  };
  await gateway.uploads.register(upload, 'api-gateway');
  return uploadId;
}

/**
 * Until the notifiers have handled every entry of the status log (their consumer group was handed
 * the newest and none is pending) and no push or webhook job waits, runs or is delayed: whatever
 * they would send for what was published has been sent, and recorded, by then. A fixed wait was
 * slower and, on a loaded machine, no proof that nothing more would come.
 */
async function quiet(): Promise<void> {
  const key = gateway.bus.status.logKey;
  const field = (entries: unknown[], name: string) => entries[entries.indexOf(name) + 1];
  await vi.waitFor(
    async () => {
      const stream = (await redis.xinfo('STREAM', key)) as unknown[];
      const group = ((await redis.xinfo('GROUPS', key)) as unknown[][]).find((entries) => field(entries, 'name') === 'notifier');
      expect(group && [field(group, 'last-delivered-id'), field(group, 'pending')], 'the status log handled').toEqual([field(stream, 'last-generated-id'), 0]);
      for (const channel of ['notify.push', 'notify.webhook'] as const) {
        const counts = await gateway.bus.queue(channel).getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
        expect(counts, channel).toEqual({ waiting: 0, active: 0, delayed: 0, prioritized: 0, 'waiting-children': 0 });
      }
    },
    { timeout: 30_000, interval: 100 },
  );
}

const publish = (
  uploadId: string,
  event: StatusEventName,
  extra: { reason?: string; code?: StatusCode; message?: string; state?: UploadState; progress?: number } = {},
) =>
  gateway.bus.status.publish({
    uploadId,
    event,
    stage: 'test',
    state: extra.state ?? 'processing',
    ...(extra.reason ? { reason: extra.reason } : {}),
    ...(extra.code ? { code: extra.code } : {}),
    ...(extra.message ? { message: extra.message } : {}),
    ...(extra.progress !== undefined ? { progress: extra.progress } : {}),
  });

const subscribe = async (path: string, keys: BrowserKeys) => {
  const res = await fetch(`${gateway.base}/v1/me/push-subscriptions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ endpoint: `${pushService.origin}${path}`, expirationTime: null, keys: keys.keys }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  pushService = await Receiver.start({ tls, okStatus: 201 });
  hooks = await Receiver.start({ okStatus: 200 });
  gateway = await startGateway(redis, { VAPID_PUBLIC_KEY: vapid.publicKey, PUSH_ALLOWED_HOSTS: 'localhost' });
  // Nothing of another test's left in the shared test database reaches these receivers.
  await gateway.db('webhook_endpoints').delete();
  await gateway.db('push_subscriptions').where({ wallet_address: ANVIL_ACCOUNTS.buyer.address.toLowerCase() }).delete();
  token = await gateway.signIn(ANVIL_ACCOUNTS.buyer.key);
  // Two replicas: every event must still be sent once.
  await Promise.all([startNotifier(0), startNotifier(1)]);
});

afterAll(async () => {
  await Promise.all(
    notifiers.map(async (child) => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }),
  );
  await gateway?.db('webhook_endpoints').delete();
  await gateway?.db('push_subscriptions').where({ wallet_address: ANVIL_ACCOUNTS.buyer.address.toLowerCase() }).delete();
  await gateway?.close();
  await pushService?.close();
  await hooks?.close();
  await redis.quit();
});

describe('Web Push', () => {
  it('tells the owner’s browser once per mapped event, encrypted to its keys, with the page to open and the TTL', async () => {
    const browser = new BrowserKeys();
    await subscribe('/push/phone', browser);
    const uploadId = await newUpload('Red bike');

    await publish(uploadId, 'payment.confirmed');
    await publish(uploadId, 'progress', { progress: 40 });
    await publish(uploadId, 'video.transcoded');
    await publish(uploadId, 'profile.saved', { state: 'saved' });
    await publish(uploadId, 'moderation.approved', { state: 'saved' });
    await pushService.until((all) => all.filter((r) => r.path === '/push/phone').length >= 3, 15_000, 'three push messages');
    await quiet(); // a second replica's copy, or an unmapped event, would have arrived by now

    const received = pushService.on('/push/phone');
    expect(received).toHaveLength(3);
    // Sent concurrently, so they may arrive in any order; `seq` orders them (the service worker keeps the newest).
    const messages = received.map((request) => browser.decrypt(request.body) as Record<string, unknown>).sort((a, b) => Number(a.seq) - Number(b.seq));
    expect(messages.map((m) => m.event)).toEqual(['payment.confirmed', 'profile.saved', 'moderation.approved']);
    expect(messages[0]).toMatchObject({ title: 'Payment confirmed', url: `${gateway.base}/uploads/${uploadId}`, tag: uploadId });
    expect(messages[0]?.body).toContain('"Red bike" is paid');
    expect(messages[2]).toMatchObject({ title: 'Your listing is live', url: `${gateway.base}/listings/${uploadId}` });
    // Small, and nothing about the person but the listing's title.
    for (const request of received) expect(request.body.length).toBeLessThan(1024);
    expect(JSON.stringify(messages)).not.toContain(ANVIL_ACCOUNTS.buyer.address.slice(2, 12).toLowerCase());

    const headers = received.find((request) => (browser.decrypt(request.body) as { event: string }).event === 'payment.confirmed')!.headers;
    expect(headers.ttl).toBe(String(PUSH_TTL_SECONDS));
    expect(headers['content-encoding']).toBe('aes128gcm');
    expect(headers.topic).toBe(uploadId.replaceAll('-', ''));
    expect(headers.authorization).toMatch(new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${vapid.publicKey}$`));
  });

  it('retries on 503 and 429 from the push service, and removes a subscription answered 404 or 410', async () => {
    const flaky = new BrowserKeys();
    const gone = new BrowserKeys();
    const lost = new BrowserKeys();
    await subscribe('/push/flaky', flaky);
    const goneId = await subscribe('/push/gone', gone);
    const lostId = await subscribe('/push/lost', lost);
    pushService.script('/push/flaky', [{ status: 503 }, { status: 429, headers: { 'retry-after': '1' } }]);
    pushService.script('/push/gone', [{ status: 410 }]);
    pushService.script('/push/lost', [{ status: 404 }]);
    const uploadId = await newUpload('Blue sofa');

    // As the payment-watcher reports a refusal: its `code`, the explanation in `reason`.
    await publish(uploadId, 'payment.rejected', {
      code: 'no_payment',
      reason: "transaction 0x… sent nothing to this upload's deposit address",
      state: 'awaiting_payment',
    });
    await pushService.until((all) => all.filter((r) => r.path === '/push/flaky' && r.answered === 201).length === 1, 15_000, 'the flaky push delivered');
    const flakyTries = pushService.on('/push/flaky');
    expect(flakyTries.map((r) => r.answered)).toEqual([503, 429, 201]);
    // The 429's Retry-After (1 s) was honoured over the shorter backoff (400 ms).
    expect(flakyTries[2]!.at - flakyTries[1]!.at).toBeGreaterThanOrEqual(950);
    expect(flaky.decrypt(flakyTries[2]!.body)).toMatchObject({ title: 'Payment not found', event: 'payment.rejected' });
    expect((flaky.decrypt(flakyTries[2]!.body) as { body: string }).body).toContain("sent nothing to this listing's payment address");

    expect(pushService.on('/push/gone').map((r) => r.answered)).toEqual([410]);
    expect(pushService.on('/push/lost').map((r) => r.answered)).toEqual([404]);
    const left = await gateway.db('push_subscriptions').whereIn('id', [goneId, lostId]);
    expect(left).toEqual([]);

    // The removed browsers get nothing more; the others do.
    await publish(uploadId, 'expired', { state: 'expired' });
    await pushService.until((all) => all.filter((r) => r.path === '/push/flaky').length === 4, 15_000, 'the next push');
    await quiet();
    expect(pushService.on('/push/gone')).toHaveLength(1);
    expect(pushService.on('/push/lost')).toHaveLength(1);
  });

  it('lets the person remove a subscription, and refuses endpoints that are not push services', async () => {
    const keys = new BrowserKeys();
    await subscribe('/push/tablet', keys);
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const del = await fetch(`${gateway.base}/v1/me/push-subscriptions`, {
      method: 'DELETE',
      headers: auth,
      body: JSON.stringify({ endpoint: `${pushService.origin}/push/tablet` }),
    });
    expect(del.status).toBe(204);
    const again = await fetch(`${gateway.base}/v1/me/push-subscriptions`, {
      method: 'DELETE',
      headers: auth,
      body: JSON.stringify({ endpoint: `${pushService.origin}/push/tablet` }),
    });
    expect(again.status).toBe(404);

    const internal = await fetch(`${gateway.base}/v1/me/push-subscriptions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ endpoint: 'https://10.0.0.7/admin', keys: keys.keys }),
    });
    expect(internal.status).toBe(400);
    expect(await internal.json()).toMatchObject({ error: 'invalid_body', field: 'endpoint' });
    const noKeys = await fetch(`${gateway.base}/v1/me/push-subscriptions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ endpoint: `${pushService.origin}/push/x` }),
    });
    expect(noKeys.status).toBe(400);
    const anonymous = await fetch(`${gateway.base}/v1/me/push-subscriptions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).toBe(401);
    expect(await (await fetch(`${gateway.base}/v1/push/vapid-public-key`)).json()).toEqual({ publicKey: vapid.publicKey });
  });

  it('tells a listing’s owner of its later events from Postgres once the upload’s record has left Redis, and an author of a profile edit’s decision', async () => {
    const browser = new BrowserKeys();
    await subscribe('/push/later', browser);
    // A listing saved weeks ago: in Postgres, its upload's record long expired from Redis.
    const input = listingInput({ wallet: ANVIL_ACCOUNTS.buyer.address.toLowerCase(), title: 'Old lamp' });
    await saveListing(gateway.db, input);
    try {
      expect(await gateway.uploads.get(input.listingId)).toBeUndefined();
      await publish(input.listingId, 'listing.expired', { state: 'saved' });
      await pushService.until((all) => all.some((r) => r.path === '/push/later'), 15_000, 'the expiry push');
      const message = browser.decrypt(pushService.on('/push/later')[0]!.body) as Record<string, unknown>;
      expect(message).toMatchObject({ event: 'listing.expired', title: 'Listing expired', url: `${gateway.base}/mine`, tag: input.listingId });
      expect(message.body).toContain('"Old lamp" has expired');

      // A profile edit has no upload at all: its decision reaches its author under the revision's id.
      const edit = await fetch(`${gateway.base}/v1/me/profile`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ displayName: 'Lamp seller' }),
      });
      expect(edit.status).toBe(202);
      const { revisionId } = (await edit.json()) as { revisionId: string };
      const decided = await fetch(`${gateway.base}/v1/admin/revisions/${revisionId}/reject`, {
        method: 'POST',
        headers: admin(),
        body: JSON.stringify({ reason: 'not a name' }),
      });
      expect(decided.status).toBe(200);
      await pushService.until((all) => all.filter((r) => r.path === '/push/later').length >= 2, 15_000, 'the profile decision push');
      const decision = pushService
        .on('/push/later')
        .map((r) => browser.decrypt(r.body) as Record<string, unknown>)
        .find((m) => m.event === 'revision.rejected');
      expect(decision).toMatchObject({ title: 'Profile changes not approved', url: `${gateway.base}/mine`, tag: revisionId });
      expect(decision?.body).toContain('not approved: not a name');
    } finally {
      await gateway.db('listings').where({ id: input.listingId }).delete();
    }
  });
});

describe('signed webhooks', () => {
  const register = async (path: string, events: string[]) => {
    const res = await fetch(`${gateway.base}/v1/admin/webhooks`, {
      method: 'POST',
      headers: admin(),
      body: JSON.stringify({ url: `${hooks.origin}${path}`, events }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; secret: string; enabled: boolean };
  };
  const deliveries = async (endpointId: string) => {
    const res = await fetch(`${gateway.base}/v1/admin/webhooks/${endpointId}/deliveries`, { headers: admin() });
    expect(res.status).toBe(200);
    return (
      (await res.json()) as {
        deliveries: { id: string; seq: number; status: string; attempts: number; attemptLog: { statusCode: number | null; response: string | null }[] }[];
      }
    ).deliveries;
  };
  const bodyOf = (request: { body: Buffer }) =>
    JSON.parse(request.body.toString('utf8')) as { id: string; type: string; seq: number; uploadId: string; data: Record<string, unknown> };

  it('signs every event, retries a 500 while later events of the upload wait, and keeps the sequence order', async () => {
    const all = await register('/hooks/all', ['*']);
    const uploadId = await newUpload('Green lamp');
    hooks.script('/hooks/all', [{ status: 500 }, { status: 500 }]);

    // Registering the upload published its upload.received (seq 1); paying it publishes payment.confirmed (seq 2).
    await gateway.uploads.pay(
      uploadId,
      {
        chainId: 31337,
        address: `0x${'12'.repeat(20)}`,
        token: null,
        amount: '1',
        blockNumber: '1',
        blockTime: new Date().toISOString(),
        status: 'paid',
        txHashes: [],
      },
      'payment-watcher',
    );
    await publish(uploadId, 'progress', { progress: 10 });
    await publish(uploadId, 'video.transcoded');
    await hooks.until((requests) => requests.filter((r) => r.path === '/hooks/all' && r.answered === 200).length === 3, 15_000, 'three deliveries');
    await quiet();

    const requests = hooks.on('/hooks/all');
    // Two refusals of the first event, then each event once, in sequence order: the later events waited.
    expect(requests.map((r) => [bodyOf(r).seq, r.answered])).toEqual([
      [1, 500],
      [1, 500],
      [1, 200],
      [2, 200],
      [4, 200],
    ]);
    expect(requests.map((r) => bodyOf(r).type)).toEqual(['upload.received', 'upload.received', 'upload.received', 'payment.confirmed', 'video.transcoded']);
    for (const request of requests) {
      const header = String(request.headers['reelboard-signature']);
      expect(verifySignature(all.secret, header, request.body.toString('utf8'))).toMatchObject({ ok: true });
      // A tampered body or another secret fails.
      expect(verifySignature(all.secret, header, request.body.toString('utf8').replace('Green', 'Gren'))).toEqual({ ok: false, reason: 'no_match' });
      expect(verifySignature(`${all.secret}x`, header, request.body.toString('utf8'))).toEqual({ ok: false, reason: 'no_match' });
      expect(request.headers['reelboard-event']).toBe(bodyOf(request).type);
    }
    // A replayed request, with an old timestamp, is refused by the receiver's check.
    expect(
      verifySignature(
        all.secret,
        String(requests[0]!.headers['reelboard-signature']),
        requests[0]!.body.toString('utf8'),
        300,
        Math.floor(Date.now() / 1000) + 600,
      ),
    ).toEqual({
      ok: false,
      reason: 'too_old',
    });
    expect(bodyOf(requests[3]!)).toMatchObject({
      id: `${uploadId}.2`,
      uploadId,
      data: { state: 'paid', title: 'Green lamp', owner: ANVIL_ACCOUNTS.buyer.address.toLowerCase() },
    });

    const log = await deliveries(all.id);
    const first = log.find((d) => d.seq === 1)!;
    expect(first).toMatchObject({ status: 'delivered', attempts: 3 });
    expect(first.attemptLog.map((a) => [a.statusCode, a.response])).toEqual([
      [500, 'answer 500'],
      [500, 'answer 500'],
      [200, 'ok'],
    ]);
    await fetch(`${gateway.base}/v1/admin/webhooks/${all.id}`, { method: 'DELETE', headers: admin() });
  });

  it('does not retry a 410: the delivery is gone and the endpoint disabled until an admin enables it', async () => {
    const goneHook = await register('/hooks/gone', ['payment.confirmed']);
    hooks.script('/hooks/gone', [{ status: 410 }]);
    const uploadId = await newUpload('Old chair');
    await publish(uploadId, 'upload.received', { state: 'awaiting_payment' }); // not wanted by this endpoint
    await publish(uploadId, 'payment.confirmed');
    await hooks.until((requests) => requests.some((r) => r.path === '/hooks/gone'), 15_000, 'the 410 delivery');
    await quiet();
    expect(hooks.on('/hooks/gone').map((r) => [bodyOf(r).type, r.answered])).toEqual([['payment.confirmed', 410]]);
    expect((await deliveries(goneHook.id)).map((d) => [d.status, d.attempts])).toEqual([['gone', 1]]);
    const listed = (await (await fetch(`${gateway.base}/v1/admin/webhooks`, { headers: admin() })).json()) as {
      endpoints: { id: string; enabled: boolean; disabledReason: string | null }[];
    };
    const endpoint = listed.endpoints.find((e) => e.id === goneHook.id);
    expect(endpoint).toMatchObject({ enabled: false, disabledReason: expect.stringContaining('410') });
    expect(JSON.stringify(listed)).not.toContain(goneHook.secret);

    // Disabled: the next event is not sent.
    await publish(uploadId, 'video.transcoded');
    const second = await newUpload('Other chair');
    await publish(second, 'payment.confirmed');
    await quiet();
    expect(hooks.on('/hooks/gone')).toHaveLength(1);
    await fetch(`${gateway.base}/v1/admin/webhooks/${goneHook.id}`, { method: 'DELETE', headers: admin() });
  });

  it('gives up after the retry window, logs each attempt, and an admin replays the delivery', async () => {
    const down = await register('/hooks/down', ['failed']);
    hooks.script(
      '/hooks/down',
      Array.from({ length: 10 }, () => ({ status: 502 })),
    );
    const uploadId = await newUpload('Broken radio');
    await publish(uploadId, 'failed', { state: 'failed', reason: 'transcoder: no video stream' });
    let log: Awaited<ReturnType<typeof deliveries>> = [];
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      log = await deliveries(down.id);
      if (log[0]?.status === 'failed') break;
      await sleep(250);
    }
    // First try, then retries at +0.2 s, +0.6 s, +1.4 s: the next would start past the 2 s window.
    expect(log.map((d) => [d.status, d.attempts])).toEqual([['failed', 4]]);
    expect(log[0]!.attemptLog.map((a) => a.statusCode)).toEqual([502, 502, 502, 502]);

    hooks.script('/hooks/down', []);
    const replay = await fetch(`${gateway.base}/v1/admin/webhooks/deliveries/${log[0]!.id}/replay`, { method: 'POST', headers: admin() });
    expect(replay.status).toBe(202);
    await hooks.until((requests) => requests.some((r) => r.path === '/hooks/down' && r.answered === 200), 15_000, 'the replayed delivery');
    const replayed = hooks.on('/hooks/down').at(-1)!;
    // seq 2: registering the upload published its upload.received first.
    expect(bodyOf(replayed)).toMatchObject({ type: 'failed', seq: 2, data: { reason: 'transcoder: no video stream' } });
    expect(verifySignature(down.secret, String(replayed.headers['reelboard-signature']), replayed.body.toString('utf8'))).toMatchObject({ ok: true });
    // The notifier records the delivery after the endpoint answered: waited for, not given a fixed 300 ms.
    await vi.waitFor(async () => expect((await deliveries(down.id)).map((d) => [d.status, d.attempts])).toEqual([['delivered', 5]]), {
      timeout: 15_000,
      interval: 100,
    });

    const unknown = await fetch(`${gateway.base}/v1/admin/webhooks/deliveries/${randomUUID()}/replay`, { method: 'POST', headers: admin() });
    expect(unknown.status).toBe(404);
    await fetch(`${gateway.base}/v1/admin/webhooks/${down.id}`, { method: 'DELETE', headers: admin() });
  });

  it('after a secret rotation signs with both secrets until the old one expires', async () => {
    const hook = await register('/hooks/rotating', ['payment.confirmed']);
    const rotated = await fetch(`${gateway.base}/v1/admin/webhooks/${hook.id}/rotate-secret`, {
      method: 'POST',
      headers: admin(),
      body: JSON.stringify({ overlapSeconds: 3600 }),
    });
    expect(rotated.status).toBe(200);
    const { secret, previousSecretExpiresAt } = (await rotated.json()) as { secret: string; previousSecretExpiresAt: string };
    expect(secret).not.toBe(hook.secret);
    expect(Date.parse(previousSecretExpiresAt)).toBeGreaterThan(Date.now() + 3500_000);
    const uploadId = await newUpload('Tall plant');
    await publish(uploadId, 'payment.confirmed');
    await hooks.until((requests) => requests.some((r) => r.path === '/hooks/rotating'), 15_000, 'the delivery');
    const request = hooks.on('/hooks/rotating')[0]!;
    const header = String(request.headers['reelboard-signature']);
    expect(header.match(/v1=/g)).toHaveLength(2);
    expect(verifySignature(secret, header, request.body.toString('utf8'))).toMatchObject({ ok: true });
    expect(verifySignature(hook.secret, header, request.body.toString('utf8'))).toMatchObject({ ok: true });

    const bad = await fetch(`${gateway.base}/v1/admin/webhooks`, {
      method: 'POST',
      headers: admin(),
      body: JSON.stringify({ url: `${hooks.origin}/x`, events: ['no.such.event'] }),
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'invalid_body', field: 'events' });
    const stranger = await fetch(`${gateway.base}/v1/admin/webhooks`, {
      headers: { authorization: `Bearer ${await gateway.signIn(ANVIL_ACCOUNTS.stranger.key)}` },
    });
    expect(stranger.status).toBe(403);
    await fetch(`${gateway.base}/v1/admin/webhooks/${hook.id}`, { method: 'DELETE', headers: admin() });
  });
});

describe('queues', () => {
  it('creates no queue that is not a row of the queue table', async () => {
    // The gateway added replays and the two notifiers pushed and delivered: their queues are the table's rows.
    const names = await bullmqQueueNames(redis, gateway.config.REDIS_PREFIX);
    expect(names).toEqual(expect.arrayContaining(['notify.push', 'notify.webhook']));
    for (const name of names) expect(Object.keys(queues), `queue ${name}`).toContain(name);
  });
});
