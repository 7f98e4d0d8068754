import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEther, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { createChainClient, type DepositSettings } from '@reelboard/chain';
import type { PaymentCredited } from '@reelboard/contracts';
import { connectDatabase, migrateToLatest, type Knex } from '@reelboard/db';
import { infraEnv } from '../../../test/support/infra-env.js';
import { reconcilePayments } from '../src/reconcile.js';
import { KEYS, startAnvil, type Anvil } from './support/anvil.js';
import { compileTestContracts } from './support/contracts.js';
import { watcherRig, type WatcherRig } from './support/harness.js';

const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 111;
const buyer = privateKeyToAccount(KEYS.buyer);
const contracts = compileTestContracts();

let anvil: Anvil;
let db: Knex;
const rigs: WatcherRig[] = [];

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT);
  db = connectDatabase(infraEnv().TEST_DATABASE_URL ?? '', { min: 0, max: 2 });
  await migrateToLatest(db);
});

afterAll(async () => {
  for (const r of rigs) await r.close();
  await db?.destroy();
  await anvil?.stop();
});

const jobsOf = async (r: WatcherRig): Promise<PaymentCredited[]> =>
  ((await r.bus.queue('payment.credited').getJobs(['waiting', 'delayed', 'completed', 'active'])) as { data: PaymentCredited }[]).map((job) => job.data);

describe('only what happened counts', () => {
  it('a reverted 100 ETH transfer to a contract merchant is booked neither by the watcher nor by reconciliation', async () => {
    const { abi, bytecode } = contracts.AlwaysReverts;
    const deployed = await anvil.wallet(KEYS.deployer).deployContract({ abi, bytecode, account: privateKeyToAccount(KEYS.deployer), chain: anvil.chain });
    const merchant = ((await anvil.client.waitForTransactionReceipt({ hash: deployed })).contractAddress as Hex).toLowerCase() as Hex;
    const deposits: DepositSettings = { merchant, token: null };
    const r = await watcherRig('pw-final-revert', anvil.rpcUrl, deposits);
    rigs.push(r);

    // An explicit gas limit: without it the wallet's estimate fails and nothing is mined at all.
    const hash = await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: merchant, value: parseEther('100'), gas: 100_000n });
    const receipt = await anvil.client.waitForTransactionReceipt({ hash });
    expect(receipt.status).toBe('reverted');
    // A transfer that succeeded in the same pass still counts: the filter is the receipt, not the recipient.
    const other = await anvil.wallet(KEYS.buyer).sendTransaction({ account: buyer, chain: anvil.chain, to: merchant, value: 0n, gas: 100_000n });
    await anvil.client.waitForTransactionReceipt({ hash: other });
    await anvil.test.mine({ blocks: 2 });
    await r.watcher.scanOnce();
    expect((await r.watchList.cursor())?.block).toBeGreaterThanOrEqual(receipt.blockNumber);
    expect((await jobsOf(r)).filter((c) => c.kind === 'merchant')).toEqual([]);

    const result = await reconcilePayments({ db, chain: createChainClient({ rpcUrl: anvil.rpcUrl, chainId: 31337, batchSize: 200 }), chainId: 31337, deposits, confirmations: 1, fromBlock: 0n, repair: true });
    expect(result.merchantTransfersChecked).toBe(0);
    expect(result.differences).toEqual([]);
    expect(await db('payments').where({ tx_hash: hash.toLowerCase() })).toEqual([]);
  });
});
