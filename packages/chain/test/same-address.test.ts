import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Address, erc20Abi, parseEther } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { type Anvil, KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { compileTestContracts } from '@reelboard/testkit/test-contracts';
import {
  type DepositSettings,
  depositAddressOf,
  depositDerivationProblem,
  depositFactory,
  depositFactoryAbi,
  depositSalt,
  sweepDeposits,
  sweptIn,
} from '../src/index.js';

const BASE = Number(process.env.TEST_BASE_PORT ?? 19080);
const chains: Anvil[] = [];
const operator = privateKeyToAccount(KEYS.deployer);
const buyer = privateKeyToAccount(KEYS.buyer);

beforeAll(async () => {
  // Two chains with different ids, as Base and Arbitrum.
  chains.push(...(await Promise.all([startAnvil(BASE + 175, 31337), startAnvil(BASE + 176, 31338)])));
});
afterAll(async () => {
  await Promise.all(chains.map((chain) => chain.stop()));
});

const wallet = (anvil: Anvil) => anvil.wallet(KEYS.deployer) as never as Parameters<typeof sweepDeposits>[0];

async function deployToken(anvil: Anvil): Promise<Address> {
  const { TestToken } = compileTestContracts();
  const receipt = await anvil.client.waitForTransactionReceipt({
    hash: await anvil.wallet(KEYS.deployer).deployContract({ ...TestToken, args: [buyer.address, 10n ** 24n], account: operator, chain: anvil.chain }),
  });
  return receipt.contractAddress!.toLowerCase() as Address;
}

const balanceOf = (anvil: Anvil, token: Address, owner: Address) =>
  anvil.client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [owner] });

describe('one deposit address on every chain and in every asset', () => {
  it('the factory and the address of a quote are the same on both chains, for the coin and any token, as computed off chain', async () => {
    const quoteId = randomUUID();
    const [first, second] = chains as [Anvil, Anvil];
    const tokens = await Promise.all([deployToken(first), deployToken(second)]);
    const asNative: DepositSettings = { merchant: MERCHANT, token: null };
    const address = depositAddressOf(asNative, quoteId);
    // The token does not enter the derivation: a quote offering several assets has one address.
    for (const token of tokens) expect(depositAddressOf({ merchant: MERCHANT, token }, quoteId)).toBe(address);
    for (const anvil of chains) {
      await sweepDeposits(wallet(anvil), anvil.client, asNative, []); // deploys the factory there
      const onChain = (await anvil.client.readContract({
        address: depositFactory(asNative).address,
        abi: depositFactoryAbi,
        functionName: 'depositAddress',
        args: [depositSalt(quoteId)],
      })) as Address;
      expect(onChain.toLowerCase()).toBe(address);
      expect(await depositDerivationProblem(anvil.client, asNative)).toBeUndefined();
    }
  });

  it('a token quote also paid in a foreign ERC-20 and in native coin: each is flushed to the merchant by naming it, and each sweep says what it moved', async () => {
    const anvil = chains[1]!;
    const [quoted, foreign] = [await deployToken(anvil), await deployToken(anvil)];
    const quoteId = randomUUID();
    const settings: DepositSettings = { merchant: MERCHANT, token: quoted };
    const deposit = depositAddressOf(settings, quoteId);
    const send = async (token: Address, amount: bigint) =>
      anvil.client.waitForTransactionReceipt({
        hash: await anvil
          .wallet(KEYS.buyer)
          .writeContract({ address: token, abi: erc20Abi, functionName: 'transfer', args: [deposit, amount], account: buyer, chain: anvil.chain }),
      });
    await send(quoted, 5_000_000n);
    await send(foreign, 7_000n);
    await anvil.client.waitForTransactionReceipt({
      hash: await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: deposit, value: parseEther('0.01') }),
    });
    const merchantForeign = await balanceOf(anvil, foreign, MERCHANT);
    const merchantNative = await anvil.client.getBalance({ address: MERCHANT });

    // The foreign token, named in the sweep: it and the native coin leave, the quoted token stays.
    const flushed = await sweepDeposits(wallet(anvil), anvil.client, { merchant: MERCHANT, token: foreign }, [quoteId]);
    expect(flushed.sweeps).toEqual([expect.objectContaining({ deposit, asset: foreign, token: 7_000n, native: parseEther('0.01') })]);
    expect(await balanceOf(anvil, foreign, MERCHANT)).toBe(merchantForeign + 7_000n);
    expect(await anvil.client.getBalance({ address: MERCHANT })).toBe(merchantNative + parseEther('0.01'));
    expect(await balanceOf(anvil, quoted, deposit)).toBe(5_000_000n);
    expect(sweptIn(flushed.sweeps[0]!, quoted)).toBe(0n);
    expect(sweptIn(flushed.sweeps[0]!, foreign)).toBe(7_000n);
    expect(sweptIn(flushed.sweeps[0]!, null)).toBe(parseEther('0.01'));

    // Then the quoted token, the address reusable after the first sweep.
    const { sweeps } = await sweepDeposits(wallet(anvil), anvil.client, settings, [quoteId]);
    expect(sweeps).toEqual([expect.objectContaining({ deposit, asset: quoted, token: 5_000_000n, native: 0n })]);
    expect(await balanceOf(anvil, quoted, deposit)).toBe(0n);
    expect(await anvil.client.getCode({ address: deposit })).toBeUndefined();
  });
});
