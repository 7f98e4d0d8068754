import { ApiError, requestJson, type UnpaidUpload } from '../api.js';
import { h, mount } from '../dom.js';
import { offerLabel, offersOf, offerToFinish, type RefundDue, refundsDueText } from '../offers.js';
import { payOffer } from '../pay-offer.js';
import { type Coin, focusStep, formatAmount, formatWhen, interruptedUploads, loadPricing } from '../seller.js';
import { currentSession } from '../session.js';
import { connectWallet, WalletError } from '../wallet.js';

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * "Drafts and unpaid uploads" (`#/unpaid`): the wallet's uploads awaiting payment, each with what
 * arrived, what remains and its deadline, to pay (the rest only), follow, or cancel (which frees a
 * place in the wallet's unpaid limit at once); and the video uploads this browser left unfinished,
 * which continue when the same file is picked again on the Sell page. Returns the view's cleanup.
 */
export function renderUnpaid(view: HTMLElement): () => void {
  let left = false;
  const session = currentSession();
  const heading = h('h1', {}, 'Drafts and unpaid uploads');
  if (!session) {
    mount(
      view,
      heading,
      h('p', { class: 'notice', role: 'status' }, 'Sign in on the ', h('a', { href: '#/sell' }, 'Sell page'), ' to see your unpaid uploads.'),
    );
    return () => undefined;
  }
  const status = h('p', { class: 'notice', role: 'status', id: 'unpaid-status' }, 'Loading…');
  const list = h('ul', { class: 'unpaid', 'aria-label': 'Your unpaid uploads' });
  const interrupted = interruptedUploads();
  mount(
    view,
    heading,
    status,
    list,
    interrupted.length > 0
      ? h(
          'section',
          { class: 'card', 'aria-labelledby': 'interrupted-heading' },
          h('h2', { id: 'interrupted-heading' }, 'Unfinished video uploads in this browser'),
          h(
            'ul',
            {},
            ...interrupted.map((upload) => h('li', {}, `“${upload.fileName}”${upload.startedAt ? `, started ${formatWhen(upload.startedAt)}` : ''}`)),
          ),
          h('p', { class: 'hint' }, 'On the ', h('a', { href: '#/sell' }, 'Sell page'), ', pick the same file again: the upload continues where it stopped.'),
        )
      : null,
  );

  const call = <T>(path: string, method = 'GET', body?: unknown) =>
    requestJson<T>(path, { method, token: session.token, ...(body !== undefined ? { body } : {}) });

  const render = (items: UnpaidUpload[], coin: Coin) => {
    mount(
      list,
      ...items.map((item) => {
        const message = h('p', { class: 'message', role: 'alert', hidden: true });
        const fail = (text: string) => {
          message.textContent = text;
          message.hidden = false;
        };
        // The offer money already arrived in (the rest of it only), else the quote's first.
        const { offer, received: paid, remaining: rest } = offerToFinish(item, coin);
        const pay = h(
          'button',
          { type: 'button', class: 'primary' },
          paid > 0n ? `Pay the remaining ${formatAmount(rest, offer)}` : `Pay ${formatAmount(offer.amount, offer)}`,
        );
        const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel upload');
        pay.addEventListener('click', async () => {
          message.hidden = true;
          pay.disabled = true;
          try {
            const from = await connectWallet();
            // Only what remains: a partial payment is never asked for twice.
            const pricing = await loadPricing().catch(() => undefined);
            const offers = [...offersOf(item.payment, coin), ...(pricing?.offers ?? [])];
            const txHash = await payOffer({ from, to: item.payment.to, offer, amount: rest, offers });
            await call(`/v1/uploads/${item.uploadId}/payment`, 'POST', { txHash, chainId: offer.chainId }).catch(() => undefined);
            status.textContent = `Payment sent for “${item.title}”; follow it on its status page.`;
            focusStep(status);
            await load();
          } catch (error) {
            fail(error instanceof WalletError && error.rejected ? 'Payment cancelled in the wallet.' : describe(error));
            focusStep(pay);
          } finally {
            pay.disabled = false;
          }
        });
        cancel.addEventListener('click', async () => {
          if (!window.confirm(`Cancel “${item.title}”? Its files are removed.${paid > 0n ? ' What you paid so far is recorded as due back.' : ''}`)) return;
          message.hidden = true;
          try {
            const done = await call<{ state: string; refundDue: string; refundsDue?: RefundDue[] }>(`/v1/uploads/${item.uploadId}`, 'DELETE');
            // Money in another offer (or an asset not offered) is owed too: `refundDue` is only the home asset's.
            const owed = done.refundsDue
              ? refundsDueText(done.refundsDue, offersOf(item.payment, coin))
              : BigInt(done.refundDue) > 0n
                ? formatAmount(done.refundDue, coin)
                : '';
            status.textContent =
              owed !== '' || done.state === 'refund_due'
                ? `Cancelled “${item.title}”. ${owed || 'What you paid'} is due back: an operator sends it back to the wallet it came from.`
                : `Cancelled “${item.title}”. Nothing was charged; you can upload another.`;
            await load();
            focusStep(status);
          } catch (error) {
            fail(
              error instanceof ApiError && error.code === 'upload_state'
                ? 'It can no longer be cancelled: it was paid or has ended meanwhile.'
                : describe(error),
            );
          }
        });
        return h(
          'li',
          { class: 'card unpaid-item', 'data-upload-id': item.uploadId },
          h('h2', {}, item.title),
          h(
            'p',
            { class: 'meta' },
            paid > 0n
              ? `Received ${formatAmount(paid, offer)} of ${offerLabel(offer)}; ${formatAmount(rest, offer)} remains. `
              : `Fee ${formatAmount(offer.amount, offer)}, not paid yet. `,
            `Pay before ${formatWhen(item.payment.expiresAt)}; sent ${formatWhen(item.receivedAt)}.`,
          ),
          h('div', { class: 'row actions' }, pay, h('a', { href: `#/upload/${item.uploadId}` }, 'Status'), cancel),
          message,
        );
      }),
    );
  };

  const load = async () => {
    try {
      const [pricing, { items }] = await Promise.all([loadPricing(), call<{ items: UnpaidUpload[] }>('/v1/me/unpaid-uploads')]);
      if (left) return;
      if (status.textContent === 'Loading…')
        status.textContent =
          items.length === 0 ? 'No upload of yours is waiting for payment.' : `${items.length} upload${items.length === 1 ? '' : 's'} waiting for payment.`;
      render(items, { symbol: pricing.symbol, decimals: pricing.decimals });
    } catch (error) {
      status.textContent = `Could not load your unpaid uploads: ${describe(error)}`;
    }
  };
  void load();
  return () => {
    left = true;
  };
}
