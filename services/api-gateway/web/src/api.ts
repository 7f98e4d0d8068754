/** A refusal from the gateway: its stable code, its message and, for forms, a message per field. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The payment the gateway asks for one listing. */
export interface PaymentQuote {
  chainId: number;
  to: `0x${string}`;
  /** Wei, as a decimal string. */
  amount: string;
  /** The ERC-20 token contract, or null for the chain's native coin. */
  token: string | null;
  expiresAt: string;
}

/** The gateway's answer to an accepted listing form. */
export interface AcceptedUpload {
  uploadId: string;
  payment: PaymentQuote;
}

/** One approved listing, as the read API (`GET /v1/listings`, `/v1/listings/:id`) answers it. */
export interface Listing {
  id: string;
  title: string;
  description: string;
  hashtags: string[];
  owner: { wallet: string; displayName: string | null };
  location: { latitude: number; longitude: number };
  /** Present when searched near a point. */
  distanceKm?: number;
  video: { url: string; width: number; height: number; durationSeconds: number; bytes: number };
  previewUrl: string;
  posterUrl: string;
  logoUrl: string | null;
  /** The asking price, if any. */
  price: Price | null;
  /** How to reach the seller. */
  contact: string | null;
  /** `sold` while a sold listing is still shown. */
  state: 'active' | 'sold';
  soldAt: string | null;
  expiresAt: string | null;
  createdAt: string;
}

/** An asking price: decimal amount and ISO 4217 currency. */
export interface Price {
  amount: string;
  currency: string;
}

/** Where one of your listings stands. */
export type ListingState = 'pending' | 'approved' | 'rejected' | 'sold' | 'withdrawn' | 'expired' | 'removed';

/** One of your listings (`GET /v1/me/listings`). */
export interface OwnListing {
  id: string;
  title: string;
  state: ListingState;
  rejectionReason: string | null;
  removalReason: string | null;
  price: Price | null;
  contact: string | null;
  hashtags: string[];
  createdAt: string;
  expiresAt: string | null;
  soldAt: string | null;
  pendingRevision: { id: string; createdAt: string; changes: Record<string, unknown> } | null;
  payments: { quoteId: string; purpose: 'upload' | 'renewal'; amount: string; state: string }[];
  posterUrl: string | null;
}

/** A renewal's quote (`POST /v1/listings/:id/renew`): pay it like an upload's. */
export interface RenewalQuote {
  renewalId: string;
  listingId: string;
  days: number;
  currentExpiresAt: string | null;
  payment: PaymentQuote;
  links: { status: string; events: string; payment: string };
}

/** The loop and poster of one of your uploads, stored before the rest (`GET /v1/uploads/:id/preview`). */
export interface UploadPreview {
  uploadId: string;
  previewUrl: string;
  posterUrl: string;
}

/** A page of listings; `nextCursor` fetches the next one. */
export interface ListingPage {
  items: Listing[];
  nextCursor: string | null;
}

/** One hashtag suggestion with the number of approved listings that carry it. */
export interface HashtagSuggestion {
  tag: string;
  listings: number;
}

/** Turns a non-2xx answer into an ApiError, whatever its body. */
export async function errorFrom(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string; fields?: Record<string, string> };
  return new ApiError(res.status, body.error ?? `http_${res.status}`, body.message ?? res.statusText, body.fields ?? {});
}

/** JSON request to the gateway, with the session token when there is one. */
export async function requestJson<T>(path: string, { method = 'GET', body, token }: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!res.ok) throw await errorFrom(res);
  return (res.status === 204 ? undefined : await res.json()) as T;
}
