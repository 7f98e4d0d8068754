import { ApiError, requestJson } from '../api.js';
import { h, mount } from '../dom.js';
import { playInto } from '../player-loader.js';
import { currentSession } from '../session.js';
import { followStatus, type StatusEvent } from '../status-stream.js';

/** What each final or waiting state means to the person. */
const STATE_WORDS: Record<string, string> = {
  awaiting_payment: 'Waiting for the payment.',
  processing: 'Paid; the video is being prepared.',
  done: 'Saved.',
  failed: 'Processing failed. A confirmed payment is kept on record, to be retried or refunded.',
  expired: 'Expired: no payment arrived in time. Nothing was charged.',
  saved: 'Saved: waiting for moderation. A moderator reviews it before it is public.',
  refund_due: 'Ended before the full fee arrived: what was sent is due back, and an operator sends it back to the wallet it came from.',
  refunded: 'Refunded to the wallet it came from.',
};

/** An upload's status page (`#/upload/<id>`), where notifications about it lead: its latest state, for its owner. */
export async function renderUpload(view: HTMLElement, uploadId: string): Promise<void> {
  const session = currentSession();
  if (!session) {
    mount(
      view,
      h('h1', {}, 'Your upload'),
      h('p', { class: 'notice' }, 'Sign in with the wallet that made this upload to see its status. '),
      h('a', { href: '#/sell' }, 'Sign in'),
    );
    return;
  }
  mount(view, h('p', { class: 'notice', role: 'status' }, 'Loading…'));
  let status: StatusEvent | null;
  try {
    ({ status } = await requestJson<{ status: StatusEvent | null }>(`/v1/uploads/${encodeURIComponent(uploadId)}`, { token: session.token }));
  } catch (error) {
    const message =
      error instanceof ApiError && error.status === 404 ? 'No upload of yours has this id.' : `Could not load the upload: ${(error as Error).message}`;
    mount(view, h('h1', {}, 'Your upload'), h('p', { class: 'alert', role: 'alert' }, message));
    return;
  }
  const approved = status?.event === 'moderation.approved';
  mount(
    view,
    h('h1', {}, 'Your upload'),
    h('p', { id: 'upload-state' }, status ? (STATE_WORDS[status.state] ?? status.state) : 'No status yet.'),
    status?.reason ? h('p', { class: 'alert', role: 'alert' }, status.reason) : null,
    status?.event === 'profile.saved' ? h('p', { class: 'notice' }, 'A moderator reviews the listing before it is public.') : null,
    status?.event === 'moderation.rejected' ? h('p', { class: 'notice' }, 'A moderator did not approve the listing.') : null,
    status?.state === 'awaiting_payment' ? h('a', { href: '#/unpaid' }, 'Pay the rest or cancel it in Unpaid uploads') : null,
    approved ? h('a', { href: `#/listing/${encodeURIComponent(uploadId)}` }, 'Open the listing') : null,
    uploadPlayer(uploadId, session.token, status),
  );
}

/**
 * The whole video, for its owner, as soon as its lowest rung is stored (`rendition.ready`), before
 * the listing is saved: the upload's own manifest, which only its owner may read.
 */
function uploadPlayer(uploadId: string, token: string, status: StatusEvent | null): HTMLElement {
  const video = h('video', { id: 'upload-player', controls: true, playsinline: true, 'aria-label': 'Your video' });
  const controls = h('div', { class: 'player-slot' });
  const figure = h('figure', { class: 'player', hidden: true }, video, controls);
  const play = () => {
    if (!figure.hidden) return;
    figure.hidden = false;
    const manifestUrl = `/v1/uploads/${encodeURIComponent(uploadId)}/stream/manifest.mpd`;
    // Nothing to show without Media Source Extensions or a stored rung (a listing saved before the ladder).
    void playInto(video, controls, { manifestUrl, fallbackUrl: null, token }).then((mode) => {
      if (mode === 'none') figure.hidden = true;
    });
  };
  // Names compared as strings: the ladder's status event joins the contract's table with the ladder.
  const ready = (event: StatusEvent) => (event.event as string) === 'rendition.ready' || event.event === 'profile.saved';
  if (status && ready(status)) play();
  else {
    const stop = followStatus(uploadId, token, { onEvent: (event) => ready(event) && (stop(), play()), onError: () => undefined });
    window.addEventListener('hashchange', stop, { once: true });
  }
  return figure;
}
