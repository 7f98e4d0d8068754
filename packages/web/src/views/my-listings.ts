import { LISTING_LIMITS } from '@reelboard/contracts/limits';
import { ApiError, errorFrom, type OwnListing, type RenewalQuote, requestJson } from '../api.js';
import { h, mount } from '../dom.js';
import { focusStep, formatAmount, loadPricing } from '../seller.js';
import { currentSession } from '../session.js';
import { connectWallet, WalletError } from '../wallet.js';
import { formatPrice } from './listing.js';
import { payQuote } from './sell.js';

const STATE_WORDS: Record<OwnListing['state'], string> = {
  pending: 'Waiting for a moderator',
  approved: 'Public',
  rejected: 'Not approved',
  sold: 'Sold',
  withdrawn: 'Withdrawn',
  expired: 'Expired',
  removed: 'Removed',
};

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));
const day = (iso: string) => new Date(iso).toLocaleDateString();

/**
 * "My listings" (`#/mine`): every listing of the signed-in wallet with its state, expiry and price,
 * and what can be done with it now: edit (a public listing's edit waits for a moderator), mark sold,
 * withdraw, remove, renew (a quote paid from the wallet like an upload's). Returns the view's cleanup.
 */
export function renderMyListings(view: HTMLElement): () => void {
  let left = false;
  const session = currentSession();
  if (!session) {
    mount(
      view,
      h('h1', {}, 'My listings'),
      h('p', { class: 'notice', role: 'status' }, 'Sign in on the '),
      h('a', { href: '#/sell' }, 'Sell page'),
      ' to see your listings.',
    );
    return () => undefined;
  }
  // What the last action did (kept when the list is drawn again), and how many listings there are.
  const notice = h('p', { class: 'notice', role: 'status', id: 'mine-status' });
  const count = h('p', { class: 'notice', id: 'mine-count' }, 'Loading…');
  const alert = h('p', { class: 'alert', role: 'alert', hidden: true });
  const list = h('ul', { class: 'mine', 'aria-label': 'Your listings' });
  mount(view, h('h1', {}, 'My listings'), alert, notice, count, list);

  const showError = (message: string) => {
    alert.textContent = message;
    alert.hidden = false;
  };
  const call = <T>(path: string, method = 'GET', body?: unknown) =>
    requestJson<T>(path, { method, token: session.token, ...(body !== undefined ? { body } : {}) });

  /** Runs an action; its error is shown next to the listing's buttons (`where`), not at the top of the page. */
  const act = async (work: () => Promise<unknown>, done: string, where?: HTMLElement) => {
    alert.hidden = true;
    if (where) where.hidden = true;
    try {
      await work();
      notice.textContent = done;
      await load();
      focusStep(notice);
    } catch (error) {
      const text =
        error instanceof ApiError && Object.keys(error.fields).length > 0 ? `${error.message}: ${Object.values(error.fields).join('; ')}` : describe(error);
      if (!where) return showError(text);
      where.textContent = text;
      where.hidden = false;
    }
  };

  /** Pays a renewal's quote from the wallet, hints the transaction, and waits until the listing runs longer. */
  const renew = async (item: OwnListing) => {
    const quote = await call<RenewalQuote>(`/v1/listings/${item.id}/renew`, 'POST');
    const pricing = await loadPricing();
    notice.textContent = `Renewal quoted: pay ${formatAmount(quote.payment.amount, pricing)} for ${quote.days} more days.`;
    const from = await connectWallet();
    const txHash = await payQuote(from, quote.payment);
    await call(quote.links.payment, 'POST', { txHash }).catch(() => undefined);
    notice.textContent = 'Payment sent; waiting for its confirmation…';
    const before = item.expiresAt ? Date.parse(item.expiresAt) : 0;
    for (let i = 0; i < 120 && !left; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const status = await call<{ status: { event: string; reason?: string } | null }>(quote.links.status);
      if (status.status?.event === 'failed' || status.status?.event === 'expired')
        throw new Error(`The renewal did not go through: ${status.status.reason ?? status.status.event}`);
      const { items } = await call<{ items: OwnListing[] }>('/v1/me/listings');
      const now = items.find((candidate) => candidate.id === item.id);
      if (now?.expiresAt && Date.parse(now.expiresAt) > before) return;
    }
    throw new Error('The renewal is not confirmed yet; check back in a moment.');
  };

  const editForm = (item: OwnListing) => {
    const title = h('input', { type: 'text', name: 'title', value: item.title, maxlength: LISTING_LIMITS.title, 'aria-label': 'New title' });
    const amount = h('input', { type: 'text', name: 'priceAmount', value: item.price?.amount ?? '', inputmode: 'decimal', 'aria-label': 'New price' });
    const currency = h('input', { type: 'text', name: 'priceCurrency', value: item.price?.currency ?? '', maxlength: 3, 'aria-label': 'Price currency' });
    const contact = h('input', { type: 'text', name: 'contact', value: item.contact ?? '', maxlength: LISTING_LIMITS.contact, 'aria-label': 'New contact' });
    const logo = h('input', { type: 'file', name: 'logo', accept: 'image/png,image/jpeg,image/webp', 'aria-label': 'New logo (optional)' });
    /** A new logo goes as its own multipart request (`PUT /v1/listings/:id/logo`), checked like the form's. */
    const sendLogo = async (file: File) => {
      const data = new FormData();
      data.append('logo', file, file.name);
      const res = await fetch(`/v1/listings/${item.id}/logo`, { method: 'PUT', headers: { authorization: `Bearer ${session.token}` }, body: data });
      if (!res.ok) throw await errorFrom(res);
    };
    const form = h(
      'form',
      { class: 'edit-form card', 'aria-label': `Edit ${item.title}` },
      h('div', { class: 'row' }, title, amount, currency, contact, logo),
      h('button', { type: 'submit', class: 'primary' }, 'Save changes'),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const body: Record<string, unknown> = { title: title.value.trim(), contact: contact.value.trim() || null };
      body.price = amount.value.trim() ? { amount: amount.value.trim(), currency: currency.value.trim() } : null;
      void act(
        async () => {
          await call<{ mode: string }>(`/v1/listings/${item.id}`, 'PATCH', body);
          const file = logo.files?.[0];
          if (file) await sendLogo(file);
        },
        item.state === 'approved' || item.state === 'expired' ? 'Changes sent: they become public once a moderator approves them.' : 'Changes saved.',
      );
    });
    return form;
  };

  const render = (items: OwnListing[]) => {
    count.textContent = items.length === 0 ? 'You have no listings yet.' : `${items.length} listing${items.length === 1 ? '' : 's'}.`;
    mount(
      list,
      ...items.map((item) => {
        const message = h('p', { class: 'message', role: 'alert', hidden: true });
        const active = item.state === 'pending' || item.state === 'approved' || item.state === 'rejected' || item.state === 'expired';
        const button = (label: string, onclick: () => void) => h('button', { type: 'button', class: 'secondary', onclick }, label);
        const actions = h(
          'div',
          { class: 'row actions' },
          active ? button('Edit', () => actions.after(editForm(item))) : null,
          item.state === 'approved' || item.state === 'pending'
            ? button('Mark sold', () => void act(() => call(`/v1/listings/${item.id}/sold`, 'POST'), 'Marked sold.', message))
            : null,
          active || item.state === 'sold'
            ? button('Withdraw', () => void act(() => call(`/v1/listings/${item.id}/withdraw`, 'POST'), 'Withdrawn: no longer shown.', message))
            : null,
          item.state === 'approved' || item.state === 'expired'
            ? button(
                'Renew',
                () =>
                  void act(
                    () =>
                      renew(item).catch((error: unknown) =>
                        Promise.reject(error instanceof WalletError && error.rejected ? new Error('Payment cancelled in the wallet.') : error),
                      ),
                    'Renewed.',
                    message,
                  ),
              )
            : null,
          item.state !== 'removed'
            ? button('Remove', () => {
                if (window.confirm(`Remove "${item.title}" for good? Its video is deleted.`))
                  void act(() => call(`/v1/listings/${item.id}`, 'DELETE'), 'Removed.', message);
              })
            : null,
        );
        return h(
          'li',
          { class: 'card mine-item', 'data-listing-id': item.id, 'data-state': item.state },
          item.posterUrl ? h('img', { src: item.posterUrl, alt: '' }) : h('div', {}),
          h(
            'div',
            {},
            h(
              'h2',
              {},
              item.state === 'approved' ? h('a', { href: `#/listing/${item.id}` }, item.title) : item.title,
              h('span', { class: `state state-${item.state}` }, STATE_WORDS[item.state]),
            ),
            item.rejectionReason && item.state === 'rejected' ? h('p', { class: 'alert' }, `Reason: ${item.rejectionReason}`) : null,
            item.pendingRevision
              ? h('p', { class: 'notice revision' }, 'Your changes wait for a moderator; the public sees the approved version meanwhile.')
              : null,
            h(
              'p',
              { class: 'meta' },
              [
                item.price ? formatPrice(item.price) : 'No price',
                item.expiresAt ? `${item.state === 'expired' ? 'expired' : 'runs until'} ${day(item.expiresAt)}` : null,
                item.soldAt ? `sold ${day(item.soldAt)}` : null,
              ]
                .filter(Boolean)
                .join(' · '),
            ),
            actions,
            message,
          ),
        );
      }),
    );
  };

  const load = async () => {
    try {
      render((await call<{ items: OwnListing[] }>('/v1/me/listings')).items);
    } catch (error) {
      showError(`Could not load your listings: ${describe(error)}`);
    }
  };
  void load();
  return () => {
    left = true;
  };
}
