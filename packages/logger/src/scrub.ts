// Text that reaches people outside the operators (a failed upload's reason, a refused payment, an
// API error, /readyz) is built from upstream errors, and those carry what they were called with:
// an RPC URL with the provider's API key in its path, a Redis URL with its password, a bearer
// token. One function reduces such text to what is safe to show.

/** A URL of any scheme, up to the first character that cannot be part of it. */
const URL_PATTERN = /\b([a-z][a-z0-9+.-]*):\/\/[^\s"'<>()[\]{}`,;]+/gi;
/** `name=value` or `name: value` pairs whose name says the value is a secret. */
const SECRET_PAIR =
  /\b((?:api[_-]?key|apikey|access[_-]?key|secret(?:[_-]?key)?|token|auth|password|passwd|pwd|signature|sig|key)\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&,;"']+)/gi;
/** An `Authorization` scheme followed by its credentials. */
const AUTH_SCHEME = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/g;
/** A long run of letters and digits (both), not a 0x hex value: an API key or token written bare. */
const BARE_TOKEN = /(?<![0-9A-Za-z_])(?!0x)(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{32,}(?![0-9A-Za-z_])/g;

/** A URL reduced to its origin: no user, password, path, query or fragment. */
function originOf(raw: string): string {
  try {
    const url = new URL(raw);
    // Opaque schemes (redis:, postgres:) have no origin in WHATWG terms: rebuild it.
    return url.host ? `${url.protocol}//${url.host}` : `${url.protocol}//…`;
  } catch {
    const scheme = raw.slice(0, raw.indexOf('://'));
    return `${scheme}://…`;
  }
}

/**
 * Removes secrets from text shown to users or answered by an endpoint: URLs become their origin
 * (`https://mainnet.example.io/v3/<key>?apikey=…` → `https://mainnet.example.io`), credentials
 * in `key=value` pairs and authorization headers become `[redacted]`, and so do bare tokens (32 or
 * more letters and digits that are not a 0x hex value such as a transaction hash).
 */
export function scrubSecrets(text: string): string {
  return text
    .replace(URL_PATTERN, (match) => originOf(match))
    .replace(SECRET_PAIR, (_match, name: string) => `${name}[redacted]`)
    .replace(AUTH_SCHEME, (_match, scheme: string) => `${scheme} [redacted]`)
    .replace(BARE_TOKEN, '[redacted]');
}

/**
 * The text of an error as it may be shown outside, on one line and scrubbed. A viem error (or any
 * with `shortMessage`) gives its short message, its status and URL lines and its details, but not
 * the request body its long message repeats.
 */
export function publicErrorText(error: unknown): string {
  let raw: string;
  if (error instanceof Error && typeof (error as { shortMessage?: unknown }).shortMessage === 'string') {
    const { shortMessage, metaMessages, details } = error as unknown as { shortMessage: string; metaMessages?: string[]; details?: string };
    const meta = (metaMessages ?? []).map((line) => line.trim()).filter((line) => line && !/^Request body:/i.test(line));
    raw = [shortMessage, ...meta, ...(details && details !== shortMessage ? [`Details: ${details}`] : [])].join(' ');
  } else {
    raw = error instanceof Error ? error.message : String(error);
  }
  return scrubSecrets(raw)
    .replace(/\s*\n\s*/g, ' ')
    .trim();
}
