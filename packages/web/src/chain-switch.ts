import { type AddEthereumChainParameter, chainToAdd, hexChainId, type PaymentOffer } from './offers.js';
import type { Eip1193Provider } from './wallet.js';

/**
 * Why the wallet is not on the offer's chain: `refused` (the person said no), `unknown` (the wallet
 * does not know the chain and the page has too little to add it), `failed` (anything else).
 */
export class ChainSwitchError extends Error {
  override readonly name = 'ChainSwitchError';
  constructor(
    message: string,
    readonly reason: 'refused' | 'unknown' | 'failed',
    readonly code?: number,
  ) {
    super(message);
  }
}

/** EIP-1193 "user rejected", and EIP-3326's "unrecognized chain". */
const USER_REJECTED = 4001;
const UNRECOGNIZED_CHAIN = 4902;

/** The EIP-1193 code of a wallet error; MetaMask Mobile wraps 4902 as `data.originalError.code` of an internal error. */
function codeOf(error: unknown): number | undefined {
  const { code, data } = (error ?? {}) as { code?: unknown; data?: { originalError?: { code?: unknown } } };
  const inner = data?.originalError?.code;
  if (typeof inner === 'number') return inner;
  return typeof code === 'number' ? code : undefined;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String((error as { message?: unknown })?.message ?? error));

/** The chain the wallet is on. */
async function currentChain(provider: Eip1193Provider): Promise<number> {
  return Number.parseInt(String(await provider.request({ method: 'eth_chainId' })), 16);
}

export interface SwitchToOfferChainParameters {
  /** The wallet (`window.ethereum`). */
  provider: Eip1193Provider;
  /** The offer to pay: its chain is where the wallet must be. */
  offer: PaymentOffer;
  /** Every offer of the quote or pricing: a native offer on the same chain tells the coin to add the chain with. */
  offers?: readonly PaymentOffer[];
}

/** What switching did: nothing (already there), a switch, or adding the chain to the wallet and then a switch. */
export type SwitchToOfferChainReturnType = 'already' | 'switched' | 'added';

/**
 * Moves the wallet to `offer`'s chain before a payment: `wallet_switchEthereumChain` (EIP-3326); when
 * the wallet does not know the chain (4902), `wallet_addEthereumChain` (EIP-3085) with the chain's
 * name, native coin and public RPC URLs, then the switch again (a wallet may or may not move by
 * itself once it added a chain). Throws a ChainSwitchError naming the chain.
 */
export async function switchToOfferChain({ provider, offer, offers = [] }: SwitchToOfferChainParameters): Promise<SwitchToOfferChainReturnType> {
  const where = `${offer.chainName} (chain ${offer.chainId})`;
  const fail = (error: unknown, what: string): ChainSwitchError => {
    const code = codeOf(error);
    if (code === USER_REJECTED) return new ChainSwitchError(`The wallet did not switch to ${where}: the request was declined.`, 'refused', code);
    return new ChainSwitchError(`The wallet could not ${what} ${where}: ${messageOf(error)}`, 'failed', code);
  };
  try {
    if ((await currentChain(provider)) === offer.chainId) return 'already';
  } catch (error) {
    throw fail(error, 'tell its chain before switching to');
  }
  const switchChain = () => provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: hexChainId(offer.chainId) }] });
  try {
    await switchChain();
    return 'switched';
  } catch (error) {
    if (codeOf(error) !== UNRECOGNIZED_CHAIN) throw fail(error, 'switch to');
  }
  const addition: AddEthereumChainParameter | undefined = chainToAdd(offer, offers);
  if (!addition)
    throw new ChainSwitchError(`Your wallet does not know ${where}. Add that network in your wallet, then press PAY again.`, 'unknown', UNRECOGNIZED_CHAIN);
  try {
    await provider.request({ method: 'wallet_addEthereumChain', params: [addition] });
  } catch (error) {
    throw fail(error, 'add');
  }
  try {
    if ((await currentChain(provider)) !== offer.chainId) await switchChain();
  } catch (error) {
    throw fail(error, 'switch to');
  }
  return 'added';
}
