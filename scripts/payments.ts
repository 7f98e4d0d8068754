// The payment ledger, for operators:
//   pnpm payments list [--status S] [--limit N]              ledger rows, newest first (S: refund_due or a status)
//   pnpm payments refund <paymentId> --tx <hash> [--note T]   records a refund sent by transaction <hash>
// Reads DATABASE_URL, and for a refund REDIS_URL and REDIS_PREFIX (the owner is told on the upload's
// status). For the local stack: set -a; . .data/infra.env; set +a.
// Each subcommand is one row of `commands`: add one there.
import { userInfo } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, env, loadConfig, z } from '@reelboard/config';
import {
  connectDatabase,
  listPayments,
  markRefunded,
  paymentFilters,
  PaymentNotFoundError,
  RefundConflictError,
  type Knex,
  type PaymentFilter,
  type PaymentView,
} from '@reelboard/db';

const configSchema = z.object({
  DATABASE_URL: env.url(['postgres', 'postgresql']),
  /** Only a refund needs it: the owner is told on the upload's status stream. */
  REDIS_URL: env.url(['redis', 'rediss']).optional(),
  REDIS_PREFIX: z.string().default('reelboard'),
});
type Config = z.infer<typeof configSchema>;

/** A mistake in how the command was called: printed with the usage, exit code 2. */
class UsageError extends Error {}

interface Command {
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(args: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] }, context: { db: Knex; config: Config }): Promise<number>;
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
  return [header, ...lines].map((line) => line.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

const commands: Record<string, Command> = {
  list: {
    usage: 'list [--status refund_due|partial|paid|overpaid|late|unmatched|unfulfilled|refunded] [--limit N]',
    options: { status: { type: 'string' }, limit: { type: 'string', default: '50' } },
    async run({ values }, { db }) {
      const status = values.status as string | undefined;
      if (status !== undefined && !paymentFilters.includes(status as PaymentFilter)) throw new UsageError(`--status must be one of ${paymentFilters.join(', ')}`);
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
  refund: {
    usage: 'refund <paymentId> --tx <0x hash> [--note TEXT] [--actor NAME]',
    options: { tx: { type: 'string' }, note: { type: 'string' }, actor: { type: 'string' } },
    async run({ values, positionals }, { db, config }) {
      const [id] = positionals;
      if (!id || !/^[1-9]\d{0,17}$/.test(id) || positionals.length > 1) throw new UsageError('give one payment id (the `id` column of `list`)');
      const txHash = values.tx;
      if (typeof txHash !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(txHash)) throw new UsageError('--tx must be the 0x-prefixed 32-byte hash of the refund transaction');
      if (!config.REDIS_URL) throw new ConfigError([{ variable: 'REDIS_URL', message: 'is required to tell the owner about the refund' }]);
      const actor = typeof values.actor === 'string' ? values.actor : `cli:${userInfo().username}`;
      let outcome;
      try {
        outcome = await markRefunded(db, { paymentId: Number(id), txHash, actor, note: typeof values.note === 'string' ? values.note : undefined });
      } catch (error) {
        if (error instanceof PaymentNotFoundError || error instanceof RefundConflictError) {
          process.stderr.write(`${error.message}\n`);
          return 1;
        }
        throw error;
      }
      const { payment } = outcome;
      if (outcome.repeated) {
        process.stdout.write(`payment ${payment.id} was already refunded by ${payment.refundTxHash} (${outcome.refunded} base units); nothing changed\n`);
        return 0;
      }
      if (payment.uploadId) {
        // Loaded only here: the queue library is heavy and listing does not need it.
        const { connectRedis, StatusStore } = await import('@reelboard/bus');
        const redis = connectRedis(config.REDIS_URL, 'payments-cli');
        try {
          // The same event the admin route sends (services/api-gateway/src/admin-payments.ts).
          await new StatusStore(redis, config.REDIS_PREFIX).publish({
            uploadId: payment.uploadId,
            event: 'refund.sent',
            stage: 'admin',
            state: payment.listingId ? 'saved' : 'refunded',
            message: `refunded ${outcome.refunded} base units of payment ${payment.id} in ${payment.refundTxHash}`,
          });
        } finally {
          await redis.quit();
        }
      }
      process.stdout.write(`payment ${payment.id}: refunded ${outcome.refunded} base units in ${payment.refundTxHash} (by ${actor})\n`);
      return 0;
    },
  },
};

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
let config: Config;
try {
  config = loadConfig(configSchema);
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
