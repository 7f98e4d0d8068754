/**
 * Plays card previews only while their card is on screen, and downloads at most one at a time.
 * A card shows its poster until then (`preload="none"`, no `src`): a 20-card page costs 20 small
 * images, not 20 videos. When a visible card's turn comes, its preview's `src` is set; once it can
 * play through (about downloaded) it plays muted, and the next visible card's preview starts loading. A card that scrolls away
 * pauses, and one still loading is stopped (its `src` removed) so it frees the one slot.
 */
export interface PreviewScheduler {
  /** Starts watching a card's `<video>` (its preview URL in `data-preview`). */
  watch(video: HTMLVideoElement): void;
  /** Stops everything (the view is left). */
  stop(): void;
}

/** Loading a preview longer than this gives its slot to the next one. */
const LOAD_TIMEOUT_MS = 15_000;

export function previewScheduler(options: { threshold?: number; autoplay?: boolean } = {}): PreviewScheduler {
  const visible = new Set<HTMLVideoElement>();
  const ready = new WeakSet<HTMLVideoElement>();
  let loading: { video: HTMLVideoElement; cancel: () => void } | undefined;
  // People who ask for less motion see posters only.
  const autoplay = options.autoplay ?? !window.matchMedia?.('(prefers-reduced-motion: reduce)').matches;

  const play = (video: HTMLVideoElement) => {
    video.muted = true;
    void video.play().catch(() => undefined);
  };

  const next = () => {
    if (loading || !autoplay) return;
    const video = [...visible].find((candidate) => !ready.has(candidate));
    if (!video) return;
    const done = (ok: boolean) => {
      clearTimeout(timer);
      video.removeEventListener('canplaythrough', onReady);
      video.removeEventListener('error', onError);
      if (loading?.video === video) loading = undefined;
      if (ok) {
        ready.add(video);
        if (visible.has(video)) play(video);
      }
      next();
    };
    const onReady = () => done(true);
    const onError = () => done(false);
    const timer = setTimeout(() => done(false), LOAD_TIMEOUT_MS);
    video.addEventListener('canplaythrough', onReady);
    video.addEventListener('error', onError);
    loading = {
      video,
      cancel: () => {
        clearTimeout(timer);
        video.removeEventListener('canplaythrough', onReady);
        video.removeEventListener('error', onError);
        video.removeAttribute('src');
        video.load();
        loading = undefined;
      },
    };
    video.preload = 'auto';
    video.src = video.dataset.preview ?? '';
  };

  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        const video = entry.target as HTMLVideoElement;
        if (entry.isIntersecting) {
          visible.add(video);
          if (ready.has(video) && autoplay) play(video);
        } else {
          visible.delete(video);
          video.pause();
          if (loading?.video === video) loading.cancel();
        }
      }
      next();
    },
    { threshold: options.threshold ?? 0.5 },
  );

  return {
    watch(video) {
      observer.observe(video);
    },
    stop() {
      observer.disconnect();
      loading?.cancel();
      visible.clear();
    },
  };
}
