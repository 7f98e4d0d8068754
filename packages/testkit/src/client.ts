import { EventSource } from 'eventsource';
import { createPublicClient, type Hex, http } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { GatewayClient, payQuote } from '@reelboard/client';
import { type StatusEvent, statusEventNames, terminalEvents } from '@reelboard/contracts';

/** Signs in to the gateway with SIWE as the given key, as a wallet would; returns the bearer token. */
export async function signIn(gatewayUrl: string, privateKey: Hex, chainId: number): Promise<{ token: string; address: string }> {
  return new GatewayClient(gatewayUrl).signIn(privateKeyToAccount(privateKey), chainId);
}

/** Sends native coin from `privateKey` to `to`; returns the transaction hash. */
export async function pay(rpcUrl: string, privateKey: Hex, to: Hex, value: bigint): Promise<Hex> {
  const chainId = await createPublicClient({ transport: http(rpcUrl) }).getChainId();
  return payQuote(rpcUrl, privateKeyToAccount(privateKey), { chainId, to, amount: value.toString() });
}

export interface EventFollower {
  /** Every event received so far, with its SSE event name. */
  events: { name: string; id: string; data: StatusEvent }[];
  /** Resolves with all events once a terminal one arrives (or rejects after `timeoutMs`). */
  untilEnd: Promise<EventFollower['events']>;
  /** Resolves once an event with this name has arrived. */
  waitFor(name: string, timeoutMs?: number): Promise<StatusEvent>;
  close(): void;
}

/** Follows an upload's status stream as a browser would, with the bearer token. */
export function followEvents(gatewayUrl: string, uploadId: string, token: string, timeoutMs = 180_000): EventFollower {
  const source = new EventSource(`${gatewayUrl}/v1/uploads/${uploadId}/events`, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${token}` } }),
  });
  const events: EventFollower['events'] = [];
  const waiters: { name: string; resolve: (event: StatusEvent) => void }[] = [];
  let finish: (value: EventFollower['events']) => void = () => {};
  let fail: (error: Error) => void = () => {};
  const untilEnd = new Promise<EventFollower['events']>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const timer = setTimeout(() => {
    source.close();
    fail(new Error(`no terminal event within ${timeoutMs} ms; got ${events.map((e) => e.name).join(', ')}`));
  }, timeoutMs);
  for (const name of statusEventNames) {
    source.addEventListener(name, (message) => {
      const data = JSON.parse(message.data) as StatusEvent;
      events.push({ name, id: message.lastEventId, data });
      for (const waiter of waiters.filter((w) => w.name === name)) waiter.resolve(data);
      if (terminalEvents.has(name)) {
        clearTimeout(timer);
        source.close();
        finish(events);
      }
    });
  }
  return {
    events,
    untilEnd,
    waitFor: (name, waitMs = timeoutMs) => {
      const seen = events.find((e) => e.name === name);
      if (seen) return Promise.resolve(seen.data);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${name} event within ${waitMs} ms; got ${events.map((e) => e.name).join(', ')}`)), waitMs);
        waiters.push({ name, resolve: (event) => (clearTimeout(t), resolve(event)) });
      });
    },
    close: () => {
      clearTimeout(timer);
      source.close();
    },
  };
}

/** Posts the listing form as multipart, as the web client does. */
export async function postListing(
  gatewayUrl: string,
  token: string,
  files: { video?: string; logo?: string },
  fields: Record<string, string>,
  /** e.g. `?videoUpload=<id>`: the form names a finished resumable upload instead of carrying the video. */
  query = '',
): Promise<Response> {
  const { openAsBlob } = await import('node:fs');
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  if (files.video) form.append('video', await openAsBlob(files.video), 'clip.mp4');
  if (files.logo) form.append('logo', await openAsBlob(files.logo), 'logo.png');
  return fetch(`${gatewayUrl}/v1/uploads${query}`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
}
