import { encodeFunctionData, erc20Abi } from 'viem';
import { switchToOfferChain } from './chain-switch.js';
import type { PaymentOffer } from './offers.js';
import { sendContractCall, sendNativePayment, walletProvider } from './wallet.js';

export interface PayOfferParameters {
  /** The paying account (the wallet's). */
  from: string;
  /** The quote's deposit address: the same on every chain of the quote. */
  to: `0x${string}`;
  /** The (chain, asset) chosen. */
  offer: PaymentOffer;
  /** What to send in the offer's base units: the offer's amount, or the rest after a partial payment. */
  amount?: bigint;
  /** Every offer of the quote (a native one tells the coin to add an unknown chain with). */
  offers?: readonly PaymentOffer[];
}

/**
 * Pays one offer from the wallet: first moves the wallet to the offer's chain (adding it when the
 * wallet does not know it), then sends the native coin, or calls the token's ERC-20 `transfer` to the
 * deposit address. Resolves with the transaction hash once the wallet broadcast it.
 */
export async function payOffer({ from, to, offer, amount = BigInt(offer.amount), offers = [] }: PayOfferParameters): Promise<`0x${string}`> {
  await switchToOfferChain({ provider: walletProvider(), offer, offers });
  if (offer.token === null) return sendNativePayment(from, to, amount, offer.chainId);
  const data = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [to, amount] });
  return sendContractCall(from, offer.token, data, offer.chainId);
}
