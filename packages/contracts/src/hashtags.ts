import { LISTING_LIMITS } from './limits.js';

/** At most this many hashtags per listing. */
export const MAX_HASHTAGS = LISTING_LIMITS.hashtags;
const TAG = /^[\p{L}\p{N}_]{1,40}$/u;

/** Raised for a tag that cannot be a hashtag; names the tag so the form can say which. */
export class HashtagError extends Error {
  override readonly name = 'HashtagError';
  constructor(
    readonly tag: string,
    reason: string,
  ) {
    super(`hashtag "${tag}" ${reason}`);
  }
}

/**
 * The one normal form of a hashtag, used everywhere (form, database, search): without `#`,
 * Unicode NFC, lower case, 1-40 letters, digits or underscores.
 */
export function normalizeHashtag(raw: string): string {
  const tag = raw.trim().replace(/^#+/, '').normalize('NFC').toLowerCase();
  if (!TAG.test(tag)) throw new HashtagError(raw, 'must be 1-40 letters, digits or underscores');
  return tag;
}

/** Parses `#cars #berlin, travel` into normalised, de-duplicated tags (at most MAX_HASHTAGS). */
export function parseHashtags(text: string): string[] {
  const tags = [
    ...new Set(
      text
        .split(/[\s,]+/)
        .filter((part) => part !== '' && part !== '#')
        .map(normalizeHashtag),
    ),
  ];
  if (tags.length > MAX_HASHTAGS) throw new HashtagError(tags[MAX_HASHTAGS] ?? '', `is one too many: at most ${MAX_HASHTAGS} hashtags`);
  return tags;
}
