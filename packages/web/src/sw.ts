// The service worker: shows the gateway's push messages as notifications and opens their page on
// click. Bundled on its own (served at /sw.js, scope /). The project's web tsconfig has the DOM
// library, not the WebWorker one, so the few worker types used here are spelled out.

type Waitable = Event & { waitUntil(work: Promise<unknown>): void };
type PushEventLike = Waitable & { data: { json(): unknown } | null };
type ClickEventLike = Waitable & { notification: Notification };
interface WindowClientLike {
  url: string;
  focus(): Promise<unknown>;
  navigate(url: string): Promise<unknown>;
}
interface WorkerScope {
  location: Location;
  registration: ServiceWorkerRegistration;
  clients: { matchAll(options: { type: 'window'; includeUncontrolled: boolean }): Promise<WindowClientLike[]>; openWindow(url: string): Promise<unknown> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'push', listener: (event: PushEventLike) => void): void;
  addEventListener(type: 'notificationclick', listener: (event: ClickEventLike) => void): void;
  addEventListener(type: 'install', listener: (event: Waitable) => void): void;
}

const worker = self as unknown as WorkerScope;

/** What the notifier sends (services/notifier: PushMessage). */
interface PushMessage {
  title?: unknown;
  body?: unknown;
  url?: unknown;
  tag?: unknown;
  seq?: unknown;
}

/** A link on this origin, or the client's start page: a push message never sends the person elsewhere. */
function sameOriginUrl(raw: unknown): string {
  try {
    const url = new URL(String(raw), worker.location.origin);
    return url.origin === worker.location.origin ? url.href : `${worker.location.origin}/`;
  } catch {
    return `${worker.location.origin}/`;
  }
}

worker.addEventListener('install', (event) => event.waitUntil(worker.skipWaiting()));

worker.addEventListener('push', (event) => {
  let message: PushMessage = {};
  try {
    message = (event.data?.json() ?? {}) as PushMessage;
  } catch {
    message = {};
  }
  const title = typeof message.title === 'string' ? message.title : 'Reelboard';
  const tag = typeof message.tag === 'string' ? message.tag : undefined;
  const seq = typeof message.seq === 'number' ? message.seq : 0;
  event.waitUntil(
    (async () => {
      // Messages are sent concurrently and may arrive out of order: one about a later event of the
      // same upload (higher seq) stays shown rather than being replaced by an older one.
      const shown = tag ? await worker.registration.getNotifications({ tag }) : [];
      if (shown.some((notification) => Number((notification.data as { seq?: unknown } | null)?.seq ?? 0) > seq)) return;
      await worker.registration.showNotification(title, {
        body: typeof message.body === 'string' ? message.body : 'Something changed on your listing.',
        tag,
        data: { url: sameOriginUrl(message.url), seq },
      });
    })(),
  );
});

worker.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = sameOriginUrl((event.notification.data as { url?: unknown } | null)?.url);
  event.waitUntil(
    (async () => {
      const open = await worker.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const tab = open.find((client) => new URL(client.url).origin === worker.location.origin);
      if (tab) {
        await tab.navigate(url);
        await tab.focus();
      } else {
        await worker.clients.openWindow(url);
      }
    })(),
  );
});
