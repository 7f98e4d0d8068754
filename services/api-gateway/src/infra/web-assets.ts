import { createHash } from 'node:crypto';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Request, Response } from 'express';

/** A file of the web client, compressed once when the bundle is built, never per request. */
export interface EncodedAsset {
  type: string;
  identity: Buffer;
  gzip: Buffer;
  br: Buffer;
  /** Of the uncompressed bytes: names the hashed URL (`app.<hash>.js`) and the ETags. */
  hash: string;
}

/** Compresses `body` with Brotli (highest quality: it runs once per build) and gzip, and hashes it. */
export function encodeAsset(type: string, body: string): EncodedAsset {
  const identity = Buffer.from(body);
  return {
    type,
    identity,
    gzip: gzipSync(identity, { level: 9 }),
    br: brotliCompressSync(identity, {
      params: { [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: identity.length },
    }),
    hash: createHash('sha256').update(identity).digest('hex').slice(0, 16),
  };
}

/** For a content-hashed URL: the bytes under it never change, so browsers and proxies keep them a year without asking. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** For the page and unhashed URLs: asked again each time (the ETag makes that a 304), so a redeploy shows at once. */
export const REVALIDATE = 'no-cache';

/**
 * Sends br when the request accepts it, else gzip, else the bytes as they are, with
 * `Vary: Accept-Encoding` so a shared cache keeps one copy per encoding, and a strong ETag per
 * encoding, so `If-None-Match` answers 304 (express checks freshness on send).
 */
export function sendAsset(req: Request, res: Response, asset: EncodedAsset, cacheControl: string): void {
  // The server's preference among what the request accepts (browsers list gzip first, though they take br).
  const encoding = (['br', 'gzip'] as const).find((candidate) => req.acceptsEncodings(candidate) === candidate) ?? 'identity';
  const body = encoding === 'br' ? asset.br : encoding === 'gzip' ? asset.gzip : asset.identity;
  res.vary('Accept-Encoding');
  res.type(asset.type).set({ 'cache-control': cacheControl, etag: `"${asset.hash}${encoding === 'identity' ? '' : `-${encoding}`}"` });
  if (encoding !== 'identity') res.set('content-encoding', encoding);
  res.send(body);
}
