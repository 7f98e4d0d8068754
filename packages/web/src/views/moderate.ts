import type { Answer, Revision } from '@reelboard/api';
import { type ReportReason, reportReasonLabels } from '@reelboard/contracts/reports';
import { ApiError, errorFrom, type Listing } from '../api.js';
import { h, mount } from '../dom.js';
import { currentSession, signIn } from '../session.js';
import { connectWallet, hasWallet } from '../wallet.js';
import { formatPrice } from './listing.js';

type ReportedListing = Answer<'listReports', 200>['items'][number];

/** One item of the moderators' queues: what it is about and how a decision is sent. */
type QueueItem =
  | { kind: 'listing'; id: string; label: string; listing: Listing }
  | { kind: 'revision'; id: string; label: string; revision: Revision }
  | { kind: 'report'; id: string; label: string; reported: ReportedListing };

const TOKEN_KEY = 'reelboard.adminToken';

/** How the moderator is known to the gateway: the admin token of this tab, or the wallet's session. */
function credentials(): Record<string, string> | undefined {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) return { 'x-admin-token': token };
  const session = currentSession();
  return session ? { authorization: `Bearer ${session.token}` } : undefined;
}

async function adminJson<T>(path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...credentials() };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers,
    cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await errorFrom(res);
  return (await res.json()) as T;
}

const short = (wallet: string) => `${wallet.slice(0, 6)}…${wallet.slice(-4)}`;
const when = (iso: string) => new Date(iso).toLocaleString();
/** Keys typed into a field are words, not shortcuts. */
const typing = (target: EventTarget | null) =>
  target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));

/** A value of a revision's diff, as a moderator reads it. */
function showValue(value: unknown): string {
  if (value === null || value === undefined || value === '') return '(none)';
  if (Array.isArray(value)) return value.map((tag) => `#${tag}`).join(' ');
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if ('amount' in record && 'currency' in record) return formatPrice(record as { amount: string; currency: string });
    if ('latitude' in record && 'longitude' in record) return `${record.latitude}, ${record.longitude}`;
    return JSON.stringify(value);
  }
  return String(value);
}

/** The video and the preview loop side by side with the listing's fields. */
function mediaAndFields(listing: Listing): HTMLElement {
  return h(
    'div',
    { class: 'mod-media' },
    h(
      'figure',
      {},
      h('video', { id: 'mod-video', controls: true, playsinline: true, preload: 'metadata', src: listing.video.url, poster: listing.posterUrl }),
      h('figcaption', {}, 'Video'),
    ),
    h(
      'figure',
      {},
      h('video', { id: 'mod-preview', autoplay: true, muted: true, loop: true, playsinline: true, src: listing.previewUrl, 'aria-label': 'Preview loop' }),
      h('figcaption', {}, 'Preview loop'),
    ),
    h(
      'dl',
      { class: 'mod-fields' },
      h('dt', {}, 'Title'),
      h('dd', { id: 'mod-title' }, listing.title),
      h('dt', {}, 'Description'),
      h('dd', {}, listing.description || '(none)'),
      h('dt', {}, 'Hashtags'),
      h('dd', {}, listing.hashtags.map((tag) => `#${tag}`).join(' ') || '(none)'),
      h('dt', {}, 'Price'),
      h('dd', {}, listing.price ? formatPrice(listing.price) : '(none)'),
      h('dt', {}, 'Contact'),
      h('dd', {}, listing.contact ?? '(none)'),
      h('dt', {}, 'Seller'),
      h('dd', {}, listing.owner.displayName ? `${listing.owner.displayName} (${short(listing.owner.wallet)})` : listing.owner.wallet),
      h('dt', {}, 'Location'),
      h('dd', {}, `${listing.location.latitude}, ${listing.location.longitude}`),
      h('dt', {}, 'Video'),
      h('dd', {}, `${listing.video.width}×${listing.video.height}, ${Math.round(listing.video.durationSeconds)} s`),
      h('dt', {}, 'Logo'),
      h('dd', {}, listing.logoUrl ? h('img', { class: 'logo', src: listing.logoUrl, alt: 'Logo', width: 64, height: 64 }) : '(none)'),
    ),
  );
}

/** A revision as a diff: each changed field, old → new; a logo change as the two images. */
function revisionDiff(revision: Revision): HTMLElement {
  const rows = revision.diff.map((entry) => {
    if (entry.field === 'logoKey') {
      const image = (url: string | null | undefined, alt: string) => (url ? h('img', { class: 'logo', src: url, alt, width: 96, height: 96 }) : '(none)');
      return h(
        'tr',
        {},
        h('th', { scope: 'row' }, 'logo'),
        h('td', {}, image(entry.publicUrl, 'Current logo')),
        h('td', {}, image(entry.proposedUrl, 'Proposed logo')),
      );
    }
    return h(
      'tr',
      {},
      h('th', { scope: 'row' }, entry.field),
      h('td', { class: 'mod-old' }, showValue(entry.public)),
      h('td', { class: 'mod-new' }, showValue(entry.proposed)),
    );
  });
  return h(
    'table',
    { class: 'mod-diff', id: 'mod-diff' },
    h('caption', {}, `${revision.kind === 'profile' ? 'Profile' : 'Listing'} changes by ${short(revision.owner)}, ${when(revision.createdAt)}`),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Now'), h('th', { scope: 'col' }, 'Proposed'))),
    h('tbody', {}, ...rows),
  );
}

function reportList(reported: ReportedListing): HTMLElement {
  return h(
    'ul',
    { class: 'mod-reports', id: 'mod-reports' },
    ...reported.reports.map((report) =>
      h(
        'li',
        {},
        h('strong', {}, reportReasonLabels[report.reason as ReportReason] ?? report.reason),
        report.details ? h('span', {}, ` “${report.details}”`) : null,
        h('span', { class: 'hint' }, ` (${report.reporter ? short(report.reporter) : 'anonymous'}, ${when(report.createdAt)})`),
      ),
    ),
  );
}

/**
 * The moderation screen (`/moderate`): queues of pending listings, pending revisions and reported
 * listings; the selected item beside its video, preview and fields (a revision as a diff); approve or
 * reject with a reason. Keys: j/k next/previous, a approve, r reject (a reason first), never while typing.
 * Admins sign in with their wallet (an address in ADMIN_ADDRESSES) or give the admin token.
 */
export function renderModerate(view: HTMLElement, onSignedIn: () => void = () => undefined): () => void {
  let items: QueueItem[] = [];
  let selected = 0;
  const status = h('p', { class: 'notice', id: 'mod-status', role: 'status' });
  const queues = h('nav', { class: 'mod-queues', 'aria-label': 'Moderation queues' });
  const detail = h('section', { class: 'mod-detail', id: 'mod-detail', 'aria-label': 'Selected item' });
  const legend = h(
    'p',
    { class: 'mod-legend', id: 'mod-legend' },
    'Keys: ',
    h('kbd', {}, 'j'),
    ' next, ',
    h('kbd', {}, 'k'),
    ' previous, ',
    h('kbd', {}, 'a'),
    ' approve (dismiss reports), ',
    h('kbd', {}, 'r'),
    ' reject (type the reason, then Enter). Not while typing in a field.',
  );

  function renderSignIn(message?: string): void {
    const tokenField = h('input', { type: 'password', id: 'admin-token', name: 'admin-token', autocomplete: 'off', required: true });
    const error = h('p', { class: 'field-error', id: 'admin-token-error', role: 'alert' }, message ?? '');
    const connect = h(
      'button',
      {
        type: 'button',
        class: 'primary',
        id: 'mod-wallet-sign-in',
        onclick: async () => {
          try {
            await signIn(await connectWallet());
            sessionStorage.removeItem(TOKEN_KEY);
            onSignedIn();
            await load();
          } catch (failure) {
            error.textContent = (failure as Error).message;
          }
        },
      },
      'Sign in with wallet',
    );
    mount(
      view,
      h('h1', {}, 'Moderation'),
      h(
        'div',
        { class: 'card' },
        h('p', {}, 'Moderators sign in with an admin wallet, or give the admin token.'),
        hasWallet() ? connect : h('p', { class: 'hint' }, 'No wallet in this browser: use the admin token.'),
        h(
          'form',
          {
            class: 'row',
            onsubmit: async (event: Event) => {
              event.preventDefault();
              sessionStorage.setItem(TOKEN_KEY, tokenField.value.trim());
              await load();
            },
          },
          h('div', { class: 'field' }, h('label', { for: 'admin-token' }, 'Admin token'), tokenField),
          h('button', { type: 'submit', class: 'secondary' }, 'Use token'),
        ),
        error,
      ),
    );
    (hasWallet() ? connect : tokenField).focus();
  }

  function renderQueues(): void {
    const group = (kind: QueueItem['kind'], title: string) => {
      const members = items.map((item, index) => ({ item, index })).filter(({ item }) => item.kind === kind);
      return h(
        'section',
        { class: 'mod-queue', 'aria-labelledby': `mod-queue-${kind}` },
        h('h2', { id: `mod-queue-${kind}` }, `${title} (${members.length})`),
        members.length === 0
          ? h('p', { class: 'hint' }, 'Nothing waiting.')
          : h(
              'ul',
              {},
              ...members.map(({ item, index }) =>
                h(
                  'li',
                  {},
                  h(
                    'button',
                    {
                      type: 'button',
                      class: 'mod-item',
                      'data-id': item.id,
                      'aria-current': index === selected ? 'true' : undefined,
                      onclick: () => select(index),
                    },
                    item.label,
                  ),
                ),
              ),
            ),
      );
    };
    mount(queues, group('listing', 'Pending listings'), group('revision', 'Pending revisions'), group('report', 'Reported listings'));
  }

  function select(index: number): void {
    if (items.length === 0) {
      selected = 0;
      renderQueues();
      mount(detail, h('p', { class: 'notice', id: 'mod-empty' }, 'Every queue is empty. Well done.'));
      return;
    }
    selected = Math.max(0, Math.min(items.length - 1, index));
    renderQueues();
    void renderDetail(items[selected] as QueueItem);
  }

  const reasonField = () => detail.querySelector<HTMLInputElement>('#mod-reason');

  async function renderDetail(item: QueueItem): Promise<void> {
    const reason = h('input', { type: 'text', id: 'mod-reason', name: 'reason', maxlength: 500, 'aria-describedby': 'mod-reason-hint mod-reason-error' });
    const reasonError = h('p', { class: 'field-error', id: 'mod-reason-error' });
    const labels =
      item.kind === 'report'
        ? { approve: 'Dismiss reports', reject: 'Reject listing' }
        : { approve: item.kind === 'revision' ? 'Approve changes' : 'Approve', reject: item.kind === 'revision' ? 'Reject changes' : 'Reject' };
    const form = h(
      'form',
      {
        class: 'mod-decision',
        id: 'mod-decision',
        onsubmit: (event: Event) => {
          event.preventDefault();
          void decide('reject');
        },
      },
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'mod-reason' }, 'Reason'),
        reason,
        h('p', { class: 'hint', id: 'mod-reason-hint' }, 'Required to reject: the owner is told. Optional to approve.'),
        reasonError,
      ),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'primary', id: 'mod-approve', onclick: () => void decide('approve') }, labels.approve),
        h('button', { type: 'submit', class: 'secondary', id: 'mod-reject' }, labels.reject),
        item.kind === 'report'
          ? h('button', { type: 'button', class: 'secondary', id: 'mod-remove', onclick: () => void decide('remove') }, 'Remove listing')
          : null,
      ),
    );
    const heading =
      item.kind === 'listing'
        ? 'Pending listing'
        : item.kind === 'revision'
          ? item.revision.kind === 'profile'
            ? 'Profile edit'
            : 'Edit of an approved listing'
          : item.reported.heldAt
            ? 'Reported listing, on hold'
            : 'Reported listing';
    const body: (HTMLElement | null)[] = [];
    if (item.kind === 'listing') body.push(mediaAndFields(item.listing));
    if (item.kind === 'revision') {
      body.push(revisionDiff(item.revision));
      // The listing as the public sees it now, so the moderator judges the edit with the video.
      if (item.revision.listingId) {
        const current = await fetch(`/v1/listings/${item.revision.listingId}`, { cache: 'no-store' }).then((res) =>
          res.ok ? (res.json() as Promise<Listing>) : null,
        );
        if (items[selected] !== item) return;
        if (current) body.push(mediaAndFields(current));
      }
    }
    if (item.kind === 'report') {
      if (item.reported.heldAt) body.push(h('p', { class: 'badge', id: 'mod-held' }, `Hidden from the public since ${when(item.reported.heldAt)}`));
      body.push(reportList(item.reported));
      if (item.reported.listing) body.push(mediaAndFields(item.reported.listing));
    }
    mount(detail, h('h2', {}, heading), form, ...body);
  }

  async function decide(action: 'approve' | 'reject' | 'remove'): Promise<void> {
    const item = items[selected];
    const field = reasonField();
    if (!item || !field) return;
    const reason = field.value.trim();
    const error = detail.querySelector('#mod-reason-error') as HTMLElement;
    if (action !== 'approve' && !reason) {
      field.setAttribute('aria-invalid', 'true');
      error.textContent = `Give a reason to ${action === 'remove' ? 'remove' : 'reject'}: the owner is told why.`;
      field.focus();
      return;
    }
    field.removeAttribute('aria-invalid');
    error.textContent = '';
    for (const button of detail.querySelectorAll('button')) button.disabled = true;
    try {
      const withReason = reason ? { reason } : {};
      if (item.kind === 'listing') await adminJson(`/v1/admin/listings/${item.id}/${action === 'approve' ? 'approve' : 'reject'}`, withReason);
      else if (item.kind === 'revision') await adminJson(`/v1/admin/revisions/${item.id}/${action === 'approve' ? 'approve' : 'reject'}`, withReason);
      else await adminJson(`/v1/admin/listings/${item.id}/reports/resolve`, { decision: action === 'approve' ? 'dismiss' : action, ...withReason });
      const done = { approve: item.kind === 'report' ? 'Reports dismissed' : 'Approved', reject: 'Rejected', remove: 'Removed' }[action];
      status.textContent = `${done}: ${item.label}`;
      items.splice(selected, 1);
      select(selected);
      // The next item's first control, so the keys and the screen reader carry on from there.
      (queues.querySelector('[aria-current="true"]') as HTMLElement | null)?.focus();
    } catch (failure) {
      for (const button of detail.querySelectorAll('button')) button.disabled = false;
      error.textContent = failure instanceof ApiError ? `Not done: ${failure.message}` : `Not done: ${(failure as Error).message}`;
    }
  }

  async function load(): Promise<void> {
    if (!credentials()) return renderSignIn();
    mount(view, h('h1', {}, 'Moderation'), h('p', { class: 'notice', role: 'status' }, 'Loading the queues…'));
    try {
      const [listings, revisions, reports] = await Promise.all([
        adminJson<Answer<'listModeration', 200>>('/v1/admin/listings?status=pending&limit=100'),
        adminJson<Answer<'listRevisions', 200>>('/v1/admin/revisions?status=pending&limit=100'),
        adminJson<Answer<'listReports', 200>>('/v1/admin/reports?status=open&limit=100'),
      ]);
      items = [
        ...listings.items.map((listing): QueueItem => ({ kind: 'listing', id: listing.id, label: listing.title, listing })),
        ...revisions.items.map(
          (revision): QueueItem => ({
            kind: 'revision',
            id: revision.id,
            label:
              revision.kind === 'profile'
                ? `Profile of ${short(revision.owner)}`
                : `Edit: ${showValue(revision.diff.find((entry) => entry.field === 'title')?.public ?? revision.listingId)}`,
            revision,
          }),
        ),
        ...reports.items.map(
          (reported): QueueItem => ({
            kind: 'report',
            id: reported.listingId,
            label: `${reported.heldAt ? 'On hold: ' : ''}${reported.title} (${reported.reports.length} report${reported.reports.length === 1 ? '' : 's'})`,
            reported,
          }),
        ),
      ];
    } catch (failure) {
      if (failure instanceof ApiError && (failure.status === 401 || failure.status === 403)) {
        sessionStorage.removeItem(TOKEN_KEY);
        return renderSignIn(failure.status === 403 ? `Not a moderator: ${failure.message}.` : 'Sign in again: the session or token was not accepted.');
      }
      mount(view, h('h1', {}, 'Moderation'), h('p', { class: 'alert', role: 'alert' }, `Could not load the queues: ${(failure as Error).message}`));
      return;
    }
    mount(view, h('h1', {}, 'Moderation'), legend, status, h('div', { class: 'moderate' }, queues, detail));
    select(0);
  }

  const onKey = (event: KeyboardEvent) => {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || !view.contains(detail)) return;
    const key = event.key.toLowerCase();
    if (key === 'j' || key === 'k') {
      event.preventDefault();
      select(selected + (key === 'j' ? 1 : -1));
      (queues.querySelector('[aria-current="true"]') as HTMLElement | null)?.focus();
    } else if (key === 'a') {
      event.preventDefault();
      void decide('approve');
    } else if (key === 'r') {
      event.preventDefault();
      // A rejection needs words: the reason field takes the keys, Enter sends it.
      const field = reasonField();
      if (field?.value.trim()) void decide('reject');
      else field?.focus();
    }
  };
  document.addEventListener('keydown', onKey);
  void load();
  return () => document.removeEventListener('keydown', onKey);
}
