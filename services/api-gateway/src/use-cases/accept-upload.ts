import { join } from 'node:path';
import type { AcceptedUpload } from '@reelboard/api';
import type { Bus } from '@reelboard/bus';
import { depositAddressAt, keyedDepositSalt, quoteSettingsOf } from '@reelboard/chain';
import { type ListingForm, STAGED_FILES, stagedPaths, type UploadReceived } from '@reelboard/contracts';
import { type Knex, recordQuote } from '@reelboard/db';
import type { Uploads } from '@reelboard/lifecycle';
import { mediaBytes } from '@reelboard/runtime';
import type { GatewayConfig } from '../config.js';
import { HttpError } from '../infra/http-error.js';
import { checkVideoContainer, type IntakeLimits, normaliseLogo } from '../infra/intake.js';
import { baseUnitQuote, type PriceQuoter, type PricingConfig, pricedQuoteFields } from './quote-price.js';

export interface AcceptUploadDeps {
  db: Knex;
  uploads: Uploads;
  bus: Bus;
  config: PricingConfig & Pick<GatewayConfig, 'DEPOSIT_SALT_KEY' | 'MERCHANT_ADDRESS' | 'QUOTE_TTL_SECONDS' | 'STAGING_DIR' | 'SPECULATIVE_PREVIEW'>;
  limits: IntakeLimits;
  /** How the quote is priced (PRICE in fiat: a feed read now); unset: the configured base-unit amounts. */
  quotePrice?: PriceQuoter | undefined;
}

export interface AcceptUploadParameters {
  uploadId: string;
  /** The signed-in wallet. */
  owner: `0x${string}`;
  /** The form's fields, validated. */
  form: ListingForm;
  /** Bytes of the video already in the upload's staging folder (`STAGED_FILES.source`), by multipart or tus. */
  videoBytes: number;
  /** Whether the logo as sent is staged (`STAGED_FILES.logoOriginal`). */
  logo: boolean;
  now?: Date;
}

/**
 * Accepts an upload whose files are staged: sniffs the video's first bytes, normalises the logo,
 * quotes the price on the upload's own deposit address, records the quote in the Postgres ledger
 * first (every deposit address ever issued is known to reconciliation before anyone can pay it),
 * then registers the upload (awaiting_payment, its first status event) and hands it to the
 * payment-watcher (the first job) and, beside it, to the transcoder's speculative preview cut. Refusals are HttpErrors; the caller discards the staging folder.
 */
export async function acceptUpload(deps: AcceptUploadDeps, params: AcceptUploadParameters): Promise<AcceptedUpload> {
  const { db, uploads, bus, config, limits } = deps;
  const { uploadId, owner, form, videoBytes } = params;
  const staged = stagedPaths(uploadId);
  const dir = join(config.STAGING_DIR, uploadId);
  if (videoBytes === 0) throw new HttpError(400, 'invalid_form', 'invalid fields: video', { fields: { video: 'video file is empty' } });
  await checkVideoContainer(join(dir, STAGED_FILES.source));
  if (params.logo) await normaliseLogo(join(dir, STAGED_FILES.logoOriginal), join(dir, STAGED_FILES.logo), limits);

  // Priced before anything is recorded: a stale feed refuses the upload (503) with nothing half-made.
  const priced = deps.quotePrice ? await deps.quotePrice('upload') : baseUnitQuote(config);
  const now = params.now ?? new Date();
  // The quote keeps what its address derives from: a later change of merchant or token leaves it paying where it was issued.
  const settings = { merchant: config.MERCHANT_ADDRESS, token: config.PAYMENT_TOKEN ?? null };
  // Keyed, not the public id: only whom the quote is shown to can find its address. Stored with the quote.
  const salt = keyedDepositSalt(config.DEPOSIT_SALT_KEY, uploadId);
  const upload: UploadReceived = {
    uploadId,
    owner,
    form,
    quote: {
      // The first offer's chain: the home chain, unless none of its assets can be quoted now.
      chainId: priced.offers[0]?.chainId ?? config.CHAIN_ID,
      // The quote's own deposit address: whatever reaches it pays this upload, from any wallet, by any route.
      to: depositAddressAt(settings, salt),
      ...pricedQuoteFields(priced),
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + config.QUOTE_TTL_SECONDS * 1000).toISOString(),
      merchant: settings.merchant.toLowerCase() as `0x${string}`,
      salt,
    },
    staged: { source: staged.source, sourceBytes: videoBytes, ...(params.logo ? { logo: staged.logo } : {}) },
    receivedAt: now.toISOString(),
  };
  const { quote } = upload;
  await recordQuote(db, {
    quoteId: uploadId,
    uploadId,
    owner,
    chainId: quote.chainId,
    depositAddress: quote.to,
    token: quote.token,
    amount: quote.amount,
    createdAt: quote.createdAt,
    expiresAt: quote.expiresAt,
    settings: quoteSettingsOf(settings),
    depositSalt: salt,
    price: quote.price,
    rate: quote.rate,
    offers: quote.offers,
  });
  await uploads.register(upload, 'api-gateway');
  await bus.publish('upload.received', upload);
  // The preview is cut while the person pays (the transcoder's own queue and slots), so it is
  // published the moment the payment confirms. Bounded by the unpaid-staging limits that admitted
  // this upload: each wallet's unpaid uploads, hence its speculative cuts, are few.
  if (config.SPECULATIVE_PREVIEW) await bus.publish('preview.speculative', upload);
  mediaBytes.inc({ stage: 'api-gateway', direction: 'in' }, videoBytes);
  const { chainId, to, amount, token, expiresAt } = quote;
  return {
    uploadId,
    payment: { chainId, to, amount, token, expiresAt, ...(quote.price ? { price: quote.price } : {}), offers: quote.offers },
    links: { status: `/v1/uploads/${uploadId}`, events: `/v1/uploads/${uploadId}/events`, payment: `/v1/uploads/${uploadId}/payment` },
  };
}
