import type { Page } from 'playwright-core';
import { createWalletClient, defineChain, type Hex, http } from 'viem';
import type { LocalAccount } from 'viem/accounts';

/** One request the page made of the injected wallet. */
export interface WalletCall {
  method: string;
  params: unknown[];
}

export interface InjectedWallet {
  /** Every request the page made, in order. */
  calls: WalletCall[];
  /** Makes the next `eth_sendTransaction` fail as if the person pressed "Reject" (EIP-1193 code 4001). */
  declineNextPayment(): void;
  /** Makes the next native payment send only `wei` of what the page asked, as a person who edits the amount in the wallet. */
  payPartOfNext(wei: bigint): void;
}

/** What the page-side provider gets back: a result, or an EIP-1193 error to throw. */
type BridgeAnswer = { result: unknown } | { error: { code: number; message: string } };

/**
 * Injects an EIP-1193 provider as `window.ethereum` into every page of `page`'s context; each
 * request crosses to this process, where viem signs and sends with `account` on the real chain.
 * It stands in for MetaMask, which cannot run in CI; the page sees the same API.
 */
export async function injectWallet(page: Page, account: LocalAccount, rpcUrl: string, chainId: number): Promise<InjectedWallet> {
  const chain = defineChain({
    id: chainId,
    name: 'anvil',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const wallet = createWalletClient({ account, chain, transport: http(rpcUrl) });
  const calls: WalletCall[] = [];
  let declinePayment = false;
  let partOfNext: bigint | undefined;

  const answer = async (method: string, params: unknown[]): Promise<unknown> => {
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [account.address];
      case 'eth_chainId':
        return `0x${chainId.toString(16)}`;
      case 'wallet_switchEthereumChain': {
        const wanted = Number.parseInt((params[0] as { chainId: string }).chainId, 16);
        if (wanted !== chainId) throw Object.assign(new Error(`unknown chain ${wanted}`), { code: 4902 });
        return null;
      }
      case 'personal_sign': {
        const [message, from] = params as [Hex, string];
        if (from.toLowerCase() !== account.address.toLowerCase()) throw Object.assign(new Error(`not this wallet's account: ${from}`), { code: 4100 });
        return account.signMessage({ message: { raw: message } });
      }
      case 'eth_sendTransaction': {
        if (declinePayment) {
          declinePayment = false;
          throw Object.assign(new Error('User rejected the request.'), { code: 4001 });
        }
        const [tx] = params as [{ from: string; to: Hex; value?: Hex; data?: Hex }];
        const value = partOfNext ?? (tx.value ? BigInt(tx.value) : undefined);
        partOfNext = undefined;
        return wallet.sendTransaction({ to: tx.to, value, data: tx.data });
      }
      default:
        throw Object.assign(new Error(`method ${method} is not supported by the test wallet`), { code: 4200 });
    }
  };

  await page.exposeFunction('__testWalletRequest', async (method: string, params: unknown[]): Promise<BridgeAnswer> => {
    calls.push({ method, params });
    try {
      return { result: await answer(method, params) };
    } catch (error) {
      const { code = -32603, message } = error as { code?: number; message: string };
      return { error: { code, message } };
    }
  });
  // A string, not a function: the test's transpiler may add helpers the page does not have.
  await page.addInitScript(`
    window.ethereum = {
      isTestWallet: true,
      async request({ method, params = [] }) {
        const reply = await window.__testWalletRequest(method, params);
        if (reply.error) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
        return reply.result;
      },
      on() {},
      removeListener() {},
    };
  `);
  return { calls, declineNextPayment: () => void (declinePayment = true), payPartOfNext: (wei) => void (partOfNext = wei) };
}
