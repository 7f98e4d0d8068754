import { LISTING_LIMITS } from '@reelboard/contracts/limits';
import { type AcceptedUpload, ApiError, type HashtagSuggestion, type PaymentQuote, requestJson, type UnpaidUpload, type UploadPreview } from '../api.js';
import { h, mount, progressBar } from '../dom.js';
import { type FiatPrice, offerKey, offerLabel, offersOf, type PaymentOffer, remainingIn } from '../offers.js';
import { payOffer } from '../pay-offer.js';
import { placeSearch } from '../place-search.js';
import { notificationOffer } from '../push.js';
import { uploadVideoResumably } from '../resumable.js';
import { type Coin, focusStep, formatAmount, formatWhen, interruptedUploads, loadPricing } from '../seller.js';
import { currentSession, type Session, signIn, signOut } from '../session.js';
import { pipelineProgress } from '../stages.js';
import { followStatus, type StatusEvent } from '../status-stream.js';
import { postListingForm } from '../upload.js';
import { connectWallet, hasWallet, WalletError } from '../wallet.js';
import { feeText, offerPicker } from './offer-picker.js';

/** What the page remembers between clicks; one listing at a time. */
interface SellState {
  address?: `0x${string}`;
  session?: Session;
  upload?: AcceptedUpload;
  stopFollowing?: () => void;
  paying: boolean;
  pipelinePercent: number;
  /** What is still to pay after a partial payment (base units); the whole quote before any. */
  remaining?: bigint;
  /** Re-enables PAY if no word about the payment came by the quote's deadline (the button is never disabled for good). */
  deadlineTimer?: ReturnType<typeof setTimeout>;
}

const TEXT_FIELDS = ['title', 'description', 'hashtags', 'latitude', 'longitude', 'displayName', 'contact', 'priceAmount', 'priceCurrency'] as const;

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Sends the quoted amount of the quote's first offer (its top level), or `amount` when given (the rest
 * after a partial payment), after moving the wallet to its chain: a plain transfer for the native coin,
 * an ERC-20 `transfer` call for a token.
 */
export async function payQuote(from: string, quote: PaymentQuote, amount: bigint = BigInt(quote.amount)): Promise<`0x${string}`> {
  const offers = offersOf(quote, { symbol: '', decimals: 0 });
  // The pricing tells the chains' public RPC URLs, which a wallet that does not know the chain is added with.
  const told = await loadPricing().catch(() => undefined);
  return payOffer({ from, to: quote.to, offer: offers[0] as PaymentOffer, amount, offers: [...offers, ...(told?.offers ?? [])] });
}

/** The sell page: connect the wallet, sign in, fill the form, PAY, then follow the listing to SAVE. */
export function renderSell(view: HTMLElement, renderAccount: () => void): () => void {
  const state: SellState = { session: currentSession(), paying: false, pipelinePercent: 0 };
  if (state.session) state.address = state.session.address as `0x${string}`;

  // Each message sits next to the control it concerns (not in an alert at the top of a long form).
  const message = (id: string) => h('p', { class: 'message', id, role: 'alert', hidden: true });
  const walletMessage = message('wallet-message');
  const locateMessage = message('locate-message');
  const payMessage = message('pay-message');
  const notice = h('p', { class: 'notice', id: 'pay-notice', 'aria-live': 'polite' });
  const showError = (text: string, where: HTMLElement = payMessage) => {
    where.textContent = text;
    where.hidden = false;
  };
  const clearError = (where: HTMLElement = payMessage) => {
    where.hidden = true;
    where.textContent = '';
  };
  let coin: Coin = { symbol: 'ETH', decimals: 18 };
  const fee = h('p', { class: 'fee', id: 'fee' }, 'Fee: …');
  // How to pay: the pricing's offers before the form is sent, the quote's (amounts locked) after.
  let pricingOffers: PaymentOffer[] = [];
  let fiatPrice: FiatPrice | null = null;
  let quoteTtlSeconds = 0;
  const showFee = () => {
    fee.textContent = feeText(picker.chosen(), fiatPrice, picker.offers().length, quoteTtlSeconds);
  };
  const picker = offerPicker(() => {
    clearError();
    showFee();
  });
  const say = (amount: string | bigint) => formatAmount(amount, picker.chosen() ?? coin);
  /** The chosen offer's full amount: what PAY asks before any of it arrived. */
  const quotedAmount = (upload: AcceptedUpload) => BigInt(picker.chosen()?.amount ?? upload.payment.amount);

  // Step 1 and 2: wallet and sign-in.
  const connectButton = h('button', { type: 'button', id: 'connect' }, 'Connect wallet');
  const signInButton = h('button', { type: 'button', id: 'sign-in' }, 'Sign in with Ethereum');
  const walletLine = h('p', { id: 'wallet-status' });
  const walletStep = h(
    'section',
    { class: 'card', 'aria-labelledby': 'wallet-heading' },
    h('h2', { id: 'wallet-heading' }, '1. Your wallet'),
    walletLine,
    h('div', { class: 'row' }, connectButton, signInButton),
    walletMessage,
  );

  const renderWalletStep = () => {
    connectButton.hidden = state.address !== undefined;
    signInButton.hidden = state.address === undefined || state.session !== undefined;
    walletLine.textContent = state.session
      ? `Signed in as ${state.session.address}.`
      : state.address
        ? `Connected: ${state.address}. Sign in to prove it is yours (no transaction, no fee).`
        : hasWallet()
          ? 'Connect a wallet to publish a listing.'
          : 'No wallet found in this browser: install an Ethereum wallet such as MetaMask.';
    form.toggleAttribute('inert', state.session === undefined);
    form.classList.toggle('locked', state.session === undefined);
    renderAccount();
  };

  connectButton.addEventListener('click', async () => {
    clearError(walletMessage);
    try {
      state.address = await connectWallet();
    } catch (error) {
      showError(describe(error), walletMessage);
    }
    renderWalletStep();
    // The next step: Sign in once connected, or the message saying why not.
    focusStep(state.address ? signInButton : walletMessage);
  });
  signInButton.addEventListener('click', async () => {
    if (!state.address) return;
    clearError(walletMessage);
    signInButton.disabled = true;
    try {
      state.session = await signIn(state.address);
    } catch (error) {
      showError(`Sign-in failed: ${describe(error)}`, walletMessage);
    } finally {
      signInButton.disabled = false;
    }
    renderWalletStep();
    focusStep(state.session ? formHeading : walletMessage);
  });

  // Step 3: the form.
  const fieldError = (name: string) => h('p', { class: 'field-error', id: `${name}-error`, hidden: true });
  const field = (name: string, label: string, control: HTMLElement, hint?: string) =>
    h(
      'div',
      { class: 'field' },
      h('label', { for: name }, label),
      control,
      hint ? h('p', { class: 'hint', id: `${name}-hint` }, hint) : null,
      fieldError(name),
    );

  const videoInput = h('input', {
    type: 'file',
    id: 'video',
    name: 'video',
    accept: 'video/*',
    required: true,
    'aria-describedby': 'video-hint video-error',
  });
  // After a reload the form is empty, but tus-js-client remembers an interrupted upload: say how to continue it.
  const interrupted = interruptedUploads();
  const videoHint =
    interrupted.length > 0
      ? `Interrupted: ${interrupted.map((upload) => `“${upload.fileName}”`).join(', ')}. Pick the same file again and the upload continues where it stopped.`
      : undefined;
  const logoInput = h('input', {
    type: 'file',
    id: 'logo',
    name: 'logo',
    accept: 'image/png,image/jpeg,image/webp',
    'aria-describedby': 'logo-hint logo-error',
  });
  const titleInput = h('input', {
    type: 'text',
    id: 'title',
    name: 'title',
    required: true,
    maxlength: LISTING_LIMITS.title,
    autocomplete: 'off',
    'aria-describedby': 'title-error',
  });
  const descriptionInput = h('textarea', {
    id: 'description',
    name: 'description',
    rows: 4,
    maxlength: LISTING_LIMITS.description,
    'aria-describedby': 'description-error',
  });
  const hashtagsInput = h('input', {
    type: 'text',
    id: 'hashtags',
    name: 'hashtags',
    autocomplete: 'off',
    placeholder: '#bikes #berlin',
    'aria-describedby': 'hashtags-hint hashtags-error',
    'aria-controls': 'hashtag-suggestions',
  });
  const suggestions = h('ul', { id: 'hashtag-suggestions', class: 'suggestions', 'aria-label': 'Hashtag suggestions' });
  const latitudeInput = h('input', {
    type: 'text',
    inputmode: 'decimal',
    id: 'latitude',
    name: 'latitude',
    required: true,
    placeholder: '52.52',
    'aria-describedby': 'latitude-error',
  });
  const longitudeInput = h('input', {
    type: 'text',
    inputmode: 'decimal',
    id: 'longitude',
    name: 'longitude',
    required: true,
    placeholder: '13.405',
    'aria-describedby': 'longitude-error',
  });
  const locateButton = h('button', { type: 'button', id: 'locate', class: 'secondary' }, 'Use my location');
  // market-search: a town's name fills latitude and longitude.
  const place = placeSearch({
    id: 'place',
    placeholder: 'Berlin',
    describedBy: 'place-error',
    onPick: ({ latitude, longitude }) => {
      latitudeInput.value = latitude.toFixed(5);
      longitudeInput.value = longitude.toFixed(5);
      placeError.hidden = true;
    },
    onError: (message) => {
      placeError.textContent = message;
      placeError.hidden = false;
    },
  });
  const placeError = h('p', { class: 'field-error', id: 'place-error', hidden: true });
  const displayNameInput = h('input', {
    type: 'text',
    id: 'displayName',
    name: 'displayName',
    maxlength: LISTING_LIMITS.displayName,
    autocomplete: 'nickname',
    'aria-describedby': 'displayName-error',
  });
  const contactInput = h('input', {
    type: 'text',
    id: 'contact',
    name: 'contact',
    maxlength: LISTING_LIMITS.contact,
    autocomplete: 'email',
    'aria-describedby': 'contact-error',
  });
  const priceAmountInput = h('input', {
    type: 'text',
    inputmode: 'decimal',
    id: 'priceAmount',
    name: 'priceAmount',
    placeholder: '120.00',
    'aria-describedby': 'priceAmount-error',
  });
  const priceCurrencyInput = h('input', {
    type: 'text',
    id: 'priceCurrency',
    name: 'priceCurrency',
    maxlength: 3,
    placeholder: 'EUR',
    'aria-describedby': 'priceCurrency-error',
  });
  const payButton = h('button', { type: 'submit', id: 'pay', class: 'primary', 'aria-describedby': 'fee pay-message' }, 'PAY');
  const formHeading = h('h2', { id: 'form-heading' }, '2. Your listing');
  // Offered once PAY was pressed, never before: the person then knows what they would be told about.
  const notifyOffer = notificationOffer(() => state.session?.token);
  const uploadBar = progressBar('upload-progress', 'Upload');
  const pipelineBar = progressBar('pipeline-progress', 'Listing');
  // The listing's loop and poster, shown as soon as they are stored, while the full video converts.
  const earlyPreview = h('figure', { id: 'early-preview', class: 'early-preview', hidden: true });

  const form = h(
    'form',
    { class: 'card listing-form', novalidate: true, 'aria-labelledby': 'form-heading' },
    formHeading,
    field('video', 'Video', videoInput, videoHint),
    field('logo', 'Logo (optional)', logoInput, 'PNG, JPEG or WebP; shown square.'),
    field('title', 'Title', titleInput),
    field('description', 'Description', descriptionInput),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'hashtags' }, 'Hashtags'),
      hashtagsInput,
      suggestions,
      h('p', { class: 'hint', id: 'hashtags-hint' }, 'Up to 10, separated by spaces.'),
      fieldError('hashtags'),
    ),
    h(
      'fieldset',
      { class: 'location' },
      h('legend', {}, 'Location'),
      h('div', { class: 'field' }, h('label', { for: 'place' }, 'Town or city'), place.input, place.list, placeError),
      h('div', { class: 'row' }, field('latitude', 'Latitude', latitudeInput), field('longitude', 'Longitude', longitudeInput), locateButton),
      locateMessage,
    ),
    field('displayName', 'Your name (optional)', displayNameInput),
    field('contact', 'Contact (optional)', contactInput),
    h('div', { class: 'row' }, field('priceAmount', 'Asking price (optional)', priceAmountInput), field('priceCurrency', 'Currency', priceCurrencyInput)),
    picker.element,
    fee,
    h('div', { class: 'actions' }, payButton, notice),
    payMessage,
    notifyOffer.element,
    uploadBar.element,
    pipelineBar.element,
    earlyPreview,
  );

  const textInputs: Record<(typeof TEXT_FIELDS)[number], HTMLInputElement | HTMLTextAreaElement> = {
    title: titleInput,
    description: descriptionInput,
    hashtags: hashtagsInput,
    latitude: latitudeInput,
    longitude: longitudeInput,
    displayName: displayNameInput,
    contact: contactInput,
    priceAmount: priceAmountInput,
    priceCurrency: priceCurrencyInput,
  };

  const showFieldErrors = (fields: Record<string, string>) => {
    for (const element of form.querySelectorAll<HTMLElement>('.field-error')) {
      const name = element.id.replace(/-error$/, '');
      const message = fields[name];
      element.textContent = message ?? '';
      element.hidden = !message;
      form.querySelector(`#${name}`)?.setAttribute('aria-invalid', message ? 'true' : 'false');
    }
  };

  // Hashtag autocomplete: suggest completions of the word being typed.
  let suggestTimer: ReturnType<typeof setTimeout> | undefined;
  const lastWord = () => hashtagsInput.value.split(/[\s,]+/).pop() ?? '';
  const completeWith = (tag: string) => {
    const words = hashtagsInput.value.split(/[\s,]+/).filter(Boolean);
    words.pop();
    hashtagsInput.value = `${[...words, `#${tag}`].join(' ')} `;
    mount(suggestions);
    hashtagsInput.focus();
  };
  hashtagsInput.addEventListener('input', () => {
    clearTimeout(suggestTimer);
    const prefix = lastWord().replace(/^#+/, '');
    if (!prefix) return mount(suggestions);
    suggestTimer = setTimeout(async () => {
      const found = await requestJson<{ hashtags: HashtagSuggestion[] }>(`/v1/hashtags?prefix=${encodeURIComponent(prefix)}`).catch(() => ({ hashtags: [] }));
      if (lastWord().replace(/^#+/, '') !== prefix) return;
      const items = found.hashtags;
      mount(
        suggestions,
        ...items
          .slice(0, 8)
          .map((item) =>
            h(
              'li',
              {},
              h(
                'button',
                { type: 'button', class: 'chip', onclick: () => completeWith(item.tag) },
                `#${item.tag}`,
                h('span', { class: 'count', 'aria-label': `${item.listings} listings` }, ` ${item.listings}`),
              ),
            ),
          ),
      );
    }, 200);
  });

  locateButton.addEventListener('click', () => {
    clearError(locateMessage);
    if (!('geolocation' in navigator)) return showError('This browser cannot tell its location: type it instead.', locateMessage);
    locateButton.disabled = true;
    navigator.geolocation.getCurrentPosition(
      (position) => {
        latitudeInput.value = position.coords.latitude.toFixed(5);
        longitudeInput.value = position.coords.longitude.toFixed(5);
        locateButton.disabled = false;
      },
      (error) => {
        showError(`Location unavailable (${error.message}): type it instead.`, locateMessage);
        locateButton.disabled = false;
      },
      { timeout: 10_000 },
    );
  });

  /** Checks what the browser can check, so an obviously incomplete form never leaves the page. */
  const localErrors = (): Record<string, string> => {
    const errors: Record<string, string> = {};
    if (!videoInput.files?.[0]) errors.video = 'choose a video file';
    if (!titleInput.value.trim()) errors.title = 'title is required';
    for (const [name, min, max] of [
      ['latitude', -90, 90],
      ['longitude', -180, 180],
    ] as const) {
      const value = textInputs[name].value.trim();
      if (!/^-?\d+(\.\d+)?$/.test(value) || Number(value) < min || Number(value) > max) errors[name] = `${name} must be a number between ${min} and ${max}`;
    }
    return errors;
  };

  const buildFormData = () => {
    const data = new FormData();
    for (const name of TEXT_FIELDS) data.append(name, textInputs[name].value.trim());
    const logo = logoInput.files?.[0];
    if (logo) data.append('logo', logo, logo.name);
    return data;
  };

  type PayMode = 'pay' | 'paying' | 'publishing' | 'open' | 'hidden';
  const setPayButton = (mode: PayMode) => {
    const quoted = state.upload ? quotedAmount(state.upload) : undefined;
    const rest = state.remaining !== undefined && quoted !== undefined && state.remaining < quoted ? state.remaining : undefined;
    payButton.hidden = mode === 'hidden';
    payButton.disabled = mode === 'paying' || mode === 'publishing';
    payButton.textContent =
      mode === 'pay'
        ? rest !== undefined
          ? `Pay the remaining ${say(rest)}`
          : 'PAY'
        : mode === 'paying'
          ? 'Paying…'
          : mode === 'publishing'
            ? 'Publishing…'
            : 'Open my listing';
    payButton.classList.toggle('save', mode === 'publishing' || mode === 'open');
    payButton.setAttribute('aria-busy', String(mode === 'paying' || mode === 'publishing'));
  };
  const deadlineOf = () => (state.upload ? formatWhen(state.upload.payment.expiresAt) : 'the deadline');
  const stopDeadline = () => clearTimeout(state.deadlineTimer);

  /** What a refused payment hint means, in words: the code, never the message. */
  const REJECTED_WORDS: Record<string, string> = {
    not_found: 'the transaction was not found on the chain',
    not_mined: 'the transaction was not mined in time',
    reverted: 'the transaction failed on the chain (reverted), so it moved no money',
    no_payment: "the transaction sent nothing to this listing's payment address",
    unverifiable: 'the transaction could not be checked',
  };

  /** After part of the price arrived: what was received and what remains, from the ledger (it may lag the event by a moment). */
  const readRemaining = async (uploadId: string, token: string): Promise<UnpaidUpload | undefined> => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const { items } = await requestJson<{ items: UnpaidUpload[] }>('/v1/me/unpaid-uploads', { token });
      const mine = items.find((item) => item.uploadId === uploadId);
      // What arrived may be in any offer of the quote, not only the first (the top level).
      if (!mine || [mine, ...(mine.offers ?? [])].some((entry) => BigInt(entry.received) > 0n)) return mine;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    return undefined;
  };

  const onStatus = (event: StatusEvent) => {
    const moved = pipelineProgress(event, state.pipelinePercent);
    if (moved && event.event !== 'upload.received') {
      state.pipelinePercent = moved.percent;
      pipelineBar.set(moved.percent, moved.text);
    }
    switch (event.event) {
      case 'progress':
        if (event.state === 'awaiting_payment' && event.message) notice.textContent = event.message;
        break;
      case 'payment.confirmed':
        stopDeadline();
        state.paying = false;
        clearError();
        picker.lock(true);
        notice.textContent = 'Payment confirmed on chain. Your video is being prepared; this page follows it.';
        setPayButton('publishing');
        focusStep(notice);
        break;
      case 'preview.ready':
        void showEarlyPreview(event.uploadId);
        break;
      case 'payment.rejected':
        state.paying = false;
        showError(
          `Payment not accepted: ${REJECTED_WORDS[event.code ?? ''] ?? event.reason ?? 'no reason given'}. Money that reaches the payment address before ${deadlineOf()} still counts; press PAY to pay again.`,
        );
        setPayButton('pay');
        focusStep(payButton);
        break;
      case 'profile.saved':
        notice.textContent = 'Saved. It is waiting for moderation: a moderator reviews it before it is public. Follow it in My listings.';
        setPayButton('open');
        focusStep(payButton);
        break;
      case 'failed':
        stopDeadline();
        showError(
          `The listing could not be finished: ${event.reason ?? 'unknown error'}. Your payment is kept on record: an operator retries the listing or refunds the payment to the wallet it came from. Nothing to do now.`,
        );
        setPayButton('hidden');
        focusStep(payMessage);
        break;
      case 'payment.received':
        if (event.code === 'partial') {
          const upload = state.upload;
          const token = state.session?.token;
          if (!upload || !token) break;
          // PAY stays busy until the rest is known, so it never asks for the whole price again.
          state.paying = true;
          setPayButton('paying');
          void readRemaining(upload.uploadId, token)
            .then(
              (standing) => {
                if (!standing || state.upload?.uploadId !== upload.uploadId) return;
                const offer = picker.chosen();
                const inOffer = offer && remainingIn(offer, standing);
                if (!offer || !inOffer) {
                  showError(
                    `Part of the price arrived, but how much of ${offer ? offerLabel(offer) : 'the chosen offer'} remains could not be read. See Drafts and unpaid uploads.`,
                  );
                  return;
                }
                // The rest is asked in the same (chain, asset): money split over two offers would pay neither.
                picker.lock(true);
                state.remaining = inOffer.remaining;
                notice.textContent = `Received ${say(inOffer.received)} of ${say(quotedAmount(upload))}. Pay the remaining ${say(inOffer.remaining)} before ${deadlineOf()}.`;
              },
              (error: unknown) =>
                showError(`Part of the price arrived, but what remains could not be read: ${describe(error)}. See Drafts and unpaid uploads.`),
            )
            .finally(() => {
              // Paid meanwhile (PAY already turned into Publishing…), or another upload now: nothing to undo.
              if (state.upload?.uploadId !== upload.uploadId || payButton.classList.contains('save')) return;
              state.paying = false;
              setPayButton('pay');
              focusStep(payButton);
            });
        } else if (event.code === 'late') {
          stopDeadline();
          showError(
            'Money arrived after the payment window closed, so it did not pay for this listing. It is recorded as due back: an operator sends it back to the wallet it came from. To publish, press PAY to send the form again for a new quote.',
          );
          resetUpload();
        } else if (event.code === 'overpaid') {
          notice.textContent = 'More than the fee arrived: the excess is recorded as due back to the wallet it came from.';
        }
        break;
      case 'expired':
        stopDeadline();
        showError(
          event.code === 'cancelled'
            ? 'You cancelled this upload; nothing was charged.'
            : `The payment window closed at ${deadlineOf()} before any payment arrived. Nothing was charged. Press PAY to send the form again for a new quote.`,
        );
        resetUpload();
        break;
      case 'refund.due': {
        stopDeadline();
        const sent = state.upload && state.remaining !== undefined ? quotedAmount(state.upload) - state.remaining : undefined;
        showError(
          `The payment window closed before the full fee arrived. What you sent${sent ? ` (${say(sent)})` : ''} is due back: an operator sends it back to the wallet it came from, and you are told when it is refunded. To publish, press PAY to send the form again for a new quote.`,
        );
        resetUpload();
        break;
      }
    }
  };
  const showEarlyPreview = async (uploadId: string) => {
    const session = state.session;
    if (!session) return;
    try {
      const { previewUrl, posterUrl } = await requestJson<UploadPreview>(`/v1/uploads/${encodeURIComponent(uploadId)}/preview`, { token: session.token });
      const loop = h('video', {
        muted: true,
        loop: true,
        autoplay: true,
        playsinline: true,
        src: previewUrl,
        poster: posterUrl,
        'aria-label': 'Preview of your listing',
      });
      // The attribute alone does not mute a video created by script; autoplay needs it muted.
      loop.muted = true;
      mount(earlyPreview, loop, h('figcaption', {}, "Your listing's preview. The full video is still being converted."));
      earlyPreview.hidden = false;
    } catch {
      // Only a nicety: the listing page shows the same files once the listing is saved.
    }
  };

  const resetUpload = () => {
    stopDeadline();
    state.stopFollowing?.();
    state.upload = undefined;
    state.remaining = undefined;
    state.stopFollowing = undefined;
    // A new quote comes with the next PAY: the choice is free again, at the pricing's amounts.
    picker.lock(false);
    picker.show(pricingOffers);
    showFee();
    state.paying = false;
    state.pipelinePercent = 0;
    earlyPreview.hidden = true;
    mount(earlyPreview);
    for (const input of [videoInput, logoInput, ...Object.values(textInputs)]) input.disabled = false;
    setPayButton('pay');
  };

  /** Uploads the form once (the same upload is paid again after a refused payment). */
  const ensureUploaded = async (session: Session): Promise<AcceptedUpload | undefined> => {
    if (state.upload) return state.upload;
    const errors = localErrors();
    showFieldErrors(errors);
    if (Object.keys(errors).length > 0) {
      showError('Please correct the marked fields.');
      focusStep(form.querySelector<HTMLElement>('[aria-invalid="true"]'));
      return undefined;
    }
    uploadBar.set(0, 'Uploading…');
    const video = videoInput.files?.[0];
    if (!video) return undefined;
    // The video goes resumably (tus): a dropped connection or a reload continues where it stopped.
    const videoUpload = await uploadVideoResumably(video, session.token, (percent) => uploadBar.set(percent, `Uploading… ${Math.floor(percent)}%`));
    const accepted = await postListingForm(buildFormData(), session.token, () => undefined, videoUpload);
    uploadBar.set(100, 'Uploaded.');
    for (const input of [videoInput, logoInput, ...Object.values(textInputs)]) input.disabled = true;
    state.upload = accepted;
    // The quote's own offers, their amounts locked (a native offer is absent while its price feed is stale).
    picker.show(offersOf(accepted.payment, coin, pricingOffers.find((offer) => offer.chainId === accepted.payment.chainId)?.chainName));
    showFee();
    state.remaining = undefined;
    state.stopFollowing = followStatus(accepted.uploadId, session.token, {
      onEvent: onStatus,
      onError: (error) => showError(`Lost the status of the listing: ${error.message}. It is kept in Drafts and unpaid uploads.`),
    });
    // Whatever happens to the payment, PAY never stays disabled past the quote's deadline (plus the watcher's lag).
    const untilDeadline = Date.parse(accepted.payment.expiresAt) - Date.now() + 90_000;
    state.deadlineTimer = setTimeout(() => {
      if (!state.paying || state.upload?.uploadId !== accepted.uploadId) return;
      showError(
        `No confirmation arrived before the payment window closed at ${deadlineOf()}. Money that reached the payment address late is recorded as due back to the wallet it came from. Press PAY to send the form again for a new quote.`,
      );
      resetUpload();
      focusStep(payButton);
    }, untilDeadline);
    return accepted;
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const session = state.session;
    if (!session || !state.address) return showError('Connect your wallet and sign in first.');
    if (payButton.classList.contains('save')) {
      if (state.upload) window.location.hash = `#/listing/${state.upload.uploadId}`;
      return;
    }
    if (state.paying) return;
    clearError();
    state.paying = true;
    setPayButton('paying');
    try {
      const wanted = picker.chosen();
      const upload = await ensureUploaded(session);
      const offer = picker.chosen();
      if (!upload || !offer) {
        state.paying = false;
        return setPayButton('pay');
      }
      if (wanted && offerKey(wanted) !== offerKey(offer)) {
        state.paying = false;
        setPayButton('pay');
        showError(`This quote does not offer ${offerLabel(wanted)} (its price could not be read now): choose one of the ways to pay shown, then press PAY.`);
        return focusStep(picker.element.querySelector<HTMLElement>('input:checked'));
      }
      // After a partial payment only the rest is asked for, in the same offer.
      const amount = state.remaining ?? BigInt(offer.amount);
      notice.textContent = `Confirm the payment of ${offerLabel(offer, amount)} in your wallet…`;
      focusStep(notice);
      const txHash = await payOffer({ from: state.address, to: upload.payment.to, offer, amount, offers: [...picker.offers(), ...pricingOffers] });
      notice.textContent = 'Payment sent. Waiting for confirmations…';
      focusStep(notice);
      notifyOffer.show();
      await requestJson(`/v1/uploads/${upload.uploadId}/payment`, { method: 'POST', body: { txHash, chainId: offer.chainId }, token: session.token }).catch(
        (error: unknown) => {
          // Only a hint: whatever reaches the quote's address pays it, so too many hashes in flight is not an error for the person.
          if (!(error instanceof ApiError && error.code === 'too_many_hashes')) throw error;
        },
      );
    } catch (error) {
      state.paying = false;
      notice.textContent = '';
      setPayButton('pay');
      if (error instanceof ApiError && Object.keys(error.fields).length > 0) showFieldErrors(error.fields);
      if (error instanceof ApiError && error.status === 401) {
        state.session = undefined;
        await signOut(session);
        renderWalletStep();
      }
      showError(error instanceof WalletError && error.rejected ? 'Payment cancelled in the wallet. Press PAY to try again.' : describe(error));
      if (error instanceof ApiError && (error.code === 'unpaid_uploads_limit' || error.code === 'unpaid_bytes_limit')) {
        payMessage.append(' ', h('a', { href: '#/unpaid' }, 'See your unpaid uploads to pay or cancel one.'));
      }
      focusStep(payButton);
    }
  });

  void loadPricing().then(
    (pricing) => {
      coin = { symbol: pricing.symbol, decimals: pricing.decimals };
      fiatPrice = pricing.price ?? null;
      quoteTtlSeconds = pricing.quoteTtlSeconds;
      pricingOffers = offersOf(pricing, coin);
      // The form was sent meanwhile: the quote's offers are shown already.
      if (!state.upload) picker.show(pricingOffers);
      showFee();
    },
    (error: unknown) => {
      fee.textContent = `The fee could not be read (${describe(error)}); the wallet shows it before you confirm.`;
    },
  );
  mount(view, h('h1', {}, 'Publish a video listing'), walletStep, form);
  renderWalletStep();
  return () => {
    stopDeadline();
    state.stopFollowing?.();
  };
}
