import { type OwnListing, requestJson } from '../api.js';
import { h } from '../dom.js';
import { currentSession } from '../session.js';

/**
 * What the owner of a listing that is not public is told on its page, instead of "not published":
 * waiting for moderation, or not approved with the moderator's reason and what to do next.
 * Undefined for anyone else (or when the listing is not theirs).
 */
export async function ownListingState(listingId: string): Promise<HTMLElement | undefined> {
  const session = currentSession();
  if (!session) return undefined;
  const { items } = await requestJson<{ items: OwnListing[] }>('/v1/me/listings', { token: session.token }).catch(() => ({ items: [] as OwnListing[] }));
  const own = items.find((item) => item.id === listingId);
  if (!own) return undefined;
  const next = h('a', { href: '#/mine' }, 'My listings');
  if (own.state === 'pending')
    return h(
      'p',
      { class: 'notice', role: 'status', id: 'own-state' },
      `“${own.title}” is waiting for moderation: a moderator reviews it before it is public, and you are told when it is. Meanwhile you can edit it from `,
      next,
      '.',
    );
  if (own.state === 'rejected')
    return h(
      'p',
      { class: 'message', role: 'alert', id: 'own-state' },
      `A moderator did not approve “${own.title}”${own.rejectionReason ? `: ${own.rejectionReason}` : ''}. Edit it from `,
      next,
      ' and it is reviewed again.',
    );
  return h('p', { class: 'notice', role: 'status', id: 'own-state' }, `“${own.title}” is not public (${own.state}). See `, next, '.');
}
