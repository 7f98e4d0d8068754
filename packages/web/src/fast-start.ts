import { h } from './dom.js';
import { hasMediaSource, loadPlayer, type PlayerSource } from './player-loader.js';

// A listing's page shows its first frame from the browser's own `<video>` playing the lowest rung's
// file (`video.startUrl`), with no script in the way: on a phone link the adaptive player's script
// alone (~170 KB compressed) took longer to arrive than the 1.5 s the first frame may take. Once that
// frame is shown the player is loaded and attached to a second, hidden element a little ahead of the
// playing one; when it has data there, the two are swapped on the same frame and the start element's
// download is stopped. docs/codecs.md ("The fast start") has the measurements.

/** The id of the visible player element: the start element's, then the adaptive one's after the hand-off. */
export const PLAYER_ID = 'player';

/**
 * How far ahead of the start element (s) the adaptive one is put: time for the manifest, the rung's
 * index and init, and one segment of each stream, over a link shared with the start file's download.
 * The player's script measured that link: the lead is a second plus three times what the script
 * took (on the throttled phone link the script took ~1.5 s and the rest ~3 s; unthrottled, the
 * lead is the least and the hand-off, with the climb to the top rung, comes soonest).
 */
const leadFor = (scriptSeconds: number) => Math.min(MAX_LEAD_S, Math.max(MIN_LEAD_S, 1 + 3 * scriptSeconds));
const MIN_LEAD_S = 1.5;
const MAX_LEAD_S = 8;
/** A second aim, inside what the adaptive element has buffered, when it was not ready at the first. */
const RETRY_S = 0.5;
/** Closer to the end than this, a hand-off ahead is not worth it: it happens where the start element is. */
const END_MARGIN_S = 0.5;
/** Seconds the hidden adaptive element buffers before the hand-off: one segment, so the start element keeps the link. */
const HIDDEN_BUFFER_S = 2;
/** A media element's readyState with data beyond the current position (HAVE_FUTURE_DATA). */
const HAVE_FUTURE_DATA = 3;
/** A media element's readyState once it knows the stream's duration and size (HAVE_METADATA). */
const HAVE_METADATA = 1;

/** What the fast start plays: the listing's start file, and the adaptive source to hand off to. */
export interface FastStartSource extends PlayerSource {
  /** The lowest rung's file (`video.startUrl`). */
  startUrl: string;
  /** The rungs, lowest first: a quality chosen before the hand-off picks one of them. */
  renditions: { height: number }[];
}

/** The attributes of the start element, as the gateway writes them into a listing's page (share-tags.ts, listingStartPlayer). */
export function startElement(listing: { id: string; title: string; posterUrl: string; startUrl: string; width: number; height: number }): HTMLVideoElement {
  const video = h('video', {
    id: PLAYER_ID,
    src: listing.startUrl,
    poster: listing.posterUrl,
    muted: true,
    autoplay: true,
    playsinline: true,
    controls: true,
    preload: 'auto',
    width: listing.width,
    height: listing.height,
    'data-playback': 'start',
    'data-listing-id': listing.id,
    'aria-label': `Video: ${listing.title}`,
  });
  // The attribute only sets the default: a script-made element is muted by the property.
  video.muted = true;
  return video;
}

/** The start element the gateway wrote into the page for listing `id`, or undefined (another page, or already adopted). */
export function startInPage(id: string): HTMLVideoElement | undefined {
  const video = document.getElementById(PLAYER_ID);
  if (!(video instanceof HTMLVideoElement) || video.dataset.playback !== 'start') return undefined;
  if (video.dataset.listingId === id) return video;
  // A page written for another listing (the address changed before the script ran): its download stops.
  stopDownload(video);
  video.closest('.player')?.remove();
  return undefined;
}

/** Stops an element's download and playback for good (the spec's way: no source, then load). */
function stopDownload(video: HTMLVideoElement): void {
  video.pause();
  video.removeAttribute('src');
  video.load();
}

/** Whether this browser tells when a frame is presented (Firefox before 132 does not). */
const watchesFrames = (): boolean => 'requestVideoFrameCallback' in HTMLVideoElement.prototype;

/** Resolves on the first frame `video` presents (requestVideoFrameCallback; `loadeddata` where it is missing). */
function firstFrame(video: HTMLVideoElement): Promise<void> {
  return new Promise((resolve) => {
    if (watchesFrames()) video.requestVideoFrameCallback(() => resolve());
    else video.addEventListener('loadeddata', () => resolve(), { once: true });
  });
}

/** Calls `callback` on each frame `video` presents, or on `timeupdate` (4 a second) where frames cannot be watched. */
function eachFrame(video: HTMLVideoElement, callback: () => boolean): void {
  if (watchesFrames()) {
    const frame = () => {
      if (callback()) video.requestVideoFrameCallback(frame);
    };
    video.requestVideoFrameCallback(frame);
    return;
  }
  const update = () => {
    if (!callback()) video.removeEventListener('timeupdate', update);
  };
  video.addEventListener('timeupdate', update);
}

/** The controls shown before the hand-off: sound (the start file has none) and the quality menu; either hands off at once. */
function earlyControls(source: FastStartSource, now: (why: Urgent) => void): HTMLElement {
  const sound = h('button', { type: 'button', id: 'sound', class: 'link', onclick: () => now({ unmute: true }) }, 'Sound on');
  const select = h(
    'select',
    { id: 'quality', 'aria-label': 'Quality', onchange: () => now({ height: Number(select.value) || undefined }) },
    h('option', { value: 'auto' }, 'Auto'),
    ...source.renditions.map((rung) => h('option', { value: String(rung.height) }, `${rung.height}p`)),
  );
  return h('div', { class: 'player-controls' }, sound, h('label', { class: 'quality' }, 'Quality ', select));
}

/** Why the hand-off cannot wait for the adaptive element to be ready ahead: what the person asked for. */
interface Urgent {
  unmute?: boolean;
  /** A rung chosen in the early quality menu. */
  height?: number | undefined;
}

/**
 * Plays a listing from its start element (`start`, the page's own or one made with `startElement`),
 * then hands off to the adaptive player. Without Media Source Extensions the start element plays the
 * progressive file instead. Resolves with the way it plays once the hand-off is done.
 */
export async function fastStart(start: HTMLVideoElement, controls: HTMLElement, source: FastStartSource): Promise<'dash' | 'progressive' | 'none'> {
  const progressive = (reason: string) => {
    const at = start.currentTime;
    start.dataset.playback = 'progressive';
    start.dataset.playbackReason = reason;
    if (!source.fallbackUrl) return 'none' as const;
    // The progressive file has the sound the start file lacks: it goes on from where the start was.
    start.src = source.fallbackUrl;
    if (at > 0) start.currentTime = at;
    void start.play().catch(() => undefined);
    return 'progressive' as const;
  };
  if (!hasMediaSource()) return progressive('no-mse');

  let urgent: Urgent | undefined;
  let wake: () => void = () => undefined;
  const urgentAsked = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const now = (why: Urgent) => {
    urgent = { ...urgent, ...why };
    wake();
  };
  controls.replaceChildren(earlyControls(source, now));
  start.addEventListener('volumechange', () => !start.muted && now({ unmute: true }));
  start.addEventListener('seeking', () => now({}));
  start.addEventListener('ended', () => now({}));
  // A browser that plays no VP9 WebM, or a start file that failed: the adaptive player (or the progressive file) at once.
  start.addEventListener('error', () => now({}));
  // Blocked autoplay (a data-saver, a policy) leaves the poster: the player is loaded as it was before the fast start.
  start.play().catch((error: unknown) => (error as Error).name === 'NotAllowedError' && now({}));

  await Promise.race([firstFrame(start).then(() => performance.mark('start-first-frame')), urgentAsked]);
  let module: Awaited<ReturnType<typeof loadPlayer>>;
  const asked = performance.now();
  try {
    module = await loadPlayer();
  } catch {
    return progressive('player-failed');
  }
  // The person left the listing while the script loaded: the start element's download stops with it.
  if (!start.isConnected) {
    stopDownload(start);
    return 'none';
  }

  const lead = leadFor((performance.now() - asked) / 1000);
  const ahead = () => {
    const end = Number.isFinite(start.duration) ? start.duration - END_MARGIN_S : Number.POSITIVE_INFINITY;
    const target = start.currentTime + lead;
    return urgent || target > end ? start.currentTime : target;
  };
  const adaptive = h('video', { playsinline: true, preload: 'auto', hidden: true, poster: start.poster, width: start.width, height: start.height });
  adaptive.muted = true;
  start.after(adaptive);
  const startTime = ahead();
  const player = await module.attachPlayer(adaptive, { ...source, fallbackUrl: null }, { startTime, initialBufferingGoal: HIDDEN_BUFFER_S });
  if (player.mode !== 'dash' || !start.isConnected) {
    await player.destroy();
    adaptive.remove();
    return start.isConnected ? progressive(adaptive.dataset.playbackReason ?? 'manifest-failed') : 'none';
  }

  // The adaptive element is ready at `target` and the start element has reached it: the swap. Or the
  // person left the listing (a removed element pauses, and presents no more frames): no swap.
  let swapped = false;
  const left = await new Promise<boolean>((resolve) => {
    start.addEventListener('pause', () => {
      if (!start.isConnected && !swapped) {
        swapped = true;
        resolve(true);
      }
    });
    // The player puts the element there once it has the stream's metadata: until then it reads 0.
    let target = startTime;
    const check = () => {
      if (swapped) return false;
      if (urgent) {
        swapped = true;
        // Where the start element is; the player moves the element to its own start time once it has the
        // stream's metadata, so before that the position is set after it.
        const at = start.currentTime;
        if (adaptive.readyState >= HAVE_METADATA) adaptive.currentTime = at;
        else adaptive.addEventListener('loadedmetadata', () => queueMicrotask(() => (adaptive.currentTime = at)), { once: true });
        resolve(false);
        return false;
      }
      const ready = adaptive.readyState >= HAVE_FUTURE_DATA && !adaptive.seeking && Math.abs(adaptive.currentTime - target) < 0.05;
      // Half a frame early: the adaptive element's first frame is the one the start element would show next.
      if (start.currentTime + 1 / 60 < target) return true;
      if (ready) {
        swapped = true;
        resolve(false);
        return false;
      }
      // Not ready in time (a slow link, a busy machine): aim a little ahead within what the adaptive
      // element has buffered (a seek there needs no request), else a whole lead further.
      const near = start.currentTime + RETRY_S;
      const buffered = adaptive.buffered;
      const inBuffer = Array.from({ length: buffered.length }, (_, index) => index).some(
        (index) => buffered.start(index) <= near && near < buffered.end(index) - 0.1,
      );
      target = inBuffer ? near : ahead();
      adaptive.currentTime = target;
      return true;
    };
    eachFrame(start, check);
    void urgentAsked.then(() => check());
  });
  if (left) {
    stopDownload(start);
    await player.destroy();
    adaptive.remove();
    return 'none';
  }
  handOver(start, adaptive, urgent);
  player.bufferFully();
  performance.mark('player-hand-off');
  controls.replaceChildren(player.controls);
  if (urgent?.height) {
    const select = player.controls.querySelector<HTMLSelectElement>('#quality');
    if (select) {
      select.value = String(urgent.height);
      select.dispatchEvent(new Event('change'));
    }
  }
  return 'dash';
}

/** Shows the adaptive element in the start element's place, as the person left it (muted or not, playing or not), and stops the start. */
function handOver(start: HTMLVideoElement, adaptive: HTMLVideoElement, urgent: Urgent | undefined): void {
  const playing = !start.paused && !start.ended;
  adaptive.muted = urgent?.unmute ? false : start.muted;
  adaptive.volume = start.volume;
  adaptive.controls = start.controls;
  adaptive.setAttribute('aria-label', start.getAttribute('aria-label') ?? 'Video');
  if (playing || urgent?.unmute) void adaptive.play().catch(() => undefined);
  adaptive.hidden = false;
  start.hidden = true;
  stopDownload(start);
  start.removeAttribute('id');
  start.remove();
  adaptive.id = PLAYER_ID;
}
