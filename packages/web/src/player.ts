// The DASH-only build: the listing's ladder is DASH (WebM, SegmentBase), so HLS, MSS and the UI
// layer would only add weight to the one script a buyer waits for before the first frame. Its
// ES2021 variant (no transpiled classes and async code: 15 % smaller) runs in every browser the
// bundle targets (infra/web.ts: Chrome 111, Firefox 114, Safari 16.4).
import * as shakaModule from 'shaka-player/dist/shaka-player.dash-es2021.js';
import { h } from './dom.js';

// The build is CommonJS: its exports object is what its typings call the default export (which,
// read as CommonJS by TypeScript, types as `.default.default`).
const shaka = shakaModule.default as unknown as typeof shakaModule.default.default;
type ShakaPlayer = InstanceType<typeof shaka.Player>;

/** What a player plays: the adaptive manifest when there is one, else the single progressive file. */
export interface PlayerSource {
  /** The DASH manifest (a path on this API), or null for a listing saved before the ladder. */
  manifestUrl: string | null;
  /** The single progressive WebM: for browsers without Media Source Extensions, and when the manifest fails (null: none yet). */
  fallbackUrl: string | null;
  /** WebVTT thumbnails (sprites with `#xywh=`) shown over the seek bar, or null. */
  storyboardUrl?: string | null | undefined;
  /** A session token for manifests this API shows to their owner only (an upload's). */
  token?: string | undefined;
}

export interface AttachOptions {
  /** Where to start (s): a hand-off from the page's start element begins a little ahead of it (fast-start.ts). */
  startTime?: number;
  /**
   * Seconds to buffer ahead until `bufferFully` is called (default: the full goal at once). A hidden
   * element waiting for its hand-off asks for little, so it does not take the link from the one shown.
   */
  initialBufferingGoal?: number;
}

/** A playing source; `mode` says which way it plays. */
export interface StreamPlayer {
  mode: 'dash' | 'progressive';
  /** The controls that go under the video (seek bar with thumbnails, quality menu); empty when progressive. */
  controls: HTMLElement;
  destroy(): Promise<void>;
  /** Buffers as far ahead as a shown player does (BUFFERING_GOAL_S), after a smaller `initialBufferingGoal`. */
  bufferFully(): void;
}

const AUTO = 'auto';
/** Seconds of media a playing adaptive player keeps ahead on a good link. */
const BUFFERING_GOAL_S = 30;
const kbps = (bitsPerSecond: number) => `${Math.round(bitsPerSecond / 1000)} kbit/s`;
const clock = (seconds: number) => `${Math.floor(seconds / 60)}:${String(Math.floor(seconds % 60)).padStart(2, '0')}`;

/** Whether this browser can play the ladder (Media Source Extensions with VP9 and Opus in WebM). */
export function adaptiveSupported(): boolean {
  return shaka.Player.isBrowserSupported();
}

function playProgressive(video: HTMLVideoElement, source: PlayerSource, reason: string): StreamPlayer {
  video.dataset.playback = 'progressive';
  video.dataset.playbackReason = reason;
  if (source.fallbackUrl) video.src = source.fallbackUrl;
  return { mode: 'progressive', controls: h('div', { class: 'player-controls', hidden: true }), destroy: async () => {}, bufferFully: () => undefined };
}

/**
 * The quality menu: Auto (adaptive, naming the rung it plays now) and each rung of the ladder.
 * Choosing a rung turns adaptation off and clears the buffer, so the change shows at once.
 */
function qualityMenu(player: ShakaPlayer, video: HTMLVideoElement): { element: HTMLElement; refresh(): void } {
  const select = h('select', { id: 'quality', 'aria-label': 'Quality' });
  const element = h('label', { class: 'quality' }, 'Quality ', select);
  const rungs = () => [...player.getVideoTracks()].sort((a, b) => (a.height ?? 0) - (b.height ?? 0));
  const refresh = () => {
    const active = player.getVideoTracks().find((track) => track.active);
    if (active?.height) video.dataset.rung = String(active.height);
    const chosen = select.value || AUTO;
    const auto = player.getConfiguration().abr.enabled;
    select.replaceChildren(
      h('option', { value: AUTO }, active?.height ? `Auto (${active.height}p)` : 'Auto'),
      ...rungs().map((track) => h('option', { value: String(track.height) }, `${track.height}p · ${kbps(track.bandwidth)}`)),
    );
    select.value = auto ? AUTO : chosen;
  };
  select.addEventListener('change', () => {
    if (select.value === AUTO) {
      player.configure({ abr: { enabled: true } });
    } else {
      const track = rungs().find((candidate) => String(candidate.height) === select.value);
      if (!track) return;
      player.configure({ abr: { enabled: false } });
      player.selectVideoTrack(track, true);
    }
    refresh();
  });
  return { element, refresh };
}

/**
 * A seek bar with the storyboard's thumbnail over the pointer (or the thumb, from the keyboard):
 * the native controls cannot show thumbnails. Seeks on release.
 */
function seekBar(player: ShakaPlayer, video: HTMLVideoElement, thumbnailsTrack: number | null): HTMLElement {
  const range = h('input', { type: 'range', class: 'seek', min: 0, max: 1000, step: 1, value: 0, 'aria-label': 'Seek' });
  const picture = h('div', { class: 'thumb-picture' });
  const time = h('span', { class: 'thumb-time' });
  const preview = h('div', { class: 'seek-thumbnail', id: 'seek-thumbnail', hidden: true }, picture, time);
  let dragging = false;
  const timeAt = (fraction: number) => Math.max(0, Math.min(1, fraction)) * (video.duration || 0);
  let shown = -1;
  const show = async (fraction: number) => {
    const at = timeAt(fraction);
    preview.hidden = false;
    preview.style.left = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
    time.textContent = clock(at);
    if (thumbnailsTrack === null) return;
    shown = at;
    const thumbnail = await player.getThumbnails(thumbnailsTrack, at);
    if (!thumbnail || shown !== at) return;
    const [uri] = thumbnail.uris;
    Object.assign(picture.style, {
      width: `${thumbnail.width}px`,
      height: `${thumbnail.height}px`,
      backgroundImage: uri ? `url("${uri}")` : '',
      backgroundPosition: `-${thumbnail.positionX}px -${thumbnail.positionY}px`,
    });
    picture.dataset.time = String(thumbnail.startTime);
  };
  range.addEventListener('pointermove', (event) => {
    const box = range.getBoundingClientRect();
    void show((event.clientX - box.left) / box.width);
  });
  range.addEventListener('pointerleave', () => {
    if (!dragging) preview.hidden = true;
  });
  range.addEventListener('input', () => {
    dragging = true;
    void show(Number(range.value) / 1000);
  });
  range.addEventListener('change', () => {
    dragging = false;
    preview.hidden = true;
    video.currentTime = timeAt(Number(range.value) / 1000);
  });
  video.addEventListener('timeupdate', () => {
    if (!dragging && video.duration) range.value = String(Math.round((video.currentTime / video.duration) * 1000));
  });
  return h('div', { class: 'seek-bar' }, range, preview);
}

/**
 * Plays `source` in `video`: the DASH ladder with adaptive bitrate (shaka-player) when the browser
 * has Media Source Extensions and there is a manifest, else the progressive file. A manifest that
 * fails to load falls back to the progressive file too, so a listing always plays.
 */
export async function attachPlayer(video: HTMLVideoElement, source: PlayerSource, options: AttachOptions = {}): Promise<StreamPlayer> {
  if (!source.manifestUrl) return playProgressive(video, source, 'no-manifest');
  shaka.polyfill.installAll();
  if (!adaptiveSupported()) return playProgressive(video, source, 'no-mse');

  const player = new shaka.Player();
  await player.attach(video);
  const ownOrigin = window.location.origin;
  if (source.token) {
    const token = source.token;
    // Only requests to this API carry the session: segment URLs are presigned, and a header would
    // break their signature (and force a CORS preflight).
    player.getNetworkingEngine()?.registerRequestFilter((_type, request) => {
      if (request.uris.every((uri) => new URL(uri, ownOrigin).origin === ownOrigin)) request.headers.Authorization = `Bearer ${token}`;
    });
  }
  player.configure({
    streaming: {
      // Start after 1 s of media (the first rung's first cluster), keep 30 s ahead on a good link.
      rebufferingGoal: 1,
      bufferingGoal: options.initialBufferingGoal ?? BUFFERING_GOAL_S,
    },
    // Start on the lowest rung (the first frame comes first), then let the measured throughput decide.
    // Not from the browser's Network Information guess: it named a throttled phone link 1.6 Mbit/s, the
    // player began on 480p, measured, and fetched the start again at 360p (1.2 s lost before the first frame).
    abr: { defaultBandwidthEstimate: 250_000, useNetworkInformation: false },
  });
  try {
    await player.load(new URL(source.manifestUrl, ownOrigin).href, options.startTime);
  } catch (error) {
    await player.destroy();
    video.removeAttribute('src');
    const code = (error as { code?: number }).code;
    return playProgressive(video, source, `manifest-failed${code ? `-${code}` : ''}`);
  }
  video.dataset.playback = 'dash';

  let thumbnailsTrack: number | null = null;
  if (source.storyboardUrl) {
    try {
      thumbnailsTrack = (await player.addThumbnailsTrack(new URL(source.storyboardUrl, ownOrigin).href, 'text/vtt')).id;
    } catch {
      // The storyboard is a nicety: the seek bar still seeks, with the time only.
      thumbnailsTrack = null;
    }
  }
  const menu = qualityMenu(player, video);
  player.addEventListener('trackschanged', menu.refresh);
  player.addEventListener('variantchanged', menu.refresh);
  player.addEventListener('adaptation', menu.refresh);
  menu.refresh();
  const controls = h('div', { class: 'player-controls' }, seekBar(player, video, thumbnailsTrack), menu.element);
  return {
    mode: 'dash',
    controls,
    destroy: () => player.destroy(),
    bufferFully: () => player.configure({ streaming: { bufferingGoal: BUFFERING_GOAL_S } }),
  };
}
