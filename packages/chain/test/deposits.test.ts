import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Address, erc20Abi, type Hex, parseEther } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { type Anvil, KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { compileTestContracts } from '@reelboard/testkit/test-contracts';
import { ARTIFACTS_PATH, compileDepositContracts } from '../../../scripts/compile-contracts.js';
import {
  createChainClient,
  type DepositSettings,
  depositAddressOf,
  depositFactory,
  depositFactoryAbi,
  readBalances,
  readSweeps,
  sweepDeposits,
} from '../src/index.js';

const PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 120;
let anvil: Anvil;
const operator = privateKeyToAccount(KEYS.deployer);
const buyer = privateKeyToAccount(KEYS.buyer);
const native: DepositSettings = { merchant: MERCHANT, token: null };

beforeAll(async () => {
  anvil = await startAnvil(PORT);
});
afterAll(async () => {
  await anvil?.stop();
});

const wallet = (key: Hex) => anvil.wallet(key) as never as Parameters<typeof sweepDeposits>[0];

describe('deposit contracts', () => {
  it('the committed artifacts are what the committed source compiles to', () => {
    expect(readFileSync(ARTIFACTS_PATH, 'utf8')).toBe(compileDepositContracts());
  });

  it('a deposit address is computed off chain exactly as the factory computes it, and differs per quote and per merchant', async () => {
    const quoteId = randomUUID();
    await sweepDeposits(wallet(KEYS.deployer), anvil.client, native, []); // deploys the factory
    const onChain = (await anvil.client.readContract({
      address: depositFactory(native).address,
      abi: depositFactoryAbi,
      functionName: 'depositAddress',
      args: [`0x${quoteId.replace(/-/g, '').padStart(64, '0')}`],
    })) as Address;
    expect(onChain.toLowerCase()).toBe(depositAddressOf(native, quoteId));
    expect(depositAddressOf(native, randomUUID())).not.toBe(depositAddressOf(native, quoteId));
    expect(depositAddressOf({ merchant: buyer.address, token: null }, quoteId)).not.toBe(depositAddressOf(native, quoteId));
  });

  it('a sweep pays the merchant, leaves nothing deployed, and the address can be paid and swept again', async () => {
    const quoteId = randomUUID();
    const deposit = depositAddressOf(native, quoteId);
    const pay = async (value: bigint) =>
      anvil.client.waitForTransactionReceipt({
        hash: await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: deposit, value }),
      });
    await pay(parseEther('0.3'));
    const before = await anvil.client.getBalance({ address: MERCHANT });
    // The operator's key only pays gas: the money goes to the merchant baked into the init code.
    const first = await sweepDeposits(wallet(KEYS.stranger), anvil.client, native, [quoteId]);
    expect(first.sweeps).toEqual([expect.objectContaining({ deposit, native: parseEther('0.3'), token: 0n })]);
    expect(await anvil.client.getBalance({ address: MERCHANT })).toBe(before + parseEther('0.3'));
    expect(await anvil.client.getBalance({ address: deposit })).toBe(0n);
    expect(await anvil.client.getCode({ address: deposit })).toBeUndefined();

    await pay(parseEther('0.2'));
    const second = await sweepDeposits(wallet(KEYS.deployer), anvil.client, native, [quoteId]);
    expect(second.sweeps[0]?.native).toBe(parseEther('0.2'));
    expect(second.gasUsed).toBeLessThan(120_000n);
    const logged = await readSweeps(anvil.client, native, { fromBlock: 0n, toBlock: await anvil.client.getBlockNumber() });
    expect(logged.filter((s) => s.deposit === deposit).map((s) => s.native)).toEqual([parseEther('0.3'), parseEther('0.2')]);
  });

  it('an ERC-20 deposit is swept to the merchant, native coin with it', async () => {
    const contracts = compileTestContracts();
    const deployed = await anvil.client.waitForTransactionReceipt({
      hash: await anvil
        .wallet(KEYS.deployer)
        .deployContract({ ...contracts.TestToken, args: [buyer.address, 10n ** 24n], account: operator, chain: anvil.chain }),
    });
    const token = deployed.contractAddress!.toLowerCase() as Address;
    const settings: DepositSettings = { merchant: MERCHANT, token };
    const quoteId = randomUUID();
    const deposit = depositAddressOf(settings, quoteId);
    await anvil.client.waitForTransactionReceipt({
      hash: await anvil
        .wallet(KEYS.buyer)
        .writeContract({ address: token, abi: erc20Abi, functionName: 'transfer', args: [deposit, 5_000n], account: buyer, chain: anvil.chain }),
    });
    const { sweeps } = await sweepDeposits(wallet(KEYS.deployer), anvil.client, settings, [quoteId]);
    expect(sweeps[0]).toMatchObject({ deposit, token: 5_000n, native: 0n });
    expect(await anvil.client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [MERCHANT] })).toBe(5_000n);
  });

  it('balances of many addresses are read in a few JSON-RPC batch requests', async () => {
    let requests = 0;
    const client = createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 500, onRequest: () => requests++ });
    const addresses = Array.from({ length: 1200 }, () => depositAddressOf(native, randomUUID()));
    const funded = addresses[7]!;
    await anvil.client.waitForTransactionReceipt({
      hash: await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: funded, value: 123n }),
    });
    const head = await anvil.client.getBlockNumber();
    requests = 0;
    const balances = await readBalances(client, { addresses, token: null, blockNumber: head });
    expect(requests).toBe(3);
    expect(balances[7]).toBe(123n);
    expect(balances.filter((b) => b > 0n)).toHaveLength(1);
    // At the block before the payment, it held nothing.
    expect((await readBalances(client, { addresses: [funded], token: null, blockNumber: head - 1n }))[0]).toBe(0n);
  });
});
