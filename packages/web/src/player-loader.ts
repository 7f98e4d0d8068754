import { h } from './dom.js';
import type * as PlayerModule from './player.js';
import type { PlayerSource } from './player.js';

export type { PlayerSource } from './player.js';

/** Where the gateway serves the adaptive player, a script of its own (services/api-gateway/src/infra/web.ts). */
const PLAYER_SCRIPT = '/assets/player.js';

let loading: Promise<typeof PlayerModule> | undefined;

/**
 * Fetches the adaptive player (shaka-player, ~600 KB) once, only for pages that play a listing:
 * the browse page and the form never download it. Call early to overlap it with other requests.
 */
export function loadPlayer(): Promise<typeof PlayerModule> {
  const url = PLAYER_SCRIPT;
  loading ??= import(url) as Promise<typeof PlayerModule>;
  return loading;
}

/** Whether this browser has Media Source Extensions at all (without them the player is not even fetched). */
export const hasMediaSource = (): boolean => typeof window.MediaSource !== 'undefined' || 'ManagedMediaSource' in window;

/**
 * Plays `source` in `video`, putting the player's controls (seek bar with storyboard thumbnails,
 * quality menu) in `controls`: adaptive when there is a manifest and the browser has Media Source
 * Extensions, else the progressive file; a player that fails to load falls back to it too.
 */
export async function playInto(video: HTMLVideoElement, controls: HTMLElement, source: PlayerSource): Promise<'dash' | 'progressive' | 'none'> {
  const progressive = (reason: string) => {
    video.dataset.playback = 'progressive';
    video.dataset.playbackReason = reason;
    if (!source.fallbackUrl) return 'none';
    video.src = source.fallbackUrl;
    return 'progressive';
  };
  if (!source.manifestUrl) return progressive('no-manifest');
  if (!hasMediaSource()) return progressive('no-mse');
  try {
    const { attachPlayer } = await loadPlayer();
    const player = await attachPlayer(video, source);
    controls.replaceChildren(player.controls);
    return player.mode === 'dash' ? 'dash' : source.fallbackUrl ? 'progressive' : 'none';
  } catch (error) {
    controls.replaceChildren(h('span', { class: 'meta', hidden: true }, String(error)));
    return progressive('player-failed');
  }
}
