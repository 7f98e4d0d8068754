import { randomBytes, randomUUID } from 'node:crypto';
import type { CreditTransfer, PaymentCredited } from '@reelboard/contracts';
import type { QuoteRecord, SaveListingInput } from '@reelboard/db';

/** A random wallet address in the checksummed-looking mixed case a client might send. */
export function randomWallet(): string {
  const hex = randomBytes(20).toString('hex');
  return `0x${hex.slice(0, 20).toUpperCase()}${hex.slice(20)}`;
}

/** A complete save input for one upload, as profile-writer builds it from `assets.stored`. */
export function listingInput(
  overrides: {
    wallet?: string;
    tags?: string[];
    latitude?: number;
    longitude?: number;
    title?: string;
    displayName?: string;
    id?: string;
    description?: string;
    price?: { amount: string; currency: string };
    language?: string;
  } = {},
): SaveListingInput {
  const id = overrides.id ?? randomUUID();
  return {
    listingId: id,
    owner: { walletAddress: overrides.wallet ?? randomWallet(), displayName: overrides.displayName ?? 'Anna', contact: 'anna@example.com' },
    listing: {
      title: overrides.title ?? 'A bike',
      description: overrides.description ?? 'red, 3 gears',
      videoKey: `listings/${id}/video.webm`,
      previewKey: `listings/${id}/preview.webm`,
      posterKey: `listings/${id}/poster.webp`,
      logoKey: `listings/${id}/logo.webp`,
      durationSeconds: 4.2,
      width: 1280,
      height: 720,
      videoBytes: 123_456,
      sourceBytes: 654_321,
      latitude: overrides.latitude ?? 52.52,
      longitude: overrides.longitude ?? 13.405,
      ...(overrides.price ? { price: overrides.price } : {}),
      ...(overrides.language ? { language: overrides.language } : {}),
    },
    hashtags: overrides.tags ?? [],
  };
}

const hex = (bytes: number) => `0x${randomBytes(bytes).toString('hex')}` as `0x${string}`;
export const randomAddress = () => hex(20);
export const randomTxHash = () => hex(32);

type Deposit = Extract<PaymentCredited, { kind: 'deposit' }>;

/** A quote as the gateway records it: its own deposit address, native coin, 0.01 ETH by default. */
export function quoteInput(overrides: Partial<QuoteRecord> = {}): QuoteRecord {
  const id = overrides.quoteId ?? randomUUID();
  const now = Date.now();
  return {
    quoteId: id,
    uploadId: id,
    owner: randomAddress(),
    chainId: 31337,
    depositAddress: randomAddress(),
    token: null,
    amount: '10000000000000000',
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 3_600_000).toISOString(),
    ...overrides,
  };
}

/** A deposit observation for a quote, as the payment watcher publishes it. */
export function depositCredit(quote: QuoteRecord, fields: Partial<Omit<Deposit, 'kind'>> & Pick<Deposit, 'totalReceived' | 'status'>): Deposit {
  return {
    kind: 'deposit',
    uploadId: quote.uploadId,
    owner: quote.owner.toLowerCase() as `0x${string}`,
    chainId: quote.chainId,
    address: quote.depositAddress.toLowerCase() as `0x${string}`,
    token: (quote.token?.toLowerCase() ?? null) as `0x${string}` | null,
    quoteAmount: quote.amount,
    fromBlock: '10',
    toBlock: '10',
    blockTime: new Date().toISOString(),
    transfers: [],
    ...fields,
  };
}

/** One transfer the chain shows. */
export function transfer(amount: string, logIndex: number | null = null): CreditTransfer {
  return { txHash: randomTxHash(), logIndex, from: randomAddress(), amount };
}
