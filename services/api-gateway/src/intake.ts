import { mkdir, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import { fileTypeFromBuffer } from 'file-type';

/** How much of a video is read to tell its container. */
const SNIFF_BYTES = 64 * 1024;
import multer from 'multer';
import sharp from 'sharp';
import { HashtagError, listingFormSchema, parseHashtags, priceSchema, STAGED_FILES, type ListingForm, type Price } from '@reelboard/contracts';
import { z } from '@reelboard/config';
import { listingFormFields } from '@reelboard/api';
import { HttpError } from './http-error.js';

export interface IntakeLimits {
  maxVideoBytes: number;
  maxLogoBytes: number;
  maxLogoSide: number;
  logoSize: number;
}

/** Containers a video may arrive in; anything else is refused before it costs a transcode. */
const VIDEO_EXTENSIONS = new Set(['mp4', 'm4v', 'mov', 'webm', 'mkv', 'avi', '3gp', '3g2', 'mts', 'mpg', 'ogv', 'flv', 'mxf', 'wmv', 'asf']);
const LOGO_FORMATS = new Set(['png', 'jpeg', 'webp']);

// Text that would corrupt logs or terminals: C0 controls except tab/newline, and DEL.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** An asking price from its two fields: both or neither; the amount a decimal with at most 2 places, the currency ISO 4217. */
function parsePrice(amount: string | undefined, currency: string | undefined, fields: Record<string, string>): Price | undefined {
  if (amount === undefined && currency === undefined) return undefined;
  if (amount === undefined || currency === undefined) {
    fields[amount === undefined ? 'priceAmount' : 'priceCurrency'] = 'a price needs both an amount and a currency';
    return undefined;
  }
  const parsed = priceSchema.safeParse({ amount, currency: currency.toUpperCase() });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) fields[issue.path[0] === 'amount' ? 'priceAmount' : 'priceCurrency'] ??= issue.message;
    return undefined;
  }
  // One written form, as Postgres stores it (`120` and `120.0` are `120.00`), so a diff never shows a change that is none.
  const [whole = '0', fraction = ''] = parsed.data.amount.split('.');
  return { amount: `${BigInt(whole).toString()}.${fraction.padEnd(2, '0')}`, currency: parsed.data.currency };
}


/** Validates the form's text fields; every bad field is named in the 400. */
export function parseListingForm(body: unknown): ListingForm {
  const fields: Record<string, string> = {};
  const raw = (body ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(raw)) {
    if (Array.isArray(value)) fields[key] = `${key} was sent more than once`;
    else if (typeof value === 'string' && CONTROL.test(value)) fields[key] = `${key} contains control characters`;
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
  const price = parsed.success ? parsePrice(parsed.data.priceAmount, parsed.data.priceCurrency, fields) : undefined;
  if (!parsed.success || Object.keys(fields).length > 0) {
    throw new HttpError(400, 'invalid_form', `invalid fields: ${Object.keys(fields).join(', ')}`, { fields });
  }
  const { title, description, latitude, longitude, displayName, contact } = parsed.data;
  return listingFormSchema.parse({ title, description, hashtags, latitude, longitude, displayName, contact, ...(price ? { price } : {}) });
}

/** What an edit may change (JSON): the form's fields, each optional; null clears the price or the contact. */
export interface ListingEdit {
  title?: string;
  description?: string;
  hashtags?: string[];
  location?: { latitude: number; longitude: number };
  price?: Price | null;
  contact?: string | null;
}

const EDITABLE = ['title', 'description', 'hashtags', 'latitude', 'longitude', 'price', 'contact'] as const;

/**
 * Validates an edit like the form: the same limits and messages, every bad field named in one 400.
 * The video cannot be swapped (a new paid listing), nor the display name (a profile edit).
 */
export function parseListingEdit(body: unknown): ListingEdit {
  const raw = (body ?? {}) as Record<string, unknown>;
  const fields: Record<string, string> = {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'invalid_form', 'send the changes as a JSON object', { fields: { form: 'expected a JSON object' } });
  for (const key of Object.keys(raw)) {
    if (!(EDITABLE as readonly string[]).includes(key)) fields[key] = key === 'video' ? 'the video cannot be changed: upload a new listing' : `${key} cannot be edited (editable: ${EDITABLE.join(', ')})`;
    else if (typeof raw[key] === 'string' && CONTROL.test(raw[key] as string)) fields[key] = `${key} contains control characters`;
  }
  const edit: ListingEdit = {};
  const text = (key: 'title' | 'description', schema: z.ZodType<string>) => {
    if (raw[key] === undefined) return;
    const parsed = schema.safeParse(raw[key]);
    if (parsed.success) edit[key] = parsed.data;
    else fields[key] ??= parsed.error.issues[0]?.message ?? `${key} is not valid`;
  };
  text('title', listingFormFields.shape.title);
  text('description', z.string({ error: 'description must be text' }).trim().max(5000, { error: 'description must be at most 5000 characters' }));
  if (raw.hashtags !== undefined) {
    const value = Array.isArray(raw.hashtags) ? raw.hashtags.join(' ') : raw.hashtags;
    if (typeof value !== 'string') fields.hashtags = 'hashtags must be text ("#cars #berlin") or a list';
    else {
      try {
        edit.hashtags = parseHashtags(value);
      } catch (error) {
        if (!(error instanceof HashtagError)) throw error;
        fields.hashtags = error.message;
      }
    }
  }
  if (raw.latitude !== undefined || raw.longitude !== undefined) {
    const coordinate = (key: 'latitude' | 'longitude') => {
      const parsed = listingFormFields.shape[key].safeParse(typeof raw[key] === 'number' ? String(raw[key]) : raw[key]);
      if (!parsed.success) fields[key] ??= parsed.error.issues[0]?.message ?? `${key} is not valid`;
      return parsed.success ? parsed.data : undefined;
    };
    const latitude = coordinate('latitude');
    const longitude = coordinate('longitude');
    if (latitude !== undefined && longitude !== undefined) edit.location = { latitude, longitude };
  }
  if (raw.price !== undefined) {
    if (raw.price === null) edit.price = null;
    else if (typeof raw.price !== 'object') fields.price = 'price must be {amount, currency} or null';
    else {
      const { amount, currency } = raw.price as { amount?: unknown; currency?: unknown };
      const price = parsePrice(typeof amount === 'number' ? String(amount) : (amount as string | undefined), typeof currency === 'string' ? currency : undefined, fields);
      if (price) edit.price = price;
      if (fields.priceAmount || fields.priceCurrency) fields.price = [fields.priceAmount, fields.priceCurrency].filter(Boolean).join('; ');
      delete fields.priceAmount;
      delete fields.priceCurrency;
    }
  }
  if (raw.contact !== undefined) {
    if (raw.contact === null || raw.contact === '') edit.contact = null;
    else if (typeof raw.contact !== 'string') fields.contact = 'contact must be text or null';
    else if (raw.contact.trim().length > 200) fields.contact = 'contact must be at most 200 characters';
    else edit.contact = raw.contact.trim();
  }
  if (Object.keys(fields).length === 0 && Object.keys(edit).length === 0) fields.form = `nothing to change: send at least one of ${EDITABLE.join(', ')}`;
  if (Object.keys(fields).length > 0) throw new HttpError(400, 'invalid_form', `invalid fields: ${Object.keys(fields).join(', ')}`, { fields });
  return edit;
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
