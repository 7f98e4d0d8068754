import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';
import { depositAddressAt, keyedDepositSalt, quoteSettingsOf } from '@reelboard/chain';
import type { RenewalQuoted, StatusEvent } from '@reelboard/contracts';
import {
  editListing,
  type Knex,
  type ListingChanges,
  listingLogoKeys,
  listOwnListings,
  markListingSold,
  markObjectsDeleted,
  type OwnListing,
  ownProfile,
  proposeProfileEdit,
  recordQuote,
  removeListing,
  renewableListing,
  unreferencedLogoKeys,
  withdrawListing,
} from '@reelboard/db';
import type { PipelineBus, Uploads } from '@reelboard/lifecycle';
import { errorFields, type Logger } from '@reelboard/logger';
import type { ObjectStorage } from '@reelboard/storage';
import type { GatewayConfig } from '../config.js';
import { HttpError } from '../infra/http-error.js';
import { allocateStaging, intakeLimits, normaliseLogo, receiveMultipart } from '../infra/intake.js';
import { baseUnitQuote, type PriceQuoter, type PricingConfig, pricedQuoteFields } from './quote-price.js';

export interface ListingLifeDeps {
  db: Knex;
  storage: ObjectStorage;
  bus: PipelineBus;
  uploads: Uploads;
  log: Logger;
  /** How a renewal's quote is priced (RENEWAL_PRICE in fiat); unset: the configured base-unit amounts. */
  quotePrice?: PriceQuoter | undefined;
  config: PricingConfig &
    Pick<
      GatewayConfig,
      | 'DEPOSIT_SALT_KEY'
      | 'MERCHANT_ADDRESS'
      | 'QUOTE_TTL_SECONDS'
      | 'LISTING_DAYS'
      | 'SOLD_DISPLAY_HOURS'
      | 'STAGING_DIR'
      | 'MAX_VIDEO_BYTES'
      | 'MAX_LOGO_BYTES'
      | 'MAX_LOGO_SIDE'
      | 'LOGO_SIZE'
    >;
}

/** A listing in the owner's list: its state, expiry, payments, preview URLs, and its upload's processing status. */
export interface OwnListingItem extends Omit<OwnListing, 'objects' | 'payments'> {
  previewUrl: string | null;
  posterUrl: string | null;
  logoUrl: string | null;
  /** The upload's latest status event (processing, moderation, expiry...), while Redis keeps it. */
  status: StatusEvent | null;
  payments: (OwnListing['payments'][number] & { token: `0x${string}` | null })[];
}

/** `GET /v1/me/listings`: every listing of the wallet, removed ones included. */
export async function myListings(deps: Pick<ListingLifeDeps, 'db' | 'storage' | 'bus'>, wallet: string): Promise<OwnListingItem[]> {
  const listings = await listOwnListings(deps.db, wallet);
  return Promise.all(
    listings.map(async ({ objects, ...listing }) => {
      const [previewUrl, posterUrl, logoUrl, status] = await Promise.all([
        objects ? deps.storage.urlFor(objects.preview) : null,
        objects ? deps.storage.urlFor(objects.poster) : null,
        objects?.logo ? deps.storage.urlFor(objects.logo) : null,
        deps.bus.status.latest(listing.id),
      ]);
      return {
        ...listing,
        payments: listing.payments.map((p) => ({ ...p, token: p.token as `0x${string}` | null })),
        previewUrl,
        posterUrl,
        logoUrl,
        status: status ?? null,
      };
    }),
  );
}

/** `PATCH /v1/listings/:id`: the changes as the row's schema validated them (like the form); an approved listing gets a pending revision. */
export async function editOwnListing(deps: Pick<ListingLifeDeps, 'db'>, wallet: string, listingId: string, changes: ListingChanges) {
  return editListing(deps.db, { listingId, wallet, changes });
}

/**
 * `PUT /v1/listings/:id/logo`: the logo is checked and normalised like the form's (`normaliseLogo`),
 * stored under a new key, and edited in like any field: a pending or rejected listing takes it at once,
 * an approved one gets it in its pending revision. Logo objects nothing refers to any more (the
 * replaced one, a superseded revision's) are deleted; an object stored for a refused edit too.
 */
export async function replaceOwnLogo(
  deps: Pick<ListingLifeDeps, 'db' | 'storage' | 'log' | 'config'>,
  input: { wallet: string; listingId: string; req: ExpressRequest; res: ExpressResponse },
) {
  const { req, res, listingId, wallet } = input;
  const limits = intakeLimits(deps.config);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limits.maxLogoBytes + 64 * 1024)
    throw new HttpError(413, 'request_too_large', `request is ${declared} bytes; the logo limit is ${limits.maxLogoBytes}`);
  if (!req.is('multipart/form-data')) throw new HttpError(415, 'expected_multipart', 'send the logo as multipart/form-data with one `logo` file');
  const staging = await allocateStaging(deps.config.STAGING_DIR, `logo-${randomUUID()}`);
  let stored: string | undefined;
  try {
    await receiveMultipart(req, res, staging.dir, limits, { logoOnly: true });
    const files = (req.files ?? {}) as Record<string, Express.Multer.File[] | undefined>;
    const sent = files.logo?.[0];
    if (!sent) throw new HttpError(400, 'invalid_form', 'invalid fields: logo', { fields: { logo: 'logo file is required' } });
    const normalised = join(staging.dir, 'logo.webp');
    await normaliseLogo(sent.path, normalised, limits);
    const before = await listingLogoKeys(deps.db, listingId);
    const key = `listings/${listingId.toLowerCase()}/logo-${randomUUID()}.webp`;
    await deps.storage.putFile(key, normalised, 'image/webp');
    stored = key;
    const outcome = await editListing(deps.db, { listingId, wallet, changes: { logoKey: key } });
    stored = undefined;
    await deleteUnreferencedLogos(deps, before);
    return outcome;
  } catch (error) {
    if (stored) await deleteUnreferencedLogos(deps, [stored]);
    if (!req.complete) res.setHeader('connection', 'close');
    throw error;
  } finally {
    await staging.discard();
  }
}

/** Deletes the logo objects of these keys that nothing refers to any more; a failure is logged (an orphan, not an error for the caller). */
export async function deleteUnreferencedLogos(deps: Pick<ListingLifeDeps, 'db' | 'storage' | 'log'>, keys: readonly string[]): Promise<void> {
  try {
    await deleteObjects(deps.storage, await unreferencedLogoKeys(deps.db, keys));
  } catch (error) {
    deps.log.warn('deleting replaced logo objects failed', { keys, ...errorFields(error) });
  }
}

/** `POST /v1/listings/:id/sold`. */
export async function markOwnListingSold(deps: Pick<ListingLifeDeps, 'db' | 'config'>, wallet: string, listingId: string) {
  const sold = await markListingSold(deps.db, { listingId, wallet, displaySeconds: deps.config.SOLD_DISPLAY_HOURS * 3600 });
  return { listingId, state: 'sold' as const, ...sold };
}

/** `POST /v1/listings/:id/withdraw`. */
export async function withdrawOwnListing(deps: Pick<ListingLifeDeps, 'db'>, wallet: string, listingId: string) {
  await withdrawListing(deps.db, { listingId, wallet });
  return { listingId, state: 'withdrawn' as const };
}

/**
 * Removes a listing (its owner's `DELETE /v1/listings/:id`, or an admin's) and deletes its S3 objects
 * at once. If S3 fails, the listing is removed anyway and the listing job deletes them later; the owner
 * hears `listing.removed` on the listing's status.
 */
export async function removeAndDelete(
  deps: Pick<ListingLifeDeps, 'db' | 'storage' | 'bus' | 'log'>,
  input: { listingId: string; actor: string; wallet?: string | undefined; reason?: string | undefined },
) {
  const removed = await removeListing(deps.db, input);
  let objectsDeleted = removed.keys.length === 0;
  if (removed.keys.length > 0) {
    try {
      await deleteObjects(deps.storage, removed.keys);
      await markObjectsDeleted(deps.db, input.listingId, removed.keys);
      objectsDeleted = true;
    } catch (error) {
      deps.log.warn('removed listing: deleting its objects failed; the listing job tries again', { listingId: input.listingId, ...errorFields(error) });
    }
  }
  if (!removed.alreadyRemoved) {
    await deps.bus.status.publish({
      uploadId: input.listingId,
      event: 'listing.removed',
      stage: 'api-gateway',
      state: 'saved',
      ...(input.reason ? { reason: input.reason } : {}),
      message: input.wallet ? 'removed by its owner' : 'removed by a moderator',
    });
  }
  return { listingId: input.listingId, state: 'removed' as const, objectsDeleted };
}

/** Deletes objects one by one (S3 DELETE is idempotent: a missing key is a success). */
export async function deleteObjects(storage: ObjectStorage, keys: readonly string[]): Promise<void> {
  for (const key of keys) await storage.delete(key);
}

/**
 * `POST /v1/listings/:id/renew`: a quote like an upload's (its own deposit address, salted by the
 * renewal's id), recorded in the ledger before it is shown, registered in the lifecycle and handed to
 * the payment-watcher. Once paid, the ledger write extends the listing by LISTING_DAYS.
 */
export async function quoteRenewal(deps: Pick<ListingLifeDeps, 'db' | 'bus' | 'uploads' | 'config' | 'quotePrice'>, wallet: `0x${string}`, listingId: string) {
  const { config } = deps;
  const listing = await renewableListing(deps.db, listingId, wallet);
  const priced = deps.quotePrice ? await deps.quotePrice('renewal') : baseUnitQuote(config);
  const renewalId = randomUUID();
  const now = new Date();
  // The quote keeps what its address derives from: a later change of merchant or token leaves it paying where it was issued.
  const settings = { merchant: config.MERCHANT_ADDRESS, token: config.PAYMENT_TOKEN ?? null };
  // Keyed, not the public id: only whom the quote is shown to can find its address. Stored with the quote.
  const salt = keyedDepositSalt(config.DEPOSIT_SALT_KEY, renewalId);
  const renewal: RenewalQuoted = {
    uploadId: renewalId,
    purpose: 'renewal',
    listingId: listing.listingId,
    owner: wallet.toLowerCase() as `0x${string}`,
    quote: {
      chainId: priced.offers[0]?.chainId ?? config.CHAIN_ID,
      to: depositAddressAt(settings, salt),
      ...pricedQuoteFields(priced),
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + config.QUOTE_TTL_SECONDS * 1000).toISOString(),
      merchant: settings.merchant.toLowerCase() as `0x${string}`,
      salt,
    },
    days: config.LISTING_DAYS,
    receivedAt: now.toISOString(),
  };
  await recordQuote(deps.db, {
    quoteId: renewalId,
    uploadId: renewalId,
    owner: renewal.owner,
    chainId: renewal.quote.chainId,
    depositAddress: renewal.quote.to,
    token: renewal.quote.token,
    amount: renewal.quote.amount,
    createdAt: renewal.quote.createdAt,
    expiresAt: renewal.quote.expiresAt,
    purpose: 'renewal',
    listingId: listing.listingId,
    renewalDays: config.LISTING_DAYS,
    settings: quoteSettingsOf(settings),
    depositSalt: salt,
    price: renewal.quote.price,
    rate: renewal.quote.rate,
    offers: renewal.quote.offers,
  });
  await deps.uploads.registerRenewal(renewal, 'api-gateway');
  await deps.bus.publish('renewal.quoted', renewal);
  const { chainId, to, amount, token, expiresAt } = renewal.quote;
  return {
    renewalId,
    listingId: listing.listingId,
    days: config.LISTING_DAYS,
    currentExpiresAt: listing.expiresAt,
    payment: { chainId, to, amount, token, expiresAt, ...(renewal.quote.price ? { price: renewal.quote.price } : {}), offers: renewal.quote.offers },
    // The renewal is followed like an upload: its status, its events, and a tx-hash hint.
    links: { status: `/v1/uploads/${renewalId}`, events: `/v1/uploads/${renewalId}/events`, payment: `/v1/uploads/${renewalId}/payment` },
  };
}

/** `PATCH /v1/me/profile`: a display name or contact change (validated by the row's schema) waits for a moderator. */
export async function editOwnProfile(deps: Pick<ListingLifeDeps, 'db'>, wallet: string, changes: { displayName?: string | null; contact?: string | null }) {
  const { revisionId } = await proposeProfileEdit(deps.db, wallet, changes);
  return { revisionId, status: 'pending' as const, changes };
}

/** `GET /v1/me/profile`: what the public sees and the edit waiting for a moderator. */
export async function myProfile(deps: Pick<ListingLifeDeps, 'db' | 'storage'>, wallet: string) {
  const profile = await ownProfile(deps.db, wallet);
  return {
    wallet: wallet.toLowerCase() as `0x${string}`,
    displayName: profile.displayName,
    contact: profile.contact,
    logoUrl: profile.logoKey ? await deps.storage.urlFor(profile.logoKey) : null,
    pendingRevision: profile.pendingRevision,
  };
}
