import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePrivateKey } from 'viem/accounts';
import { connectRedis } from '@reelboard/bus';
import { type Knex, moderateListing, saveListing } from '@reelboard/db';
import type { PipelineBus } from '@reelboard/lifecycle';
import { signIn } from '@reelboard/testkit/client';
import { listingInput, randomWallet } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { type Gateway, startGateway } from './harness.js';

// Reports on listings (issue 27): the route anyone may call, its limits, the hold over the threshold,
// and the moderators' queue and decisions, against the real Redis, Postgres and S3 server.

const infra = infraEnv();
const CHAIN_ID = Number(infra.CHAIN_ID);
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const redis = connectRedis(infra.REDIS_URL ?? '', 'gateway-reports-test');
let gw: Gateway;
let db: Knex;
let bus: PipelineBus;
const ids: Record<'held' | 'duplicate' | 'reject' | 'remove' | 'pending' | 'race', string> = {
  held: '',
  duplicate: '',
  reject: '',
  remove: '',
  pending: '',
  race: '',
};
const owner = randomWallet();

async function call(path: string, init: { method?: string; body?: unknown; token?: string; admin?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.admin) headers['x-admin-token'] = init.admin;
  const res = await fetch(`${gw.base}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as any };
}
const report = (id: string, body: unknown, token?: string) => call(`/v1/listings/${id}/reports`, { method: 'POST', body, ...(token ? { token } : {}) });
const resolve = (id: string, body: unknown, admin: string | null = ADMIN_TOKEN) =>
  call(`/v1/admin/listings/${id}/reports/resolve`, { method: 'POST', body, ...(admin ? { admin } : {}) });
/** A fresh wallet signed in: each is a reporter of its own. */
const newReporter = async () => (await signIn(gw.base, generatePrivateKey(), CHAIN_ID)).token;

beforeAll(async () => {
  gw = await startGateway(redis, {
    ADMIN_TOKEN,
    REPORTS_HOLD_THRESHOLD: '2',
    RATE_LIMIT_ANONYMOUS_REPORTS_PER_IP_PER_HOUR: '3',
    RATE_LIMIT_REPORTS_PER_WALLET_PER_HOUR: '6',
  });
  ({ db, bus } = gw);
  for (const name of Object.keys(ids) as (keyof typeof ids)[]) {
    const input = listingInput({ wallet: owner, title: `reported ${name}` });
    await saveListing(db, input);
    if (name !== 'pending') await moderateListing(db, { listingId: input.listingId, actor: 'test', action: 'approve' });
    ids[name] = input.listingId;
  }
}, 60_000);

afterAll(async () => {
  await db?.('listings').whereIn('id', Object.values(ids)).delete();
  await db?.('users').where('wallet_address', owner.toLowerCase()).delete();
  await gw?.close();
  await redis.quit();
});

describe('reporting a listing', () => {
  it('takes reasons from the list only, needs words for "other", and names the field at fault', async () => {
    const token = await newReporter();
    expect(await report(ids.duplicate, { reason: 'ugly' }, token)).toMatchObject({ status: 400, body: { error: 'invalid_body', field: 'reason' } });
    expect((await report(ids.duplicate, { reason: 'ugly' }, token)).body.message).toContain('scam');
    expect(await report(ids.duplicate, { reason: 'other' }, token)).toMatchObject({ status: 400, body: { error: 'invalid_body', field: 'details' } });
    expect(await report(ids.duplicate, { reason: 'spam', details: 'x'.repeat(1001) }, token)).toMatchObject({
      status: 400,
      body: { field: 'details', message: 'details must be at most 1000 characters' },
    });
    expect(await report(ids.duplicate, { reason: 'spam', details: 'bell\u0007' }, token)).toMatchObject({ status: 400, body: { field: 'details' } });
    // Only public listings can be reported: a pending one is as absent as one that never was.
    expect(await report(ids.pending, { reason: 'spam' }, token)).toMatchObject({ status: 404, body: { error: 'listing_not_found' } });
    // A stale session is told, not silently made anonymous.
    expect(await report(ids.duplicate, { reason: 'spam' }, 'x'.repeat(43))).toMatchObject({ status: 401, body: { error: 'session_expired' } });
  });

  it('takes one open report per reporter and listing, and limits anonymous reports more strictly', async () => {
    const first = await report(ids.duplicate, { reason: 'misleading', details: 'the video shows another bike' });
    expect(first).toMatchObject({ status: 201, body: { listingId: ids.duplicate, reason: 'misleading' } });
    expect(await report(ids.duplicate, { reason: 'scam' })).toMatchObject({ status: 409, body: { error: 'report_exists' } });
    const stored = await db('listing_reports').where({ id: first.body.id }).first();
    expect(stored).toMatchObject({ reason: 'misleading', details: 'the video shows another bike', reporter_wallet: null, status: 'open' });
    expect(stored.reporter_key).toMatch(/^ip:[0-9a-f]{32}$/);
    expect(await report(ids.reject, { reason: 'scam' })).toMatchObject({ status: 201 });
    // The fourth anonymous request from this address in the hour (RATE_LIMIT_ANONYMOUS_REPORTS_PER_IP_PER_HOUR=3).
    expect(await report(ids.remove, { reason: 'scam' })).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
    // A signed-in wallet is limited by itself, not by the address's anonymous limit.
    const signedIn = await newReporter();
    expect(await report(ids.remove, { reason: 'spam' }, signedIn)).toMatchObject({ status: 201 });
    expect(await report(ids.remove, { reason: 'spam' }, signedIn)).toMatchObject({ status: 409, body: { error: 'report_exists' } });
  });

  it('limits a signed-in wallet per hour (RATE_LIMIT_REPORTS_PER_WALLET_PER_HOUR)', async () => {
    const token = await newReporter();
    for (let request = 0; request < 6; request += 1) expect((await report(ids.pending, { reason: 'spam' }, token)).status).toBe(404);
    expect(await report(ids.pending, { reason: 'spam' }, token)).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
  });
});

describe('the hold over the threshold', () => {
  it('hides a listing at REPORTS_HOLD_THRESHOLD open reports, tells its owner, and audits the hold', async () => {
    const [first, second, third] = [await newReporter(), await newReporter(), await newReporter()];
    expect(await report(ids.held, { reason: 'scam' }, first)).toMatchObject({ status: 201 });
    expect((await call(`/v1/listings/${ids.held}`)).status).toBe(200);
    expect(await report(ids.held, { reason: 'offensive', details: 'at 0:03' }, second)).toMatchObject({ status: 201 });
    // Held: gone from the public read routes, and no longer reportable.
    expect(await call(`/v1/listings/${ids.held}`)).toMatchObject({ status: 404, body: { error: 'listing_not_found' } });
    expect(await report(ids.held, { reason: 'scam' }, third)).toMatchObject({ status: 404 });
    expect(await bus.status.latest(ids.held)).toMatchObject({ event: 'listing.held', stage: 'moderation' });
    const holds = await db('listing_events').where({ listing_id: ids.held, action: 'hold' }).select('actor', 'detail');
    expect(holds).toEqual([{ actor: 'reports', detail: { openReports: 2, threshold: 2 } }]);
  });

  it('holds a listing once when reports arrive together (the listing row orders them)', async () => {
    const tokens = await Promise.all([1, 2, 3, 4, 5].map(() => newReporter()));
    const answers = await Promise.all(tokens.map((token) => report(ids.race, { reason: 'spam' }, token)));
    // Two reach the threshold; the rest find the listing already hidden.
    expect(answers.map((answer) => answer.status).sort()).toEqual([201, 201, 404, 404, 404]);
    expect(await db('listing_events').where({ listing_id: ids.race, action: 'hold' }).count({ count: '*' })).toEqual([{ count: '1' }]);
    expect(await db('listing_reports').where({ listing_id: ids.race, status: 'open' }).count({ count: '*' })).toEqual([{ count: '2' }]);
  });

  it('queues reported listings for moderators, held ones first, with the media and every report', async () => {
    expect((await call('/v1/admin/reports')).status).toBe(401);
    const stranger = await signIn(gw.base, ANVIL_ACCOUNTS.stranger.key, CHAIN_ID);
    expect(await call('/v1/admin/reports', { token: stranger.token })).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    expect(await resolve(ids.held, { decision: 'dismiss' }, null)).toMatchObject({ status: 401 });

    const queue = await call('/v1/admin/reports?limit=200', { admin: ADMIN_TOKEN });
    expect(queue.status).toBe(200);
    const mine = queue.body.items.filter((item: { listingId: string }) => Object.values(ids).includes(item.listingId));
    expect(mine[0]).toMatchObject({ listingId: ids.held, title: 'reported held', moderationStatus: 'approved', listing: { id: ids.held } });
    expect(mine[0].heldAt).not.toBeNull();
    expect(mine[0].listing.video.url).toMatch(/^http/);
    expect(mine[0].reports.map((r: { reason: string }) => r.reason)).toEqual(['scam', 'offensive']);
    expect(mine[0].reports[1]).toMatchObject({ details: 'at 0:03', status: 'open', resolution: null });
    expect(mine[0].reports[0].reporter).toMatch(/^0x[0-9a-f]{40}$/);
    expect(mine.map((item: { listingId: string }) => item.listingId)).toEqual(expect.arrayContaining([ids.duplicate, ids.reject, ids.remove]));
    expect((await call('/v1/admin/reports?status=closed', { admin: ADMIN_TOKEN })).body).toMatchObject({ error: 'invalid_query', field: 'status' });
  });

  it('dismissing the reports releases the listing, tells the owner and audits who decided', async () => {
    const dismissed = await resolve(ids.held, { decision: 'dismiss', reason: 'the video is fine' });
    expect(dismissed).toMatchObject({ status: 200, body: { listingId: ids.held, decision: 'dismiss', resolved: 2, released: true } });
    expect((await call(`/v1/listings/${ids.held}`)).status).toBe(200);
    expect(await bus.status.latest(ids.held)).toMatchObject({ event: 'listing.released' });
    expect(await db('moderation_events').where({ listing_id: ids.held }).orderBy('id').select('actor', 'action', 'reason')).toEqual([
      { actor: 'test', action: 'approve', reason: null },
      { actor: 'admin-token', action: 'dismiss', reason: 'the video is fine' },
    ]);
    expect(await db('listing_events').where({ listing_id: ids.held }).orderBy('id').select('action', 'actor')).toEqual([
      { action: 'hold', actor: 'reports' },
      { action: 'release', actor: 'admin-token' },
    ]);
    const reports = await db('listing_reports').where({ listing_id: ids.held }).select('status', 'resolution', 'resolved_by', 'resolution_reason');
    expect(reports).toEqual([
      { status: 'dismissed', resolution: 'dismiss', resolved_by: 'admin-token', resolution_reason: 'the video is fine' },
      { status: 'dismissed', resolution: 'dismiss', resolved_by: 'admin-token', resolution_reason: 'the video is fine' },
    ]);
    // Nothing left to decide; and a new report starts afresh.
    expect(await resolve(ids.held, { decision: 'dismiss' })).toMatchObject({ status: 409, body: { error: 'no_open_reports' } });
    expect(await report(ids.held, { reason: 'scam' }, await newReporter())).toMatchObject({ status: 201 });
    expect((await call(`/v1/listings/${ids.held}`)).status).toBe(200);
  });

  it('acting on reports rejects or removes the listing with a reason the owner is told', async () => {
    expect(await resolve(ids.reject, { decision: 'reject' })).toMatchObject({ status: 400, body: { error: 'invalid_body', field: 'reason' } });
    expect(await resolve(ids.reject, { decision: 'ban', reason: 'x' })).toMatchObject({ status: 400, body: { field: 'decision' } });
    expect(await resolve(ids.pending, { decision: 'reject', reason: 'x' })).toMatchObject({ status: 409, body: { error: 'no_open_reports' } });
    expect((await db('listings').where({ id: ids.pending }).first('moderation_status')).moderation_status).toBe('pending');

    const rejected = await resolve(ids.reject, { decision: 'reject', reason: 'a scam: the seller asks for a deposit' });
    expect(rejected).toMatchObject({ status: 200, body: { decision: 'reject', resolved: 1, released: false } });
    expect(await db('listings').where({ id: ids.reject }).first('moderation_status', 'rejection_reason')).toEqual({
      moderation_status: 'rejected',
      rejection_reason: 'a scam: the seller asks for a deposit',
    });
    expect(await bus.status.latest(ids.reject)).toMatchObject({ event: 'moderation.rejected', reason: 'a scam: the seller asks for a deposit' });
    expect(await db('moderation_events').where({ listing_id: ids.reject, action: 'reject' }).select('actor')).toEqual([{ actor: 'admin-token' }]);

    const removed = await resolve(ids.remove, { decision: 'remove', reason: 'prohibited item' });
    expect(removed).toMatchObject({ status: 200, body: { decision: 'remove', resolved: 1 } });
    expect((await db('listings').where({ id: ids.remove }).first('state')).state).toBe('removed');
    expect(await db('listing_events').where({ listing_id: ids.remove, action: 'remove' }).select('actor')).toEqual([{ actor: 'admin-token' }]);
    expect(await bus.status.latest(ids.remove)).toMatchObject({ event: 'listing.removed', reason: 'prohibited item' });

    const resolvedQueue = await call('/v1/admin/reports?status=resolved&limit=200', { admin: ADMIN_TOKEN });
    const removedItem = resolvedQueue.body.items.find((item: { listingId: string }) => item.listingId === ids.remove);
    expect(removedItem).toMatchObject({ state: 'removed', listing: null, reports: [{ status: 'actioned', resolution: 'remove', resolvedBy: 'admin-token' }] });
  });
});
