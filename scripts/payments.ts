// The payment ledger, for operators:
//   pnpm payments list [--status S] [--limit N]              ledger rows, newest first (S: refund_due or a status)
//   pnpm payments refund <paymentId> --tx <hash> [--to A --signature S] [--note T]
//                                                             records a refund sent by transaction <hash>, once the chain shows it paid what is due
//   pnpm payments reconcile [--from-block N] [--repair] [--also MERCHANT[:TOKEN]]...
//                                                             compares the chain with the ledger and the ledger with the chain; exit 1 on any difference
//                                                             (--also: settings this deployment used before a change, whose quotes, and plain transfers to whose merchant, are judged too)
//                                                             (from the checkpoint of the last block reconciled, or the factory's deployment block)
//                                                             (--repair judges each missing credit at its block, and moves its upload)
//   pnpm payments sweep [--min AMOUNT] [--min-native WEI]      sweeps deposit addresses holding money into the merchant (exit 1 if one reverts on its own)
//   pnpm payments refunds [--limit N]                          refunds due, approved, sending and sent: chain, asset, amount in the coin's units, recipient
//   pnpm payments refunds approve <paymentId> [--actor NAME]   approves the refund wallet to pay back what a row has due (to its owner, or its sender)
//   pnpm payments refunds send                                 runs one round of the refund wallet now on each chain (sends approved refunds, follows those sent)
// Reads DATABASE_URL; a refund and reconcile --repair also REDIS_URL (or REDIS_SENTINELS and REDIS_SENTINEL_MASTER) and REDIS_PREFIX (the owner is told on the upload's
// status); a refund also RPC_URL, CHAIN_ID and CONFIRMATIONS (the transaction is verified on chain); reconcile and sweep RPC_URL, CHAIN_ID, MERCHANT_ADDRESS, PAYMENT_TOKEN and CONFIRMATIONS (reconcile also CONFIRMATION_POLICY, or CHAINS' entry for CHAIN_ID)
// (as the payment-watcher), sweep SWEEP_PRIVATE_KEY; refunds send REFUND_PRIVATE_KEY, REDIS_URL and the refund settings (as the payment-watcher). Beside `pnpm dev`, with none of them set: the stack's own (.data/dev.env).
// Each subcommand is one row of `commands`: add one there.
import { userInfo } from 'node:os';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { formatUnits } from 'viem';
import { ConfigError, chainEnvSchema, chainsFrom, databaseEnvSchema, env, loadConfig, redisEnvSchema, rpcUrlsFrom, z } from '@reelboard/config';
import {
  approveRefund,
  connectDatabase,
  type Knex,
  listPayments,
  listRefundSends,
  type PaymentFilter,
  PaymentNotFoundError,
  type PaymentView,
  paymentFilters,
  RefundConflictError,
  RefundVerificationError,
} from '@reelboard/db';
import { refundEnvShape } from '../services/payment-watcher/src/refund-config.js';
import { loadDevStackEnv } from './dev-stack-env.js';

// The groups the services read, so an operator sets one variable once; the chain is optional
// here (only reconcile and sweep need it; chainOf names what is missing).
const configSchema = databaseEnvSchema
  .pick({ DATABASE_URL: true })
  .extend(redisEnvSchema.shape)
  .extend(chainEnvSchema.partial().shape)
  .extend({
    CONFIRMATIONS: env.positiveInt(2).describe('Blocks on top of (and including) a payment before reconcile counts it (as the payment-watcher).'),
    CONFIRMATION_POLICY: z
      .enum(['depth', 'safe', 'finalized'], { error: "must be depth (CONFIRMATIONS blocks), safe or finalized (the node's block tags)" })
      .default('depth')
      .describe(
        "Up to which block reconcile reads, as the payment-watcher: `depth` (CONFIRMATIONS blocks on top) or the node's `safe` / `finalized` block. CHAINS' entry for CHAIN_ID, when set, decides instead.",
      ),
    SWEEP_PRIVATE_KEY: z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/, { error: 'must be a 0x-prefixed 32-byte hex private key' })
      .optional()
      .describe("Sweep only: the key that pays the sweeps' gas (sweeps can only pay the merchant)."),
  })
  .extend(refundEnvShape);
type Config = z.infer<typeof configSchema>;

/** A mistake in how the command was called: printed with the usage, exit code 2. */
class UsageError extends Error {}

interface Command {
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(
    args: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] },
    context: { db: Knex; config: Config },
  ): Promise<number>;
}

const short = (value: string | null, length = 10) => (value === null ? '-' : value.length > length + 2 ? `${value.slice(0, length)}…` : value);

function table(rows: PaymentView[]): string {
  const header = ['id', 'recorded', 'status', 'credited as', 'amount', 'refund due', 'token', 'upload', 'tx / from', 'reason'];
  const lines = rows.map((row) => [
    String(row.id),
    row.recordedAt.slice(0, 19).replace('T', ' '),
    row.status,
    row.creditStatus ?? '-',
    row.amount,
    row.refundDue,
    row.token === null ? 'native' : short(row.token),
    row.uploadId ?? '(no quote)',
    `${short(row.txHash, 12)} / ${short(row.from, 12)}`,
    row.failureReason ?? (row.refundTxHash ? `refunded in ${row.refundTxHash}` : ''),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => (line[i] ?? '').length)));
  return [header, ...lines]
    .map((line) =>
      line
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The chain settings reconcile and sweep need, or a ConfigError naming what is missing. */
async function chainOf(config: Config) {
  const missing = (['CHAIN_ID', 'MERCHANT_ADDRESS'] as const).filter((name) => config[name] === undefined);
  if (!config.RPC_URL && !config.RPC_URLS?.length) missing.unshift('RPC_URL' as never);
  if (missing.length > 0) throw new ConfigError(missing.map((variable) => ({ variable, message: 'is required for this command' })));
  const { createChainClient } = await import('@reelboard/chain');
  const rpcUrls = rpcUrlsFrom(config);
  // No ranking here: its pings would keep the command alive; a failing endpoint is still skipped.
  const chain = createChainClient({ rpcUrls, chainId: config.CHAIN_ID ?? 0, batchSize: 500, maxLogRange: config.RPC_MAX_LOG_RANGE });
  // Counted where the watcher counts: the chain's own policy in CHAINS, else the single-chain settings.
  const listed = config.CHAINS?.find((setting) => setting.id === config.CHAIN_ID);
  return {
    chain,
    chainId: config.CHAIN_ID ?? 0,
    rpcUrls,
    deposits: { merchant: config.MERCHANT_ADDRESS as `0x${string}`, token: config.PAYMENT_TOKEN ?? null },
    finality: listed
      ? { confirmationPolicy: listed.confirmationPolicy, confirmations: listed.confirmations }
      : { confirmationPolicy: config.CONFIRMATION_POLICY, confirmations: config.CONFIRMATIONS },
  };
}

/** The deposit watcher's settle on the pipeline's Redis, for `reconcile --repair`. */
async function lifecycleSettle(
  config: Config,
  chain: Awaited<ReturnType<typeof chainOf>>['chain'],
  chainId: number,
  deposits: Awaited<ReturnType<typeof chainOf>>['deposits'],
  finality: Awaited<ReturnType<typeof chainOf>>['finality'],
) {
  const { connectRedis } = await import('@reelboard/bus');
  const { createBus, Uploads } = await import('@reelboard/lifecycle');
  const { createLogger } = await import('@reelboard/logger');
  const { DepositWatcher } = await import('../services/payment-watcher/src/deposit-watcher.js');
  const { ScanLock } = await import('../services/payment-watcher/src/scan-lock.js');
  const { WatchList } = await import('../services/payment-watcher/src/watch-list.js');
  const redis = connectRedis(config, 'payments-cli');
  const log = createLogger('payments-cli', 'warn');
  const bus = createBus(redis, config.REDIS_PREFIX, 'payments-cli', log);
  const watcher = new DepositWatcher({
    bus,
    uploads: new Uploads(redis, config.REDIS_PREFIX, bus.status),
    watchList: new WatchList(redis, config.REDIS_PREFIX),
    chain,
    // Never taken: settling is not a block pass.
    lock: new ScanLock(redis, `${config.REDIS_PREFIX}:payment:scan-lock`, 1),
    log,
    chainId,
    deposits,
    ...finality,
    startBehind: 0,
    maxBlocksPerPass: 1,
  });
  return {
    settle: ((quote, total, at) =>
      watcher.settle(
        {
          uploadId: quote.uploadId,
          owner: quote.owner as `0x${string}`,
          address: quote.depositAddress as `0x${string}`,
          token: quote.token as `0x${string}` | null,
          amount: quote.amount,
          createdAt: quote.createdAt,
          expiresAt: quote.expiresAt,
        },
        total,
        { ...at, transfers: [] },
      )) satisfies import('../services/payment-watcher/src/reconcile.js').RepairSettle,
    close: async () => {
      await bus.close(1_000);
      await redis.quit();
    },
  };
}

const commands: Record<string, Command> = {
  list: {
    usage: 'list [--status refund_due|partial|paid|overpaid|late|unmatched|unfulfilled|refunded|reversed] [--limit N]',
    options: { status: { type: 'string' }, limit: { type: 'string', default: '50' } },
    async run({ values }, { db }) {
      const status = values.status as string | undefined;
      if (status !== undefined && !paymentFilters.includes(status as PaymentFilter))
        throw new UsageError(`--status must be one of ${paymentFilters.join(', ')}`);
      const limit = Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be an integer from 1 to 1000');
      const page = await listPayments(db, { status: status as PaymentFilter | undefined, limit });
      if (page.items.length === 0) {
        process.stdout.write(`no payments${status ? ` (${status})` : ''}\n`);
        return 0;
      }
      process.stdout.write(`${table(page.items)}\n`);
      if (page.nextCursor) process.stdout.write(`(more: raise --limit)\n`);
      return 0;
    },
  },
  refunds: {
    usage: 'refunds [list [--limit N] | approve <paymentId> [--actor NAME] | send]',
    options: { limit: { type: 'string', default: '50' }, actor: { type: 'string' } },
    async run({ values, positionals }, { db, config }) {
      const [sub = 'list', id, ...extra] = positionals;
      if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`);
      if (sub === 'list') {
        if (id !== undefined) throw new UsageError('list takes no argument (approve <paymentId> approves one)');
        const limit = Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit must be an integer from 1 to 1000');
        process.stdout.write(await refundsTable(db, config, limit));
        return 0;
      }
      if (sub === 'approve') {
        if (!id || !/^[1-9]\d{0,17}$/.test(id)) throw new UsageError('give one payment id (the `payment` column of `refunds`)');
        const actor = typeof values.actor === 'string' ? values.actor : `cli:${userInfo().username}`;
        try {
          const { send, repeated } = await approveRefund(db, { paymentId: Number(id), actor });
          process.stdout.write(
            repeated
              ? `payment ${id}'s refund was already approved (refund ${send.id}, ${send.state}, by ${send.approvedBy}); nothing changed\n`
              : `payment ${id}: refund ${send.id} of ${send.amount} base units to ${send.recipient} approved by ${actor}; the refund wallet sends it on its next round\n`,
          );
          return 0;
        } catch (error) {
          if (error instanceof PaymentNotFoundError || error instanceof RefundConflictError || error instanceof RefundVerificationError) {
            process.stderr.write(`not approved: ${error.message}\n`);
            return 1;
          }
          throw error;
        }
      }
      if (sub === 'send') {
        if (id !== undefined) throw new UsageError('send takes no argument: it sends every approved refund');
        return sendRefundsNow(db, config);
      }
      throw new UsageError(`unknown refunds subcommand ${sub}: list, approve or send`);
    },
  },
  refund: {
    usage: 'refund <paymentId> --tx <0x hash> [--to ADDRESS --signature 0xSIG] [--note TEXT] [--actor NAME]',
    options: { tx: { type: 'string' }, note: { type: 'string' }, actor: { type: 'string' }, to: { type: 'string' }, signature: { type: 'string' } },
    async run({ values, positionals }, { db, config }) {
      const [id] = positionals;
      if (!id || !/^[1-9]\d{0,17}$/.test(id) || positionals.length > 1) throw new UsageError('give one payment id (the `id` column of `list`)');
      const txHash = values.tx;
      if (typeof txHash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(txHash))
        throw new UsageError('--tx must be the 0x-prefixed 32-byte hash of the refund transaction');
      const to = values.to;
      if (to !== undefined && (typeof to !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(to)))
        throw new UsageError('--to must be the 0x-prefixed 20-byte address the refund was paid to');
      const signature = values.signature;
      if (signature !== undefined && (typeof signature !== 'string' || !/^0x[0-9a-fA-F]{130,}$/.test(signature)))
        throw new UsageError('--signature must be the 0x-prefixed hex signature of the refund message');
      if (signature !== undefined && to === undefined) throw new UsageError('--signature proves a --to address: give both');
      if (!config.REDIS_URL && !config.REDIS_SENTINELS)
        throw new ConfigError([{ variable: 'REDIS_URL', message: 'is required to tell the owner about the refund' }]);
      const missing = [...(!config.RPC_URL && !config.RPC_URLS?.length ? ['RPC_URL'] : []), ...(config.CHAIN_ID === undefined ? ['CHAIN_ID'] : [])];
      if (missing.length > 0)
        throw new ConfigError(missing.map((variable) => ({ variable, message: 'is required to verify the refund transaction on chain' })));
      const { createChainClient, refundChainReader } = await import('@reelboard/chain');
      const chain = createChainClient({ rpcUrls: rpcUrlsFrom(config), chainId: config.CHAIN_ID ?? 0 });
      const actor = typeof values.actor === 'string' ? values.actor : `cli:${userInfo().username}`;
      // Loaded only here: the queue library is heavy and listing does not need it.
      const { connectRedis } = await import('@reelboard/bus');
      const { StatusStore, Uploads } = await import('@reelboard/lifecycle');
      const { refundPayment } = await import('../services/api-gateway/src/use-cases/refund-payment.js');
      const redis = connectRedis(config, 'payments-cli');
      let outcome;
      try {
        // The same use-case as the admin route: the ledger row, its audit, and the owner's status.
        outcome = await refundPayment(
          {
            db,
            chain: refundChainReader(chain, config.CHAIN_ID ?? 0),
            confirmations: config.CONFIRMATIONS,
            uploads: new Uploads(redis, config.REDIS_PREFIX, new StatusStore(redis, config.REDIS_PREFIX)),
          },
          { paymentId: Number(id), txHash, actor, note: typeof values.note === 'string' ? values.note : undefined, to, signature },
        );
      } catch (error) {
        if (error instanceof PaymentNotFoundError || error instanceof RefundConflictError) {
          process.stderr.write(`${error.message}\n`);
          return 1;
        }
        if (error instanceof RefundVerificationError) {
          const details = Object.entries(error.details).map(([key, value]) => `  ${key}: ${String(value).replaceAll('\n', '\n    ')}\n`);
          process.stderr.write(`refund not recorded (${error.code}): ${error.message}\n${details.join('')}`);
          return 1;
        }
        throw error;
      } finally {
        await redis.quit();
      }
      const { payment } = outcome;
      if (outcome.repeated) {
        process.stdout.write(`payment ${payment.id} was already refunded by ${payment.refundTxHash} (${outcome.refunded} base units); nothing changed\n`);
        return 0;
      }
      process.stdout.write(`payment ${payment.id}: refunded ${outcome.refunded} base units to ${payment.refundTo} in ${payment.refundTxHash} (by ${actor})\n`);
      return 0;
    },
  },
  reconcile: {
    usage: 'reconcile [--from-block N] [--repair] [--settle-seconds S] [--also MERCHANT[:TOKEN]]...',
    options: {
      'from-block': { type: 'string' },
      repair: { type: 'boolean', default: false },
      'settle-seconds': { type: 'string', default: '15' },
      also: { type: 'string', multiple: true, default: [] },
    },
    async run({ values }, { db, config }) {
      const fromArg = values['from-block'];
      if (fromArg !== undefined && (typeof fromArg !== 'string' || !/^\d+$/.test(fromArg))) throw new UsageError('--from-block must be a block number');
      const settle = Number(values['settle-seconds']);
      if (!Number.isFinite(settle) || settle < 0) throw new UsageError('--settle-seconds must be a number of seconds');
      // The merchant (and token) this deployment used before a change: its quotes are still this deployment's to judge.
      const alsoSettings = (values.also as string[]).map((item) => {
        const match = /^(0x[0-9a-fA-F]{40})(?::(0x[0-9a-fA-F]{40}|native))?$/.exec(item);
        if (!match) throw new UsageError(`--also must be MERCHANT or MERCHANT:TOKEN (0x-prefixed 20-byte addresses, or MERCHANT:native); got ${item}`);
        const token = match[2] === undefined || match[2] === 'native' ? null : (match[2].toLowerCase() as `0x${string}`);
        return { merchant: (match[1] as string).toLowerCase() as `0x${string}`, token };
      });
      const { chain, chainId, deposits, finality } = await chainOf(config);
      const { reconcilePayments, describeDifference, reconcileStart, advanceCheckpoint } = await import('../services/payment-watcher/src/reconcile.js');
      // By default from the block after the last one fully reconciled (a checkpoint in Postgres), or on a
      // first run from the deposit factory's deployment; deposit addresses are checked whole, whatever the range.
      const start = await reconcileStart({ db, chain, chainId, deposits }, typeof fromArg === 'string' ? BigInt(fromArg) : undefined);
      const fromBlock = start.fromBlock;
      const params = { db, chain, chainId, deposits, alsoSettings, ...finality, fromBlock, repair: false };
      // A credit seen a moment ago may still be on its way to the ledger: differences are read again for a while before they count.
      const deadline = Date.now() + settle * 1000;
      let result = await reconcilePayments(params);
      while (result.differences.length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        result = await reconcilePayments(params);
      }
      if (result.differences.length > 0 && values.repair === true) {
        // --repair drives the lifecycle as the watcher would (a covered upload made paid and its work
        // queued, late money owed): it needs the pipeline's Redis, not only the ledger.
        if (!config.REDIS_URL && !config.REDIS_SENTINELS)
          throw new ConfigError([{ variable: 'REDIS_URL', message: 'is required for --repair (it moves the uploads its credits pay)' }]);
        const repairer = await lifecycleSettle(config, chain, chainId, deposits, finality);
        try {
          result = await reconcilePayments({ ...params, repair: true, settle: repairer.settle });
        } finally {
          await repairer.close();
        }
      }
      const repairedRun = result.differences.length > 0 && values.repair === true;
      const checkpoint = await advanceCheckpoint({ db, chain, chainId, deposits }, fromBlock, result, repairedRun);
      const from = { argument: '--from-block', checkpoint: 'the checkpoint', deployment: "the factory's deployment", no_factory: 'no factory on chain yet' }[
        start.source
      ];
      process.stdout.write(
        `checked ${result.quotesChecked} deposit addresses, ${result.merchantTransfersChecked} transfers to the merchant in ${result.blocksRead} blocks (${fromBlock}..${result.height}, from ${from}) and ${result.ledgerRowsChecked} ledger rows against the chain, at block ${result.height}\n`,
      );
      process.stdout.write(checkpoint === null ? 'checkpoint not moved\n' : `checkpoint: block ${checkpoint}\n`);
      for (const difference of result.differences) process.stdout.write(`${describeDifference(difference)}\n`);
      // Quotes of other settings are not judged: named (the largest groups), so a merchant or token changed is not forgotten.
      const others = [...result.notJudged].sort((a, b) => b.quotes - a.quotes);
      for (const group of others.slice(0, 10)) {
        const settings = `${group.merchant}${group.token ? `:${group.token}` : ''}`;
        process.stdout.write(
          `not judged: ${group.quotes} quote(s) issued for merchant ${group.merchant} in ${group.token ?? 'the native coin'} (if this deployment issued them before a change: --also ${settings})\n`,
        );
      }
      if (others.length > 10) process.stdout.write(`not judged: ${others.length - 10} more settings' quotes\n`);
      if (result.differences.length === 0) {
        process.stdout.write('the ledger matches the chain\n');
        return 0;
      }
      process.stdout.write(`${result.differences.length} difference(s)${values.repair === true ? `; ${result.repaired} recorded by --repair` : ''}\n`);
      return 1;
    },
  },
  sweep: {
    usage: 'sweep [--min AMOUNT] [--min-native WEI] [--token ADDRESS]',
    options: { min: { type: 'string', default: '1' }, 'min-native': { type: 'string', default: '1' }, token: { type: 'string' } },
    async run({ values }, { db, config }) {
      // --token flushes that ERC-20 (one sent to deposit addresses by mistake, or not quoted) instead of each quote's own.
      const flush = values.token;
      if (flush !== undefined && (typeof flush !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(flush)))
        throw new UsageError('--token must be the ERC-20 contract address to flush from the deposit addresses');
      if (typeof values.min !== 'string' || !/^\d+$/.test(values.min))
        throw new UsageError('--min must be an amount of the quoted asset in its own base units');
      const minNative = values['min-native'];
      if (typeof minNative !== 'string' || !/^\d+$/.test(minNative)) throw new UsageError('--min-native must be an amount of native coin in wei');
      if (!config.SWEEP_PRIVATE_KEY)
        throw new ConfigError([{ variable: 'SWEEP_PRIVATE_KEY', message: 'is required to sweep (it pays the gas; sweeps only pay the merchant)' }]);
      const { chain, chainId, rpcUrls, deposits } = await chainOf(config);
      const { ledgerTotals } = await import('@reelboard/db');
      const { quotesWorthSweeping, sweepInBatches } = await import('../services/payment-watcher/src/sweep.js');
      const { quotesBySettings } = await import('../services/payment-watcher/src/reconcile.js');
      let swept = 0;
      let checked = 0;
      const skipped: { quoteId: string; reason: string }[] = [];
      // Each quote is swept by its own settings' factory, to the merchant it was issued for (a quote from
      // before a change of MERCHANT_ADDRESS or PAYMENT_TOKEN still pays the old merchant).
      for (const [quoted, group] of quotesBySettings((await ledgerTotals(db, chainId)).quotes, deposits)) {
        const settings = typeof flush === 'string' ? { merchant: quoted.merchant, token: flush.toLowerCase() as `0x${string}` } : quoted;
        const quotes = group.map((q) => ({ uploadId: q.quoteId, address: q.depositAddress as `0x${string}` }));
        checked += quotes.length;
        // --min is the quoted asset's (another token's than the configured one: anything non-zero); native coin on a token quote has its own minimum.
        const tokenMin = settings.token === deposits.token || typeof flush === 'string' ? BigInt(values.min) : 1n;
        const minimums = settings.token ? { native: BigInt(minNative), token: tokenMin } : { native: BigInt(values.min), token: 0n };
        const worth = new Set(await quotesWorthSweeping({ chain, deposits: settings, quotes, minimums }));
        if (worth.size === 0) continue;
        // Each by the salt its quote was issued with (none stored: its id).
        const targets = group.filter((q) => worth.has(q.quoteId)).map((q) => ({ quoteId: q.quoteId, salt: q.depositSalt as `0x${string}` | null }));
        const outcome = await sweepInBatches(chain, { rpcUrls, chainId, privateKey: config.SWEEP_PRIVATE_KEY as `0x${string}` }, settings, targets);
        for (const s of outcome.sweeps)
          process.stdout.write(`swept ${s.deposit}: ${s.native} native, ${s.token} of ${s.asset ?? 'no token'} (tx ${s.txHash})\n`);
        process.stdout.write(`${outcome.sweeps.length} deposit address(es) swept into ${settings.merchant}\n`);
        swept += outcome.sweeps.length;
        skipped.push(...outcome.skipped);
      }
      if (swept === 0 && skipped.length === 0) {
        process.stdout.write(`nothing to sweep among ${checked} deposit addresses\n`);
        return 0;
      }
      for (const skip of skipped) process.stderr.write(`not swept: quote ${skip.quoteId} (its sweep reverts on its own: ${skip.reason})\n`);
      return skipped.length > 0 ? 1 : 0;
    },
  },
};

/** The configured chains (CHAINS, or the single-chain settings), or none when no chain is configured. */
function configuredChains(config: Config) {
  if (config.CHAIN_ID === undefined) return [];
  return chainsFrom({ ...config, CHAIN_ID: config.CHAIN_ID }, { confirmations: config.CONFIRMATIONS });
}

/** Refunds due (not yet approved) and the refund wallet's sends, each in its coin's units where the chain names the asset. */
async function refundsTable(db: Knex, config: Config, limit: number): Promise<string> {
  const { assetOf } = await import('../services/payment-watcher/src/refund-config.js');
  const chains = configuredChains(config);
  const units = (chainId: number, token: string | null, amount: string) => {
    const setting = chains.find((c) => c.id === chainId);
    if (!setting) return `${amount} base units of ${token ?? 'native'}`;
    const asset = assetOf(setting, token);
    return `${formatUnits(BigInt(amount), asset.decimals)} ${asset.symbol}`;
  };
  const chainName = (chainId: number) => chains.find((c) => c.id === chainId)?.name ?? String(chainId);
  const sends = await listRefundSends(db, { states: ['approved', 'sending', 'sent', 'failed'], limit });
  const open = new Set(sends.filter((s) => s.state === 'approved' || s.state === 'sending').map((s) => s.paymentId));
  const due = (await listPayments(db, { status: 'refund_due', limit })).items.filter((p) => !open.has(p.id));
  const header = ['state', 'payment', 'refund', 'chain', 'amount', 'recipient', 'approved by', 'tx / note'];
  const lines = [
    ...due.map((p) => [
      'due',
      String(p.id),
      '-',
      chainName(p.chainId),
      units(p.chainId, p.token, p.refundDue),
      p.owner ?? p.from ?? '(needs a signed address)',
      '-',
      p.status,
    ]),
    ...sends.map((s) => [
      s.state,
      String(s.paymentId),
      String(s.id),
      chainName(s.chainId),
      units(s.chainId, s.token, s.amount),
      s.recipient,
      s.approvedBy,
      s.txHash ?? s.lastError ?? '',
    ]),
  ];
  if (lines.length === 0) return 'no refunds due or sent\n';
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => (line[i] ?? '').length)));
  return `${[header, ...lines]
    .map((line) =>
      line
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

/** One round of the refund wallet on each configured chain, under the payment-watcher's lease of that chain. */
async function sendRefundsNow(db: Knex, config: Config): Promise<number> {
  const missing = [
    ...(config.REFUND_PRIVATE_KEY ? [] : ['REFUND_PRIVATE_KEY']),
    ...(config.REDIS_URL || config.REDIS_SENTINELS ? [] : ['REDIS_URL']),
    ...(config.CHAIN_ID === undefined ? ['CHAIN_ID'] : []),
  ];
  if (missing.length > 0) throw new ConfigError(missing.map((variable) => ({ variable, message: 'is required to send refunds' })));
  const { checkRefundKey, limitsOnChain } = await import('../services/payment-watcher/src/refund-config.js');
  checkRefundKey(config);
  const { createChainClient } = await import('@reelboard/chain');
  const { connectRedis } = await import('@reelboard/bus');
  const { announceRefund, StatusStore, Uploads } = await import('@reelboard/lifecycle');
  const { createLogger } = await import('@reelboard/logger');
  const { RefundSender } = await import('../services/payment-watcher/src/refund-sender.js');
  const { ScanLock } = await import('../services/payment-watcher/src/scan-lock.js');
  const redis = connectRedis(config, 'payments-cli');
  const uploads = new Uploads(redis, config.REDIS_PREFIX, new StatusStore(redis, config.REDIS_PREFIX));
  const log = createLogger('payments-cli', 'warn');
  let failed = 0;
  try {
    for (const setting of configuredChains(config)) {
      const scope = setting.id === config.CHAIN_ID ? '' : `chain:${setting.id}:`;
      const lock = new ScanLock(redis, `${config.REDIS_PREFIX}:payment:${scope}refund-lock`, 120_000);
      const sender = new RefundSender({
        db,
        chain: createChainClient({ rpcUrls: setting.rpcUrls, chainId: setting.id }),
        setting,
        privateKey: config.REFUND_PRIVATE_KEY as `0x${string}`,
        maxFeePerGas: config.REFUND_MAX_FEE_PER_GAS,
        dailyLimits: limitsOnChain(setting, config.REFUND_DAILY_LIMIT),
        autoApprove: limitsOnChain(setting, config.REFUND_AUTO_APPROVE_MAX),
        lock,
        onRefunded: (outcome) => announceRefund(uploads, outcome, 'refund-wallet'),
        log,
      });
      const label = `chain ${setting.id} (${setting.name})`;
      try {
        const report = await sender.sendOnce();
        if (!report) {
          process.stdout.write(`${label}: a payment-watcher holds the refund lease; it sends on its own round\n`);
          continue;
        }
        process.stdout.write(
          `${label}: refund wallet ${sender.address}: ${report.approved} approved by policy, ${report.sent.length} sent, ${report.confirmed.length} confirmed and recorded, ${report.waiting.length} waiting, ${report.failed.length} failed\n`,
        );
        for (const s of report.sent) process.stdout.write(`  sent refund ${s.id} (payment ${s.paymentId}) in ${s.txHash}\n`);
        for (const s of report.confirmed) process.stdout.write(`  recorded refund ${s.id} (payment ${s.paymentId}): ${s.txHash}\n`);
        for (const s of report.waiting) process.stdout.write(`  waiting refund ${s.id} (payment ${s.paymentId}): ${s.reason}\n`);
        for (const s of report.failed) process.stderr.write(`  failed refund ${s.id} (payment ${s.paymentId}, ${s.reason}): ${s.error}\n`);
        failed += report.failed.length;
      } finally {
        await lock.release();
      }
    }
  } finally {
    await redis.quit();
  }
  return failed > 0 ? 1 : 0;
}

function usage(): string {
  return `usage:\n${Object.values(commands)
    .map((command) => `  pnpm payments ${command.usage}`)
    .join('\n')}\n`;
}

const [name, ...rest] = process.argv.slice(2);
const command = name ? commands[name] : undefined;
if (!command) {
  process.stderr.write(usage());
  process.exit(2);
}
const devStackEnv = loadDevStackEnv();
if (devStackEnv) process.stderr.write(`using the development stack's settings from ${devStackEnv} (scripts/dev.sh)\n`);
let config: Config;
try {
  config = loadConfig(configSchema, process.env, { redisOptional: true });
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(78);
}
const db = connectDatabase(config.DATABASE_URL, { min: 0, max: 2 });
try {
  const args = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  process.exitCode = await command.run(args, { db, config });
} catch (error) {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`${(error as Error).message}\n${usage()}`);
    process.exitCode = 2;
  } else if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 78;
  } else {
    throw error;
  }
} finally {
  await db.destroy();
}
