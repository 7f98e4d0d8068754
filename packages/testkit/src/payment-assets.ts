import type { Address } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { type Anvil, KEYS } from './anvil.js';
import { compileTestContracts } from './test-contracts.js';

/** A price feed a test controls: `set` writes its answer (fiat per coin, 8 decimals) and when it was updated. */
export interface TestPriceFeed {
  address: Address;
  set(answer: bigint, updatedAt?: Date): Promise<void>;
}

/**
 * What a chain needs to be paid in a fiat price, deployed on an anvil: a 6-decimal stablecoin (the
 * supply held by `holder`) and a Chainlink-style feed whose answer the test sets (8 decimals).
 */
export async function deployPaymentAssets(anvil: Anvil, holder: Address): Promise<{ stablecoin: Address; feed: TestPriceFeed }> {
  const contracts = compileTestContracts();
  const account = privateKeyToAccount(KEYS.deployer);
  const wallet = anvil.wallet(KEYS.deployer);
  const deploy = async (hash: Promise<`0x${string}`>) =>
    (await anvil.client.waitForTransactionReceipt({ hash: await hash })).contractAddress!.toLowerCase() as Address;
  // One after the other: the deployer's nonces must not race.
  const stablecoin = await deploy(wallet.deployContract({ ...contracts.TestStablecoin, args: [holder, 10n ** 15n], account, chain: anvil.chain }));
  const address = await deploy(wallet.deployContract({ ...contracts.MockAggregator, account, chain: anvil.chain }));
  return {
    stablecoin,
    feed: {
      address,
      async set(answer, updatedAt = new Date()) {
        const hash = await wallet.writeContract({
          address,
          abi: contracts.MockAggregator.abi,
          functionName: 'setAnswer',
          args: [answer, BigInt(Math.floor(updatedAt.getTime() / 1000))],
          account,
          chain: anvil.chain,
        });
        await anvil.client.waitForTransactionReceipt({ hash });
      },
    },
  };
}
