import { mkdir, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import { fileTypeFromBuffer } from 'file-type';

/** How much of a video is read to tell its container. */
const SNIFF_BYTES = 64 * 1024;

import multer from 'multer';
import sharp from 'sharp';
import { CONTROL_CHARACTERS, listingFormFields, parsePrice } from '@reelboard/api';
import { HashtagError, type ListingForm, listingFormSchema, parseHashtags, STAGED_FILES } from '@reelboard/contracts';
import type { GatewayConfig } from '../config.js';
import { HttpError } from './http-error.js';

export interface IntakeLimits {
  maxVideoBytes: number;
  maxLogoBytes: number;
  maxLogoSide: number;
  logoSize: number;
}

/** The intake limits of a gateway's configuration. */
export const intakeLimits = (config: Pick<GatewayConfig, 'MAX_VIDEO_BYTES' | 'MAX_LOGO_BYTES' | 'MAX_LOGO_SIDE' | 'LOGO_SIZE'>): IntakeLimits => ({
  maxVideoBytes: config.MAX_VIDEO_BYTES,
  maxLogoBytes: config.MAX_LOGO_BYTES,
  maxLogoSide: config.MAX_LOGO_SIDE,
  logoSize: config.LOGO_SIZE,
});

/** Containers a video may arrive in; anything else is refused before it costs a transcode. */
const VIDEO_EXTENSIONS = new Set(['mp4', 'm4v', 'mov', 'webm', 'mkv', 'avi', '3gp', '3g2', 'mts', 'mpg', 'ogv', 'flv', 'mxf', 'wmv', 'asf']);
const LOGO_FORMATS = new Set(['png', 'jpeg', 'webp']);

/** Validates the form's text fields; every bad field is named in the 400. */
export function parseListingForm(body: unknown): ListingForm {
  const fields: Record<string, string> = {};
  const raw = (body ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(raw)) {
    if (Array.isArray(value)) fields[key] = `${key} was sent more than once`;
    else if (typeof value === 'string' && CONTROL_CHARACTERS.test(value)) fields[key] = `${key} contains control characters`;
    // The multipart parser turns bytes that are not UTF-8 into U+FFFD; refuse rather than store mangled text.
    else if (typeof value === 'string' && value.includes('\uFFFD')) fields[key] = `${key} is not valid UTF-8`;
  }
  const parsed = listingFormFields.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? 'form');
      fields[key] ??= issue.message;
    }
  }
  let hashtags: string[] = [];
  if (parsed.success) {
    try {
      hashtags = parseHashtags(parsed.data.hashtags);
    } catch (error) {
      if (!(error instanceof HashtagError)) throw error;
      fields.hashtags = error.message;
    }
  }
  const priced = parsed.success ? parsePrice(parsed.data.priceAmount, parsed.data.priceCurrency) : undefined;
  const price = priced && 'price' in priced ? priced.price : undefined;
  if (priced && 'errors' in priced) {
    if (priced.errors.amount) fields.priceAmount ??= priced.errors.amount;
    if (priced.errors.currency) fields.priceCurrency ??= priced.errors.currency;
  }
  if (!parsed.success || Object.keys(fields).length > 0) {
    throw new HttpError(400, 'invalid_form', `invalid fields: ${Object.keys(fields).join(', ')}`, { fields });
  }
  const { title, description, latitude, longitude, displayName, contact, language } = parsed.data;
  return listingFormSchema.parse({ title, description, hashtags, latitude, longitude, displayName, contact, language, ...(price ? { price } : {}) });
}

/**
 * Streams the multipart form to the upload's own staging directory (never whole files in
 * memory), with limits on sizes and counts.
 */
export function receiveMultipart(
  req: Request,
  res: Response,
  dir: string,
  limits: IntakeLimits,
  { video = true, logoOnly = false }: { video?: boolean; logoOnly?: boolean } = {},
): Promise<void> {
  const storage = multer.diskStorage({
    destination: (_req, _file, done) => done(null, dir),
    // Staged names come from the one staging layout: client filenames never become paths.
    filename: (_req, file, done) => done(null, file.fieldname === 'video' ? STAGED_FILES.source : STAGED_FILES.logoOriginal),
  });
  const parse = multer({
    storage,
    // A logo-only form (a listing's new logo) takes one file of at most the logo limit and no fields.
    limits: logoOnly
      ? { fileSize: limits.maxLogoBytes, files: 1, fields: 0, parts: 1, fieldNameSize: 64 }
      : { fileSize: video ? limits.maxVideoBytes : limits.maxLogoBytes, files: 2, fields: 12, fieldSize: 16 * 1024, parts: 14, fieldNameSize: 64 },
    // A form naming a resumable upload carries no video: a video part would overwrite its source.
  }).fields([...(video && !logoOnly ? [{ name: 'video', maxCount: 1 }] : []), { name: 'logo', maxCount: 1 }]);
  return new Promise((resolve, reject) => parse(req, res, (error?: unknown) => (error ? reject(asClientError(error)) : resolve())));
}

/**
 * The multipart parser (busboy) reports a broken body (no boundary, cut off, malformed part
 * headers, NUL in a filename) as a plain Error: the client's fault, so a 400 naming it. Disk
 * errors (they carry a syscall) and multer's own limit errors pass through unchanged.
 */
function asClientError(error: unknown): unknown {
  if (error instanceof multer.MulterError || error instanceof HttpError || !(error instanceof Error) || 'syscall' in error) return error;
  return new HttpError(400, 'bad_multipart', `the multipart body is malformed: ${error.message}`);
}

/** Refuses a "video" whose first bytes are not a known video container (the deep check is the transcoder's). */
export async function checkVideoContainer(path: string): Promise<void> {
  // The first bytes only: parsing a whole file's boxes can take minutes on a crafted or padded one.
  const handle = await open(path, 'r');
  let head: Buffer;
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const type = await fileTypeFromBuffer(head);
  if (!type || !(VIDEO_EXTENSIONS.has(type.ext) || type.mime.startsWith('video/'))) {
    throw new HttpError(415, 'unsupported_video', `video is not a known video container (${type ? type.mime : 'unrecognised content'})`);
  }
}

/**
 * Checks the logo by content (PNG, JPEG or WebP; SVG and anything else refused), then writes a
 * square WebP without metadata.
 */
export async function normaliseLogo(input: string, output: string, limits: IntakeLimits): Promise<void> {
  const { size } = await stat(input);
  if (size > limits.maxLogoBytes) throw new HttpError(413, 'logo_too_large', `logo is ${size} bytes; the limit is ${limits.maxLogoBytes}`);
  let format: string | undefined;
  let width = 0;
  let height = 0;
  try {
    ({ format, width = 0, height = 0 } = await sharp(input, { limitInputPixels: false }).metadata());
  } catch {
    throw new HttpError(415, 'unsupported_logo', 'logo is not a PNG, JPEG or WebP image');
  }
  if (!format || !LOGO_FORMATS.has(format)) throw new HttpError(415, 'unsupported_logo', `logo is ${format ?? 'unknown'}; PNG, JPEG or WebP only`);
  if (width > limits.maxLogoSide || height > limits.maxLogoSide) {
    throw new HttpError(413, 'logo_too_large', `logo is ${width}x${height}; at most ${limits.maxLogoSide}x${limits.maxLogoSide}`);
  }
  try {
    await sharp(input, { limitInputPixels: limits.maxLogoSide ** 2 })
      .rotate()
      .resize(limits.logoSize, limits.logoSize, { fit: 'cover' })
      .webp({ quality: 85 })
      .toFile(output);
  } catch {
    throw new HttpError(415, 'unsupported_logo', 'logo could not be decoded');
  }
}

/** Creates an upload's staging directory; `discard` removes it and everything in it. */
export async function allocateStaging(stagingDir: string, uploadId: string) {
  const dir = join(stagingDir, uploadId);
  await mkdir(dir, { recursive: true });
  return { dir, discard: () => rm(dir, { recursive: true, force: true }) };
}
