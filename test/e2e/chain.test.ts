import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hex } from 'viem';
import { connectRedis } from '@reelboard/bus';
import { depositAddressAt, keyedDepositSalt, LOCAL_DEPOSIT_SALT_KEY } from '@reelboard/chain';
import { queues } from '@reelboard/contracts';
import { connectDatabase, createWebhookEndpoint, deleteWebhookEndpoint, type Knex, migrateToLatest } from '@reelboard/db';
import { createBus, type PipelineBus } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { type ObjectStorage, s3EnvSchema, storageFromEnv } from '@reelboard/storage';
import { bullmqQueueNames } from '@reelboard/testkit/bullmq-queues';
import { followEvents, pay, postListing, signIn } from '@reelboard/testkit/client';
import { ffprobe, makeClip, makePng } from '@reelboard/testkit/media';
import { ANVIL_ACCOUNTS, type Stack, startStack } from '@reelboard/testkit/stack';
import { verifySignature } from '../../services/notifier/src/sign-webhook.js';

const PREVIEW_SECONDS = 2;
const CLIP_SECONDS = 4;
/** The 4 s clip is longer than this, so it is encoded in two chunks of 2 s (a BullMQ flow); the 1 s clip in one piece. */
const CHUNK_THRESHOLD_SECONDS = 3;
const CHUNK_SECONDS = 2;
/**
 * Short enough that the unpaid upload of the second test expires while we watch (the file waits for
 * it); long enough that its rejected hash is judged (a few seconds) while the quote is still open.
 */
const QUOTE_TTL_SECONDS = 15;

let stack: Stack;
let db: Knex;
let storage: ObjectStorage;
let bus: PipelineBus;
let redis: ReturnType<typeof connectRedis>;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'reelboard-e2e-'));
  await Promise.all([
    makeClip(join(work, 'clip.mp4'), { width: 1920, height: 1080, seconds: CLIP_SECONDS }),
    // For the cases that check what happens around the encode, not the encode itself.
    makeClip(join(work, 'tiny.mp4'), { width: 320, height: 240, seconds: 1 }),
    makePng(join(work, 'logo.png')),
  ]);
  stack = await startStack({
    PREVIEW_SECONDS: String(PREVIEW_SECONDS),
    QUOTE_TTL_SECONDS: String(QUOTE_TTL_SECONDS),
    CHUNK_THRESHOLD_SECONDS: String(CHUNK_THRESHOLD_SECONDS),
    CHUNK_SECONDS: String(CHUNK_SECONDS),
    // This chain checks the single-rendition chunked encode of a 1080p clip; test/e2e/ladder.test.ts the ladder.
    STREAM_LADDER: 'false',
  });
  db = connectDatabase(stack.env.DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
  storage = storageFromEnv(s3EnvSchema.parse(stack.env));
  redis = connectRedis(stack.env.REDIS_URL ?? '', 'e2e-test');
  bus = createBus(redis, stack.env.REDIS_PREFIX ?? '', 'e2e-test', createLogger('e2e-test', 'error'));
});

afterAll(async () => {
  await stack?.shutdown();
  await bus?.close(1_000);
  await redis?.quit();
  await db?.destroy();
  storage?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

const chainOrder = ['upload.received', 'payment.confirmed', 'video.transcoded', 'preview.extracted', 'assets.stored', 'profile.saved'];

describe('one paid upload travels the whole chain', () => {
  it('goes from the form to a saved listing with its assets in S3 and its rows in Postgres', async () => {
    const buyer = ANVIL_ACCOUNTS.buyer;
    const { token, address } = await signIn(stack.gatewayUrl, buyer.key, Number(stack.env.CHAIN_ID));
    expect(address).toBe(buyer.address.toLowerCase());
    // The public profile as it is before this upload: what the form brings waits for a moderator.
    const profileBefore = (await db('users').where({ wallet_address: buyer.address.toLowerCase() }).first('display_name', 'contact')) ?? {
      display_name: null,
      contact: null,
    };

    const res = await postListing(
      stack.gatewayUrl,
      token,
      { video: join(work, 'clip.mp4'), logo: join(work, 'logo.png') },
      {
        title: 'Vintage bike, Berlin',
        description: 'Steel frame, new tyres.',
        hashtags: '#Bikes #berlin #bikes',
        latitude: '52.52',
        longitude: '13.405',
        displayName: 'Ada',
        contact: 'ada@example.org',
      },
    );
    expect(res.status).toBe(202);
    const accepted = (await res.json()) as { uploadId: string; payment: { chainId: number; to: Hex; amount: string; expiresAt: string } };
    // The quote's own deposit address, bound to the merchant and salted under the gateway's key (the local chain's here): whatever reaches it pays this upload.
    expect(accepted.payment.to).toBe(
      depositAddressAt(
        { merchant: (stack.env.MERCHANT_ADDRESS ?? '').toLowerCase() as Hex, token: null },
        keyedDepositSalt(LOCAL_DEPOSIT_SALT_KEY, accepted.uploadId),
      ),
    );
    expect(accepted.payment.chainId).toBe(Number(stack.env.CHAIN_ID));
    const { uploadId } = accepted;

    const stream = followEvents(stack.gatewayUrl, uploadId, token);
    await stream.waitFor('upload.received', 10_000);
    const txHash = await pay(stack.env.RPC_URL ?? '', buyer.key, accepted.payment.to, BigInt(accepted.payment.amount));
    const submitted = await fetch(`${stack.gatewayUrl}/v1/uploads/${uploadId}/payment`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ txHash }),
    });
    expect(submitted.status).toBe(202);

    const events = await stream.untilEnd;
    const names = events.map((e) => e.name);
    expect(names.at(-1), `stream ended with ${JSON.stringify(events.at(-1)?.data)}`).toBe('profile.saved');
    // Every stage, in chain order; progress events may come in between.
    expect(names.filter((name) => chainOrder.includes(name))).toEqual(chainOrder);
    // Playable first: the transcoder cut the preview and poster from the source and the uploader stored
    // them (preview.ready) before the full transcode was done; the chain above is unchanged.
    const at = (name: string) => names.indexOf(name);
    expect(at('preview.early')).toBeGreaterThan(at('payment.confirmed'));
    expect(at('preview.early')).toBeLessThan(at('video.transcoded'));
    expect(at('preview.ready')).toBeGreaterThan(at('preview.early'));
    expect(events[at('preview.early')]?.data.stage).toBe('transcoder');
    expect(events[at('preview.ready')]?.data.stage).toBe('uploader');
    expect(names.filter((name) => name === 'preview.ready')).toHaveLength(1);
    const transcodeProgress = events.filter((e) => e.name === 'progress' && e.data.stage === 'transcoder');
    expect(transcodeProgress.length).toBeGreaterThan(0);
    // The clip was encoded in chunks: progress covers both, and reaches 100 once they are joined.
    expect(transcodeProgress.some((e) => e.data.message === 'transcoding in 2 chunks')).toBe(true);
    expect(transcodeProgress.at(-1)?.data).toMatchObject({ progress: 100, message: 'joined 2 chunks' });
    // Event ids increase: a reconnecting client can resume from any of them.
    const ids = events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));

    // S3: the video is VP9 in WebM with the source's duration; the preview is short; the poster is an image.
    const keys = {
      video: `listings/${uploadId}/video.webm`,
      preview: `listings/${uploadId}/preview.webm`,
      poster: `listings/${uploadId}/poster.webp`,
      logo: `listings/${uploadId}/logo.webp`,
    };
    for (const [name, key] of Object.entries(keys)) await writeFile(join(work, `out-${name}`), await storage.getBytes(key));
    const video = await ffprobe(join(work, 'out-video'));
    expect(video.format.format_name).toContain('webm');
    expect(video.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('vp9');
    expect(video.streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('opus');
    expect(Math.abs(Number(video.format.duration) - CLIP_SECONDS)).toBeLessThanOrEqual(0.5);
    const preview = await ffprobe(join(work, 'out-preview'));
    expect(preview.streams.find((s) => s.codec_type === 'video')?.codec_name).toBe('vp9');
    expect(preview.streams.some((s) => s.codec_type === 'audio')).toBe(false);
    expect(Number(preview.format.duration)).toBeLessThan(PREVIEW_SECONDS + 1);
    const poster = await ffprobe(join(work, 'out-poster'));
    expect(poster.streams[0]?.codec_name).toBe('webp');
    const logo = await ffprobe(join(work, 'out-logo'));
    expect(logo.streams[0]).toMatchObject({ codec_name: 'webp', width: 256, height: 256 });

    // Postgres: the user by wallet, the listing with a PostGIS point, hashtags through the association table, the payment.
    // The display name and contact stay with the listing until a moderator approves it; the public profile is untouched.
    const user = await db('users').where({ wallet_address: buyer.address.toLowerCase() }).first();
    expect(user).toMatchObject(profileBefore);
    const listing = await db('listings')
      .where({ id: uploadId })
      .select(
        'user_id',
        'title',
        'moderation_status',
        'video_key',
        'display_name',
        'contact',
        db.raw('ST_Y(location::geometry) as lat'),
        db.raw('ST_X(location::geometry) as lng'),
        db.raw('GeometryType(location::geometry) as geom_type'),
      )
      .first();
    expect(listing).toMatchObject({
      user_id: user.id,
      title: 'Vintage bike, Berlin',
      moderation_status: 'pending',
      video_key: keys.video,
      geom_type: 'POINT',
      display_name: 'Ada',
      contact: 'ada@example.org',
    });
    expect(listing.lat).toBeCloseTo(52.52, 6);
    expect(listing.lng).toBeCloseTo(13.405, 6);
    const tags = await db('listing_hashtags')
      .join('hashtags', 'hashtags.id', 'listing_hashtags.hashtag_id')
      .where({ listing_id: uploadId })
      .orderBy('tag')
      .pluck('tag');
    expect(tags).toEqual(['berlin', 'bikes']);
    const payment = await db('payments').where({ upload_id: uploadId }).first();
    expect(payment).toMatchObject({
      tx_hash: txHash.toLowerCase(),
      listing_id: uploadId,
      status: 'paid',
      from_address: buyer.address.toLowerCase(),
      amount: accepted.payment.amount,
    });
    expect(await db('payment_quotes').where({ quote_id: uploadId }).first()).toMatchObject({
      deposit_address: accepted.payment.to,
      state: 'paid',
      credited_total: accepted.payment.amount,
      listing_id: uploadId,
    });

    // The staged files are gone once the listing is saved.
    expect(existsSync(join(stack.stagingDir, uploadId))).toBe(false);

    // Operators see the work in each service's metrics.
    const transcoderMetrics = await (await fetch(`http://127.0.0.1:${stack.portOf('transcoder')}/metrics`)).text();
    expect(transcoderMetrics).toMatch(/reelboard_jobs_completed_total\{channel="payment.confirmed",service="transcoder"\} 1\b/);
    expect(transcoderMetrics).toMatch(/reelboard_encode_fps_count\{service="transcoder",stage="transcoder"\} 1\b/);
    // Two video chunks and the audio track, then one join.
    expect(transcoderMetrics).toMatch(/reelboard_jobs_completed_total\{channel="video.chunk",service="transcoder"\} 3\b/);
    expect(transcoderMetrics).toMatch(/reelboard_jobs_completed_total\{channel="video.assemble",service="transcoder"\} 1\b/);
    expect(transcoderMetrics).toMatch(/reelboard_media_bytes_total\{stage="transcoder",direction="in",service="transcoder"\} [1-9]/);
    expect(transcoderMetrics).toMatch(/reelboard_queue_jobs\{channel="payment.confirmed",state="waiting",service="transcoder"\} 0\b/);
    const watcherMetrics = await (await fetch(`http://127.0.0.1:${stack.portOf('payment-watcher')}/metrics`)).text();
    expect(watcherMetrics).toMatch(/reelboard_payment_credits_total\{chain="\d+",status="paid",service="payment-watcher"\} 1\b/);
    const gatewayMetrics = await (await fetch(`http://127.0.0.1:${stack.portOf('api-gateway')}/metrics`)).text();
    expect(gatewayMetrics).toMatch(/reelboard_sse_clients\{service="api-gateway"\} \d+/);
  });

  // This case waits for its quote to expire (QUOTE_TTL_SECONDS): concurrent with the next one, which
  // pays with another wallet, so that wait is not the file's alone.
  it.concurrent('refuses a hash that paid another address, sends nothing to the transcoder, and lets the upload expire unpaid', async ({ expect }) => {
    const buyer = ANVIL_ACCOUNTS.buyer;
    const { token } = await signIn(stack.gatewayUrl, buyer.key, Number(stack.env.CHAIN_ID));
    const res = await postListing(
      stack.gatewayUrl,
      token,
      { video: join(work, 'tiny.mp4') },
      {
        title: 'Unpaid',
        hashtags: '#test',
        latitude: '0',
        longitude: '0',
      },
    );
    expect(res.status).toBe(202);
    const { uploadId, payment } = (await res.json()) as { uploadId: string; payment: { amount: string } };
    expect(existsSync(join(stack.stagingDir, uploadId, 'source'))).toBe(true);
    const stream = followEvents(stack.gatewayUrl, uploadId, token);

    // Full price, but to another address than the quote's.
    const txHash = await pay(stack.env.RPC_URL ?? '', buyer.key, ANVIL_ACCOUNTS.stranger.address, BigInt(payment.amount));
    const submitted = await fetch(`${stack.gatewayUrl}/v1/uploads/${uploadId}/payment`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ txHash }),
    });
    expect(submitted.status).toBe(202);
    const rejected = await stream.waitFor('payment.rejected', 30_000);
    expect(rejected.code).toBe('no_payment');
    expect(rejected.reason).toMatch(/sent nothing to this upload's deposit address/);

    // Still payable: the status says so and the gateway takes another transaction hash.
    const status = (await (await fetch(`${stack.gatewayUrl}/v1/uploads/${uploadId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      status: { state: string };
    };
    expect(status.status.state).toBe('awaiting_payment');
    expect(await bus.queue('payment.confirmed').getJob(`${uploadId}.payment.confirmed`)).toBeUndefined();

    // At the quote's expiry the upload ends `expired` and its staged files are removed.
    const events = await stream.untilEnd;
    expect(events.at(-1)?.name).toBe('expired');
    // The files go right after the upload is expired (never before: a payment could still have won).
    const gone = Date.now() + 5_000;
    while (existsSync(join(stack.stagingDir, uploadId)) && Date.now() < gone) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(existsSync(join(stack.stagingDir, uploadId))).toBe(false);
    expect(await bus.queue('payment.confirmed').getJob(`${uploadId}.payment.confirmed`)).toBeUndefined();
    const late = await fetch(`${stack.gatewayUrl}/v1/uploads/${uploadId}/payment`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ txHash }),
    });
    // Sent again after the end: answered with where the upload stands, not an error.
    expect(late.status).toBe(200);
    expect(await late.json()).toMatchObject({ state: 'expired' });
  });

  it.concurrent("is what the operators' command-line client does: upload, pay, follow to the saved listing", async ({ expect }) => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        'scripts/upload.ts',
        '--video',
        join(work, 'tiny.mp4'),
        '--title',
        'From the CLI',
        '--hashtags',
        '#cli',
        '--gateway',
        stack.gatewayUrl,
        '--rpc',
        stack.env.RPC_URL ?? '',
        '--key',
        ANVIL_ACCOUNTS.cli.key,
      ],
      { cwd: new URL('../..', import.meta.url).pathname, timeout: 120_000 },
    );
    const uploadId = /upload ([0-9a-f-]{36})/.exec(stdout)?.[1];
    expect(stdout).toMatch(/^profile\.saved$/m);
    const listing = await db('listings')
      .join('users', 'users.id', 'listings.user_id')
      .where('listings.id', uploadId ?? '')
      .first();
    expect(listing).toMatchObject({ title: 'From the CLI', wallet_address: ANVIL_ACCOUNTS.cli.address.toLowerCase() });
  });

  it('leaves every coin of the run accounted for: reconciliation finds nothing', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/payments.ts', 'reconcile', '--settle-seconds', '30'], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { ...process.env, ...stack.env },
      timeout: 120_000,
    });
    expect(stdout).toMatch(/checked [1-9]\d* deposit addresses/);
    expect(stdout).toContain('the ledger matches the chain');
  });
});

describe('integrators are told every step', () => {
  it("a registered webhook receives the upload's events from the real chain, signed and in sequence order", async () => {
    const received: { signature: string; body: string }[] = [];
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({ signature: String(req.headers['reelboard-signature']), body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const secret = `whsec_${randomBytes(24).toString('hex')}`;
    const endpoint = await createWebhookEndpoint(db, {
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`,
      events: ['*'],
      secret,
      createdBy: 'e2e',
    });
    try {
      const buyer = ANVIL_ACCOUNTS.buyer;
      const { token } = await signIn(stack.gatewayUrl, buyer.key, Number(stack.env.CHAIN_ID));
      const res = await postListing(
        stack.gatewayUrl,
        token,
        { video: join(work, 'tiny.mp4') },
        { title: 'Told by webhook', latitude: '48.85', longitude: '2.35' },
      );
      expect(res.status).toBe(202);
      const accepted = (await res.json()) as { uploadId: string; payment: { to: Hex; amount: string } };
      const stream = followEvents(stack.gatewayUrl, accepted.uploadId, token);
      await stream.waitFor('upload.received', 10_000);
      const txHash = await pay(stack.env.RPC_URL ?? '', buyer.key, accepted.payment.to, BigInt(accepted.payment.amount));
      await fetch(`${stack.gatewayUrl}/v1/uploads/${accepted.uploadId}/payment`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ txHash }),
      });
      expect((await stream.untilEnd).at(-1)?.name).toBe('profile.saved');

      const mine = () =>
        received
          .map((r) => ({ ...r, payload: JSON.parse(r.body) as { type: string; seq: number; uploadId: string } }))
          .filter((r) => r.payload.uploadId === accepted.uploadId);
      const deadline = Date.now() + 15_000;
      while (!mine().some((r) => r.payload.type === 'profile.saved') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
      const deliveries = mine();
      // Each step once, in the chain's order; progress is not a state change and is not sent. The early
      // preview's two events come right after payment.confirmed, racing a short clip's transcode.
      const types = deliveries.map((r) => r.payload.type);
      expect(types.filter((type) => chainOrder.includes(type))).toEqual(chainOrder);
      expect(types.filter((type) => type === 'preview.early' || type === 'preview.ready').sort()).toEqual(['preview.early', 'preview.ready']);
      expect(types).toHaveLength(chainOrder.length + 2);
      const seqs = deliveries.map((r) => r.payload.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      for (const delivery of deliveries) expect(verifySignature(secret, delivery.signature, delivery.body)).toMatchObject({ ok: true });
    } finally {
      await deleteWebhookEndpoint(db, endpoint.id);
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});

describe('queues', () => {
  it('are all rows of the queue table, whichever of the seven services made them', async () => {
    const names = await bullmqQueueNames(redis, stack.env.REDIS_PREFIX ?? '');
    // The maintenance schedulers exist from start-up, whatever else has run.
    expect(names).toEqual(expect.arrayContaining(['listings.maintenance', 'staging.cleanup']));
    for (const name of names) expect(Object.keys(queues), `queue ${name}`).toContain(name);
  });
});
