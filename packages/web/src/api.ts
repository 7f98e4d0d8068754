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

// The API's shapes come from the API's route table (type-only: nothing of it is bundled).
export type {
  AcceptedUpload,
  HashtagSuggestion,
  Listing,
  ListingPage,
  OwnListing,
  PaymentRequest as PaymentQuote,
  Price,
  Pricing,
  RenewalQuote,
  SavedSearch,
  UnpaidUpload,
  UploadPreview,
  UserProfile,
} from '@reelboard/api';

/** Turns a non-2xx answer into an ApiError, whatever its body. */
export async function errorFrom(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => ({}))) as { error?: string; message?: string; fields?: Record<string, string> };
  return new ApiError(res.status, body.error ?? `http_${res.status}`, body.message ?? res.statusText, body.fields ?? {});
}

/** JSON request to the gateway, with the session token when there is one. */
export async function requestJson<T>(
  path: string,
  { method = 'GET', body, token, cache }: { method?: string; body?: unknown; token?: string; cache?: RequestCache } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), ...(cache ? { cache } : {}) });
  if (!res.ok) throw await errorFrom(res);
  return (res.status === 204 ? undefined : await res.json()) as T;
}
