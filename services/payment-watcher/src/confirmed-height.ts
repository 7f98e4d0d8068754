import type { PublicClient } from 'viem';

/** When a block's credits count (a chain's `confirmationPolicy` in CHAINS, or CONFIRMATION_POLICY). */
export type ConfirmationPolicy = 'depth' | 'safe' | 'finalized';

export interface ConfirmedHeightParameters {
  /** `depth`: `confirmations` blocks on top; `safe` / `finalized`: the node's block of that tag. Default `depth`. */
  confirmationPolicy?: ConfirmationPolicy | undefined;
  /** Blocks on top of (and including) a credit's block before it counts, with policy `depth`. */
  confirmations: number;
}

export type ConfirmedHeightReturnType = bigint;

/**
 * The highest block whose credits count now under a chain's policy. The deposit passes and
 * reconciliation both read up to it, so reconciliation never counts money the watcher may not yet.
 */
export async function confirmedHeight(
  chain: Pick<PublicClient, 'getBlock' | 'getBlockNumber'>,
  { confirmationPolicy = 'depth', confirmations }: ConfirmedHeightParameters,
): Promise<ConfirmedHeightReturnType> {
  if (confirmationPolicy !== 'depth') return (await chain.getBlock({ blockTag: confirmationPolicy, includeTransactions: false })).number;
  const head = await chain.getBlockNumber({ cacheTime: 0 });
  return head - BigInt(confirmations) + 1n;
}
