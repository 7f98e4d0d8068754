import { createHmac } from 'node:crypto';
import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type Chain,
  concat,
  ExecutionRevertedError,
  encodeAbiParameters,
  encodeFunctionData,
  erc20Abi,
  getContractAddress,
  type Hash,
  type Hex,
  hexToBigInt,
  keccak256,
  type Log,
  numberToHex,
  type PublicClient,
  pad,
  parseEventLogs,
  RpcRequestError,
  type Transport,
  type WalletClient,
  zeroAddress,
} from 'viem';
import { getHttpRpcClient } from 'viem/utils';
import depositArtifacts from './deposit-artifacts.json' with { type: 'json' };
import { endpointLabel } from './endpoint.js';

interface Artifact {
  abi: Abi;
  bytecode: Hex;
}
// Committed build of contracts/Deposits.sol (scripts/compile-contracts.ts): every deposit address
// derives from the sweeper's exact bytecode, so it must not change with the compiler on a machine.
const artifacts = depositArtifacts as unknown as { DepositFactory: Artifact; DepositSweeper: Artifact };

/** The deterministic CREATE2 deployer present on most EVM chains (and on anvil): the factory has one address everywhere. */
export const CREATE2_DEPLOYER: Address = '0x4e59b44847b379578588920ca78fbf26c0b4956c';
const FACTORY_SALT = pad('0x00', { size: 32 });

export const depositFactoryAbi = artifacts.DepositFactory.abi;

/**
 * What a deposit address is bound to: the merchant it can only pay (the address derives from it
 * alone), and the ERC-20 a sweep of it moves besides the native coin (null: the native coin only).
 */
export interface DepositSettings {
  merchant: Address;
  token: Address | null;
}

const uuidHex = (quoteId: string): string => {
  const hex = quoteId.replace(/-/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new TypeError(`quote id ${quoteId} is not a UUID`);
  return hex;
};

/**
 * A quote id (a UUID) as the CREATE2 salt of its deposit address: how quotes were salted before the
 * salt was keyed (keyedDepositSalt), kept for quotes recorded without a salt of their own.
 */
export function depositSalt(quoteId: string): Hex {
  return pad(`0x${uuidHex(quoteId)}`, { size: 32 });
}

/**
 * The CREATE2 salt of a new quote's deposit address: HMAC-SHA256 of the quote id under the secret
 * DEPOSIT_SALT_KEY. The quote id is public (it is the upload's or listing's id), so with it as the
 * salt anyone could compute a quote's address and send it dust that becomes refund work; under a key
 * only the gateway holds, the address is known only to whom the quote is shown. The salt is stored
 * with the quote, so a new key leaves every quote issued before where it was.
 */
export function keyedDepositSalt(key: string, quoteId: string): Hex {
  if (key.length === 0) throw new TypeError('the deposit salt key is empty');
  return `0x${createHmac('sha256', key).update(uuidHex(quoteId)).digest('hex')}`;
}

/**
 * The deposit salt key of the local development chain (31337) only, where the gateway may run
 * without one: it is public, so the services refuse it on any other chain.
 */
export const LOCAL_DEPOSIT_SALT_KEY = 'reelboard local chain 31337 deposit salt key: public, never for a real chain';

/** A quote as a sweep names it: its id (salted the old way) or its id and its stored salt. */
export type SweepTarget = string | { quoteId: string; salt?: Hex | null | undefined };

/** The salt of a quote: its stored one, or for a quote recorded without one its id (depositSalt). */
export const saltOf = (target: SweepTarget): Hex => (typeof target === 'string' ? depositSalt(target) : (target.salt ?? depositSalt(target.quoteId)));

// Only the merchant: neither the chain nor the token is in the init code, so one quote has one
// address on every chain and in every asset (the token a sweep moves is the sweep's argument).
const constructorArgs = ({ merchant }: Pick<DepositSettings, 'merchant'>) => encodeAbiParameters([{ type: 'address' }], [merchant]);

/** The factory of the settings' merchant: its address, and the calldata that makes the CREATE2 deployer create it. */
export function depositFactory(settings: DepositSettings): { address: Address; deployData: Hex; sweeperCodeHash: Hex } {
  const initCode = concat([artifacts.DepositFactory.bytecode, constructorArgs(settings)]);
  const address = getContractAddress({ opcode: 'CREATE2', from: CREATE2_DEPLOYER, salt: FACTORY_SALT, bytecode: initCode });
  const sweeperCodeHash = keccak256(concat([artifacts.DepositSweeper.bytecode, constructorArgs(settings)]));
  return { address: lower(address), deployData: concat([FACTORY_SALT, initCode]), sweeperCodeHash };
}

const lower = (value: string) => value.toLowerCase() as Address;

/** What a quote records of its settings besides chain and token: the merchant, the factory and the sweeper's code hash. */
export function quoteSettingsOf(settings: DepositSettings): { merchant: Address; factory: Address; sweeperCodeHash: Hex } {
  const { address, sweeperCodeHash } = depositFactory(settings);
  return { merchant: lower(settings.merchant), factory: address, sweeperCodeHash };
}

/** The deposit address of a CREATE2 salt: counterfactual, nothing is deployed there until a sweep. */
export function depositAddressAt(settings: DepositSettings, salt: Hex): Address {
  const factory = depositFactory(settings);
  return lower(getContractAddress({ opcode: 'CREATE2', from: factory.address, salt, bytecodeHash: factory.sweeperCodeHash }));
}

/** The deposit address of a quote: under its stored salt, or for a quote recorded without one its id (depositSalt). */
export function depositAddressOf(settings: DepositSettings, quoteId: string, salt?: Hex | null): Address {
  return depositAddressAt(settings, saltOf({ quoteId, salt }));
}

/** Deploys the factory through the CREATE2 deployer if it is not there yet; returns its address. */
export async function ensureDepositFactory(wallet: WalletClient<Transport, Chain, Account>, client: PublicClient, settings: DepositSettings): Promise<Address> {
  const factory = depositFactory(settings);
  const code = await client.getCode({ address: factory.address });
  if (code && code !== '0x') return factory.address;
  const deployer = await client.getCode({ address: CREATE2_DEPLOYER });
  if (!deployer || deployer === '0x') throw new Error(`the chain has no CREATE2 deployer at ${CREATE2_DEPLOYER}`);
  const hash = await wallet.sendTransaction({ to: CREATE2_DEPLOYER, data: factory.deployData });
  const receipt = await client.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success') throw new Error(`deploying the deposit factory reverted (${hash})`);
  return factory.address;
}

// A fixed probe quote id: what the chain computes for it is compared with the off-chain derivation.
const PROBE_QUOTE_ID = '00000000-0000-4000-8000-00000000c2e2';

/**
 * Whether this chain derives deposit addresses as they are computed off chain (depositAddressOf): the
 * CREATE2 deployer is there, creating the factory through it lands at the computed factory address
 * (simulated with eth_call when it is not deployed yet), and a deployed factory computes the same
 * deposit address for a probe salt with the same sweeper code hash. Returns why not, or undefined.
 * A chain with another CREATE2 rule (or no deployer) would take payments to addresses no sweep reaches.
 */
export async function depositDerivationProblem(client: PublicClient, settings: DepositSettings): Promise<string | undefined> {
  const factory = depositFactory(settings);
  const deployer = await client.getCode({ address: CREATE2_DEPLOYER });
  if (!deployer || deployer === '0x')
    return `the chain has no CREATE2 deployer at ${CREATE2_DEPLOYER}: the deposit factory cannot be deployed, so deposit addresses could never be swept`;
  const code = await client.getCode({ address: factory.address });
  if (!code || code === '0x') {
    const { data } = await client.call({ to: CREATE2_DEPLOYER, data: factory.deployData });
    const created = data && data.length >= 42 ? lower(`0x${data.slice(-40)}`) : undefined;
    if (created !== factory.address)
      return `creating the deposit factory through the CREATE2 deployer would land at ${created ?? 'no address'}, not at ${factory.address} as computed off chain`;
    return undefined;
  }
  const [onChainHash, probe] = await Promise.all([
    client.readContract({ address: factory.address, abi: depositFactoryAbi, functionName: 'sweeperCodeHash' }) as Promise<Hex>,
    client.readContract({
      address: factory.address,
      abi: depositFactoryAbi,
      functionName: 'depositAddress',
      args: [depositSalt(PROBE_QUOTE_ID)],
    }) as Promise<Address>,
  ]);
  if (onChainHash.toLowerCase() !== factory.sweeperCodeHash.toLowerCase())
    return `the deposit factory at ${factory.address} has sweeper code hash ${onChainHash}, not ${factory.sweeperCodeHash} as computed off chain`;
  const expected = depositAddressOf(settings, PROBE_QUOTE_ID);
  if (lower(probe) !== expected)
    return `the deposit factory at ${factory.address} computes ${lower(probe)} for a probe quote, not ${expected} as computed off chain`;
  return undefined;
}

/** One sweep of one deposit address, from the factory's `Swept` event. */
export interface DepositSweep {
  salt: Hex;
  deposit: Address;
  native: bigint;
  /** How much of `asset` it moved. */
  token: bigint;
  /** The ERC-20 the sweep moved (null: the native coin only). */
  asset: Address | null;
  txHash: Hash;
  logIndex: number;
  blockNumber: bigint;
}

/** What a sweep moved out of its address in an asset: the native coin (null), or a token it swept (0 for another). */
export const sweptIn = (sweep: Pick<DepositSweep, 'native' | 'token' | 'asset'>, asset: Address | null): bigint =>
  asset === null ? sweep.native : sweep.asset === asset.toLowerCase() ? sweep.token : 0n;

const decodeSweeps = (logs: readonly Log[]): DepositSweep[] =>
  parseEventLogs({ abi: depositFactoryAbi, eventName: 'Swept', logs: logs as Log[], strict: true }).map((log) => {
    const args = log.args as unknown as { salt: Hex; deposit: Address; token: Address; native: bigint; amount: bigint };
    return {
      salt: args.salt,
      deposit: lower(args.deposit),
      native: args.native,
      token: args.amount,
      asset: args.token === zeroAddress ? null : lower(args.token),
      txHash: log.transactionHash as Hash,
      logIndex: log.logIndex ?? 0,
      blockNumber: log.blockNumber ?? 0n,
    };
  });

/**
 * Sweeps the quotes' deposit addresses into the merchant in one transaction (deploying the factory
 * first if needed): their native coin and the settings' token (any ERC-20: a foreign token sent to a
 * quote is flushed by naming it). Addresses holding nothing are skipped by the contract. Returns what moved.
 */
export async function sweepDeposits(
  wallet: WalletClient<Transport, Chain, Account>,
  client: PublicClient,
  settings: DepositSettings,
  quotes: readonly SweepTarget[],
): Promise<{ txHash: Hash; sweeps: DepositSweep[]; gasUsed: bigint }> {
  const factory = await ensureDepositFactory(wallet, client, settings);
  const hash = await wallet.sendTransaction({
    to: factory,
    data: encodeFunctionData({ abi: depositFactoryAbi, functionName: 'sweep', args: [quotes.map(saltOf), settings.token ?? zeroAddress] }),
  });
  const receipt = await client.waitForTransactionReceipt({ hash });
  if (receipt.status !== 'success') throw new Error(`sweep ${hash} reverted`);
  return { txHash: hash, sweeps: decodeSweeps(receipt.logs.filter((log) => lower(log.address) === factory)), gasUsed: receipt.gasUsed };
}

/**
 * Whether sweeping these quotes in one transaction would succeed now, by simulating it (eth_call):
 * undefined if it would, else the revert's message. The factory must be deployed.
 */
export async function sweepWouldRevert(
  client: PublicClient,
  account: Address,
  settings: DepositSettings,
  quotes: readonly SweepTarget[],
): Promise<string | undefined> {
  try {
    await client.call({
      account,
      to: depositFactory(settings).address,
      data: encodeFunctionData({ abi: depositFactoryAbi, functionName: 'sweep', args: [quotes.map(saltOf), settings.token ?? zeroAddress] }),
    });
    return undefined;
  } catch (error) {
    // A revert is an answer about this batch; a network failure is not, and goes up.
    const reverted =
      error instanceof BaseError
        ? error.walk((cause) => cause instanceof ExecutionRevertedError || (cause instanceof RpcRequestError && cause.code === 3))
        : null;
    if (reverted) return (reverted as BaseError).details || (reverted as BaseError).shortMessage;
    throw error;
  }
}

/** Every sweep the merchant's factory made in blocks fromBlock..toBlock, in every asset (each names its own). */
export async function readSweeps(client: PublicClient, settings: DepositSettings, range: { fromBlock: bigint; toBlock: bigint }): Promise<DepositSweep[]> {
  const logs = await client.getLogs({ address: depositFactory(settings).address, fromBlock: range.fromBlock, toBlock: range.toBlock });
  return decodeSweeps(logs as Log[]);
}

/** The RPC URLs and batch size a client was made with (createChainClient), for batched balance reads. */
interface BatchTarget {
  urls: readonly string[];
  batchSize: number;
  onRequest?: () => void;
  /** Called with the endpoint's host when a batch to it fails (ChainConfig's `onRequestError`). */
  onRequestError?: (endpoint: string) => void;
  /** The URL that answered last: batches go there first, and to the others in turn when it fails. */
  current?: number;
}
const batchTargets = new WeakMap<PublicClient, BatchTarget>();

/** Registers a client's RPC URLs for readBalances' JSON-RPC batches (createChainClient does it). */
export function registerBatchTarget(client: PublicClient, target: BatchTarget): void {
  batchTargets.set(client, target);
}

/** Sends one JSON-RPC batch to the target's URLs: the last one that answered first, then the others. */
type BatchBody = Extract<Parameters<ReturnType<typeof getHttpRpcClient>['request']>[0]['body'], unknown[]>;
async function requestBatch<const B extends BatchBody>(target: BatchTarget, body: B) {
  const start = target.current ?? 0;
  let lastError: unknown;
  for (let i = 0; i < target.urls.length; i++) {
    const index = (start + i) % target.urls.length;
    try {
      target.onRequest?.();
      const responses = await getHttpRpcClient(target.urls[index]!, { timeout: 30_000 }).request({ body: body as BatchBody });
      target.current = index;
      return responses;
    } catch (error) {
      target.onRequestError?.(endpointLabel(target.urls[index]!));
      lastError = error;
    }
  }
  throw lastError;
}

/** Raised when the node answers a balance read in a batch with an error. */
export class BalanceReadError extends Error {
  override readonly name = 'BalanceReadError';
  constructor(
    readonly address: Address,
    readonly detail: string,
  ) {
    super(`reading the balance of ${address} failed: ${detail}`);
  }
}

/**
 * What each address holds at `blockNumber`, in the native coin (token null) or the ERC-20. Read in
 * JSON-RPC batch requests of `batchSize` calls (viem's HTTP RPC client with an array body), so the
 * cost per block grows with batches, not addresses: 10,000 addresses are a handful of requests.
 * A client without a registered batch target falls back to one viem call per address.
 */
export async function readBalances(
  client: PublicClient,
  { addresses, token, blockNumber }: { addresses: readonly Address[]; token: Address | null; blockNumber: bigint },
): Promise<bigint[]> {
  const target = batchTargets.get(client);
  if (!target || target.batchSize <= 1) {
    if (token === null) return Promise.all(addresses.map((address) => client.getBalance({ address, blockNumber })));
    return Promise.all(
      addresses.map((address) => client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [address], blockNumber })),
    );
  }
  const block = numberToHex(blockNumber);
  const call = (address: Address, id: number) =>
    token === null
      ? { jsonrpc: '2.0' as const, id, method: 'eth_getBalance', params: [address, block] }
      : {
          jsonrpc: '2.0' as const,
          id,
          method: 'eth_call',
          params: [{ to: token, data: encodeFunctionData({ abi: erc20Abi, functionName: 'balanceOf', args: [address] }) }, block],
        };
  const chunks: Address[][] = [];
  for (let i = 0; i < addresses.length; i += target.batchSize) chunks.push(addresses.slice(i, i + target.batchSize));
  const results = await Promise.all(
    chunks.map(async (chunk) => {
      const responses = await requestBatch(
        target,
        chunk.map((address, id) => call(address, id)),
      );
      const byId = new Map(responses.map((response) => [Number(response.id), response]));
      return chunk.map((address, id) => {
        const response = byId.get(id);
        if (!response || 'error' in response || response.result === undefined)
          throw new BalanceReadError(address, JSON.stringify(response?.error ?? 'no answer'));
        const result = response.result as Hex;
        return result === '0x' ? 0n : hexToBigInt(result);
      });
    }),
  );
  return results.flat();
}
