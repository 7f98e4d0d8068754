import { formatUnits } from 'viem';
import { type Pricing, requestJson } from './api.js';

/** How the seller's amounts are told: the coin's units and ticker, never raw base units. */
export interface Coin {
  symbol: string;
  decimals: number;
}

/** The fee of one listing, read once per page load (the gateway caches it for a minute too). */
let pricing: Promise<Pricing> | undefined;
export function loadPricing(): Promise<Pricing> {
  pricing ??= requestJson<Pricing>('/v1/pricing').catch((error: unknown) => {
    pricing = undefined;
    throw error;
  });
  return pricing;
}

/** `0.0125 ETH`: base units in the coin's units, with the reader's decimal separator. */
export function formatAmount(baseUnits: string | bigint, coin: Coin): string {
  const [whole = '0', fraction = ''] = formatUnits(BigInt(baseUnits), coin.decimals).split('.');
  const separator = new Intl.NumberFormat(undefined).formatToParts(1.5).find((part) => part.type === 'decimal')?.value ?? '.';
  return `${fraction ? `${whole}${separator}${fraction}` : whole} ${coin.symbol}`;
}

/** A date and time in the reader's locale and time zone. */
export function formatWhen(iso: string): string {
  return new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

/**
 * Moves keyboard and screen-reader focus to the next step, so it never falls to the page body after
 * an action; an element that is not focusable by itself (a heading, a message) becomes so for this.
 */
export function focusStep(element: HTMLElement | null | undefined): void {
  if (!element) return;
  if (element.tabIndex < 0 && !element.hasAttribute('tabindex')) element.setAttribute('tabindex', '-1');
  element.focus();
}

/** A video upload tus-js-client remembers in this browser: its file name and size, to be resumed by picking the same file. */
export interface InterruptedUpload {
  fileName: string;
  bytes: number;
  startedAt: string;
}

/** The resumable uploads this browser started and did not finish (tus-js-client keeps them in localStorage as `tus::…`). */
export function interruptedUploads(): InterruptedUpload[] {
  const found: InterruptedUpload[] = [];
  for (let index = 0; index < localStorage.length; index++) {
    const key = localStorage.key(index);
    if (!key?.startsWith('tus::')) continue;
    try {
      const stored = JSON.parse(localStorage.getItem(key) ?? '{}') as { size?: number; metadata?: { filename?: string }; creationTime?: string };
      if (stored.metadata?.filename) found.push({ fileName: stored.metadata.filename, bytes: stored.size ?? 0, startedAt: stored.creationTime ?? '' });
    } catch {
      // Another library's entry under the same prefix: not ours to read.
    }
  }
  return found;
}
