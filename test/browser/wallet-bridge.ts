import type { Page } from 'playwright-core';
import { createWalletClient, defineChain, type Hex, http, type WalletClient } from 'viem';
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
  /** Makes the next `wallet_switchEthereumChain` fail as if the person pressed "Cancel" (4001). */
  declineNextSwitch(): void;
  /** Adds a chain from the test, as a person who adds a network in the wallet's own settings. */
  addChain(chainId: number, rpcUrl: string): void;
  /** The chain the wallet is on. */
  chainId(): number;
}

/** Chains the wallet knows from the start, besides the one it is on. */
export interface InjectWalletOptions {
  otherChains?: { id: number; rpcUrl: string }[];
}

/** What the page-side provider gets back: a result, or an EIP-1193 error to throw. */
type BridgeAnswer = { result: unknown } | { error: { code: number; message: string } };

/**
 * Injects an EIP-1193 provider as `window.ethereum` into every page of `page`'s context; each
 * request crosses to this process, where viem signs and sends with `account` on the real chain.
 * It stands in for MetaMask, which cannot run in CI; the page sees the same API.
 */
export async function injectWallet(
  page: Page,
  account: LocalAccount,
  rpcUrl: string,
  chainId: number,
  options: InjectWalletOptions = {},
): Promise<InjectedWallet> {
  // As a real wallet: the chains it knows (each with its RPC URL), one of them current; an unknown one is answered with 4902.
  const known = new Map<number, WalletClient>();
  const addChain = (id: number, url: string) => {
    const chain = defineChain({
      id,
      name: `anvil ${id}`,
      nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
      rpcUrls: { default: { http: [url] } },
    });
    known.set(id, createWalletClient({ account, chain, transport: http(url) }));
  };
  addChain(chainId, rpcUrl);
  for (const other of options.otherChains ?? []) addChain(other.id, other.rpcUrl);
  let current = chainId;
  const calls: WalletCall[] = [];
  let declinePayment = false;
  let declineSwitch = false;
  let partOfNext: bigint | undefined;
  const hex = (id: number) => `0x${id.toString(16)}`;

  const answer = async (method: string, params: unknown[]): Promise<unknown> => {
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [account.address];
      case 'eth_chainId':
        return hex(current);
      case 'wallet_switchEthereumChain': {
        const wanted = Number.parseInt((params[0] as { chainId: string }).chainId, 16);
        if (!known.has(wanted))
          throw Object.assign(new Error(`Unrecognized chain ID "${hex(wanted)}". Try adding the chain using wallet_addEthereumChain first.`), { code: 4902 });
        if (declineSwitch) {
          declineSwitch = false;
          throw Object.assign(new Error('User rejected the request.'), { code: 4001 });
        }
        current = wanted;
        return null;
      }
      case 'wallet_addEthereumChain': {
        // EIP-3085's required fields, checked as a wallet does before it shows its prompt.
        const [added] = params as [{ chainId?: string; chainName?: string; rpcUrls?: string[]; nativeCurrency?: { symbol?: string; decimals?: number } }];
        const id = Number.parseInt(added?.chainId ?? '', 16);
        const url = added?.rpcUrls?.find((candidate) => /^https?:\/\//.test(candidate));
        if (!Number.isSafeInteger(id) || !added?.chainName || !url || !added.nativeCurrency?.symbol || added.nativeCurrency.decimals === undefined)
          throw Object.assign(
            new Error(`wallet_addEthereumChain: missing chainId, chainName, an http(s) rpcUrl or nativeCurrency in ${JSON.stringify(added)}`),
            { code: -32602 },
          );
        if (!known.has(id)) addChain(id, url);
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
        const [tx] = params as [{ from: string; to: Hex; value?: Hex; data?: Hex; chainId?: Hex }];
        if (tx.chainId !== undefined && Number.parseInt(tx.chainId, 16) !== current)
          throw Object.assign(new Error(`the transaction is for chain ${Number.parseInt(tx.chainId, 16)}, the wallet is on ${current}`), { code: -32602 });
        const value = partOfNext ?? (tx.value ? BigInt(tx.value) : undefined);
        partOfNext = undefined;
        const wallet = known.get(current) as WalletClient;
        return wallet.sendTransaction({ account, chain: wallet.chain, to: tx.to, value, data: tx.data });
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
  return {
    calls,
    declineNextPayment: () => void (declinePayment = true),
    payPartOfNext: (wei) => void (partOfNext = wei),
    declineNextSwitch: () => void (declineSwitch = true),
    addChain,
    chainId: () => current,
  };
}
