/** The EIP-1193 provider a wallet (MetaMask and the like) injects as `window.ethereum`. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
  on?(event: string, listener: (...args: unknown[]) => void): void;
}

declare global {
  interface Window {
    ethereum?: Eip1193Provider;
  }
}

/** A wallet refused or failed a request; `rejected` when the person said no (EIP-1193 code 4001). */
export class WalletError extends Error {
  override readonly name = 'WalletError';
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
  get rejected(): boolean {
    return this.code === 4001;
  }
}

const provider = (): Eip1193Provider => {
  if (!window.ethereum) throw new WalletError('No wallet found: install an Ethereum wallet such as MetaMask, then reload.');
  return window.ethereum;
};

export { provider as walletProvider };

async function call<T>(method: string, params?: unknown[]): Promise<T> {
  try {
    return (await provider().request(params ? { method, params } : { method })) as T;
  } catch (error) {
    if (error instanceof WalletError) throw error;
    const { code, message } = error as { code?: number; message?: string };
    throw new WalletError(code === 4001 ? 'The wallet request was declined.' : `Wallet error: ${message ?? String(error)}`, code);
  }
}

/** Whether a wallet is present in this browser. */
export const hasWallet = (): boolean => window.ethereum !== undefined;

/** Asks the wallet for an account; resolves with the first one. */
export async function connectWallet(): Promise<`0x${string}`> {
  const accounts = await call<string[]>('eth_requestAccounts');
  const account = accounts[0];
  if (!account) throw new WalletError('The wallet shared no account.');
  return account as `0x${string}`;
}

/** The chain the wallet is on, as a number. */
export async function walletChainId(): Promise<number> {
  return Number.parseInt(await call<string>('eth_chainId'), 16);
}

/** Signs a text message with `personal_sign` (EIP-191), as SIWE requires. */
export async function signMessage(address: string, message: string): Promise<`0x${string}`> {
  const hex = `0x${Array.from(new TextEncoder().encode(message), (byte) => byte.toString(16).padStart(2, '0')).join('')}`;
  return call<`0x${string}`>('personal_sign', [hex, address]);
}

/**
 * Sends native coin; resolves with the transaction hash once the wallet has broadcast it. With
 * `chainId`, a wallet that was moved to another chain meanwhile refuses rather than pays there.
 */
export async function sendNativePayment(from: string, to: string, weiAmount: bigint, chainId?: number): Promise<`0x${string}`> {
  return call<`0x${string}`>('eth_sendTransaction', [{ from, to, value: `0x${weiAmount.toString(16)}`, ...onChain(chainId) }]);
}

const onChain = (chainId: number | undefined) => (chainId === undefined ? {} : { chainId: `0x${chainId.toString(16)}` });

/** Calls `listener` with the new first account when the person switches accounts in the wallet. */
export function onAccountsChanged(listener: (account: string | undefined) => void): void {
  window.ethereum?.on?.('accountsChanged', (...args) => listener((args[0] as string[] | undefined)?.[0]));
}

/** Sends a contract call (e.g. an ERC-20 `transfer`); resolves with the transaction hash. */
export async function sendContractCall(from: string, contract: string, data: `0x${string}`, chainId?: number): Promise<`0x${string}`> {
  return call<`0x${string}`>('eth_sendTransaction', [{ from, to: contract, data, ...onChain(chainId) }]);
}
