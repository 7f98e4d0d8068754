import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFunctionData, erc20Abi, type Hex, parseEther } from 'viem';
import { connectRedis } from '@reelboard/bus';
import { type DepositSettings, depositAddressOf } from '@reelboard/chain';
import { createLogger } from '@reelboard/logger';
import { type Anvil, KEYS, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { compileTestContracts } from '@reelboard/testkit/test-contracts';
import { loadPaymentWatcherConfig } from '../src/config.js';
import { AutoSweeper, GasPriceTooHighError, quotesWorthSweeping, sweepInBatches } from '../src/sweep.js';
import { WatchList } from '../src/watch-list.js';

const PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 130;
const log = createLogger('sweep-test', 'error');
const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'sweep-test');
const prefix = `sweep-test-${Date.now().toString(36)}`;
let anvil: Anvil;
let token: Hex;
let tokenDeposits: DepositSettings;
const contracts = compileTestContracts();
const nativeDeposits: DepositSettings = { merchant: MERCHANT, token: null };

const signer = () => ({ rpcUrls: [anvil.rpcUrl], chainId: 31337, privateKey: KEYS.deployer });

async function mined(hash: Hex) {
  const receipt = await anvil.client.waitForTransactionReceipt({ hash });
  expect(receipt.status).toBe('success');
}

/** Pays a quote's deposit address: `units` of the token, and `wei` of native coin. */
async function fund(quoteId: string, settings: DepositSettings, amounts: { units?: bigint; wei?: bigint }): Promise<Hex> {
  const address = depositAddressOf(settings, quoteId);
  const buyer = anvil.wallet(KEYS.buyer);
  if (amounts.units)
    await mined(
      await buyer.sendTransaction({
        to: token,
        data: encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [address, amounts.units] }),
        account: buyer.account!,
        chain: anvil.chain,
      }),
    );
  if (amounts.wei) await mined(await buyer.sendTransaction({ to: address, value: amounts.wei, account: buyer.account!, chain: anvil.chain }));
  return address;
}

const tokenBalance = (address: Hex) => anvil.client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [address] });

beforeAll(async () => {
  anvil = await startAnvil(PORT);
  const deployer = anvil.wallet(KEYS.deployer);
  const buyer = anvil.wallet(KEYS.buyer);
  const hash = await deployer.deployContract({
    abi: contracts.BlockingToken.abi,
    bytecode: contracts.BlockingToken.bytecode,
    args: [buyer.account!.address, 10n ** 15n],
    account: deployer.account!,
    chain: anvil.chain,
  });
  token = (await anvil.client.waitForTransactionReceipt({ hash })).contractAddress as Hex;
  tokenDeposits = { merchant: MERCHANT, token };
}, 60_000);

afterAll(async () => {
  await anvil?.stop();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe('sweeping deposit addresses', () => {
  it('tries each sweeper on its own when a batch reverts: one refused transfer no longer holds back the others', async () => {
    const quotes = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const addresses = [];
    for (const quoteId of quotes) addresses.push(await fund(quoteId, tokenDeposits, { units: 1_000_000n }));
    // The token refuses transfers out of the third deposit address: its sweeper reverts, in any batch.
    const deployer = anvil.wallet(KEYS.deployer);
    await mined(
      await deployer.sendTransaction({
        to: token,
        data: encodeFunctionData({ abi: contracts.BlockingToken.abi, functionName: 'blockSender', args: [addresses[2]] }),
        account: deployer.account!,
        chain: anvil.chain,
      }),
    );
    const before = await tokenBalance(MERCHANT);

    const { sweeps, skipped } = await sweepInBatches(anvil.client, signer(), tokenDeposits, quotes);
    expect(sweeps.map((s) => s.deposit).sort()).toEqual([addresses[0], addresses[1], addresses[3], addresses[4]].sort());
    expect(skipped).toEqual([{ quoteId: quotes[2], reason: expect.stringContaining('token transfer failed') }]);
    expect((await tokenBalance(MERCHANT)) - before).toBe(4_000_000n);
    expect(await tokenBalance(addresses[2] as Hex)).toBe(1_000_000n);
  });

  it('judges each asset against its own minimum, in its own units', async () => {
    const tokens = randomUUID();
    const coins = randomUUID();
    await fund(tokens, tokenDeposits, { units: 5_000_000n }); // 5 units of a 6-decimal token
    await fund(coins, tokenDeposits, { wei: parseEther('0.01') }); // native coin sent to a token quote
    const quotes = [tokens, coins].map((uploadId) => ({ uploadId, address: depositAddressOf(tokenDeposits, uploadId) }));
    const worth = (native: bigint, units: bigint) =>
      quotesWorthSweeping({ chain: anvil.client, deposits: tokenDeposits, quotes, minimums: { native, token: units } });
    // One number for both would either sweep 5 token units for 0.05 ETH of gas or never sweep them.
    expect(await worth(parseEther('0.05'), 1_000_000n)).toEqual([tokens]);
    expect(await worth(parseEther('0.001'), 10_000_000n)).toEqual([coins]);
    expect(await worth(parseEther('1'), 10_000_000n)).toEqual([]);
  });

  it('sends nothing while gas costs more than the cap', async () => {
    const quoteId = randomUUID();
    const address = await fund(quoteId, nativeDeposits, { wei: parseEther('0.2') });
    const error = await sweepInBatches(anvil.client, { ...signer(), maxGasPrice: 1n }, nativeDeposits, [quoteId]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GasPriceTooHighError);
    expect(await anvil.client.getBalance({ address })).toBe(parseEther('0.2'));
    const gasPrice = await anvil.client.getGasPrice();
    expect((await sweepInBatches(anvil.client, { ...signer(), maxGasPrice: gasPrice * 2n }, nativeDeposits, [quoteId])).sweeps).toHaveLength(1);
  });

  it('sweeps automatically on one replica at a time (a Redis lease)', async () => {
    const watchList = new WatchList(redis, prefix);
    const quoteId = randomUUID();
    const address = await fund(quoteId, nativeDeposits, { wei: parseEther('0.1') });
    const now = new Date().toISOString();
    await watchList.watch({ uploadId: quoteId, owner: MERCHANT, address, token: null, amount: '1', createdAt: now, expiresAt: now }, Date.now() + 60_000);
    const replica = () =>
      new AutoSweeper({
        chain: anvil.client,
        ...signer(),
        deposits: nativeDeposits,
        watchList,
        minimums: { native: 1n, token: 1n },
        redis,
        prefix,
        intervalMs: 60_000,
        log,
      });
    const [a, b] = [replica(), replica()];
    expect(await a.sweepOnce()).toBe(1);
    expect(await b.sweepOnce()).toBeUndefined();
    expect(await anvil.client.getBalance({ address })).toBe(0n);
    await a.stop();
    expect(await b.sweepOnce()).toBe(0);
    await b.stop();
  });

  it('refuses to start with a token and a sweep key but no token minimum, naming it', () => {
    const env = {
      REDIS_URL: 'redis://127.0.0.1:1',
      DATABASE_URL: 'postgres://127.0.0.1:1/reelboard',
      RPC_URL: anvil.rpcUrl,
      CHAIN_ID: '31337',
      MERCHANT_ADDRESS: MERCHANT,
      PAYMENT_TOKEN: token,
      SWEEP_PRIVATE_KEY: KEYS.deployer,
    };
    expect(() => loadPaymentWatcherConfig(env)).toThrow(/SWEEP_MIN_TOKEN_AMOUNT/);
    expect(loadPaymentWatcherConfig({ ...env, SWEEP_MIN_TOKEN_AMOUNT: '1000000' }).SWEEP_MIN_TOKEN_AMOUNT).toBe(1_000_000n);
  });
});
