import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import sharp from 'sharp';
import { connectRedis } from '@reelboard/bus';
import { depositAddressAt, depositAddressOf, keyedDepositSalt } from '@reelboard/chain';
import { serviceQueues } from '@reelboard/contracts';
import { moderateListing, saveListing } from '@reelboard/db';
import { createBus } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { listingInput } from '@reelboard/testkit/db-fixtures';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { handleListingJob, runListingJob } from '../src/listing-job.js';
import { type Gateway, infra, startGateway } from './harness.js';

const redis = connectRedis(infra.REDIS_URL ?? '', 'gateway-listing-life-test');
const run = randomBytes(3).toString('hex');
const tag = (name: string) => `${name}_${run}`;
const OWNER = ANVIL_ACCOUNTS.cli;
let gw: Gateway;
let owner: string;
let stranger: string;
let work: string;
const listingIds: string[] = [];
const quoteIds: string[] = [];

async function api(path: string, init: { method?: string; token?: string; admin?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.admin) headers['x-admin-token'] = init.admin;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${gw.base}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as any };
}

/** A saved listing of the owner, its objects in S3, approved unless told otherwise. */
async function listing(options: { approve?: boolean; tags?: string[]; displayName?: string } = {}) {
  const input = listingInput({ wallet: OWNER.address, tags: options.tags ?? [tag('life')], displayName: options.displayName ?? 'Anna' });
  await saveListing(gw.db, input);
  listingIds.push(input.listingId);
  const file = join(work, 'object');
  await writeFile(file, randomBytes(2048));
  for (const key of [input.listing.videoKey, input.listing.previewKey, input.listing.posterKey, input.listing.logoKey as string])
    await gw.storage.putFile(key, file, 'application/octet-stream');
  await gw.bus.status.publish({ uploadId: input.listingId, event: 'profile.saved', stage: 'profile-writer', state: 'saved' });
  if (options.approve !== false)
    expect((await api(`/v1/admin/listings/${input.listingId}/approve`, { method: 'POST', admin: gw.adminToken })).status).toBe(200);
  return input;
}

beforeAll(async () => {
  gw = await startGateway(redis, { SOLD_DISPLAY_HOURS: '48', LISTING_DAYS: '30' });
  work = await mkdtemp(join(tmpdir(), 'gw-life-'));
  owner = await gw.signIn(OWNER.key);
  stranger = await gw.signIn(ANVIL_ACCOUNTS.stranger.key);
});

afterAll(async () => {
  if (quoteIds.length) await gw.db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  if (listingIds.length) await gw.db('listings').whereIn('id', listingIds).delete();
  await gw.db('users').where({ wallet_address: OWNER.address.toLowerCase() }).delete();
  await gw.db('hashtags').where('tag', 'like', `%\\_${run}`).delete();
  await gw?.close();
  await redis.quit();
  await rm(work, { recursive: true, force: true });
});

describe('the owner edits; a moderator approves the revision', () => {
  it('edit -> pending revision -> the approved version stays public -> approve -> the change is public; the owner is told', async () => {
    const input = await listing();
    const id = input.listingId;
    const edit = await api(`/v1/listings/${id}`, {
      method: 'PATCH',
      token: owner,
      body: { title: 'Red bike, new tyres', price: { amount: '120', currency: 'eur' }, contact: '+49 30 1234' },
    });
    expect(edit).toMatchObject({ status: 200, body: { mode: 'revision', state: 'approved' } });
    expect((await api(`/v1/listings/${id}`)).body).toMatchObject({ title: 'A bike', price: null, contact: 'anna@example.com' });
    const mine = (await api('/v1/me/listings', { token: owner })).body.items.find((item: { id: string }) => item.id === id);
    expect(mine).toMatchObject({ state: 'approved', pendingRevision: { id: edit.body.revisionId }, previewUrl: expect.stringContaining('preview.webm') });

    const queue = await api('/v1/admin/revisions', { admin: gw.adminToken });
    const revision = queue.body.items.find((item: { id: string }) => item.id === edit.body.revisionId);
    expect(revision.diff).toEqual([
      { field: 'title', public: 'A bike', proposed: 'Red bike, new tyres' },
      { field: 'price', public: null, proposed: { amount: '120.00', currency: 'EUR' } },
      { field: 'contact', public: 'anna@example.com', proposed: '+49 30 1234' },
    ]);
    expect((await api(`/v1/admin/revisions/${edit.body.revisionId}/reject`, { method: 'POST', admin: gw.adminToken, body: {} })).status).toBe(400);
    expect((await api(`/v1/admin/revisions/${edit.body.revisionId}/approve`, { method: 'POST', token: stranger })).status).toBe(403);
    expect((await api(`/v1/admin/revisions/${edit.body.revisionId}/approve`, { method: 'POST', admin: gw.adminToken })).body).toMatchObject({
      status: 'approved',
    });
    expect((await api(`/v1/admin/revisions/${edit.body.revisionId}/approve`, { method: 'POST', admin: gw.adminToken })).status).toBe(409);
    expect((await api(`/v1/listings/${id}`)).body).toMatchObject({
      title: 'Red bike, new tyres',
      price: { amount: '120.00', currency: 'EUR' },
      contact: '+49 30 1234',
    });
    expect((await api(`/v1/users/${OWNER.address}`)).body.contact).toBe('+49 30 1234');
    expect(await gw.bus.status.latest(id)).toMatchObject({ event: 'revision.approved' });
  });

  it("a new logo: checked and normalised like the form's; on an approved listing part of the revision, the approved one public until approved; replaced objects deleted", async () => {
    const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#c33' } })
      .png()
      .toBuffer();
    const putLogo = async (id: string, parts: { logo?: Blob; video?: Blob } = { logo: new Blob([png], { type: 'image/png' }) }, token = owner) => {
      const form = new FormData();
      for (const [name, blob] of Object.entries(parts)) form.append(name, blob, `${name}.bin`);
      const res = await fetch(`${gw.base}/v1/listings/${id}/logo`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: form });
      return { status: res.status, body: (await res.json()) as any };
    };
    const revisionLogo = async (revisionId: string) =>
      (await api('/v1/admin/revisions', { admin: gw.adminToken })).body.items
        .find((item: { id: string }) => item.id === revisionId)
        .diff.find((entry: { field: string }) => entry.field === 'logoKey');

    // Approved: the new logo waits in a revision; the approved one stays public.
    const input = await listing();
    const id = input.listingId;
    const approvedKey = input.listing.logoKey as string;
    const first = await putLogo(id);
    expect(first).toMatchObject({ status: 200, body: { mode: 'revision', state: 'approved' } });
    const firstDiff = await revisionLogo(first.body.revisionId);
    expect(firstDiff).toMatchObject({ public: approvedKey, proposed: expect.stringMatching(new RegExp(`^listings/${id}/logo-[0-9a-f-]{36}\\.webp$`)) });
    // The moderator sees both images: each URL serves its object.
    for (const [url, key] of [
      [firstDiff.publicUrl, firstDiff.public],
      [firstDiff.proposedUrl, firstDiff.proposed],
    ]) {
      expect(url).toContain(key);
      const image = await fetch(url);
      expect(image.status).toBe(200);
      expect((await image.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
    const stored = await gw.storage.head(firstDiff.proposed);
    expect(stored?.contentType).toBe('image/webp');
    const meta = await sharp(await gw.storage.getBytes(firstDiff.proposed)).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: gw.config.LOGO_SIZE, height: gw.config.LOGO_SIZE });
    expect((await api(`/v1/listings/${id}`)).body.logoUrl).toContain(approvedKey);
    // A newer logo folds into the pending revision; the one it replaces is deleted.
    const second = await putLogo(id);
    const secondDiff = await revisionLogo(second.body.revisionId);
    expect(secondDiff.proposed).not.toBe(firstDiff.proposed);
    expect(await gw.storage.head(firstDiff.proposed)).toBeUndefined();
    // Rejected: the new object is deleted, the approved logo stays.
    expect(
      (await api(`/v1/admin/revisions/${second.body.revisionId}/reject`, { method: 'POST', admin: gw.adminToken, body: { reason: 'not your logo' } })).status,
    ).toBe(200);
    expect(await gw.storage.head(secondDiff.proposed)).toBeUndefined();
    expect(await gw.storage.head(approvedKey)).toBeDefined();
    expect((await api(`/v1/listings/${id}`)).body.logoUrl).toContain(approvedKey);
    // Approved: the new logo is public (listing and profile), the old object deleted.
    const third = await putLogo(id);
    const thirdDiff = await revisionLogo(third.body.revisionId);
    expect((await api(`/v1/admin/revisions/${third.body.revisionId}/approve`, { method: 'POST', admin: gw.adminToken })).status).toBe(200);
    expect((await api(`/v1/listings/${id}`)).body.logoUrl).toContain(thirdDiff.proposed);
    expect((await api(`/v1/users/${OWNER.address}`)).body.logoUrl).toContain(thirdDiff.proposed);
    expect(await gw.storage.head(approvedKey)).toBeUndefined();
    expect(await gw.storage.head(thirdDiff.proposed)).toBeDefined();

    // Pending: replaced at once, the old object deleted.
    const pending = await listing({ approve: false });
    const pendingOld = pending.listing.logoKey as string;
    expect(await putLogo(pending.listingId)).toMatchObject({ status: 200, body: { mode: 'applied', revisionId: null, state: 'pending' } });
    const row = await gw.db('listings').where({ id: pending.listingId }).first('logo_key');
    expect(row.logo_key).toMatch(/logo-[0-9a-f-]{36}\.webp$/);
    expect(await gw.storage.head(row.logo_key)).toBeDefined();
    expect(await gw.storage.head(pendingOld)).toBeUndefined();

    // Bad input, named; nothing stored.
    const svg = new Blob(['<svg xmlns="http://www.w3.org/2000/svg"/>'], { type: 'image/svg+xml' });
    expect(await putLogo(pending.listingId, { logo: svg })).toMatchObject({ status: 415, body: { error: 'unsupported_logo' } });
    expect(await putLogo(pending.listingId, {})).toMatchObject({ status: 400, body: { error: 'invalid_form', fields: { logo: expect.any(String) } } });
    expect((await putLogo(pending.listingId, { video: new Blob([png]) })).body.error).toBe('unexpected_file');
    expect((await putLogo(pending.listingId, undefined, stranger)).status).toBe(404);
    expect((await api(`/v1/listings/${pending.listingId}/logo`, { method: 'PUT', token: owner, body: { logo: 'x' } })).body.error).toBe('expected_multipart');
    expect((await gw.db('listings').where({ id: pending.listingId }).first('logo_key')).logo_key).toBe(row.logo_key);
  });

  it('validates like the form, names each bad field, and lets no one else edit', async () => {
    const { listingId } = await listing({ approve: false });
    const bad = await api(`/v1/listings/${listingId}`, {
      method: 'PATCH',
      token: owner,
      body: { title: '', latitude: 91, price: { amount: '1.234', currency: 'EUR' }, video: 'x' },
    });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body.fields).sort()).toEqual(['latitude', 'longitude', 'price', 'title', 'video']);
    expect(bad.body.fields.video).toContain('upload a new listing');
    expect((await api(`/v1/listings/${listingId}`, { method: 'PATCH', token: owner, body: {} })).body.fields.form).toContain('nothing to change');
    expect((await api(`/v1/listings/${listingId}`, { method: 'PATCH', token: stranger, body: { title: 'mine now' } })).status).toBe(404);
    expect((await api(`/v1/listings/${listingId}`, { method: 'PATCH', body: { title: 'x' } })).status).toBe(401);
    // Pending: the change applies at once (nothing public to protect).
    expect(
      (await api(`/v1/listings/${listingId}`, { method: 'PATCH', token: owner, body: { hashtags: '#bikes #red', latitude: 48.1, longitude: 11.6 } })).body,
    ).toMatchObject({ mode: 'applied' });
  });

  it('a profile edit is public only once approved', async () => {
    await listing({ displayName: 'Anna' });
    expect((await api('/v1/me/profile', { method: 'PATCH', token: owner, body: { displayName: 'Anna K.', logo: 'x' } })).status).toBe(400);
    const asked = await api('/v1/me/profile', { method: 'PATCH', token: owner, body: { displayName: 'Anna K.' } });
    expect(asked.status).toBe(202);
    expect((await api(`/v1/users/${OWNER.address}`)).body.displayName).toBe('Anna');
    expect((await api('/v1/me/profile', { token: owner })).body.pendingRevision.changes).toEqual({ displayName: 'Anna K.' });
    await api(`/v1/admin/revisions/${asked.body.revisionId}/approve`, { method: 'POST', admin: gw.adminToken });
    expect((await api(`/v1/users/${OWNER.address}`)).body.displayName).toBe('Anna K.');
  });
});

describe('sold, withdraw, remove', () => {
  it('sold: shown as sold, then 410 once hidden; withdraw hides at once', async () => {
    const sold = await listing({ tags: [tag('sold')] });
    const withdrawn = await listing({ tags: [tag('sold')] });
    expect((await api(`/v1/listings/${sold.listingId}/sold`, { method: 'POST', token: stranger })).status).toBe(404);
    const marked = await api(`/v1/listings/${sold.listingId}/sold`, { method: 'POST', token: owner });
    expect(marked).toMatchObject({ status: 200, body: { state: 'sold' } });
    expect(Date.parse(marked.body.visibleUntil) - Date.parse(marked.body.soldAt)).toBe(48 * 3600_000);
    expect((await api(`/v1/listings/${sold.listingId}`)).body).toMatchObject({ state: 'sold' });
    expect((await api(`/v1/listings/${withdrawn.listingId}/withdraw`, { method: 'POST', token: owner })).status).toBe(200);
    expect((await api(`/v1/listings?tags=${tag('sold')}`)).body.items.map((i: { id: string }) => i.id)).toEqual([sold.listingId]);
    expect((await api(`/v1/listings/${withdrawn.listingId}`)).status).toBe(404);
    expect((await api(`/v1/listings/${withdrawn.listingId}/sold`, { method: 'POST', token: owner })).status).toBe(409);
    // The sold display ends: the page says so.
    await gw
      .db('listings')
      .where({ id: sold.listingId })
      .update({ sold_visible_until: gw.db.raw(`now() - interval '1 second'`) });
    expect(await api(`/v1/listings/${sold.listingId}`)).toMatchObject({ status: 410, body: { error: 'listing_sold', state: 'sold' } });
  });

  it("remove: gone from every read route, its objects deleted from S3, the owner told; an admin's needs a reason", async () => {
    const input = await listing({ tags: [tag('rm')] });
    expect((await api(`/v1/listings/${input.listingId}`, { method: 'DELETE', token: stranger })).status).toBe(404);
    const removed = await api(`/v1/listings/${input.listingId}`, { method: 'DELETE', token: owner });
    expect(removed.body).toMatchObject({ state: 'removed', objectsDeleted: true });
    for (const key of [input.listing.videoKey, input.listing.previewKey, input.listing.posterKey]) expect(await gw.storage.head(key)).toBeUndefined();
    // Its logo is the owner's public profile logo (its approval brought it): kept.
    expect(await gw.storage.head(input.listing.logoKey as string)).toBeDefined();
    expect((await api(`/v1/listings/${input.listingId}`)).status).toBe(404);
    expect((await api(`/v1/listings?tags=${tag('rm')}`)).body.items).toEqual([]);
    expect((await api(`/v1/users/${OWNER.address}`)).body.listings.items.some((i: { id: string }) => i.id === input.listingId)).toBe(false);
    expect((await api(`/v1/hashtags?prefix=${tag('rm')}`)).body.hashtags).toEqual([]);
    expect((await api('/v1/me/listings', { token: owner })).body.items.find((i: { id: string }) => i.id === input.listingId)).toMatchObject({
      state: 'removed',
      previewUrl: null,
    });
    expect(await gw.bus.status.latest(input.listingId)).toMatchObject({ event: 'listing.removed' });

    const other = await listing();
    expect((await api(`/v1/admin/listings/${other.listingId}/remove`, { method: 'POST', admin: gw.adminToken, body: {} })).status).toBe(400);
    expect((await api(`/v1/admin/listings/${other.listingId}/remove`, { method: 'POST', admin: gw.adminToken, body: { reason: 'fraud' } })).body).toMatchObject(
      { state: 'removed' },
    );
    expect(await gw.storage.head(other.listing.videoKey)).toBeUndefined();
  });
});

describe('the listing job', () => {
  it("tells the owner of an expired listing once, and deletes a rejected listing's objects after the delay", async () => {
    const expired = await listing({ tags: [tag('job')] });
    await gw
      .db('listings')
      .where({ id: expired.listingId })
      .update({ expires_at: gw.db.raw(`now() - interval '1 second'`) });
    expect((await api(`/v1/listings?tags=${tag('job')}`)).body.items).toEqual([]);
    expect(await api(`/v1/listings/${expired.listingId}`)).toMatchObject({ status: 410, body: { error: 'listing_expired' } });
    const rejected = await listing({ approve: false });
    await moderateListing(gw.db, { listingId: rejected.listingId, actor: 'mod', action: 'reject', reason: 'spam' });
    const deps = { db: gw.db, storage: gw.storage, bus: gw.bus, log: createLogger('listing-job-test', 'error'), rejectedObjectsMs: 3600_000, batch: 1000 };
    await runListingJob(deps);
    expect(await gw.bus.status.latest(expired.listingId)).toMatchObject({ event: 'listing.expired' });
    expect(await gw.storage.head(rejected.listing.videoKey)).toBeDefined();
    // An hour later the rejected listing's objects go, its logo included.
    await runListingJob(deps, Date.now() + 3600_000 + 1000);
    for (const key of [rejected.listing.videoKey, rejected.listing.logoKey as string]) expect(await gw.storage.head(key)).toBeUndefined();
    const seqBefore = (await gw.bus.status.latest(expired.listingId))?.seq;
    await runListingJob(deps);
    expect((await gw.bus.status.latest(expired.listingId))?.seq).toBe(seqBefore);
    expect((await api('/v1/me/listings', { token: owner })).body.items.find((i: { id: string }) => i.id === expired.listingId).state).toBe('expired');
  });

  it('runs as the listings.maintenance row: one job per slot however many gateway replicas schedule it', async () => {
    const expired = await listing({ tags: [tag('slot')] });
    await gw
      .db('listings')
      .where({ id: expired.listingId })
      .update({ expires_at: gw.db.raw(`now() - interval '1 second'`) });
    const log = createLogger('listing-job-test', 'error');
    // A second replica beside the harness's gateway, wired as main.ts wires each.
    const replicas = [gw.bus, createBus(redis, gw.config.REDIS_PREFIX, 'api-gateway', log)];
    const workers = replicas.map((bus) =>
      bus.consume('listings.maintenance', handleListingJob({ db: gw.db, storage: gw.storage, bus, log, rejectedObjectsMs: 3600_000 }), { concurrency: 1 }),
    );
    try {
      for (const bus of replicas) await bus.schedule('listings.maintenance', { every: 3600_000 });
      const queue = gw.bus.queue('listings.maintenance');
      expect(await queue.getJobSchedulers()).toHaveLength(1);
      // An `every` scheduler's first slot is now: one run, which tells the owner.
      await vi.waitFor(async () => expect(await gw.bus.status.latest(expired.listingId)).toMatchObject({ event: 'listing.expired' }), { timeout: 15_000 });
      await vi.waitFor(async () => expect(await queue.getCompletedCount()).toBe(1), { timeout: 5_000 });
      expect(await queue.getJobCounts('waiting', 'active', 'failed')).toEqual({ waiting: 0, active: 0, failed: 0 });
    } finally {
      await Promise.all(workers.map((worker) => worker.close()));
      await gw.bus.queue('listings.maintenance').removeJobScheduler(serviceQueues['listings.maintenance'].scheduler!);
      await replicas[1]!.close(1_000);
    }
  });
});

describe('renewal quotes', () => {
  it("a quote like an upload's: its own deposit address, in the ledger as a renewal, waiting for payment; only for an approved listing", async () => {
    const input = await listing();
    const quoted = await api(`/v1/listings/${input.listingId}/renew`, { method: 'POST', token: owner });
    expect(quoted.status).toBe(202);
    quoteIds.push(quoted.body.renewalId);
    const salt = keyedDepositSalt(gw.config.DEPOSIT_SALT_KEY, quoted.body.renewalId);
    expect(quoted.body).toMatchObject({
      listingId: input.listingId,
      days: 30,
      payment: { to: depositAddressAt({ merchant: gw.config.MERCHANT_ADDRESS, token: null }, salt) },
    });
    // Salted under the gateway's key: the listing's and the renewal's ids are public, its address is not derivable from them.
    expect(quoted.body.payment.to).not.toBe(depositAddressOf({ merchant: gw.config.MERCHANT_ADDRESS, token: null }, quoted.body.renewalId));
    expect(
      await gw
        .db('payment_quotes')
        .where({ quote_id: quoted.body.renewalId })
        .first('purpose', 'listing_id', 'renewal_days', 'deposit_address', 'deposit_salt'),
    ).toEqual({
      purpose: 'renewal',
      listing_id: input.listingId,
      renewal_days: 30,
      deposit_address: quoted.body.payment.to,
      deposit_salt: salt,
    });
    expect(await gw.uploads.state(quoted.body.renewalId)).toBe('awaiting_payment');
    expect(await gw.bus.queue('renewal.quoted').getJob(`${quoted.body.renewalId}.renewal.quoted`)).toBeDefined();
    expect((await api(quoted.body.links.status, { token: owner })).body).toMatchObject({ payment: { to: quoted.body.payment.to } });
    expect((await api(quoted.body.links.status, { token: stranger })).status).toBe(404);

    const pending = await listing({ approve: false });
    expect((await api(`/v1/listings/${pending.listingId}/renew`, { method: 'POST', token: owner })).status).toBe(409);
    expect((await api(`/v1/listings/${input.listingId}/renew`, { method: 'POST', token: stranger })).status).toBe(404);
  });
});

describe('the read API', () => {
  it('filters by price and refuses a forged cursor with 400', async () => {
    const priced = await listing({ tags: [tag('price')] });
    await gw.db('listings').where({ id: priced.listingId }).update({ price_amount: '99.50', price_currency: 'EUR' });
    expect((await api(`/v1/listings?tags=${tag('price')}&priceMin=50&priceMax=100&currency=eur`)).body.items.map((i: { id: string }) => i.id)).toEqual([
      priced.listingId,
    ]);
    expect((await api(`/v1/listings?tags=${tag('price')}&priceMin=100`)).body.items).toEqual([]);
    expect((await api('/v1/listings?priceMin=10&priceMax=5')).status).toBe(400);
    expect((await api('/v1/listings?currency=euro')).status).toBe(400);
    const forged = Buffer.from(JSON.stringify({ by: 'newest', t: '1', id: '00000000-0000-4000-8000-000000000000' })).toString('base64url');
    expect(await api(`/v1/listings?cursor=${forged}`)).toMatchObject({ status: 400, body: { error: 'invalid_cursor' } });
    const forgedId = Buffer.from(JSON.stringify({ by: 'newest', t: '2024-01-01 00:00:00+00', id: '-'.repeat(36) })).toString('base64url');
    expect((await api(`/v1/listings?cursor=${forgedId}`)).status).toBe(400);
  });
});
