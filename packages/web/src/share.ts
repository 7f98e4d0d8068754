import { h } from './dom.js';

/**
 * A share button: the system's share sheet where there is one (Web Share API, phones mostly), otherwise
 * the link copied to the clipboard; either way a line says what happened.
 */
export function shareButton(share: { title: string; url: string }): HTMLElement {
  const result = h('span', { class: 'hint', id: 'share-result', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', id: 'share', class: 'secondary' }, 'Share');
  button.addEventListener('click', async () => {
    const data = { title: share.title, url: share.url };
    if (typeof navigator.share === 'function' && (navigator.canShare?.(data) ?? true)) {
      try {
        await navigator.share(data);
        result.textContent = 'Shared.';
        return;
      } catch (error) {
        // The person closed the sheet: nothing to say. Any other failure falls back to copying.
        if ((error as Error).name === 'AbortError') return void (result.textContent = '');
      }
    }
    try {
      await navigator.clipboard.writeText(share.url);
      result.textContent = 'Link copied.';
    } catch {
      result.textContent = `Copy this link: ${share.url}`;
    }
  });
  return h('p', { class: 'share' }, button, ' ', result);
}
