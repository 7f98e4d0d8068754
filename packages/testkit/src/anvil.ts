import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Chain, createPublicClient, createTestClient, createWalletClient, defineChain, type Hex, http, type PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { repoRoot } from './infra-env.js';
import { portOpen } from './ports.js';

/** Well-known anvil dev keys (default mnemonic): public test keys, never real money. */
export const KEYS = {
  deployer: '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  buyer: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  stranger: '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
} as const satisfies Record<string, Hex>;
export const MERCHANT = '0xa0ee7a142d267c1f36714e4a8f75612f20a79720' as const;

function anvilBinary(): string {
  const pnpmDir = join(repoRoot, 'node_modules', '.pnpm');
  const dir = readdirSync(pnpmDir).find((name) => name.startsWith('@foundry-rs+anvil-linux-'));
  if (!dir) throw new Error('anvil binary not found under node_modules/.pnpm (run pnpm install)');
  const arch = dir.replace(/^@foundry-rs\+anvil-(linux-[a-z0-9]+)@.*$/, '$1');
  return join(pnpmDir, dir, 'node_modules', '@foundry-rs', `anvil-${arch}`, 'bin', 'anvil');
}

/** A private anvil this test file controls: mining on demand, reorgs. */
export interface Anvil {
  rpcUrl: string;
  chain: Chain;
  client: PublicClient;
  test: ReturnType<typeof createTestClient>;
  wallet(key: Hex): ReturnType<typeof createWalletClient>;
  stop(): Promise<void>;
}

/** Starts anvil on `port` (automine on unless told) and waits until it answers. */
export async function startAnvil(port: number, chainId = 31337): Promise<Anvil> {
  // A node already on the port would answer for this one (ours would fail to bind, unseen): a test
  // would then share another run's chain, its blocks and its clock.
  if (await portOpen(port)) throw new Error(`port ${port} already has a listener; a private anvil cannot start there (another test run? set TEST_BASE_PORT)`);
  const child: ChildProcess = spawn(anvilBinary(), ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId), '--silent'], {
    stdio: 'ignore',
  });
  const rpcUrl = `http://127.0.0.1:${port}`;
  const chain = defineChain({
    id: chainId,
    name: 'test',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const client = createPublicClient({ chain, transport: http(rpcUrl), cacheTime: 0 }) as PublicClient;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await client.getChainId();
      break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`anvil did not start on ${port}: ${String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const test = createTestClient({ chain, mode: 'anvil', transport: http(rpcUrl) });
  return {
    rpcUrl,
    chain,
    client,
    test,
    wallet: (key) => createWalletClient({ account: privateKeyToAccount(key), chain, transport: http(rpcUrl) }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
