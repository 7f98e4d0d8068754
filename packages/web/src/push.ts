import { ApiError, requestJson } from './api.js';
import { h } from './dom.js';

/** Where the service worker that shows notifications is served (scope: the whole client). */
export const SERVICE_WORKER_URL = '/sw.js';

/** True if this browser can receive Web Push at all. */
export function pushSupported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

/** Registers the service worker and waits until it is active. */
export async function registerServiceWorker(): Promise<ServiceWorkerRegistration> {
  await navigator.serviceWorker.register(SERVICE_WORKER_URL, { scope: '/' });
  return navigator.serviceWorker.ready;
}

/** The VAPID public key as the bytes `applicationServerKey` takes. */
function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64url
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(base64url.length / 4) * 4, '=');
  const binary = atob(base64);
  const bytes = new Uint8Array(new ArrayBuffer(binary.length));
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Asks the person's permission (only ever from their click), subscribes this browser with the
 * gateway's VAPID key and stores the subscription for the signed-in wallet. Returns what to tell them.
 */
export async function subscribeToNotifications(
  token: string,
  done = 'We will notify you when the payment is confirmed, the listing is saved and a moderator decides, even with this tab closed.',
): Promise<string> {
  let publicKey: string;
  try {
    ({ publicKey } = await requestJson<{ publicKey: string }>('/v1/push/vapid-public-key'));
  } catch (error) {
    if (error instanceof ApiError && error.code === 'push_not_configured') return 'This server does not send notifications.';
    throw error;
  }
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return 'Notifications are blocked for this site; you can allow them in the browser settings.';
  const registration = await registerServiceWorker();
  const subscription =
    (await registration.pushManager.getSubscription()) ??
    (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(publicKey) }));
  await requestJson('/v1/me/push-subscriptions', { method: 'POST', body: subscription.toJSON(), token });
  return done;
}

/**
 * The offer shown after PAY: a button that subscribes on the person's click (never before), and
 * a line saying what happened. Hidden where the browser cannot receive push.
 */
export function notificationOffer(token: () => string | undefined): { element: HTMLElement; show(): void } {
  const result = h('span', { class: 'hint', id: 'notify-result', 'aria-live': 'polite' });
  const button = h('button', { type: 'button', id: 'notify', class: 'secondary' }, 'Notify me when it is done');
  const element = h('p', { class: 'notify-offer', hidden: true }, button, ' ', result);
  button.addEventListener('click', async () => {
    const session = token();
    if (!session) return void (result.textContent = 'Sign in first.');
    button.disabled = true;
    try {
      result.textContent = await subscribeToNotifications(session);
    } catch (error) {
      button.disabled = false;
      result.textContent = `Notifications could not be turned on: ${(error as Error).message}`;
    }
  });
  return {
    element,
    show: () => {
      if (pushSupported()) element.hidden = false;
    },
  };
}
