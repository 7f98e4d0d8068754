import { encodeFunctionData, erc20Abi } from 'viem';
import { LISTING_LIMITS } from '@reelboard/contracts/limits';
import { type AcceptedUpload, ApiError, type HashtagSuggestion, type PaymentQuote, requestJson, type UploadPreview } from '../api.js';
import { h, mount, progressBar } from '../dom.js';
import { placeSearch } from '../place-search.js';
import { notificationOffer } from '../push.js';
import { uploadVideoResumably } from '../resumable.js';
import { currentSession, type Session, signIn, signOut } from '../session.js';
import { pipelineProgress } from '../stages.js';
import { followStatus, type StatusEvent } from '../status-stream.js';
import { postListingForm } from '../upload.js';
import { connectWallet, ensureChain, hasWallet, sendContractCall, sendNativePayment, WalletError } from '../wallet.js';

/** What the page remembers between clicks; one listing at a time. */
interface SellState {
  address?: `0x${string}`;
  session?: Session;
  upload?: AcceptedUpload;
  stopFollowing?: () => void;
  paying: boolean;
  pipelinePercent: number;
}

const TEXT_FIELDS = ['title', 'description', 'hashtags', 'latitude', 'longitude', 'displayName', 'contact', 'priceAmount', 'priceCurrency'] as const;

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Sends the quoted amount: a plain transfer for the native coin, an ERC-20 `transfer` call for a token. */
export async function payQuote(from: string, quote: PaymentQuote): Promise<`0x${string}`> {
  await ensureChain(quote.chainId);
  if (!quote.token) return sendNativePayment(from, quote.to, BigInt(quote.amount));
  const data = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [quote.to, BigInt(quote.amount)] });
  return sendContractCall(from, quote.token, data);
}

/** The sell page: connect the wallet, sign in, fill the form, PAY, then follow the listing to SAVE. */
export function renderSell(view: HTMLElement, renderAccount: () => void): () => void {
  const state: SellState = { session: currentSession(), paying: false, pipelinePercent: 0 };
  if (state.session) state.address = state.session.address as `0x${string}`;

  const alert = h('div', { class: 'alert', role: 'alert', hidden: true });
  const notice = h('p', { class: 'notice', 'aria-live': 'polite' });
  const showError = (message: string) => {
    alert.textContent = message;
    alert.hidden = false;
  };
  const clearError = () => {
    alert.hidden = true;
    alert.textContent = '';
  };

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
    clearError();
    try {
      state.address = await connectWallet();
    } catch (error) {
      showError(describe(error));
    }
    renderWalletStep();
  });
  signInButton.addEventListener('click', async () => {
    if (!state.address) return;
    clearError();
    signInButton.disabled = true;
    try {
      state.session = await signIn(state.address);
    } catch (error) {
      showError(`Sign-in failed: ${describe(error)}`);
    } finally {
      signInButton.disabled = false;
    }
    renderWalletStep();
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

  const videoInput = h('input', { type: 'file', id: 'video', name: 'video', accept: 'video/*', required: true, 'aria-describedby': 'video-error' });
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
  const payButton = h('button', { type: 'submit', id: 'pay', class: 'primary' }, 'PAY');
  // Offered once PAY was pressed, never before: the person then knows what they would be told about.
  const notifyOffer = notificationOffer(() => state.session?.token);
  const uploadBar = progressBar('upload-progress', 'Upload');
  const pipelineBar = progressBar('pipeline-progress', 'Listing');
  // The listing's loop and poster, shown as soon as they are stored, while the full video converts.
  const earlyPreview = h('figure', { id: 'early-preview', class: 'early-preview', hidden: true });

  const form = h(
    'form',
    { class: 'card listing-form', novalidate: true, 'aria-labelledby': 'form-heading' },
    h('h2', { id: 'form-heading' }, '2. Your listing'),
    field('video', 'Video', videoInput),
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
    ),
    field('displayName', 'Your name (optional)', displayNameInput),
    field('contact', 'Contact (optional)', contactInput),
    h('div', { class: 'row' }, field('priceAmount', 'Asking price (optional)', priceAmountInput), field('priceCurrency', 'Currency', priceCurrencyInput)),
    h('div', { class: 'actions' }, payButton, notice),
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
    if (!('geolocation' in navigator)) return showError('This browser cannot tell its location: type it instead.');
    locateButton.disabled = true;
    navigator.geolocation.getCurrentPosition(
      (position) => {
        latitudeInput.value = position.coords.latitude.toFixed(5);
        longitudeInput.value = position.coords.longitude.toFixed(5);
        locateButton.disabled = false;
      },
      (error) => {
        showError(`Location unavailable (${error.message}): type it instead.`);
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

  const setPayButton = (mode: 'pay' | 'paying' | 'save-waiting' | 'save-ready' | 'hidden') => {
    payButton.hidden = mode === 'hidden';
    payButton.disabled = mode === 'paying' || mode === 'save-waiting';
    payButton.textContent = mode === 'pay' ? 'PAY' : mode === 'paying' ? 'Paying…' : 'SAVE';
    payButton.classList.toggle('save', mode === 'save-waiting' || mode === 'save-ready');
    payButton.setAttribute('aria-busy', String(mode === 'paying' || mode === 'save-waiting'));
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
        state.paying = false;
        notice.textContent = 'Payment confirmed on chain.';
        setPayButton('save-waiting');
        break;
      case 'preview.ready':
        void showEarlyPreview(event.uploadId);
        break;
      case 'payment.rejected':
        state.paying = false;
        showError(`Payment not accepted: ${event.reason ?? 'no reason given'}. You can pay again.`);
        setPayButton('pay');
        break;
      case 'profile.saved':
        notice.textContent = 'Saved. Press SAVE to open your listing.';
        setPayButton('save-ready');
        break;
      case 'failed':
        showError(`The listing could not be finished: ${event.reason ?? 'unknown error'}. Your payment is recorded for a retry or refund.`);
        setPayButton('hidden');
        break;
      case 'payment.received':
        // Money reached the quote's address: part of the price (pay the rest to the same address),
        // or money after the end (recorded for refund).
        notice.textContent = event.reason ?? 'Payment received.';
        if (event.code === 'partial') {
          state.paying = false;
          setPayButton('pay');
        }
        break;
      case 'expired':
        showError(`The payment window closed before a payment arrived${event.reason ? ` (${event.reason})` : ''}. Send the form again to get a new quote.`);
        resetUpload();
        break;
      case 'refund.due':
        showError(
          `The payment window closed before the full price arrived: ${event.reason ?? ''}. What you sent will be refunded. Send the form again to get a new quote.`,
        );
        resetUpload();
        break;
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
    state.stopFollowing?.();
    state.upload = undefined;
    state.stopFollowing = undefined;
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
    state.stopFollowing = followStatus(accepted.uploadId, session.token, {
      onEvent: onStatus,
      onError: (error) => showError(`Lost the status of the listing: ${error.message}`),
    });
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
      const upload = await ensureUploaded(session);
      if (!upload) {
        state.paying = false;
        return setPayButton('pay');
      }
      notice.textContent = 'Confirm the payment in your wallet…';
      const txHash = await payQuote(state.address, upload.payment);
      notice.textContent = 'Payment sent. Waiting for confirmations…';
      notifyOffer.show();
      await requestJson(`/v1/uploads/${upload.uploadId}/payment`, { method: 'POST', body: { txHash }, token: session.token }).catch((error: unknown) => {
        // Only a hint: whatever reaches the quote's address pays it, so too many hashes in flight is not an error for the person.
        if (!(error instanceof ApiError && error.code === 'too_many_hashes')) throw error;
      });
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
    }
  });

  mount(view, h('h1', {}, 'Publish a video listing'), alert, walletStep, form);
  renderWalletStep();
  return () => state.stopFollowing?.();
}
