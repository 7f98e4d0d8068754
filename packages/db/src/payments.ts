import type { Knex } from 'knex';
import type { CreditStatus, CreditTransfer, PaymentCredited } from '@reelboard/contracts';
import { listingMay, type QuoteState, quoteMay, quoteNext, quoteTransitions } from '@reelboard/lifecycle/transitions';
import { lifecycleStateOf } from './listing-lifecycle.js';
import type { ModerationStatus, OwnerState } from './read.js';

/** Where a ledger row stands now: how it was credited, or what became of it since. */
export type PaymentStatus = 'paid' | 'overpaid' | 'partial' | 'late' | 'unmatched' | 'unfulfilled' | 'refunded' | 'reversed';
export const paymentStatuses: readonly PaymentStatus[] = ['partial', 'paid', 'overpaid', 'late', 'unmatched', 'unfulfilled', 'refunded', 'reversed'];
/** What `listPayments` filters by: a status, or every row with something due back. */
export type PaymentFilter = PaymentStatus | 'refund_due';
export const paymentFilters: readonly PaymentFilter[] = ['refund_due', ...paymentStatuses];

export type { QuoteState };

/** A quote the gateway issued: its own deposit address, so whatever reaches it pays this upload. */
export interface QuoteRecord {
  quoteId: string;
  uploadId: string;
  /** The SIWE-verified wallet that owns the upload. */
  owner: string;
  chainId: number;
  depositAddress: string;
  /** null for the chain's native coin, else the ERC-20 contract. */
  token: string | null;
  /** Base units as a decimal string. */
  amount: string;
  createdAt: string;
  expiresAt: string;
  /** What the quote pays for: an upload (the default), or the renewal of `listingId` by `renewalDays`. */
  purpose?: QuotePurpose | undefined;
  listingId?: string | undefined;
  renewalDays?: number | undefined;
  /** The settings the deposit address derives from (with chainId and token); absent on quotes recorded without them. */
  settings?: QuoteSettings | undefined;
  /** The CREATE2 salt of the deposit address (a keyed hash of the quote id); absent: the quote id itself. */
  depositSalt?: string | undefined;
  /** The fiat price `amount` stands for (PRICE), when priced in a fiat currency. */
  price?: { amount: string; currency: string } | undefined;
  /** For the native coin priced in fiat: the feed's answer `amount` was computed at, locked for the quote's lifetime. */
  rate?: { feed: string; answer: string; decimals: number; updatedAt: string } | undefined;
  /** Every (chain, asset) the quote accepts, the first being its own (chainId, token, amount); absent: that one alone. */
  offers?: readonly QuoteOfferRecord[] | undefined;
}

/** One (chain, asset) a quote accepts, at its own amount, on the quote's deposit address. */
export interface QuoteOfferRecord {
  chainId: number;
  chainName: string;
  token: string | null;
  symbol: string;
  decimals: number;
  amount: string;
  rate?: { feed: string; answer: string; decimals: number; updatedAt: string } | undefined;
}

/** What a quote's deposit address is bound to besides its chain and token: it pays only `merchant`, through `factory`. */
export interface QuoteSettings {
  merchant: string;
  factory: string;
  sweeperCodeHash: string;
}

export type QuotePurpose = 'upload' | 'renewal';

/**
 * Records an issued quote, so reconciliation knows every deposit address ever handed out. Idempotent
 * by quote id; another quote with the same address (chain, address, token) is refused by the database.
 */
export async function recordQuote(db: Knex, quote: QuoteRecord): Promise<{ created: boolean }> {
  const inserted = await db('payment_quotes')
    .insert({
      quote_id: quote.quoteId,
      upload_id: quote.uploadId,
      owner: quote.owner.toLowerCase(),
      chain_id: quote.chainId,
      deposit_address: quote.depositAddress.toLowerCase(),
      token_address: quote.token?.toLowerCase() ?? null,
      amount: quote.amount,
      created_at: quote.createdAt,
      expires_at: quote.expiresAt,
      purpose: quote.purpose ?? 'upload',
      listing_id: quote.listingId ?? null,
      renewal_days: quote.renewalDays ?? null,
      merchant_address: quote.settings?.merchant.toLowerCase() ?? null,
      factory_address: quote.settings?.factory.toLowerCase() ?? null,
      sweeper_code_hash: quote.settings?.sweeperCodeHash.toLowerCase() ?? null,
      ...(quote.depositSalt ? { deposit_salt: quote.depositSalt.toLowerCase() } : {}),
      // Only migration 016's columns when there is something to put in them: a database not migrated yet still takes base-unit quotes.
      ...(quote.price ? { price_amount: quote.price.amount, price_currency: quote.price.currency } : {}),
      ...(quote.rate
        ? {
            rate_feed: quote.rate.feed.toLowerCase(),
            rate_answer: quote.rate.answer,
            rate_decimals: quote.rate.decimals,
            rate_updated_at: quote.rate.updatedAt,
          }
        : {}),
    })
    .onConflict('quote_id')
    .ignore()
    .returning('quote_id');
  if (inserted.length > 0 && quote.offers && quote.offers.length > 0) {
    await db('payment_quote_assets').insert(
      quote.offers.map((offer, position) => ({
        quote_id: quote.quoteId,
        chain_id: offer.chainId,
        deposit_address: quote.depositAddress.toLowerCase(),
        token_address: offer.token?.toLowerCase() ?? null,
        position,
        amount: offer.amount,
        chain_name: offer.chainName,
        symbol: offer.symbol,
        decimals: offer.decimals,
        rate_feed: offer.rate?.feed.toLowerCase() ?? null,
        rate_answer: offer.rate?.answer ?? null,
        rate_decimals: offer.rate?.decimals ?? null,
        rate_updated_at: offer.rate?.updatedAt ?? null,
      })),
    );
  }
  return { created: inserted.length > 0 };
}

interface QuoteRow {
  quote_id: string;
  upload_id: string;
  owner: string;
  chain_id: number;
  deposit_address: string;
  token_address: string | null;
  amount: string;
  state: QuoteState;
  credited_total: string;
  credited_block: string | null;
  listing_id: string | null;
  failed_stage: string | null;
  failure_reason: string | null;
  expires_at: Date;
  purpose: QuotePurpose;
  renewal_days: number | null;
  /** The (chain, asset) whose credit paid the quote (migration 018); null before it was paid, or paid before offers. */
  paid_chain_id: number | null;
  paid_token: string | null;
}

/**
 * The (chain, asset) a credit is in, as the ledger holds it for its quote: the quote's own (its amount
 * and credited total on payment_quotes), another it offered (`amount`), or one it did not offer
 * (`amount` null: everything received in it is due back). Credited totals are per (chain, asset).
 */
interface QuoteAsset {
  own: boolean;
  /** The payment_quote_assets row (not for the quote's own). */
  id: number | undefined;
  chainId: number;
  token: string | null;
  amount: bigint | null;
  credited: bigint;
}

/** What one observation changed in the ledger. */
export interface CreditOutcome {
  /** Ledger rows written (0: a duplicate or older observation, or a transfer already recorded). */
  recorded: number;
  paymentIds: number[];
  /** The increase over what the ledger held for the quote (deposit), or the transfer's amount. */
  amount: string;
  /** What became due back through this observation. */
  refundDue: string;
  /** The quote's state afterwards; null for an unmatched transfer. */
  quoteState: QuoteState | null;
  /** A reorg took money back: how much the ledger reversed, and the listing it held from the public (if any). */
  reversal?: { amount: string; listingId: string | null; held: boolean } | undefined;
  /** A renewal this credit paid: the listing's new expiry, or why it could not be renewed (the payment is due back). */
  renewal?: { listingId: string; expiresAt: string } | { listingId: string; refused: string } | undefined;
}

const nothing = (quoteState: QuoteState | null): CreditOutcome => ({ recorded: 0, paymentIds: [], amount: '0', refundDue: '0', quoteState });

/** Why a paid renewal did not extend its listing (then its payment is recorded unfulfilled, due back). */
const RENEWAL_STAGE = 'renewal';

/**
 * A renewal quote is covered: extends its listing by the quote's days from its current expiry (or
 * from now if it already ran out), if the lifecycle's renewal rule still allows it; a listing sold,
 * withdrawn or removed meanwhile cannot be renewed: the payment is due back. Runs once per quote, in applyDeposit's transaction.
 */
async function renewListing(
  trx: Knex.Transaction,
  quote: QuoteRow,
): Promise<{ listingId: string; expiresAt: string } | { listingId: string; refused: string }> {
  const listingId = quote.listing_id as string;
  const listing: { state: OwnerState; moderation_status: ModerationStatus; expires_at: Date | null } | undefined = await trx('listings')
    .where({ id: listingId })
    .forUpdate()
    .first('state', 'moderation_status', 'expires_at');
  // The rule the quote was issued under (renewableListing), checked again: the listing may have changed since.
  const state = listing ? lifecycleStateOf(listing) : 'removed';
  if (!listingMay('renew', state)) {
    return { listingId, refused: `the listing was ${state} before its renewal was paid; the payment is recorded for refund` };
  }
  const [row] = await trx('listings')
    .where({ id: listingId })
    .update({
      expires_at: trx.raw(`greatest(coalesce(expires_at, now()), now()) + make_interval(days => ?)`, [quote.renewal_days ?? 0]),
      expired_notified_at: null,
      updated_at: trx.fn.now(),
    })
    .returning('expires_at');
  const expiresAt = (row as { expires_at: Date }).expires_at.toISOString();
  await trx('listing_events').insert({
    listing_id: listingId,
    actor: quote.owner,
    action: 'renew',
    detail: JSON.stringify({ quoteId: quote.quote_id, days: quote.renewal_days, expiresAt }),
  });
  return { listingId, expiresAt };
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);

/** A transfer's key in the ledger: log index -1 for a native transfer, as rows have always used. */
const transferKey = (txHash: string, logIndex: number | null) => `${txHash}:${logIndex ?? -1}`;

/**
 * What part of a row is due back, given how its credit stands and where it ends in the quote's
 * cumulative total: an overpaid row owes only what lies above the quote's amount.
 */
function refundDueOf(status: CreditStatus, amount: bigint, totalAfter: bigint, quoteAmount: bigint, quoteState: QuoteState): bigint {
  switch (status) {
    case 'paid':
      return 0n;
    case 'partial':
      // Not due while the quote can still be covered; due at once if it already ended.
      return quoteState === 'expired' ? amount : 0n;
    case 'overpaid':
      return max(0n, min(amount, totalAfter - quoteAmount));
    case 'late':
    case 'unmatched':
      return amount;
  }
}

/**
 * Writes one `payment.credited` observation to the ledger, in one transaction:
 * - `deposit`: records the increase of the quote's deposit address total over what the ledger holds
 *   (the quote row is locked, so concurrent observations are applied in turn; the same or an older
 *   observation records nothing). The increase is split into one row per transfer when the transfers
 *   the chain shows (and the ledger does not hold yet) make it up exactly (one transfer of the whole
 *   increment included), else it is one row with no hash and no sender. A covering credit turns the quote's
 *   partial rows paid.
 * - `merchant`: one `unmatched` row, due back in full; the same transfer twice is one row.
 * - `closed`: the quote expired uncovered: its partial rows are due back.
 * - `reversed`: a reorg took money back off the address (reverseCredit).
 * - `merchant_reversed`: a reorg took an unmatched transfer off the chain: its row is `reversed`, nothing due.
 */
export async function applyCredit(db: Knex, observation: PaymentCredited): Promise<CreditOutcome> {
  switch (observation.kind) {
    case 'deposit':
      return db.transaction((trx) => applyDeposit(trx, observation));
    case 'merchant':
      return recordUnmatched(db, observation);
    case 'closed':
      return db.transaction((trx) => closeQuote(trx, observation));
    case 'reversed':
      return db.transaction((trx) => reverseCredit(trx, observation));
    case 'merchant_reversed':
      return reverseUnmatched(db, observation);
  }
}

type Deposit = Extract<PaymentCredited, { kind: 'deposit' }>;

async function lockQuote(trx: Knex.Transaction, chainId: number, address: string, token: string | null): Promise<QuoteRow | undefined> {
  return trx('payment_quotes')
    .where({ chain_id: chainId, deposit_address: address.toLowerCase() })
    .whereRaw(`coalesce(token_address, 'native') = ?`, [token?.toLowerCase() ?? 'native'])
    .forUpdate()
    .first();
}

/**
 * The quote a credit on (chain, address, asset) belongs to, locked (so every credit of one quote, in
 * any asset, is applied in turn), with that asset as the ledger holds it. `quoteId` finds the quote
 * when the asset has no row yet (money in an asset it did not offer): the row is made, not offered.
 */
async function lockQuoteAsset(
  trx: Knex.Transaction,
  chainId: number,
  address: string,
  token: string | null,
  quoteId?: string,
): Promise<{ quote: QuoteRow; asset: QuoteAsset } | undefined> {
  const own = await lockQuote(trx, chainId, address, token);
  if (own) return { quote: own, asset: { own: true, id: undefined, chainId, token, amount: BigInt(own.amount), credited: BigInt(own.credited_total) } };
  const where = (q: Knex.QueryBuilder) =>
    q.where({ chain_id: chainId, deposit_address: address.toLowerCase() }).whereRaw(`coalesce(token_address, 'native') = ?`, [token ?? 'native']);
  const found: { quote_id: string } | undefined = await where(trx('payment_quote_assets')).first('quote_id');
  const id = found?.quote_id ?? quoteId;
  if (!id) return undefined;
  const quote: QuoteRow | undefined = await trx('payment_quotes').where({ quote_id: id }).forUpdate().first();
  if (!quote || quote.deposit_address !== address.toLowerCase()) return undefined;
  if (!found) {
    await trx('payment_quote_assets')
      .insert({ quote_id: id, chain_id: chainId, deposit_address: address.toLowerCase(), token_address: token, position: null, amount: null })
      .onConflict(trx.raw(`(chain_id, deposit_address, (coalesce(token_address, 'native')))`))
      .ignore();
  }
  const row: { id: number; amount: string | null; credited_total: string } = await where(trx('payment_quote_assets'))
    .forUpdate()
    .first('id', 'amount', 'credited_total');
  return {
    quote,
    asset: { own: false, id: row.id, chainId, token, amount: row.amount === null ? null : BigInt(row.amount), credited: BigInt(row.credited_total) },
  };
}

/** Records an asset's new credited total where the ledger keeps it: on the quote for its own asset, else on the asset's row. */
async function setCredited(trx: Knex.Transaction, quote: QuoteRow, asset: QuoteAsset, total: bigint, block?: string): Promise<void> {
  const credited = { credited_total: total.toString(), ...(block ? { credited_block: trx.raw('greatest(credited_block, ?::bigint)', [block]) } : {}) };
  if (asset.own)
    await trx('payment_quotes')
      .where({ quote_id: quote.quote_id })
      .update({ ...credited, updated_at: trx.fn.now() });
  else await trx('payment_quote_assets').where({ id: asset.id }).update(credited);
}

/** True when the quote was paid in another (chain, asset) than this one: then all of this one is due back. */
function paidElsewhere(quote: QuoteRow, asset: QuoteAsset): boolean {
  if (quote.state !== 'paid') return false;
  // Paid before the ledger named the paying asset: by the quote's own, its only one then.
  if (quote.paid_chain_id === null) return !asset.own;
  return quote.paid_chain_id !== asset.chainId || (quote.paid_token ?? null) !== asset.token;
}

/** Rows of a quote credited in one (chain, asset). */
const inAsset = (q: Knex.QueryBuilder, asset: Pick<QuoteAsset, 'chainId' | 'token'>) =>
  q.where({ chain_id: asset.chainId }).whereRaw(`coalesce(token_address, 'native') = ?`, [asset.token ?? 'native']);

async function applyDeposit(trx: Knex.Transaction, credit: Deposit): Promise<CreditOutcome> {
  const token = credit.token?.toLowerCase() ?? null;
  let found = await lockQuoteAsset(trx, credit.chainId, credit.address, token, credit.uploadId);
  if (!found) {
    // The gateway records each quote it issues; a quote it could not record is rebuilt from the credit.
    await recordQuote(trx, {
      quoteId: credit.uploadId,
      uploadId: credit.uploadId,
      owner: credit.owner,
      chainId: credit.chainId,
      depositAddress: credit.address,
      token,
      amount: credit.quoteAmount,
      createdAt: credit.blockTime,
      expiresAt: credit.blockTime,
    });
    found = await lockQuoteAsset(trx, credit.chainId, credit.address, token, credit.uploadId);
    if (!found) throw new Error(`quote ${credit.uploadId} is recorded with another deposit address than ${credit.address}`);
  }
  const { quote, asset } = found;
  const credited = asset.credited;
  const total = BigInt(credit.totalReceived);
  const increment = total - credited;
  if (increment <= 0n) return nothing(quote.state);

  // Transfers the ledger already holds (an earlier, overlapping range) are not this increment.
  const listed = new Map<string, CreditTransfer>();
  for (const transfer of credit.transfers) if (BigInt(transfer.amount) > 0n) listed.set(transferKey(transfer.txHash, transfer.logIndex), transfer);
  if (listed.size > 0) {
    const known: { tx_hash: string; log_index: number | null }[] = await trx('payments')
      .where({ chain_id: credit.chainId })
      .whereIn('tx_hash', [...new Set([...listed.values()].map((transfer) => transfer.txHash))])
      .select('tx_hash', 'log_index');
    for (const row of known) listed.delete(transferKey(row.tx_hash, row.log_index));
  }
  const fresh = [...listed.values()];
  const sum = fresh.reduce((acc, transfer) => acc + BigInt(transfer.amount), 0n);
  const parts: { amount: bigint; transfer: CreditTransfer | undefined }[] =
    fresh.length > 0 && sum === increment
      ? fresh.map((transfer) => ({ amount: BigInt(transfer.amount), transfer }))
      : // A sender is named (and later refunded by default) only where one transfer is the whole increment: a
        // transfer beside money the chain shows no transaction for (a Safe's internal payment) explains only itself,
        // and naming its sender would let 1 wei from anyone claim the refund of the rest.
        [{ amount: increment, transfer: undefined }];

  // Money in an asset the quote did not offer, or in another offer than the one that paid it, never
  // pays the quote: all of it is due back (`unmatched`, `overpaid`), whatever the watcher judged.
  const offered = asset.amount !== null;
  const elsewhere = paidElsewhere(quote, asset);
  const covers = offered && !elsewhere && (credit.status === 'paid' || credit.status === 'overpaid');
  const status: CreditStatus = !offered ? 'unmatched' : elsewhere && credit.status !== 'late' ? 'overpaid' : credit.status;
  // The first covering credit of a renewal renews its listing (or finds it gone: then it is due back).
  // A renewal already failed (the stuck-work sweep gave up on it) is not applied late: its money is due back.
  const renewal =
    quote.purpose === 'renewal' && covers && quoteMay('renew', quote.state) && quote.failed_stage === null ? await renewListing(trx, quote) : undefined;
  if (renewal && 'refused' in renewal) {
    await trx('payment_quotes').where({ quote_id: quote.quote_id }).update({ failed_stage: RENEWAL_STAGE, failure_reason: renewal.refused });
    quote.failed_stage = RENEWAL_STAGE;
    quote.failure_reason = renewal.refused;
  }
  // Part of the price arriving after the upload failed is due back at once too: the quote will never be covered.
  const failed = quote.failed_stage !== null && (quote.listing_id === null || quote.purpose === 'renewal');
  // The listing may be saved before its credit reaches the ledger (this job was retried late): tie it now.
  const listingId = covers ? quote.listing_id : null;
  const quoteAmount = asset.amount ?? 0n;
  let running = credited;
  let refundDue = 0n;
  const rows = parts.map(({ amount, transfer }) => {
    running += amount;
    const due = failed || elsewhere ? amount : refundDueOf(status, amount, running, quoteAmount, quote.state);
    refundDue += due;
    return {
      upload_id: quote.upload_id,
      quote_id: quote.quote_id,
      listing_id: listingId,
      chain_id: credit.chainId,
      tx_hash: transfer?.txHash ?? null,
      log_index: transfer ? (transfer.logIndex ?? -1) : null,
      from_address: transfer?.from ?? null,
      to_address: credit.address,
      deposit_address: credit.address,
      token_address: token,
      amount: amount.toString(),
      block_number: credit.toBlock,
      block_time: credit.blockTime,
      from_block: credit.fromBlock,
      to_block: credit.toBlock,
      // The running total, so several rows of one increment each keep their own unique key.
      total_after: running.toString(),
      // An upload that already failed for good gets no listing from this credit: due back whole.
      status: failed ? 'unfulfilled' : status,
      credit_status: status,
      refund_due: due.toString(),
      failure_reason: failed ? quote.failure_reason : null,
      failed_stage: failed ? quote.failed_stage : null,
    };
  });
  const inserted: { id: string | number }[] = await trx('payments').insert(rows).returning('id');

  if (covers) {
    // The quote is covered: the parts that came before in this asset are its payment, not refunds;
    // parts sent in its other offers paid nothing and are due back.
    await trx('payments')
      .where({ quote_id: quote.quote_id, status: 'partial' })
      .where((q) => q.whereNot('chain_id', asset.chainId).orWhereRaw(`coalesce(token_address, 'native') <> ?`, [asset.token ?? 'native']))
      .update({ status: 'overpaid', credit_status: 'overpaid', refund_due: trx.raw('greatest(amount - refunded_amount, 0)'), updated_at: trx.fn.now() });
    await inAsset(trx('payments').where({ quote_id: quote.quote_id, status: 'partial' }), asset).update(
      failed
        ? {
            status: 'unfulfilled',
            failure_reason: quote.failure_reason,
            failed_stage: quote.failed_stage,
            refund_due: trx.raw('amount - refunded_amount'),
            updated_at: trx.fn.now(),
          }
        : { status: 'paid', refund_due: 0, listing_id: trx.raw('coalesce(listing_id, ?)', [listingId]), updated_at: trx.fn.now() },
    );
  }
  // A listing held because a reorg took its payment back is public again once the money is back.
  if (covers && quote.listing_id)
    await trx('listings')
      .where({ id: quote.listing_id })
      .whereNotNull('payment_held_at')
      .update({ payment_held_at: null, payment_held_reason: null, updated_at: trx.fn.now() });
  const state: QuoteState = covers ? quoteNext(quote.state, renewal ? 'renew' : 'cover', quote.quote_id) : quote.state;
  // Paid within the payment tolerance: what was missing is kept on the quote (the first covering credit's view).
  const shortfall = covers && quote.state !== 'paid' && total < quoteAmount ? { shortfall: (quoteAmount - total).toString() } : {};
  // The first covering credit names the (chain, asset) that paid the quote: money in any other is due back.
  const paidBy = covers && quote.state !== 'paid' ? { paid_chain_id: asset.chainId, paid_token: asset.token } : {};
  await trx('payment_quotes')
    .where({ quote_id: quote.quote_id })
    .update({ ...shortfall, ...paidBy, state, updated_at: trx.fn.now() });
  await setCredited(trx, quote, asset, total, credit.toBlock);
  return {
    recorded: inserted.length,
    paymentIds: inserted.map((row) => Number(row.id)),
    amount: increment.toString(),
    refundDue: refundDue.toString(),
    quoteState: state,
    ...(renewal ? { renewal } : {}),
  };
}

type Reversal = Extract<PaymentCredited, { kind: 'reversed' }>;

/** Hides a listing from the public (not deleted) until its payment is back on chain. */
async function holdListing(trx: Knex.Transaction | Knex, listingId: string, reason: string): Promise<void> {
  await trx('listings').where({ id: listingId }).update({ payment_held_at: trx.fn.now(), payment_held_reason: reason, updated_at: trx.fn.now() });
}

/**
 * A reorg deeper than the confirmations took money back off a deposit address: the quote's rows
 * that credited more than the chain now shows become `reversed`, newest first, with the reorg's
 * blocks (a row only partly above is split: the part the chain still shows stays as it was). A
 * reversed row owes nothing back, whatever was refunded of it: what is due never goes below zero.
 * A quote no longer covered keeps `paid` (so the money coming back does not renew twice), its
 * remaining rows become partial and due back, and its listing is held from the public; the money
 * credited again (the transaction mined again) turns them paid and the listing public (applyDeposit).
 * The same or an older reversal records nothing.
 */
async function reverseCredit(trx: Knex.Transaction, reversal: Reversal): Promise<CreditOutcome> {
  const found = await lockQuoteAsset(trx, reversal.chainId, reversal.address, reversal.token?.toLowerCase() ?? null);
  if (!found) return nothing(null);
  const { quote, asset } = found;
  const target = BigInt(reversal.totalReceived);
  const credited = asset.credited;
  if (target >= credited) return nothing(quote.state);
  const reorg = { reversed_at: trx.fn.now(), reversed_from_block: reversal.fromBlock, reversed_to_block: reversal.toBlock, updated_at: trx.fn.now() };
  const above: { id: string; amount: string; total_after: string }[] = await inAsset(trx('payments'), asset)
    .where({ quote_id: quote.quote_id })
    .whereNot('status', 'reversed')
    .whereNotNull('total_after')
    .where('total_after', '>', target.toString())
    .orderBy('total_after', 'desc')
    .forUpdate()
    .select('id', 'amount', 'total_after');
  const ids: number[] = [];
  for (const row of above) {
    const start = BigInt(row.total_after) - BigInt(row.amount);
    if (start < target) {
      // Split: the row keeps what the chain still shows, a new row carries the part reversed.
      const [copy] = await trx('payments').where({ id: row.id }).select('*');
      const { id: _id, created_at: _c, updated_at: _u, ...fields } = copy as Record<string, unknown>;
      await trx('payments')
        .where({ id: row.id })
        .update({
          amount: (target - start).toString(),
          total_after: target.toString(),
          refund_due: trx.raw('least(refund_due, ?::numeric)', [(target - start).toString()]),
          updated_at: trx.fn.now(),
        });
      const [inserted] = await trx('payments')
        .insert({
          ...fields,
          tx_hash: null,
          log_index: null,
          amount: (BigInt(row.total_after) - target).toString(),
          status: 'reversed',
          refund_due: 0,
          refunded_amount: 0,
          ...reorg,
        })
        .returning('id');
      ids.push(Number((inserted as { id: string }).id));
    } else {
      await trx('payments')
        .where({ id: row.id })
        .update({ status: 'reversed', refund_due: 0, ...reorg });
      ids.push(Number(row.id));
    }
  }
  // Only the asset that paid the quote can uncover it; money taken back from another was due back anyway.
  const uncovered = asset.amount !== null && !paidElsewhere(quote, asset) && target < asset.amount;
  if (uncovered && quote.state === 'paid') {
    await inAsset(trx('payments'), asset)
      .where({ quote_id: quote.quote_id })
      .whereIn('status', ['paid', 'overpaid'])
      .update({ status: 'partial', refund_due: trx.raw('greatest(amount - refunded_amount, 0)'), updated_at: trx.fn.now() });
  }
  const held = uncovered && quote.listing_id !== null;
  if (held) {
    await holdListing(
      trx,
      quote.listing_id as string,
      `a reorg of blocks ${reversal.fromBlock}..${reversal.toBlock} took back ${credited - target} of its payment (quote ${quote.quote_id})`,
    );
  }
  // The lifecycle's table: a reversal keeps the quote's state (and refuses one it does not know).
  const state = quoteNext(quote.state, 'reverse', quote.quote_id);
  await setCredited(trx, quote, asset, target);
  return {
    recorded: ids.length,
    paymentIds: ids,
    amount: (credited - target).toString(),
    refundDue: '0',
    quoteState: state,
    reversal: { amount: (credited - target).toString(), listingId: quote.listing_id, held },
  };
}

/** Where a renewal quote stands in the ledger: waiting, renewed (the listing's expiry now), or refused (due back). */
export async function renewalOutcome(
  db: Knex,
  quoteId: string,
): Promise<
  { purpose: QuotePurpose; listingId: string | null; state: QuoteState; renewed: { expiresAt: string | null } | null; refused: string | null } | undefined
> {
  const row: { purpose: QuotePurpose; listing_id: string | null; state: QuoteState; failure_reason: string | null; expires_at: Date | null } | undefined =
    await db('payment_quotes as q')
      .leftJoin('listings as l', 'l.id', 'q.listing_id')
      .where('q.quote_id', quoteId)
      .first('q.purpose', 'q.listing_id', 'q.state', 'q.failure_reason', 'l.expires_at');
  if (!row) return undefined;
  const paid = row.state === 'paid';
  return {
    purpose: row.purpose,
    listingId: row.listing_id,
    state: row.state,
    renewed: paid && row.failure_reason === null ? { expiresAt: row.expires_at?.toISOString() ?? null } : null,
    refused: paid ? row.failure_reason : null,
  };
}

async function recordUnmatched(db: Knex, credit: Extract<PaymentCredited, { kind: 'merchant' }>): Promise<CreditOutcome> {
  const { transfer } = credit;
  const inserted: { id: string | number }[] = await db('payments')
    .insert({
      upload_id: null,
      quote_id: null,
      chain_id: credit.chainId,
      tx_hash: transfer.txHash,
      log_index: transfer.logIndex ?? -1,
      from_address: transfer.from,
      to_address: credit.address,
      token_address: credit.token?.toLowerCase() ?? null,
      amount: transfer.amount,
      block_number: credit.blockNumber,
      block_time: credit.blockTime,
      from_block: credit.blockNumber,
      to_block: credit.blockNumber,
      status: 'unmatched',
      credit_status: 'unmatched',
      refund_due: transfer.amount,
    })
    .onConflict(['chain_id', 'tx_hash', 'log_index'])
    // The same transfer again records nothing, unless a reorg had reversed it: then it is mined again, and due back again.
    .merge({
      status: 'unmatched',
      refund_due: db.raw('greatest(payments.amount - payments.refunded_amount, 0)'),
      block_number: credit.blockNumber,
      block_time: credit.blockTime,
      from_block: credit.blockNumber,
      to_block: credit.blockNumber,
      reversed_at: null,
      reversed_from_block: null,
      reversed_to_block: null,
      updated_at: db.fn.now(),
    })
    .where('payments.status', 'reversed')
    .returning('id');
  if (inserted.length === 0) return nothing(null);
  return { recorded: 1, paymentIds: inserted.map((row) => Number(row.id)), amount: transfer.amount, refundDue: transfer.amount, quoteState: null };
}

/** A reorg took an unmatched transfer to the merchant off the chain: nothing of it is due back (never below zero). */
async function reverseUnmatched(db: Knex, reversal: Extract<PaymentCredited, { kind: 'merchant_reversed' }>): Promise<CreditOutcome> {
  const { transfer } = reversal;
  const changed: { id: string | number }[] = await db('payments')
    .where({ chain_id: reversal.chainId, tx_hash: transfer.txHash, log_index: transfer.logIndex ?? -1, credit_status: 'unmatched' })
    .whereNot('status', 'reversed')
    .update({
      status: 'reversed',
      refund_due: 0,
      reversed_at: db.fn.now(),
      reversed_from_block: reversal.fromBlock,
      reversed_to_block: reversal.toBlock,
      updated_at: db.fn.now(),
    })
    .returning('id');
  if (changed.length === 0) return nothing(null);
  return {
    recorded: changed.length,
    paymentIds: changed.map((row) => Number(row.id)),
    amount: transfer.amount,
    refundDue: '0',
    quoteState: null,
    reversal: { amount: transfer.amount, listingId: null, held: false },
  };
}

async function closeQuote(trx: Knex.Transaction, closed: Extract<PaymentCredited, { kind: 'closed' }>): Promise<CreditOutcome> {
  const quote: Pick<QuoteRow, 'quote_id' | 'state'> | undefined = await trx('payment_quotes')
    .where({ chain_id: closed.chainId, deposit_address: closed.address.toLowerCase() })
    .orWhere({ quote_id: closed.uploadId })
    .forUpdate()
    .first('quote_id', 'state');
  const quoteId = quote?.quote_id ?? closed.uploadId;
  // A quote that was covered meanwhile stays paid (the table's close from paid).
  const state = quote ? quoteNext(quote.state, 'close', quoteId) : null;
  if (quote && state !== quote.state) await trx('payment_quotes').where({ quote_id: quoteId }).update({ state, updated_at: trx.fn.now() });
  const due: { id: string | number; refund_due: string }[] = await trx('payments')
    .where({ quote_id: quoteId, status: 'partial' })
    .where('refund_due', 0)
    .update({ refund_due: trx.raw('amount - refunded_amount'), updated_at: trx.fn.now() })
    .returning(['id', 'refund_due']);
  const refundDue = due.reduce((acc, row) => acc + BigInt(row.refund_due), 0n);
  return { recorded: due.length, paymentIds: due.map((row) => Number(row.id)), amount: '0', refundDue: refundDue.toString(), quoteState: state };
}

interface LinkRow {
  id: string;
  status: PaymentStatus;
  credit_status: PaymentStatus | null;
  amount: string;
  total_after: string | null;
  refunded_amount: string;
}

/**
 * Ties the credits that paid an upload's quote to its saved listing (inside saveListing's
 * transaction). A row already tied to a listing is never tied to another. Rows recorded
 * `unfulfilled` (the upload had failed, and an operator retried it) become paid again.
 */
export async function linkQuotePayments(trx: Knex, uploadId: string, listingId: string): Promise<number> {
  // Locked, so a credit being applied at the same time either is linked here or sees the listing.
  const quote: { amount: string; credited_total: string } | undefined = await trx('payment_quotes')
    .where({ quote_id: uploadId })
    .forUpdate()
    .first('amount', 'credited_total');
  const rows: LinkRow[] = await trx('payments')
    .where({ upload_id: uploadId })
    .whereNull('listing_id')
    .where((q) =>
      q
        .whereIn('status', ['paid', 'overpaid', 'unfulfilled'])
        // An overpaid row whose excess was refunded still paid the price.
        .orWhere((r) => r.where('status', 'refunded').whereIn('credit_status', ['paid', 'overpaid', 'partial']).whereRaw('refunded_amount < amount')),
    )
    .forUpdate()
    .select('id', 'status', 'credit_status', 'amount', 'total_after', 'refunded_amount');
  for (const row of rows) {
    const changes: Record<string, unknown> = { listing_id: listingId, updated_at: trx.fn.now() };
    if (row.status === 'unfulfilled') {
      const overpaid = row.credit_status === 'overpaid';
      changes.status = overpaid ? 'overpaid' : 'paid';
      changes.refund_due =
        overpaid && quote && row.total_after !== null ? max(0n, min(BigInt(row.amount), BigInt(row.total_after) - BigInt(quote.amount))).toString() : '0';
      changes.failure_reason = null;
      changes.failed_stage = null;
    }
    await trx('payments').where({ id: row.id }).update(changes);
  }
  await trx('payment_quotes')
    .where({ quote_id: uploadId })
    .update({ listing_id: trx.raw('coalesce(listing_id, ?)', [listingId]), failed_stage: null, failure_reason: null, updated_at: trx.fn.now() });
  // A reorg took the payment back while the media work ran: the listing is saved, but held.
  if (quote && BigInt(quote.credited_total) < BigInt(quote.amount) && (await trx('payments').where({ quote_id: uploadId, status: 'reversed' }).first('id'))) {
    await holdListing(trx, listingId, `its payment was taken back by a reorg before the listing was saved (quote ${uploadId})`);
  }
  return rows.length;
}

/** The lifecycle's quote transition `event` as SQL over payment_quotes.state (for a bulk update; the table lists every state `close` takes). */
function quoteEventSql(event: keyof typeof quoteTransitions): string {
  const cases = Object.entries(quoteTransitions[event]).map(([from, to]) => `WHEN '${from}' THEN '${to}'::payment_quote_state`);
  return `CASE state ${cases.join(' ')} END`;
}

/**
 * An upload failed for good before its listing was saved (or a renewal before it was applied): its
 * credits become `unfulfilled` and due back in full (with the stage and reason, for the operator who
 * retries or refunds it), part payments of a quote never covered included: the quote is closed, as
 * at expiry. Credits that arrive later for the quote are recorded the same way. Returns how many rows changed.
 */
export async function recordUnfulfilled(db: Knex, uploadId: string, failure: { stage: string; reason: string }): Promise<number> {
  return db.transaction(async (trx) => {
    await trx('payment_quotes')
      .where({ quote_id: uploadId })
      // An upload's quote until its listing is saved; a renewal's until it is applied (covered, so paid).
      .where((q) =>
        q.where((u) => u.whereNull('listing_id').whereNot('purpose', 'renewal')).orWhere((r) => r.where('purpose', 'renewal').whereNot('state', 'paid')),
      )
      .update({
        failed_stage: failure.stage,
        failure_reason: failure.reason,
        state: trx.raw(quoteEventSql('close')),
        updated_at: trx.fn.now(),
      });
    const changed = await trx('payments')
      .where({ upload_id: uploadId })
      .whereNull('listing_id')
      .whereIn('status', ['paid', 'overpaid', 'partial', 'unfulfilled'])
      .update({
        status: 'unfulfilled',
        refund_due: trx.raw('amount - refunded_amount'),
        failure_reason: failure.reason,
        failed_stage: failure.stage,
        updated_at: trx.fn.now(),
      });
    return changed;
  });
}

/** One row of the ledger, as operators see it. */
export interface PaymentView {
  id: number;
  /** null for an unmatched transfer. */
  quoteId: string | null;
  uploadId: string | null;
  listingId: string | null;
  /** The quote's owner; for an unmatched transfer, null (the sender is `from`). */
  owner: string | null;
  chainId: number;
  /** The quote's deposit address (null for an unmatched transfer, or a row from before the ledger). */
  depositAddress: string | null;
  /** Where the money arrived: the deposit address, or the merchant address. */
  to: string;
  token: string | null;
  amount: string;
  status: PaymentStatus;
  /** How the credit stood when it was seen. */
  creditStatus: PaymentStatus | null;
  refundDue: string;
  refundedAmount: string;
  /** null where the chain shows no transaction (an internal transfer). */
  txHash: string | null;
  logIndex: number | null;
  from: string | null;
  fromBlock: string | null;
  toBlock: string | null;
  blockTime: string;
  failureReason: string | null;
  failedStage: string | null;
  refundTxHash: string | null;
  /** Where the last refund was paid. */
  refundTo: string | null;
  refundedAt: string | null;
  refundedBy: string | null;
  quote: { amount: string; state: QuoteState; expiresAt: string; creditedTotal: string } | null;
  recordedAt: string;
}

const VIEW_COLUMNS = [
  'p.id',
  'p.quote_id',
  'p.upload_id',
  'p.listing_id',
  'q.owner',
  'p.chain_id',
  'p.deposit_address',
  'p.to_address',
  'p.token_address',
  'p.amount',
  'p.status',
  'p.credit_status',
  'p.refund_due',
  'p.refunded_amount',
  'p.tx_hash',
  'p.log_index',
  'p.from_address',
  'p.from_block',
  'p.to_block',
  'p.block_time',
  'p.failure_reason',
  'p.failed_stage',
  'p.refund_tx_hash',
  'p.refund_to',
  'p.refunded_at',
  'p.refunded_by',
  'p.created_at',
  'q.amount as quote_amount',
  'q.state as quote_state',
  'q.expires_at as quote_expires_at',
  'q.credited_total as quote_credited_total',
];

interface ViewRow {
  id: string;
  quote_id: string | null;
  upload_id: string | null;
  listing_id: string | null;
  owner: string | null;
  chain_id: number;
  deposit_address: string | null;
  to_address: string;
  token_address: string | null;
  amount: string;
  status: PaymentStatus;
  credit_status: PaymentStatus | null;
  refund_due: string;
  refunded_amount: string;
  tx_hash: string | null;
  log_index: number | null;
  from_address: string | null;
  from_block: string | null;
  to_block: string | null;
  block_time: Date;
  failure_reason: string | null;
  failed_stage: string | null;
  refund_tx_hash: string | null;
  refund_to: string | null;
  refunded_at: Date | null;
  refunded_by: string | null;
  created_at: Date;
  quote_amount: string | null;
  quote_state: QuoteState | null;
  quote_expires_at: Date | null;
  quote_credited_total: string | null;
}

function toView(row: ViewRow): PaymentView {
  return {
    id: Number(row.id),
    quoteId: row.quote_id,
    uploadId: row.upload_id,
    listingId: row.listing_id,
    owner: row.owner,
    chainId: row.chain_id,
    depositAddress: row.deposit_address,
    to: row.to_address,
    token: row.token_address,
    amount: row.amount,
    status: row.status,
    creditStatus: row.credit_status,
    refundDue: row.refund_due,
    refundedAmount: row.refunded_amount,
    txHash: row.tx_hash,
    // -1 is how the table keys a native transfer; outside it, a native transfer has no log index.
    logIndex: row.log_index === null || row.log_index < 0 ? null : row.log_index,
    from: row.from_address,
    fromBlock: row.from_block,
    toBlock: row.to_block,
    blockTime: row.block_time.toISOString(),
    failureReason: row.failure_reason,
    failedStage: row.failed_stage,
    refundTxHash: row.refund_tx_hash,
    refundTo: row.refund_to,
    refundedAt: row.refunded_at?.toISOString() ?? null,
    refundedBy: row.refunded_by,
    quote:
      row.quote_amount === null
        ? null
        : {
            amount: row.quote_amount,
            state: row.quote_state as QuoteState,
            expiresAt: (row.quote_expires_at as Date).toISOString(),
            creditedTotal: row.quote_credited_total ?? '0',
          },
    recordedAt: row.created_at.toISOString(),
  };
}

const viewQuery = (db: Knex) => db('payments as p').leftJoin('payment_quotes as q', 'q.quote_id', 'p.quote_id').select(VIEW_COLUMNS);

/** No ledger row with that id. */
export class PaymentNotFoundError extends Error {
  override readonly name = 'PaymentNotFoundError';
  constructor(readonly paymentId: number) {
    super(`no payment ${paymentId}`);
  }
}

/** A cursor `listPayments` did not make. */
export class InvalidPaymentCursorError extends Error {
  override readonly name = 'InvalidPaymentCursorError';
  constructor() {
    super('cursor is not valid for this list; start again without it');
  }
}

/**
 * A refund that cannot be recorded: `not_refundable` (nothing is due back on the row),
 * `already_refunded` (it was refunded by another transaction, `refundTxHash`) or `refund_tx_used`
 * (that transaction already refunded another row).
 */
export class RefundConflictError extends Error {
  override readonly name = 'RefundConflictError';
  constructor(
    readonly code: 'not_refundable' | 'already_refunded' | 'refund_tx_used',
    readonly paymentId: number,
    message: string,
    readonly refundTxHash: string | null = null,
  ) {
    super(message);
  }
}

/** Why the chain does not show a refund transaction paying back what a ledger row has due. */
export type RefundVerificationCode =
  | 'refund_wrong_chain'
  | 'refund_tx_not_found'
  | 'refund_tx_reverted'
  | 'refund_tx_unconfirmed'
  | 'refund_wrong_asset'
  | 'refund_wrong_recipient'
  | 'refund_amount_short'
  | 'refund_recipient_unproven';

/** A refund transaction that does not pay back what is due, to whom it is owed: nothing is recorded. */
export class RefundVerificationError extends Error {
  override readonly name = 'RefundVerificationError';
  constructor(
    readonly code: RefundVerificationCode,
    message: string,
    readonly details: Record<string, string | number> = {},
  ) {
    super(message);
  }
}

/** One ledger row by id. */
export async function findPayment(db: Knex, paymentId: number): Promise<PaymentView | undefined> {
  const row: ViewRow | undefined = await viewQuery(db).where('p.id', paymentId).first();
  return row ? toView(row) : undefined;
}

export interface PaymentListQuery {
  /** A status, or `refund_due` (every row with something due back); all rows when absent. */
  status?: PaymentFilter | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** Ledger rows newest first, with their quote, a page at a time (keyset on the row id). */
export async function listPayments(db: Knex, query: PaymentListQuery): Promise<{ items: PaymentView[]; nextCursor: string | null }> {
  const page = viewQuery(db)
    .orderBy('p.id', 'desc')
    .limit(query.limit + 1);
  if (query.status === 'refund_due') page.where('p.refund_due', '>', 0);
  else if (query.status) page.where('p.status', query.status);
  if (query.cursor !== undefined) {
    const match = /^p(\d{1,18})$/.exec(Buffer.from(query.cursor, 'base64url').toString('utf8'));
    if (!match?.[1]) throw new InvalidPaymentCursorError();
    page.where('p.id', '<', match[1]);
  }
  const rows: ViewRow[] = await page;
  const items = rows.slice(0, query.limit).map(toView);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > query.limit && last ? Buffer.from(`p${last.id}`).toString('base64url') : null };
}

export interface RefundRecord {
  paymentId: number;
  /** The transaction that paid the money back. */
  txHash: string;
  /** Who recorded it: an admin's wallet, or `admin-token` / `cli:<user>`. */
  actor: string;
  note?: string | undefined;
  /** Where the transaction paid the money (verified on chain by `refundPayment`). */
  recipient?: string | undefined;
  /** The payer's signature naming `recipient`, when it is neither the owner nor the row's sender. */
  recipientSignature?: string | undefined;
  /** What the transaction paid `recipient` (base units): the row's due must not exceed it when it is recorded. */
  paid?: string | undefined;
}

/**
 * Records that what a ledger row had due back was refunded by `txHash`, and audits it in
 * payment_events, in one transaction (the row is locked). The same refund recorded again answers the
 * same result (`repeated: true`); another transaction for a row already refunded is a
 * RefundConflictError, as is a row with nothing due.
 */
export async function markRefunded(db: Knex, refund: RefundRecord): Promise<{ payment: PaymentView; refunded: string; repeated: boolean }> {
  const txHash = refund.txHash.toLowerCase();
  return db.transaction(async (trx) => {
    const row: { id: string; status: PaymentStatus; refund_due: string; refund_tx_hash: string | null } | undefined = await trx('payments')
      .where({ id: refund.paymentId })
      .forUpdate()
      .first('id', 'status', 'refund_due', 'refund_tx_hash');
    if (!row) throw new PaymentNotFoundError(refund.paymentId);
    const due = BigInt(row.refund_due);
    if (due === 0n) {
      if (row.status === 'refunded' && row.refund_tx_hash === txHash) {
        const last: { amount: string | null } | undefined = await trx('payment_events')
          .where({ payment_id: refund.paymentId, action: 'refund', tx_hash: txHash })
          .orderBy('id', 'desc')
          .first('amount');
        return { payment: (await findPayment(trx, refund.paymentId)) as PaymentView, refunded: last?.amount ?? '0', repeated: true };
      }
      if (row.status === 'refunded') {
        throw new RefundConflictError(
          'already_refunded',
          refund.paymentId,
          `payment ${refund.paymentId} was already refunded by ${row.refund_tx_hash}`,
          row.refund_tx_hash,
        );
      }
      throw new RefundConflictError('not_refundable', refund.paymentId, `payment ${refund.paymentId} (${row.status}) has nothing due back`);
    }
    if (row.refund_tx_hash === txHash) {
      // The row is due again (its upload failed after an earlier, partial refund): that transaction is spent.
      throw new RefundConflictError(
        'already_refunded',
        refund.paymentId,
        `${txHash} already refunded an earlier part of payment ${refund.paymentId}`,
        row.refund_tx_hash,
      );
    }
    // One transaction pays back one row: the unique index is the guard, this names the row it paid.
    const spent: { payment_id: string } | undefined = await trx('payment_events').where({ action: 'refund', tx_hash: txHash }).first('payment_id');
    if (spent)
      throw new RefundConflictError(
        'refund_tx_used',
        refund.paymentId,
        `${txHash} already refunded payment ${spent.payment_id}; one transaction refunds one payment`,
        txHash,
      );
    // The due may have grown since the transaction was verified (the upload failed meanwhile).
    if (refund.paid !== undefined && BigInt(refund.paid) < due) {
      throw new RefundVerificationError(
        'refund_amount_short',
        `${txHash} paid ${refund.paid} base units, less than the ${due} due on payment ${refund.paymentId}`,
      );
    }
    await trx('payments')
      .where({ id: refund.paymentId })
      .update({
        status: 'refunded',
        refund_tx_hash: txHash,
        refund_to: refund.recipient?.toLowerCase() ?? null,
        refunded_at: trx.fn.now(),
        refunded_by: refund.actor,
        refunded_amount: trx.raw('refunded_amount + refund_due'),
        refund_due: 0,
        updated_at: trx.fn.now(),
      });
    try {
      await trx('payment_events').insert({
        payment_id: refund.paymentId,
        actor: refund.actor,
        action: 'refund',
        tx_hash: txHash,
        amount: due.toString(),
        note: refund.note ?? null,
        recipient: refund.recipient?.toLowerCase() ?? null,
        recipient_signature: refund.recipientSignature ?? null,
      });
    } catch (error) {
      // Two rows refunded by one hash at the same moment: the second meets the unique index.
      if ((error as { code?: string; constraint?: string }).constraint === 'payment_events_refund_tx_once') {
        throw new RefundConflictError(
          'refund_tx_used',
          refund.paymentId,
          `${txHash} already refunded another payment; one transaction refunds one payment`,
          txHash,
        );
      }
      throw error;
    }
    return { payment: (await findPayment(trx, refund.paymentId)) as PaymentView, refunded: due.toString(), repeated: false };
  });
}

/** One audited action on a ledger row. */
export interface PaymentEventView {
  actor: string;
  action: 'refund';
  txHash: string | null;
  amount: string | null;
  note: string | null;
  at: string;
}

/** The audited actions on a ledger row, oldest first. */
export async function paymentHistory(db: Knex, paymentId: number): Promise<PaymentEventView[]> {
  const rows: { actor: string; action: 'refund'; tx_hash: string | null; amount: string | null; note: string | null; created_at: Date }[] = await db(
    'payment_events',
  )
    .where({ payment_id: paymentId })
    .orderBy('id', 'asc')
    .select('actor', 'action', 'tx_hash', 'amount', 'note', 'created_at');
  return rows.map((row) => ({
    actor: row.actor,
    action: row.action,
    txHash: row.tx_hash,
    amount: row.amount,
    note: row.note,
    at: row.created_at.toISOString(),
  }));
}

/** What the ledger holds for one deposit address and token: what reconciliation compares with the chain. */
export interface LedgerQuoteTotal {
  quoteId: string;
  uploadId: string;
  owner: string;
  depositAddress: string;
  token: string | null;
  amount: string;
  state: QuoteState;
  /** The address's total (balance + swept) the ledger has credited. */
  creditedTotal: string;
  creditedBlock: string | null;
  /** The sum of the quote's ledger rows, reversed ones aside (equals creditedTotal unless rows were lost or edited). */
  rowsTotal: string;
  createdAt: string;
  expiresAt: string;
  /** The merchant the quote was issued for (migration 009); null on a row not backfilled. */
  merchant: string | null;
  /**
   * A (chain, asset) other than the quote's own (migration 018): another offer (`amount` its own) or
   * one not offered (`amount` 0, everything in it due back), credited on its own total.
   */
  otherAsset?: boolean | undefined;
  /** The CREATE2 salt of its deposit address (migration 020); null: the quote id itself. */
  depositSalt: string | null;
}

/** An unmatched transfer to the merchant address, by its chain identity. */
export interface LedgerUnmatched {
  txHash: string;
  /** null for a native transfer. */
  logIndex: number | null;
  token: string | null;
  amount: string;
  blockNumber: string;
}

/** Every quote address ever issued on the chain with what the ledger credited it, and the unmatched transfers. */
export async function ledgerTotals(db: Knex, chainId: number): Promise<{ quotes: LedgerQuoteTotal[]; unmatched: LedgerUnmatched[] }> {
  const quotes: {
    quote_id: string;
    upload_id: string;
    owner: string;
    deposit_address: string;
    token_address: string | null;
    amount: string;
    state: QuoteState;
    credited_total: string;
    credited_block: string | null;
    rows_total: string;
    created_at: Date;
    expires_at: Date;
    merchant_address: string | null;
    deposit_salt: string | null;
  }[] = await db('payment_quotes as q').where('q.chain_id', chainId).orderBy('q.created_at', 'asc').select(
    'q.quote_id',
    'q.upload_id',
    'q.owner',
    'q.deposit_address',
    'q.token_address',
    'q.amount',
    'q.state',
    'q.credited_total',
    'q.credited_block',
    'q.created_at',
    'q.expires_at',
    'q.merchant_address',
    'q.deposit_salt',
    // Rows in the quote's own (chain, asset): its other offers' rows are totalled on their own.
    db.raw(
      `coalesce((SELECT sum(p.amount) FROM payments p WHERE p.quote_id = q.quote_id AND p.chain_id = q.chain_id AND coalesce(p.token_address, 'native') = coalesce(q.token_address, 'native') AND p.status <> 'reversed'), 0)::text AS rows_total`,
    ),
  );
  const others: (Omit<(typeof quotes)[number], 'credited_total' | 'credited_block' | 'amount'> & {
    amount: string | null;
    credited_total: string;
    credited_block: string | null;
  })[] = await db('payment_quote_assets as a')
    .join('payment_quotes as q', 'q.quote_id', 'a.quote_id')
    .where('a.chain_id', chainId)
    // The quote's own (chain, asset) is the payment_quotes row above.
    .whereRaw(`NOT (q.chain_id = a.chain_id AND coalesce(q.token_address, 'native') = coalesce(a.token_address, 'native'))`)
    .orderBy('q.created_at', 'asc')
    .select(
      'q.quote_id',
      'q.upload_id',
      'q.owner',
      'a.deposit_address',
      'a.token_address',
      'a.amount',
      'q.state',
      'a.credited_total',
      'a.credited_block',
      'q.created_at',
      'q.expires_at',
      'q.merchant_address',
      'q.deposit_salt',
      db.raw(
        `coalesce((SELECT sum(p.amount) FROM payments p WHERE p.quote_id = a.quote_id AND p.chain_id = a.chain_id AND coalesce(p.token_address, 'native') = coalesce(a.token_address, 'native') AND p.status <> 'reversed'), 0)::text AS rows_total`,
      ),
    );
  const unmatched: { tx_hash: string; log_index: number; token_address: string | null; amount: string; block_number: string }[] = await db('payments')
    .where({ chain_id: chainId, credit_status: 'unmatched' })
    // Transfers to the plain merchant address; money at a quote's address in an asset it did not offer has its quote.
    .whereNull('quote_id')
    // A reversed transfer is not on the chain the ledger answers for: found there again, it is missing.
    .whereNot('status', 'reversed')
    .orderBy('id', 'asc')
    .select('tx_hash', 'log_index', 'token_address', 'amount', 'block_number');
  return {
    quotes: [
      ...quotes.map((q) => ({
        quoteId: q.quote_id,
        uploadId: q.upload_id,
        owner: q.owner,
        depositAddress: q.deposit_address,
        token: q.token_address,
        amount: q.amount,
        state: q.state,
        creditedTotal: q.credited_total,
        creditedBlock: q.credited_block,
        rowsTotal: q.rows_total,
        createdAt: q.created_at.toISOString(),
        expiresAt: q.expires_at.toISOString(),
        merchant: q.merchant_address,
        depositSalt: q.deposit_salt,
      })),
      ...others.map((a) => ({
        quoteId: a.quote_id,
        uploadId: a.upload_id,
        owner: a.owner,
        depositAddress: a.deposit_address,
        token: a.token_address,
        amount: a.amount ?? '0',
        state: a.state,
        creditedTotal: a.credited_total,
        creditedBlock: a.credited_block,
        rowsTotal: a.rows_total,
        createdAt: a.created_at.toISOString(),
        expiresAt: a.expires_at.toISOString(),
        merchant: a.merchant_address,
        // The same address as the quote's own: derived from the same salt.
        depositSalt: a.deposit_salt,
        otherAsset: true,
      })),
    ],
    unmatched: unmatched.map((row) => ({
      txHash: row.tx_hash,
      logIndex: row.log_index < 0 ? null : row.log_index,
      token: row.token_address,
      amount: row.amount,
      blockNumber: row.block_number,
    })),
  };
}
