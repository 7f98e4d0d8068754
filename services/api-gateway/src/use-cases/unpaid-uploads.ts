import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CancelledUpload, Pricing, UnpaidUpload } from '@reelboard/api';
import type { Bus } from '@reelboard/bus';
import type { Knex } from '@reelboard/db';
import { closesQuote, type Uploads } from '@reelboard/lifecycle';
import type { GatewayConfig } from '../config.js';
import { HttpError } from '../infra/http-error.js';
import type { QuotedAmount } from './quote-price.js';

export interface UnpaidUploadsDeps {
  uploads: Uploads;
  bus: Bus;
  /** The payment ledger: what each quote's deposit address received (`payment_quotes.credited_total`). */
  db: Knex;
  /** Frees the wallet's place in the unpaid-staging limits. */
  release: (owner: string, uploadId: string) => Promise<void>;
  stagingDir: string;
}

/**
 * The fee the next quote asks (what the form shows before PAY): every (chain, asset) it will accept,
 * the first also as the top-level fee of today's clients, and the fiat price when there is one. A
 * stablecoin's public RPC endpoints (CHAINS' `publicRpcUrls`) go with each offer, for a wallet to add the chain.
 */
export function currentPricing(config: Pick<GatewayConfig, 'CHAINS' | 'QUOTE_TTL_SECONDS'>, quoted: QuotedAmount): Pricing {
  const first = quoted.offers[0]!;
  const rpcUrlsOf = (chainId: number) => config.CHAINS?.find((chain) => chain.id === chainId)?.publicRpcUrls;
  return {
    chainId: first.chainId,
    amount: first.amount,
    token: first.token,
    symbol: first.symbol,
    decimals: first.decimals,
    quoteTtlSeconds: config.QUOTE_TTL_SECONDS,
    price: quoted.price ?? null,
    offers: quoted.offers.map((offer) => {
      const rpcUrls = rpcUrlsOf(offer.chainId);
      return { ...offer, ...(rpcUrls && rpcUrls.length > 0 ? { rpcUrls } : {}) };
    }),
  };
}

/** What the ledger holds as received on each quote (base units); a quote it has no row for received nothing. */
async function receivedOn(db: Knex, quoteIds: string[]): Promise<Map<string, bigint>> {
  if (quoteIds.length === 0) return new Map();
  const rows: { quote_id: string; credited_total: string }[] = await db('payment_quotes').whereIn('quote_id', quoteIds).select('quote_id', 'credited_total');
  return new Map(rows.map((row) => [row.quote_id, BigInt(row.credited_total)]));
}

/** The wallet's uploads still awaiting payment, newest first, with what was received and what remains. */
export async function listUnpaidUploads(deps: UnpaidUploadsDeps, owner: string): Promise<UnpaidUpload[]> {
  const ids = await deps.uploads.uploadsOf(owner);
  const states = await Promise.all(ids.map((uploadId) => deps.uploads.state(uploadId)));
  const waiting = ids.filter((_, index) => states[index] === 'awaiting_payment');
  // Renewals wait for payment too, but are paid from My listings: only uploads (with a form) are listed.
  const records = (await Promise.all(waiting.map((uploadId) => deps.uploads.get(uploadId)))).filter((record) => record !== undefined);
  const received = await receivedOn(
    deps.db,
    records.map((record) => record.uploadId),
  );
  const others = await receivedInOtherAssets(
    deps.db,
    records.filter((record) => record.quote.offers).map((record) => record.uploadId),
  );
  const rest = (amount: string, got: bigint) => (got >= BigInt(amount) ? 0n : BigInt(amount) - got).toString();
  return records.map(({ uploadId, form, quote, receivedAt }) => {
    const got = received.get(uploadId) ?? 0n;
    const own = (offer: { chainId: number; token: string | null }) => offer.chainId === quote.chainId && offer.token === quote.token;
    return {
      uploadId,
      title: form.title,
      receivedAt,
      payment: { chainId: quote.chainId, to: quote.to, amount: quote.amount, token: quote.token, expiresAt: quote.expiresAt },
      received: got.toString(),
      remaining: rest(quote.amount, got),
      ...(quote.offers
        ? {
            offers: quote.offers.map((offer) => {
              const inOffer = own(offer) ? got : (others.get(`${uploadId}:${offer.chainId}:${offer.token ?? 'native'}`) ?? 0n);
              return { ...offer, received: inOffer.toString(), remaining: rest(offer.amount, inOffer) };
            }),
          }
        : {}),
    };
  });
}

/** What the ledger holds as received in each quote's other (chain, asset)s (`payment_quote_assets`), by `quoteId:chainId:asset`. */
async function receivedInOtherAssets(db: Knex, quoteIds: string[]): Promise<Map<string, bigint>> {
  if (quoteIds.length === 0) return new Map();
  const rows: { quote_id: string; chain_id: number; token_address: string | null; credited_total: string }[] = await db('payment_quote_assets')
    .whereIn('quote_id', quoteIds)
    .select('quote_id', 'chain_id', 'token_address', 'credited_total');
  return new Map(rows.map((row) => [`${row.quote_id}:${row.chain_id}:${row.token_address ?? 'native'}`, BigInt(row.credited_total)]));
}

/**
 * Ends an unpaid upload at its owner's request, as its expiry would: the lifecycle moves it to
 * `expired` (or `refund_due` when anything had arrived, in any offer or in an asset not offered: the
 * refund wallet's announcement then ends it `refunded`), the ledger closes its quote (its
 * partial credits become due back, and money arriving later is recorded late, due back), its staged
 * files go and the wallet's place in the unpaid limits is free at once. An upload no longer awaiting
 * payment is refused (409 `upload_state`): a paid one is never undone here.
 */
export async function cancelUnpaidUpload(deps: UnpaidUploadsDeps, owner: string, uploadId: string): Promise<CancelledUpload> {
  const { uploads } = deps;
  const upload = (await uploads.owner(uploadId)) === owner.toLowerCase() ? await uploads.get(uploadId) : undefined;
  if (!upload) throw new HttpError(404, 'upload_not_found', 'no such upload');
  const state = await uploads.state(uploadId);
  if (state !== 'awaiting_payment')
    throw new HttpError(409, 'upload_state', `the upload is ${state ?? 'gone'}, not awaiting payment: it cannot be cancelled`, { state });
  const { quote } = upload;
  // Every (chain, asset) that received money: the quote's own, its other offers and assets it did not
  // offer. Amounts of different assets are never added; any of them makes the cancel owe a refund.
  const received = await receivedInEveryAsset(deps.db, uploadId, quote);
  const own = received.find((r) => r.chainId === quote.chainId && r.token === (quote.token?.toLowerCase() ?? null))?.amount ?? '0';
  const transition = received.length > 0 ? 'cancelOwingRefund' : 'cancel';
  const symbolOf = (chainId: number, token: string | null) =>
    quote.offers?.find((offer) => offer.chainId === chainId && (offer.token?.toLowerCase() ?? null) === token)?.symbol ?? token ?? 'the native coin';
  const ended =
    transition === 'cancelOwingRefund'
      ? await uploads.transition(uploadId, transition, {
          stage: 'api-gateway',
          code: 'cancelled',
          reason: `cancelled by its owner after ${received.map((r) => `${r.amount} of ${symbolOf(r.chainId, r.token)} on chain ${r.chainId}`).join(', ')} arrived (the price: ${quote.amount}); recorded for refund`,
        })
      : await uploads.transition(uploadId, transition, { stage: 'api-gateway', code: 'cancelled', reason: 'cancelled by its owner' });
  if (!ended.moved) {
    throw new HttpError(409, 'upload_state', `the upload is ${ended.state ?? 'gone'}, not awaiting payment: it cannot be cancelled`, { state: ended.state });
  }
  // Closed like an expired quote (the lifecycle's table), so the ledger makes what arrived due back (and anything later, late).
  if (closesQuote(transition))
    await deps.bus.publish('payment.credited', { kind: 'closed', uploadId, chainId: quote.chainId, address: quote.to, outcome: 'expired' });
  await rm(join(deps.stagingDir, uploadId), { recursive: true, force: true });
  await deps.release(owner, uploadId);
  return { uploadId, state: received.length > 0 ? 'refund_due' : 'expired', refundDue: own, refundsDue: received };
}

/**
 * What the ledger holds as received on a quote in each (chain, asset), those above zero only: its own
 * asset (`payment_quotes.credited_total`), then each other offer and each asset it did not offer
 * (`payment_quote_assets`).
 */
async function receivedInEveryAsset(
  db: Knex,
  quoteId: string,
  quote: { chainId: number; token: string | null },
): Promise<{ chainId: number; token: `0x${string}` | null; amount: string }[]> {
  const ownToken = (quote.token?.toLowerCase() ?? null) as `0x${string}` | null;
  const totals = new Map<string, { chainId: number; token: `0x${string}` | null; amount: bigint }>();
  const own = (await receivedOn(db, [quoteId])).get(quoteId) ?? 0n;
  totals.set(`${quote.chainId}:${ownToken ?? 'native'}`, { chainId: quote.chainId, token: ownToken, amount: own });
  const rows: { chain_id: number; token_address: string | null; credited_total: string }[] = await db('payment_quote_assets')
    .where({ quote_id: quoteId })
    .select('chain_id', 'token_address', 'credited_total');
  for (const row of rows) {
    const token = (row.token_address?.toLowerCase() ?? null) as `0x${string}` | null;
    const key = `${row.chain_id}:${token ?? 'native'}`;
    const amount = BigInt(row.credited_total);
    // The quote's own asset is also an offer row; whichever of the two is higher is what arrived.
    if (amount > (totals.get(key)?.amount ?? 0n)) totals.set(key, { chainId: row.chain_id, token, amount });
  }
  return [...totals.values()].filter((t) => t.amount > 0n).map((t) => ({ chainId: t.chainId, token: t.token, amount: t.amount.toString() }));
}
