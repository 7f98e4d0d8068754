import type { Listing } from '@reelboard/api';

/** Text for an HTML attribute or element: the five characters that could end it or start markup, escaped. */
export const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char);

/**
 * JSON for a `<script type="application/ld+json">` block: `<`, `>` and `&` as JSON escapes, so a title
 * holding `</script>` or `<!--` cannot end the block, and U+2028/U+2029 escaped for old parsers.
 */
export const jsonForScript = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

/** At most `max` characters on one line, cut at a word with an ellipsis: messengers show about 200. */
export function summary(text: string, max = 200): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  if (oneLine.length <= max) return oneLine;
  const cut = oneLine.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max / 2 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** ISO 8601 duration (`PT1M5S`), as schema.org's VideoObject wants it. */
const isoDuration = (seconds: number) => {
  const whole = Math.max(0, Math.round(seconds));
  const minutes = Math.floor(whole / 60);
  return `PT${minutes > 0 ? `${minutes}M` : ''}${whole % 60}S`;
};

/** The schema.org description of a listing: a Product with its Offer when it has a price, else the VideoObject alone. */
export function listingJsonLd(listing: Listing, url: string): Record<string, unknown> {
  const description = summary(listing.description || listing.title, 500);
  const video = {
    '@type': 'VideoObject',
    name: listing.title,
    description,
    thumbnailUrl: listing.posterUrl,
    contentUrl: listing.video.url,
    uploadDate: listing.createdAt,
    duration: isoDuration(listing.video.durationSeconds),
    width: listing.video.width,
    height: listing.video.height,
  };
  if (!listing.price) return { '@context': 'https://schema.org', ...video, url };
  return {
    '@context': 'https://schema.org',
    '@type': 'Product',
    name: listing.title,
    description,
    url,
    image: listing.posterUrl,
    ...(listing.hashtags.length > 0 ? { keywords: listing.hashtags.join(', ') } : {}),
    subjectOf: video,
    offers: {
      '@type': 'Offer',
      url,
      price: listing.price.amount,
      priceCurrency: listing.price.currency,
      availability: listing.state === 'sold' ? 'https://schema.org/SoldOut' : 'https://schema.org/InStock',
      ...(listing.expiresAt ? { priceValidUntil: listing.expiresAt.slice(0, 10) } : {}),
      seller: { '@type': 'Person', name: listing.owner.displayName ?? listing.owner.wallet },
    },
  };
}

/**
 * The `<head>` lines that give a listing's link a preview in messengers and search engines: Open Graph
 * (title, description, poster, video), a Twitter card and JSON-LD, every value escaped. Only for a
 * listing the public may see: the caller never passes another.
 */
export function listingHead(listing: Listing, url: string): { title: string; head: string } {
  const description = summary(listing.description || `${listing.title} on Reelboard`);
  const title = listing.price ? `${listing.title} · ${listing.price.amount} ${listing.price.currency}` : listing.title;
  const meta = (key: 'property' | 'name', name: string, content: string | number) => `<meta ${key}="${name}" content="${escapeHtml(String(content))}" />`;
  const lines = [
    `<link rel="canonical" href="${escapeHtml(url)}" />`,
    meta('name', 'description', description),
    meta('property', 'og:type', 'video.other'),
    meta('property', 'og:site_name', 'Reelboard'),
    meta('property', 'og:url', url),
    meta('property', 'og:title', title),
    meta('property', 'og:description', description),
    meta('property', 'og:image', listing.posterUrl),
    meta('property', 'og:image:alt', `Poster of the video: ${listing.title}`),
    meta('property', 'og:video', listing.video.url),
    meta('property', 'og:video:type', 'video/webm'),
    meta('property', 'og:video:width', listing.video.width),
    meta('property', 'og:video:height', listing.video.height),
    meta('name', 'twitter:card', 'summary_large_image'),
    meta('name', 'twitter:title', title),
    meta('name', 'twitter:description', description),
    meta('name', 'twitter:image', listing.posterUrl),
    meta('name', 'twitter:image:alt', `Poster of the video: ${listing.title}`),
    `<script type="application/ld+json">${jsonForScript(listingJsonLd(listing, url))}</script>`,
  ];
  return { title: `${title} · Reelboard`, head: lines.map((line) => `    ${line}`).join('\n') };
}

/**
 * The listing itself, written into the page so the client does not ask for it again
 * (packages/web/src/views/listing.ts reads it once). Nothing else is asked for ahead: on a phone link
 * every byte before the first frame delays it, and the adaptive player's script and manifest are
 * fetched after that frame (packages/web/src/fast-start.ts).
 */
export function listingPreloads(listing: Listing): string {
  return `    <script type="application/json" id="listing-data">${jsonForScript(listing)}</script>`;
}

/**
 * The start element of a listing with a ladder: a `<video>` playing the lowest rung's file, muted
 * (which lets it start by itself) and inline, in the page as the server writes it, so the first
 * frame needs no script. The client adopts it (packages/web/src/fast-start.ts, startElement has the
 * same attributes) and hands off to the adaptive player. Empty for a listing without a ladder.
 */
export function listingStartPlayer(listing: Listing): string {
  const { startUrl, manifestUrl, width, height } = listing.video;
  if (!startUrl || !manifestUrl) return '';
  const attributes = [
    'id="player"',
    `src="${escapeHtml(startUrl)}"`,
    `poster="${escapeHtml(listing.posterUrl)}"`,
    'muted autoplay playsinline controls preload="auto"',
    `width="${width}" height="${height}"`,
    'data-playback="start"',
    `data-listing-id="${escapeHtml(listing.id)}"`,
    `aria-label="${escapeHtml(`Video: ${listing.title}`)}"`,
  ];
  return `<div class="player"><video ${attributes.join(' ')}></video><div class="player-slot"></div></div>`;
}

/** The page with `markup` inside its view (`<main id="view">`), where the client's router draws. */
export function withInView(html: string, markup: string): string {
  if (!markup) return html;
  return html.replace(/(<main id="view"[^>]*>)/, (open: string) => `${open}${markup}`);
}

/** The page with a listing's title and head lines in place of the generic ones. */
export function withHead(html: string, { title, head }: { title: string; head: string }): string {
  return html.replace(/<title>[^<]*<\/title>/, () => `<title>${escapeHtml(title)}</title>`).replace('</head>', () => `${head}\n  </head>`);
}
