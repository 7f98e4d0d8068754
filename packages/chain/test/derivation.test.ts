import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts';
import { type Anvil, KEYS, startAnvil } from '@reelboard/testkit/anvil';
import { CREATE2_DEPLOYER, type DepositSettings, depositDerivationProblem, depositFactory, sweepDeposits } from '../src/index.js';

const PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 136;
let anvil: Anvil;
const settings = (): DepositSettings => ({ merchant: privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex, token: null });
const wallet = () => anvil.wallet(KEYS.deployer) as never as Parameters<typeof sweepDeposits>[0];

beforeAll(async () => {
  anvil = await startAnvil(PORT);
});
afterAll(async () => {
  await anvil?.stop();
});

describe('the CREATE2 derivation checked against the chain', () => {
  it('agrees on anvil, before the factory is deployed (simulated) and after (a probe salt)', async () => {
    const s = settings();
    expect(await depositDerivationProblem(anvil.client, s)).toBeUndefined();
    await sweepDeposits(wallet(), anvil.client, s, []); // deploys the factory
    expect(await anvil.client.getCode({ address: depositFactory(s).address })).not.toBe('0x');
    expect(await depositDerivationProblem(anvil.client, s)).toBeUndefined();
  });

  it('names the difference when the factory at the computed address is another build, or the chain has no CREATE2 deployer', async () => {
    const [ours, other] = [settings(), settings()];
    await sweepDeposits(wallet(), anvil.client, other, []);
    // Another factory's code where ours should be: its sweeper (other merchant) derives other addresses.
    const code = (await anvil.client.getCode({ address: depositFactory(other).address })) as Hex;
    await anvil.test.setCode({ address: depositFactory(ours).address, bytecode: code });
    expect(await depositDerivationProblem(anvil.client, ours)).toMatch(
      new RegExp(`has sweeper code hash ${depositFactory(other).sweeperCodeHash}, not ${depositFactory(ours).sweeperCodeHash}`),
    );

    // A chain whose CREATE2 lands elsewhere: a deployer that answers another address than the computed one.
    const elsewhere = '1111111111111111111111111111111111111111';
    await anvil.test.setCode({ address: CREATE2_DEPLOYER, bytecode: `0x73${elsewhere}6000526014600cf3` });
    const fresh = settings();
    expect(await depositDerivationProblem(anvil.client, fresh)).toBe(
      `creating the deposit factory through the CREATE2 deployer would land at 0x${elsewhere}, not at ${depositFactory(fresh).address} as computed off chain`,
    );

    await anvil.test.setCode({ address: CREATE2_DEPLOYER, bytecode: '0x' });
    expect(await depositDerivationProblem(anvil.client, settings())).toMatch(/no CREATE2 deployer at 0x4e59b44847b379578588920ca78fbf26c0b4956c/);
  });
});
