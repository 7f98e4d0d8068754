import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import { depositAddressAt, depositAddressOf, keyedDepositSalt, quoteSettingsOf } from '@reelboard/chain';
import { channels, STAGED_FILES, type StatusEvent, serviceQueues } from '@reelboard/contracts';
import { makeClip, makePng } from '@reelboard/testkit/media';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { intakeLimits } from '../src/infra/intake.js';
import { StatusHub } from '../src/infra/status-hub.js';
import { type AcceptUploadDeps, acceptUpload } from '../src/use-cases/accept-upload.js';
import { type Gateway, infra, startGateway } from './harness.js';

// The upload module and the status hub, called directly: no Express, no HTTP.
const redis = connectRedis(infra.REDIS_URL ?? '', 'accept-upload-test');
let gw: Gateway;
let deps: AcceptUploadDeps;
const owner = ANVIL_ACCOUNTS.buyer.address.toLowerCase() as `0x${string}`;
const form = { title: 'Bike', description: '', hashtags: ['bikes'], latitude: 52.5, longitude: 13.4 };

async function stage(video: (path: string) => Promise<void>, logo = false) {
  const uploadId = randomUUID();
  const dir = join(gw.stagingDir, uploadId);
  await mkdir(dir, { recursive: true });
  await video(join(dir, STAGED_FILES.source));
  if (logo) {
    await makePng(join(dir, 'logo.png'));
    await rename(join(dir, 'logo.png'), join(dir, STAGED_FILES.logoOriginal));
  }
  return uploadId;
}

beforeAll(async () => {
  gw = await startGateway(redis);
  deps = { db: gw.db, uploads: gw.uploads, bus: gw.bus, config: gw.config, limits: intakeLimits(gw.config) };
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await redis.quit();
});

describe('acceptUpload', () => {
  it('quotes, records the quote, registers the upload awaiting payment and queues it for the watcher', async () => {
    const uploadId = await stage(async (path) => {
      await makeClip(`${path}.mp4`, { width: 320, height: 240, seconds: 1 });
      await rename(`${path}.mp4`, path);
    }, true);
    const accepted = await acceptUpload(deps, { uploadId, owner, form, videoBytes: 1000, logo: true });
    expect(accepted).toMatchObject({ uploadId, payment: { chainId: gw.config.CHAIN_ID, token: null }, links: { events: `/v1/uploads/${uploadId}/events` } });
    expect(await gw.uploads.state(uploadId)).toBe('awaiting_payment');
    expect(await gw.uploads.owner(uploadId)).toBe(owner);
    expect((await gw.bus.status.latest(uploadId))?.event).toBe('upload.received');
    // The quote keeps the settings its address derives from, so a later change of merchant or token orphans none.
    const settings = quoteSettingsOf({ merchant: gw.config.MERCHANT_ADDRESS, token: null });
    expect(await gw.db('payment_quotes').where({ quote_id: uploadId }).first()).toMatchObject({
      deposit_address: accepted.payment.to,
      merchant_address: settings.merchant,
      factory_address: settings.factory,
      sweeper_code_hash: settings.sweeperCodeHash,
    });
    // The address is salted under the gateway's key, not by the public upload id: knowing the id is
    // not enough to find it. The salt is stored with the quote and travels to the watcher.
    const deposits = { merchant: gw.config.MERCHANT_ADDRESS, token: null };
    const salt = keyedDepositSalt(gw.config.DEPOSIT_SALT_KEY, uploadId);
    expect(accepted.payment.to).not.toBe(depositAddressOf(deposits, uploadId));
    expect(accepted.payment.to).toBe(depositAddressAt(deposits, salt));
    expect(await gw.db('payment_quotes').where({ quote_id: uploadId }).first('deposit_salt')).toEqual({ deposit_salt: salt });
    const received = await gw.bus.queue('upload.received').getJob(channels['upload.received'].jobId({ uploadId } as never));
    expect(received?.data.uploadId).toBe(uploadId);
    expect(received?.data.quote.salt).toBe(salt);
    // And, on the transcoder's own queue, the preview to cut while the person pays.
    expect(
      await gw.bus
        .queue('preview.speculative')
        .getJob(serviceQueues['preview.speculative'].jobId({ uploadId } as never))
        .then((job) => job?.data.staged.source ?? null),
    ).toBe(`${uploadId}/${STAGED_FILES.source}`);
  });

  it('refuses a "video" whose first bytes are not a container, before quoting', async () => {
    const uploadId = await stage((path) => writeFile(path, 'just text, not a video'));
    await expect(acceptUpload(deps, { uploadId, owner, form, videoBytes: 22, logo: false })).rejects.toMatchObject({ status: 415, code: 'unsupported_video' });
    expect(await gw.uploads.state(uploadId)).toBeUndefined();
    expect(await gw.db('payment_quotes').where({ quote_id: uploadId }).first()).toBeUndefined();
  });
});

describe('StatusHub.stream', () => {
  it('replays what a reconnecting client missed, then live events, without repeats, and ends on a terminal event', async () => {
    const hub = new StatusHub(gw.bus.status);
    await hub.start();
    const uploadId = randomUUID();
    for (const progress of [10, 20, 30]) await gw.bus.status.publish({ uploadId, event: 'progress', stage: 'transcoder', state: 'processing', progress });
    const seen: StatusEvent[] = [];
    let ended = false;
    await hub.stream(uploadId, 1, { send: (event) => seen.push(event), end: () => (ended = true) });
    expect(seen.map((event) => event.seq)).toEqual([2, 3]);
    await gw.bus.status.publish({ uploadId, event: 'failed', stage: 'transcoder', state: 'failed', reason: 'test' });
    await expect.poll(() => ended).toBe(true);
    expect(seen.map((event) => [event.seq, event.event])).toEqual([
      [2, 'progress'],
      [3, 'progress'],
      [4, 'failed'],
    ]);
    expect(hub.clients).toBe(0);
    hub.stop();
  });
});
