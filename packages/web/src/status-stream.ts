import { createParser } from 'eventsource-parser';
import { errorFrom } from './api.js';

export type { StatusEvent } from '@reelboard/api';

import type { StatusEvent, StatusEventName } from '@reelboard/api';

/** Events after which the gateway closes the stream and nothing more happens. */
export const TERMINAL_EVENTS: ReadonlySet<StatusEventName> = new Set<StatusEventName>(['profile.saved', 'failed', 'expired', 'refund.due']);

export interface StatusStreamHandlers {
  onEvent(event: StatusEvent): void;
  /** The stream could not be (re)opened for good, e.g. the session expired. */
  onError(error: Error): void;
}

const RECONNECT_DELAY_MS = 2_000;

/**
 * Follows an upload's Server-Sent Events. Browser EventSource cannot send `Authorization`, so this
 * reads the stream with fetch() and parses it with eventsource-parser; on a dropped connection it
 * reconnects with `Last-Event-ID`, so no event is missed. Returns a function that stops following.
 */
export function followStatus(uploadId: string, token: string, handlers: StatusStreamHandlers): () => void {
  const controller = new AbortController();
  let lastEventId = '';
  let finished = false;

  const readOnce = async () => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    const res = await fetch(`/v1/uploads/${encodeURIComponent(uploadId)}/events`, { headers, signal: controller.signal, cache: 'no-store' });
    if (!res.ok || !res.body) throw Object.assign(await errorFrom(res), { permanent: res.status >= 400 && res.status < 500 });
    const parser = createParser({
      onEvent: (message) => {
        if (message.id) lastEventId = message.id;
        const event = JSON.parse(message.data) as StatusEvent;
        handlers.onEvent(event);
        if (TERMINAL_EVENTS.has(event.event)) finished = true;
      },
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      parser.feed(value);
    }
  };

  void (async () => {
    while (!finished && !controller.signal.aborted) {
      try {
        await readOnce();
      } catch (error) {
        if (controller.signal.aborted) return;
        if ((error as { permanent?: boolean }).permanent) return handlers.onError(error as Error);
      }
      if (!finished) await new Promise((resolve) => setTimeout(resolve, RECONNECT_DELAY_MS));
    }
  })();
  return () => controller.abort();
}
