import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyCredit,
  claimExpiredListings,
  connectDatabase,
  decideRevision,
  editListing,
  findListing,
  findUserProfile,
  InvalidCursorError,
  type Knex,
  ListingNotFoundError,
  ListingRemovedError,
  ListingStateError,
  listingHistory,
  listingsWithObjectsDue,
  listOwnListings,
  listRevisions,
  markListingSold,
  markObjectsDeleted,
  migrateToLatest,
  moderateListing,
  ownProfile,
  proposeProfileEdit,
  RevisionDecidedError,
  recordQuote,
  removeListing,
  renewableListing,
  renewalOutcome,
  saveListing,
  searchListings,
  withdrawListing,
} from '@reelboard/db';
import { depositCredit, listingInput, quoteInput, randomWallet } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';

let db: Knex;
const run = randomBytes(3).toString('hex');
const tag = (name: string) => `${name}_${run}`;
const listingIds: string[] = [];
const wallets: string[] = [];
const quoteIds: string[] = [];

async function saved(overrides: Parameters<typeof listingInput>[0] & { approve?: boolean; price?: { amount: string; currency: string } } = {}) {
  const input = listingInput(overrides);
  if (overrides.price) input.listing.price = overrides.price;
  await saveListing(db, input);
  listingIds.push(input.listingId);
  wallets.push(input.owner.walletAddress.toLowerCase());
  if (overrides.approve !== false) await moderateListing(db, { listingId: input.listingId, actor: 'test', action: 'approve', listingDays: 30 });
  return input;
}

const publicIds = async (search: Parameters<typeof searchListings>[1]) => (await searchListings(db, search)).items.map((item) => item.id);

beforeAll(async () => {
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 4 });
  await migrateToLatest(db);
});
afterAll(async () => {
  if (quoteIds.length) await db('payments').whereIn('quote_id', quoteIds).delete();
  if (quoteIds.length) await db('payment_quotes').whereIn('quote_id', quoteIds).delete();
  if (listingIds.length) await db('listings').whereIn('id', listingIds).delete();
  if (wallets.length) await db('users').whereIn('wallet_address', wallets).delete();
  await db('hashtags').where('tag', 'like', `%\\_${run}`).delete();
  await db?.destroy();
});

describe('profile fields are moderated', () => {
  it('a new upload brings display name, contact and logo; they become public only when its listing is approved', async () => {
    const wallet = randomWallet();
    const first = await saved({ wallet, displayName: 'Anna' });
    expect(await findUserProfile(db, wallet)).toMatchObject({
      displayName: 'Anna',
      contact: 'anna@example.com',
      logoKey: `listings/${first.listingId}/logo.webp`,
    });
    // A second upload with another name: saved, but the public profile keeps the approved one.
    const second = await saved({ wallet, displayName: 'Scam Shop', approve: false });
    expect(await findUserProfile(db, wallet)).toMatchObject({ displayName: 'Anna', logoKey: `listings/${first.listingId}/logo.webp` });
    await moderateListing(db, { listingId: second.listingId, actor: 'test', action: 'reject', reason: 'no' });
    expect((await findUserProfile(db, wallet))?.displayName).toBe('Anna');
    // A brand-new user shows nothing before approval.
    const fresh = await saved({ displayName: 'Bob', approve: false });
    expect(await findUserProfile(db, fresh.owner.walletAddress)).toMatchObject({ displayName: null, contact: null, logoKey: null });
  });

  it('a profile edit waits for a moderator, shown as a diff; rejected keeps the public profile, approved replaces it', async () => {
    const wallet = randomWallet();
    await saved({ wallet, displayName: 'Anna' });
    const { revisionId } = await proposeProfileEdit(db, wallet, { displayName: 'Anna K.' });
    expect((await ownProfile(db, wallet)).pendingRevision?.changes).toEqual({ displayName: 'Anna K.' });
    const queue = await listRevisions(db, { status: 'pending', limit: 500 });
    expect(queue.find((r) => r.id === revisionId)).toMatchObject({ kind: 'profile', diff: [{ field: 'displayName', public: 'Anna', proposed: 'Anna K.' }] });
    await decideRevision(db, { revisionId, actor: 'mod', action: 'reject', reason: 'impersonation' });
    expect((await findUserProfile(db, wallet))?.displayName).toBe('Anna');
    await expect(decideRevision(db, { revisionId, actor: 'mod', action: 'approve' })).rejects.toBeInstanceOf(RevisionDecidedError);
    const again = await proposeProfileEdit(db, wallet, { contact: '+49 30 1234' });
    await decideRevision(db, { revisionId: again.revisionId, actor: 'mod', action: 'approve' });
    expect(await findUserProfile(db, wallet)).toMatchObject({ displayName: 'Anna', contact: '+49 30 1234' });
  });
});

describe('editing', () => {
  it('a pending listing changes at once; a rejected one goes back to moderation', async () => {
    const input = await saved({ approve: false, tags: [tag('old')] });
    const outcome = await editListing(db, {
      listingId: input.listingId,
      wallet: input.owner.walletAddress,
      changes: { title: 'Better title', hashtags: [tag('new')] },
    });
    expect(outcome).toMatchObject({ mode: 'applied', revisionId: null });
    expect(await findListing(db, input.listingId, { anyStatus: true })).toMatchObject({ title: 'Better title', hashtags: [tag('new')] });
    await moderateListing(db, { listingId: input.listingId, actor: 'mod', action: 'reject', reason: 'blurry' });
    expect((await listOwnListings(db, input.owner.walletAddress)).find((l) => l.id === input.listingId)).toMatchObject({
      state: 'rejected',
      rejectionReason: 'blurry',
    });
    await editListing(db, { listingId: input.listingId, wallet: input.owner.walletAddress, changes: { description: 'sharper' } });
    expect((await listOwnListings(db, input.owner.walletAddress)).find((l) => l.id === input.listingId)).toMatchObject({
      state: 'pending',
      rejectionReason: null,
    });
  });

  it('an approved listing keeps its approved version public until the revision is approved; rejecting keeps it', async () => {
    const input = await saved({ tags: [tag('bike')], price: { amount: '100.00', currency: 'EUR' } });
    const wallet = input.owner.walletAddress;
    const edit = await editListing(db, {
      listingId: input.listingId,
      wallet,
      changes: { title: 'Red bike, new tyres', price: { amount: '120.00', currency: 'EUR' }, hashtags: [tag('bike'), tag('red')], contact: 'call me' },
    });
    expect(edit.mode).toBe('revision');
    expect(await findListing(db, input.listingId)).toMatchObject({
      title: 'A bike',
      price: { amount: '100.00', currency: 'EUR' },
      contact: 'anna@example.com',
    });
    // A second edit folds into the pending revision.
    const second = await editListing(db, { listingId: input.listingId, wallet, changes: { description: 'red, 3 gears, new tyres' } });
    const [revision] = await listRevisions(db, { status: 'pending', limit: 10, listingId: input.listingId });
    expect(revision?.id).toBe(second.revisionId);
    expect(revision?.diff).toEqual([
      { field: 'title', public: 'A bike', proposed: 'Red bike, new tyres' },
      { field: 'description', public: 'red, 3 gears', proposed: 'red, 3 gears, new tyres' },
      { field: 'hashtags', public: [tag('bike')], proposed: [tag('bike'), tag('red')] },
      { field: 'price', public: { amount: '100.00', currency: 'EUR' }, proposed: { amount: '120.00', currency: 'EUR' } },
      { field: 'contact', public: 'anna@example.com', proposed: 'call me' },
    ]);
    expect((await listOwnListings(db, wallet)).find((l) => l.id === input.listingId)?.pendingRevision?.id).toBe(second.revisionId);

    await decideRevision(db, { revisionId: second.revisionId ?? '', actor: 'mod', action: 'reject', reason: 'price bait' });
    expect(await findListing(db, input.listingId)).toMatchObject({ title: 'A bike', price: { amount: '100.00', currency: 'EUR' } });

    const third = await editListing(db, { listingId: input.listingId, wallet, changes: { title: 'Red bike', contact: 'call me' } });
    const decided = await decideRevision(db, { revisionId: third.revisionId ?? '', actor: 'mod', action: 'approve' });
    expect(decided).toMatchObject({ status: 'approved', ownerWallet: wallet.toLowerCase() });
    expect(await findListing(db, input.listingId)).toMatchObject({ title: 'Red bike', contact: 'call me', moderationStatus: 'approved' });
    // The contact the approved revision brought is the owner's public contact now.
    expect((await findUserProfile(db, wallet))?.contact).toBe('call me');
    expect((await listingHistory(db, input.listingId)).map((e) => e.action)).toEqual(['edit', 'edit', 'edit']);
  });

  it('only the owner edits, and not a sold, withdrawn or removed listing', async () => {
    const input = await saved();
    await expect(editListing(db, { listingId: input.listingId, wallet: randomWallet(), changes: { title: 'x' } })).rejects.toBeInstanceOf(ListingNotFoundError);
    await markListingSold(db, { listingId: input.listingId, wallet: input.owner.walletAddress, displaySeconds: 3600 });
    await expect(editListing(db, { listingId: input.listingId, wallet: input.owner.walletAddress, changes: { title: 'x' } })).rejects.toBeInstanceOf(
      ListingStateError,
    );
  });
});

describe('sold, withdrawn, removed', () => {
  it('sold shows as sold for the display time, then hides; withdrawn hides at once', async () => {
    const sold = await saved({ tags: [tag('sold')] });
    const gone = await saved({ tags: [tag('sold')] });
    const withdrawn = await saved({ tags: [tag('sold')] });
    await markListingSold(db, { listingId: sold.listingId, wallet: sold.owner.walletAddress, displaySeconds: 3600 });
    await markListingSold(db, { listingId: gone.listingId, wallet: gone.owner.walletAddress, displaySeconds: 0 });
    await withdrawListing(db, { listingId: withdrawn.listingId, wallet: withdrawn.owner.walletAddress });
    expect(await publicIds({ tags: [tag('sold')], limit: 10 })).toEqual([sold.listingId]);
    expect(await findListing(db, sold.listingId)).toMatchObject({ state: 'sold' });
    expect(await findListing(db, gone.listingId)).toBeUndefined();
    expect(await findListing(db, withdrawn.listingId)).toBeUndefined();
    const states = await listOwnListings(db, withdrawn.owner.walletAddress);
    expect(states[0]?.state).toBe('withdrawn');
    await expect(markListingSold(db, { listingId: withdrawn.listingId, wallet: withdrawn.owner.walletAddress, displaySeconds: 60 })).rejects.toBeInstanceOf(
      ListingStateError,
    );
  });

  it('removed: gone from every read, payments and audit kept, objects listed for deletion (the public profile logo stays)', async () => {
    const wallet = randomWallet();
    const input = await saved({ wallet, tags: [tag('removed')] });
    const other = await saved({ wallet, tags: [tag('removed')], approve: false });
    const quote = quoteInput({ quoteId: input.listingId, owner: wallet });
    quoteIds.push(quote.quoteId);
    await recordQuote(db, quote);
    await applyCredit(db, depositCredit(quote, { totalReceived: quote.amount, status: 'paid' }));
    const removed = await removeListing(db, { listingId: input.listingId, actor: wallet.toLowerCase(), wallet });
    // Its logo is the owner's public profile logo (the approved listing brought it): kept.
    expect(removed.keys.sort()).toEqual([
      `listings/${input.listingId}/poster.webp`,
      `listings/${input.listingId}/preview.webm`,
      `listings/${input.listingId}/video.webm`,
    ]);
    expect(await publicIds({ tags: [tag('removed')], limit: 10 })).toEqual([]);
    expect(await findListing(db, input.listingId)).toBeUndefined();
    expect((await searchListings(db, { status: 'approved', tags: [tag('removed')], limit: 10 })).items).toEqual([]);
    expect(await db('payments').where({ quote_id: quote.quoteId }).count('* as n').first()).toMatchObject({ n: '1' });
    await expect(moderateListing(db, { listingId: input.listingId, actor: 'mod', action: 'approve' })).rejects.toBeInstanceOf(ListingRemovedError);

    // Deletion not recorded yet: the periodic job finds it; once recorded, it does not.
    const due = await listingsWithObjectsDue(db, { rejectedBefore: new Date(0), limit: 1000 });
    expect(due.find((d) => d.listingId === input.listingId)?.keys).toHaveLength(3);
    await markObjectsDeleted(db, input.listingId, removed.keys);
    expect((await listingsWithObjectsDue(db, { rejectedBefore: new Date(0), limit: 1000 })).some((d) => d.listingId === input.listingId)).toBe(false);
    expect((await removeListing(db, { listingId: input.listingId, actor: 'admin-token' })).alreadyRemoved).toBe(true);
    expect((await listingHistory(db, input.listingId)).map((e) => e.action)).toEqual(['remove', 'objects_deleted']);
    // Another's listing cannot be removed by this wallet.
    await expect(removeListing(db, { listingId: other.listingId, actor: 'x', wallet: randomWallet() })).rejects.toBeInstanceOf(ListingNotFoundError);
  });

  it("a rejected listing's objects are due once the delay has passed, its logo included", async () => {
    const input = await saved({ approve: false });
    await moderateListing(db, { listingId: input.listingId, actor: 'mod', action: 'reject', reason: 'spam' });
    expect(
      (await listingsWithObjectsDue(db, { rejectedBefore: new Date(Date.now() - 3600_000), limit: 1000 })).some((d) => d.listingId === input.listingId),
    ).toBe(false);
    const due = (await listingsWithObjectsDue(db, { rejectedBefore: new Date(Date.now() + 1000), limit: 1000 })).find((d) => d.listingId === input.listingId);
    expect(due?.keys).toHaveLength(4);
  });
});

describe('expiry and renewal', () => {
  it('an expired listing is hidden at query time; the job tells its owner once', async () => {
    const input = await saved({ tags: [tag('exp')] });
    expect(await publicIds({ tags: [tag('exp')], limit: 10 })).toEqual([input.listingId]);
    await db('listings')
      .where({ id: input.listingId })
      .update({ expires_at: db.raw(`now() - interval '1 second'`) });
    expect(await publicIds({ tags: [tag('exp')], limit: 10 })).toEqual([]);
    expect((await listOwnListings(db, input.owner.walletAddress))[0]?.state).toBe('expired');
    const told: string[] = [];
    const tell = async (items: { listingId: string }[]) => void told.push(...items.map((i) => i.listingId));
    for (let i = 0; i < 20 && !told.includes(input.listingId); i++) await claimExpiredListings(db, 100, tell);
    expect(told.filter((id) => id === input.listingId)).toHaveLength(1);
    await claimExpiredListings(db, 1000, tell);
    expect(told.filter((id) => id === input.listingId)).toHaveLength(1);
    // A failing notification leaves the claim for the next run.
    await db('listings').where({ id: input.listingId }).update({ expired_notified_at: null });
    await expect(claimExpiredListings(db, 1000, async () => Promise.reject(new Error('redis down')))).rejects.toThrow('redis down');
    expect((await db('listings').where({ id: input.listingId }).first('expired_notified_at')).expired_notified_at).toBeNull();
  });

  it('a paid renewal extends the listing from its current expiry, once; from now when it had expired', async () => {
    const input = await saved({ tags: [tag('renew')] });
    const wallet = input.owner.walletAddress;
    const before = (await renewableListing(db, input.listingId, wallet)).expiresAt ?? '';
    const quote = quoteInput({ owner: wallet, purpose: 'renewal', listingId: input.listingId, renewalDays: 30 });
    quoteIds.push(quote.quoteId);
    await recordQuote(db, quote);
    expect((await renewalOutcome(db, quote.quoteId))?.renewed).toBeNull();
    await applyCredit(db, depositCredit(quote, { totalReceived: '4000000000000000', status: 'partial' }));
    expect((await findListing(db, input.listingId))?.expiresAt).toBe(before);
    const paid = await applyCredit(db, depositCredit(quote, { totalReceived: quote.amount, status: 'paid' }));
    expect(paid.renewal).toMatchObject({ listingId: input.listingId });
    const after = (await findListing(db, input.listingId))?.expiresAt ?? '';
    expect(Date.parse(after) - Date.parse(before)).toBe(30 * 86_400_000);
    // More money later is an overpayment (its excess due back), never a second renewal.
    const over = await applyCredit(db, depositCredit(quote, { totalReceived: '15000000000000000', status: 'overpaid' }));
    expect(over.refundDue).toBe('5000000000000000');
    expect((await findListing(db, input.listingId))?.expiresAt).toBe(after);
    expect(await renewalOutcome(db, quote.quoteId)).toMatchObject({ purpose: 'renewal', state: 'paid', renewed: { expiresAt: after }, refused: null });
    // The ledger ties the renewal's credits to the listing; the owner's list shows both quotes.
    expect((await db('payments').where({ quote_id: quote.quoteId }).whereNull('listing_id')).length).toBe(0);
    expect((await listOwnListings(db, wallet))[0]?.payments.map((p) => p.purpose)).toEqual(['renewal']);

    // Expired: the renewal runs from now.
    await db('listings')
      .where({ id: input.listingId })
      .update({ expires_at: db.raw(`now() - interval '10 days'`), expired_notified_at: db.fn.now() });
    const late = quoteInput({ owner: wallet, purpose: 'renewal', listingId: input.listingId, renewalDays: 7 });
    quoteIds.push(late.quoteId);
    await recordQuote(db, late);
    await applyCredit(db, depositCredit(late, { totalReceived: late.amount, status: 'paid' }));
    const row = await db('listings').where({ id: input.listingId }).first('expires_at', 'expired_notified_at');
    expect(Math.abs(row.expires_at.getTime() - (Date.now() + 7 * 86_400_000))).toBeLessThan(60_000);
    expect(row.expired_notified_at).toBeNull();
    expect(await publicIds({ tags: [tag('renew')], limit: 10 })).toEqual([input.listingId]);
  });

  it('a renewal paid for a listing removed meanwhile is recorded for refund, whole', async () => {
    const input = await saved();
    const wallet = input.owner.walletAddress;
    const quote = quoteInput({ owner: wallet, purpose: 'renewal', listingId: input.listingId, renewalDays: 30 });
    quoteIds.push(quote.quoteId);
    await recordQuote(db, quote);
    await removeListing(db, { listingId: input.listingId, actor: 'admin-token', reason: 'fraud' });
    await expect(renewableListing(db, input.listingId, wallet)).rejects.toBeInstanceOf(ListingStateError);
    const outcome = await applyCredit(db, depositCredit(quote, { totalReceived: quote.amount, status: 'paid' }));
    expect(outcome.refundDue).toBe(quote.amount);
    expect(outcome.renewal).toMatchObject({ refused: expect.stringContaining('removed') });
    expect(await db('payments').where({ quote_id: quote.quoteId }).first('status', 'refund_due', 'failed_stage')).toEqual({
      status: 'unfulfilled',
      refund_due: quote.amount,
      failed_stage: 'renewal',
    });
    expect((await renewalOutcome(db, quote.quoteId))?.refused).toContain('removed');
  });

  it('a renewal paid for a listing sold after its quote is refused, as renewableListing would refuse it: one renewal rule', async () => {
    const input = await saved();
    const wallet = input.owner.walletAddress;
    const quote = quoteInput({ owner: wallet, purpose: 'renewal', listingId: input.listingId, renewalDays: 30 });
    quoteIds.push(quote.quoteId);
    await recordQuote(db, quote);
    await markListingSold(db, { listingId: input.listingId, wallet, displaySeconds: 3600 });
    await expect(renewableListing(db, input.listingId, wallet)).rejects.toBeInstanceOf(ListingStateError);
    const expiresBefore = (await db('listings').where({ id: input.listingId }).first('expires_at')).expires_at;
    const outcome = await applyCredit(db, depositCredit(quote, { totalReceived: quote.amount, status: 'paid' }));
    expect(outcome.renewal).toMatchObject({ refused: expect.stringContaining('sold') });
    expect(outcome.refundDue).toBe(quote.amount);
    expect((await db('listings').where({ id: input.listingId }).first('expires_at')).expires_at).toEqual(expiresBefore);
    expect((await renewalOutcome(db, quote.quoteId))?.renewed).toBeNull();
  });

  it('only an approved, active listing of the wallet can be renewed', async () => {
    const pending = await saved({ approve: false });
    await expect(renewableListing(db, pending.listingId, pending.owner.walletAddress)).rejects.toBeInstanceOf(ListingStateError);
    await expect(renewableListing(db, randomUUID(), pending.owner.walletAddress)).rejects.toBeInstanceOf(ListingNotFoundError);
  });
});

describe('the read API', () => {
  it('filters by price range and currency', async () => {
    const cheap = await saved({ tags: [tag('price')], price: { amount: '10.00', currency: 'EUR' } });
    const dear = await saved({ tags: [tag('price')], price: { amount: '900.50', currency: 'EUR' } });
    const dollars = await saved({ tags: [tag('price')], price: { amount: '50.00', currency: 'USD' } });
    await saved({ tags: [tag('price')] });
    expect(new Set(await publicIds({ tags: [tag('price')], priceMin: 20, limit: 10 }))).toEqual(new Set([dear.listingId, dollars.listingId]));
    expect(await publicIds({ tags: [tag('price')], priceMax: 100, currency: 'EUR', limit: 10 })).toEqual([cheap.listingId]);
    expect(await findListing(db, dear.listingId)).toMatchObject({ price: { amount: '900.50', currency: 'EUR' } });
  });

  it('refuses forged cursors that would have reached Postgres', async () => {
    const forge = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const id = randomUUID();
    for (const cursor of [
      forge({ by: 'newest', t: '1', id }),
      forge({ by: 'newest', t: '2024-02-31 10:00:00+00', id }),
      forge({ by: 'newest', t: '2024-01-01T10:00:00Z', id }),
      forge({ by: 'newest', t: '2024-01-01 10:00:00+00', id: '------------------------------------' }),
      forge({ by: 'newest', t: '2024-01-01 10:00:00+99', id }),
      forge(null),
      forge({ by: 'distance', d: -1, id }),
    ]) {
      await expect(searchListings(db, { cursor, limit: 5 })).rejects.toBeInstanceOf(InvalidCursorError);
    }
    // A well-formed cursor of a listing that does not exist is just an empty or shorter page.
    await expect(searchListings(db, { cursor: forge({ by: 'newest', t: '2024-01-01 10:00:00.123456+00', id }), limit: 5 })).resolves.toBeDefined();
  });
});
