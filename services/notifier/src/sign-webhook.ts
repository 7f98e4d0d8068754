import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header every webhook delivery is signed in: `t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=...]`. */
export const SIGNATURE_HEADER = 'Reelboard-Signature';

/** HMAC-SHA256 of `<timestamp>.<body>` with one secret, hex. */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/**
 * The signature header for a body: one `v1` per secret (two while a rotated secret's old value is
 * still valid, so receivers can switch at their own pace).
 */
export function signatureHeader(secrets: string[], body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return [`t=${timestamp}`, ...secrets.map((secret) => `v1=${signatureOf(secret, timestamp, body)}`)].join(',');
}

export type SignatureCheck = { ok: true; timestamp: number } | { ok: false; reason: 'malformed' | 'too_old' | 'no_match' };

/**
 * What a receiver does (and the reference for integrators): parse the header, refuse a timestamp
 * outside the tolerance (a replayed request), and accept if any `v1` matches, in constant time.
 */
export function verifySignature(secret: string, header: string, body: string, toleranceSeconds = 300, now = Math.floor(Date.now() / 1000)): SignatureCheck {
  const parts = header.split(',').map((part) => part.split('=', 2) as [string, string?]);
  const timestamp = Number(parts.find(([key]) => key === 't')?.[1]);
  const candidates = parts.filter(([key, value]) => key === 'v1' && value && /^[0-9a-f]{64}$/.test(value)).map(([, value]) => Buffer.from(value ?? '', 'hex'));
  if (!Number.isInteger(timestamp) || candidates.length === 0) return { ok: false, reason: 'malformed' };
  if (Math.abs(now - timestamp) > toleranceSeconds) return { ok: false, reason: 'too_old' };
  const expected = Buffer.from(signatureOf(secret, timestamp, body), 'hex');
  return candidates.some((candidate) => timingSafeEqual(candidate, expected)) ? { ok: true, timestamp } : { ok: false, reason: 'no_match' };
}
