import { LinkifyIt } from 'linkify-it';
import { h } from './dom.js';

/** A piece of a contact line: text, or a link a browser opens with the right application. */
export type ContactPart = { text: string } | { text: string; href: string };

// Only these schemes become links: `mailto:`, `tel:` and `https:`. A plain-http address, a bare domain
// and anything else (`javascript:`, `data:`) stay text, so a contact line can never run script or send a
// reader to an unencrypted page in one click.
const linkify = new LinkifyIt({ fuzzyLink: false, fuzzyEmail: true, fuzzyIP: false });

/** A phone number as people write it: `+49 30 1234567`, `(030) 123-4567`; 7 to 15 digits. */
const PHONE = /(?<![\w+])\+?\(?\d[\d\s().-]{5,20}\d(?![\w])/g;

function phones(text: string): ContactPart[] {
  const parts: ContactPart[] = [];
  let last = 0;
  for (const match of text.matchAll(PHONE)) {
    const digits = match[0].replace(/\D/g, '');
    if (digits.length < 7 || digits.length > 15) continue;
    const index = match.index ?? 0;
    if (index > last) parts.push({ text: text.slice(last, index) });
    parts.push({ text: match[0], href: `tel:${match[0].startsWith('+') ? '+' : ''}${digits}` });
    last = index + match[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

/** Splits a contact line into text and links (e-mail addresses, https addresses, phone numbers). */
export function contactParts(contact: string): ContactPart[] {
  const parts: ContactPart[] = [];
  let last = 0;
  for (const match of linkify.match(contact) ?? []) {
    const link =
      match.schema === 'mailto:' || (match.schema === '' && match.url.startsWith('mailto:')) ? match.url : match.schema === 'https:' ? match.url : undefined;
    if (!link) continue;
    if (match.index > last) parts.push(...phones(contact.slice(last, match.index)));
    parts.push({ text: match.raw, href: link });
    last = match.lastIndex;
  }
  if (last < contact.length) parts.push(...phones(contact.slice(last)));
  return parts;
}

/** A contact line as text with `mailto:`, `tel:` and `https:` links. */
export function contactLine(contact: string): HTMLElement {
  return h(
    'span',
    { class: 'contact-links' },
    ...contactParts(contact).map((part) => ('href' in part ? h('a', { href: part.href, rel: 'nofollow noopener' }, part.text) : part.text)),
  );
}
