import { createSiweMessage } from 'viem/siwe';
import { requestJson } from './api.js';
import { signMessage, walletChainId } from './wallet.js';

/** A signed-in wallet: the address the gateway proved and the bearer token it issued. */
export interface Session {
  address: string;
  token: string;
  expiresAt: string;
}

const STORAGE_KEY = 'reelboard.session';

/** The session of this tab, if it has one that has not expired. */
export function currentSession(): Session | undefined {
  const stored = sessionStorage.getItem(STORAGE_KEY);
  if (!stored) return undefined;
  const session = JSON.parse(stored) as Session;
  if (Date.parse(session.expiresAt) <= Date.now()) {
    sessionStorage.removeItem(STORAGE_KEY);
    return undefined;
  }
  return session;
}

/** Sign-In with Ethereum: a gateway nonce, an EIP-4361 message for this origin, signed by the wallet. */
export async function signIn(address: `0x${string}`): Promise<Session> {
  const { nonce } = await requestJson<{ nonce: string }>('/v1/auth/nonce');
  const message = createSiweMessage({
    address,
    chainId: await walletChainId(),
    domain: window.location.host,
    uri: window.location.origin,
    nonce,
    version: '1',
    issuedAt: new Date(),
    expirationTime: new Date(Date.now() + 10 * 60_000),
    statement: 'Sign in to Reelboard to publish listings.',
  });
  const signature = await signMessage(address, message);
  const session = await requestJson<Session>('/v1/auth/verify', { method: 'POST', body: { message, signature } });
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  return session;
}

/** Ends the session at the gateway and in this tab. */
export async function signOut(session: Session): Promise<void> {
  sessionStorage.removeItem(STORAGE_KEY);
  await requestJson('/v1/auth/logout', { method: 'POST', token: session.token }).catch(() => undefined);
}
