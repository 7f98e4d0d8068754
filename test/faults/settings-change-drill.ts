// The settings-change drill: quotes are opened under one merchant and asset (the native coin), then
// the deployment changes MERCHANT_ADDRESS and PAYMENT_TOKEN (the api-gateway and the payment-watcher
// restarted with the new values, as docs/operations.md says), new quotes are opened in the token, and
// every quote is paid. Each old quote must still be credited in its own asset and swept to its own
// (old) merchant, each new one to the new merchant, and `pnpm payments reconcile` must name the old
// quotes it does not judge under the new settings and, told the old ones (--also), judge every quote
// and find nothing unexplained. The suite runs it once (test/faults/settings-change.test.ts);
// scripts/drill-settings-change.ts runs it as a report.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createPublicClient, createWalletClient, defineChain, erc20Abi, type Hex, http } from 'viem';
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from 'viem/accounts';
import type { Knex } from '@reelboard/db';
import { repoRoot } from '@reelboard/testkit/infra-env';
import { ANVIL_ACCOUNTS, type Stack } from '@reelboard/testkit/stack';
import { compileTestContracts } from '@reelboard/testkit/test-contracts';
import { outcomeOf, type PostedUpload, payUpload, postUpload } from './support.js';

/** The key automatic sweeps pay gas with (anvil's account 7): the stack is started with it (settingsChangeStackEnv). */
const SWEEP_KEY: Hex = '0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356';
/** The price of one listing in the new token's base units. */
const TOKEN_PRICE = 5_000_000n;

/** What startStack needs for this drill besides the private infrastructure: automatic sweeps, soon and of any amount. */
export const settingsChangeStackEnv = {
  SWEEP_PRIVATE_KEY: SWEEP_KEY,
  SWEEP_MIN_AMOUNT: '1',
  SWEEP_INTERVAL_SECONDS: '2',
  PREVIEW_SECONDS: '1',
  CONFIRMATIONS: '2',
} as const;

export interface SettingsChangeDrillOptions {
  stack: Stack;
  db: Knex;
  /** The video each upload sends (short: the drill is about the ledger, not encoding). */
  video: string;
  /** Quotes opened before the change, and after it. */
  oldQuotes?: number;
  newQuotes?: number;
  /** Each step, with its time from the start. */
  log: (line: string) => void;
  /** How long the uploads and the sweeps may take after the payments. */
  timeoutMs?: number;
}

/** One quote after the drill, as the ledger and the chain show it. */
export interface DrillQuote {
  uploadId: string;
  /** Issued before the change (old settings) or after it. */
  era: 'old' | 'new';
  depositAddress: Hex;
  /** The asset it was quoted in: null for the native coin. */
  token: Hex | null;
  amount: string;
  /** The merchant the quote stores, and the one it was issued for. */
  storedMerchant: string | null;
  merchant: Hex;
  /** How its upload ended (`profile.saved` when paid and listed). */
  outcome: string;
  /** The ledger's quote state and credited total. */
  state: string | null;
  credited: string | null;
  /** What its deposit address still holds of its asset (0 once swept). */
  leftAtAddress: bigint;
}

export interface SettingsChangeDrillResult {
  before: { merchant: Hex; token: null };
  after: { merchant: Hex; token: Hex };
  quotes: DrillQuote[];
  /** What each merchant received of its asset during the drill. */
  oldMerchantReceived: bigint;
  newMerchantReceived: bigint;
  /** `pnpm payments reconcile` under the new settings alone, and with `--also` the old merchant (the runbook's run after a change). */
  reconcileNew: { code: number; stdout: string; checked: number | null };
  reconcileAlso: { code: number; stdout: string; checked: number | null };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runSettingsChangeDrill({
  stack,
  db,
  video,
  oldQuotes = 2,
  newQuotes = 1,
  log,
  timeoutMs = 180_000,
}: SettingsChangeDrillOptions): Promise<SettingsChangeDrillResult> {
  const started = Date.now();
  const note = (line: string) => log(`t+${((Date.now() - started) / 1000).toFixed(1)}s ${line}`);
  const rpcUrl = stack.env.RPC_URL ?? '';
  const chainId = Number(stack.env.CHAIN_ID ?? 31337);
  const chain = createPublicClient({ transport: http(rpcUrl), pollingInterval: 200 });
  const viemChain = defineChain({
    id: chainId,
    name: 'drill',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const buyer = privateKeyToAccount(ANVIL_ACCOUNTS.buyer.key);
  const wallet = createWalletClient({ account: buyer, chain: viemChain, transport: http(rpcUrl) });
  if (stack.env.PAYMENT_TOKEN) throw new Error('the settings-change drill starts from the native coin: start the stack without PAYMENT_TOKEN');

  const before = { merchant: (stack.env.MERCHANT_ADDRESS ?? '').toLowerCase() as Hex, token: null };
  // The new asset: an ERC-20 the buyer holds, deployed for the drill.
  const { TestToken } = compileTestContracts();
  const deployed = await wallet.deployContract({ abi: TestToken.abi, bytecode: TestToken.bytecode, args: [buyer.address, 10n ** 24n] });
  const token = (await chain.waitForTransactionReceipt({ hash: deployed })).contractAddress?.toLowerCase() as Hex;
  const after = { merchant: privateKeyToAddress(generatePrivateKey()).toLowerCase() as Hex, token };
  const oldMerchantStart = await chain.getBalance({ address: before.merchant });
  note(`old settings: merchant ${before.merchant}, native coin; new: merchant ${after.merchant}, token ${token}`);

  const posted: { upload: PostedUpload; era: 'old' | 'new'; token: Hex | null; merchant: Hex }[] = [];
  for (let i = 0; i < oldQuotes; i++) {
    const upload = await postUpload(stack, video, `Settings drill old ${i + 1}`);
    upload.stream.close();
    posted.push({ upload, era: 'old', token: null, merchant: before.merchant });
    note(`old quote ${upload.uploadId}: ${upload.payment.amount} wei to ${upload.payment.to}`);
  }

  // The change, as the runbook says: stop the gateway and the watcher, set the new values on both, start both.
  await Promise.all([stack.stop('api-gateway'), stack.stop('payment-watcher')]);
  // startStack spawns each service with its `env` as it is when started: the restarted two read the new values.
  Object.assign(stack.env, { MERCHANT_ADDRESS: after.merchant, PAYMENT_TOKEN: token, PRICE_TOKEN_UNITS: TOKEN_PRICE.toString(), SWEEP_MIN_TOKEN_AMOUNT: '1' });
  await Promise.all([stack.start('payment-watcher'), stack.start('api-gateway')]);
  note('api-gateway and payment-watcher restarted with the new MERCHANT_ADDRESS and PAYMENT_TOKEN');

  for (let i = 0; i < newQuotes; i++) {
    const upload = await postUpload(stack, video, `Settings drill new ${i + 1}`);
    upload.stream.close();
    const quoted = (upload.payment as { token?: string | null }).token?.toLowerCase() ?? null;
    if (quoted !== token) throw new Error(`the restarted gateway quoted ${quoted ?? 'the native coin'}, not the new token ${token}`);
    posted.push({ upload, era: 'new', token, merchant: after.merchant });
    note(`new quote ${upload.uploadId}: ${upload.payment.amount} of the token to ${upload.payment.to}`);
  }

  // Every quote is paid now, the old ones after the change: no hint, the deposit passes find the money.
  for (const { upload, era } of posted) {
    const hash =
      era === 'old'
        ? await payUpload(stack, upload, false)
        : await wallet.writeContract({ address: token, abi: erc20Abi, functionName: 'transfer', args: [upload.payment.to, BigInt(upload.payment.amount)] });
    await chain.waitForTransactionReceipt({ hash });
    note(`paid ${era} quote ${upload.uploadId} in ${hash}`);
  }
  const outcomes = new Map<string, string>();
  await Promise.all(
    posted.map(async ({ upload }) => {
      const outcome = await outcomeOf(stack, upload, timeoutMs).catch((error: Error) => ({ event: `none (${error.message})` }));
      outcomes.set(upload.uploadId, outcome.event);
    }),
  );
  note(`uploads ended: ${posted.map(({ upload }) => outcomes.get(upload.uploadId)).join(', ')}`);

  // The automatic sweeper (SWEEP_INTERVAL_SECONDS) empties each deposit address into its quote's own merchant.
  const leftAt = ({ upload, token: asset }: (typeof posted)[number]) =>
    asset === null
      ? chain.getBalance({ address: upload.payment.to })
      : chain.readContract({ address: asset, abi: erc20Abi, functionName: 'balanceOf', args: [upload.payment.to] });
  const sweptDeadline = Date.now() + timeoutMs;
  let left = await Promise.all(posted.map(leftAt));
  while (left.some((amount) => amount > 0n) && Date.now() < sweptDeadline) {
    await sleep(1_000);
    left = await Promise.all(posted.map(leftAt));
  }
  const oldMerchantReceived = (await chain.getBalance({ address: before.merchant })) - oldMerchantStart;
  const newMerchantReceived = await chain.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [after.merchant] });
  note(
    `swept: the old merchant received ${oldMerchantReceived} wei, the new one ${newMerchantReceived} of the token; left at the addresses: ${left.join(', ')}`,
  );

  const rows: { quote_id: string; state: string; credited_total: string; merchant_address: string | null }[] = await db('payment_quotes')
    .whereIn(
      'quote_id',
      posted.map(({ upload }) => upload.uploadId),
    )
    .select('quote_id', 'state', db.raw('credited_total::text AS credited_total'), 'merchant_address');
  const quotes: DrillQuote[] = posted.map((entry, i) => {
    const row = rows.find((r) => r.quote_id === entry.upload.uploadId);
    return {
      uploadId: entry.upload.uploadId,
      era: entry.era,
      depositAddress: entry.upload.payment.to,
      token: entry.token,
      amount: entry.upload.payment.amount,
      storedMerchant: row?.merchant_address ?? null,
      merchant: entry.merchant,
      outcome: outcomes.get(entry.upload.uploadId) ?? 'unknown',
      state: row?.state ?? null,
      credited: row?.credited_total ?? null,
      leftAtAddress: left[i] ?? -1n,
    };
  });
  for (const quote of quotes)
    note(`${quote.era} quote ${quote.uploadId}: ${quote.state}, credited ${quote.credited} of ${quote.amount}, stored merchant ${quote.storedMerchant}`);

  // Reconciliation under the new settings, then as the runbook says after a change: told the old merchant too.
  const reconcile = async (args: string[]) => {
    const out = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/payments.ts', 'reconcile', '--settle-seconds', '10', ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...stack.env },
      timeout: 180_000,
    }).then(
      (done) => ({ code: 0, stdout: done.stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout ?? '' }),
    );
    const checked = /checked (\d+) deposit addresses/.exec(out.stdout)?.[1];
    return { ...out, checked: checked === undefined ? null : Number(checked) };
  };
  const reconcileNew = await reconcile([]);
  note(`pnpm payments reconcile (new settings): exit ${reconcileNew.code}\n${reconcileNew.stdout.trim()}`);
  const reconcileAlso = await reconcile(['--also', `${before.merchant}:native`]);
  note(`pnpm payments reconcile --also ${before.merchant}:native: exit ${reconcileAlso.code}\n${reconcileAlso.stdout.trim()}`);

  return { before, after, quotes, oldMerchantReceived, newMerchantReceived, reconcileNew, reconcileAlso };
}

/** Each check of the drill: what, whether it held, what was seen. The script's report and the suite's test read the same list. */
export function settingsChangeChecks(result: SettingsChangeDrillResult): [string, boolean, string][] {
  const old = result.quotes.filter((q) => q.era === 'old');
  const fresh = result.quotes.filter((q) => q.era === 'new');
  const sum = (quotes: DrillQuote[]) => quotes.reduce((acc, q) => acc + BigInt(q.amount), 0n);
  const describe = (quotes: DrillQuote[], field: (q: DrillQuote) => unknown) => quotes.map((q) => String(field(q))).join(', ');
  const paidAndCredited = (q: DrillQuote) => q.outcome === 'profile.saved' && q.state === 'paid' && q.credited === q.amount;
  return [
    [
      'every old quote is saved, paid and credited its amount',
      old.length > 0 && old.every(paidAndCredited),
      describe(old, (q) => `${q.outcome} ${q.state} ${q.credited}/${q.amount}`),
    ],
    [
      'every new quote is saved, paid and credited its amount',
      fresh.length > 0 && fresh.every(paidAndCredited),
      describe(fresh, (q) => `${q.outcome} ${q.state} ${q.credited}/${q.amount}`),
    ],
    [
      'each quote keeps the merchant it was issued for',
      result.quotes.every((q) => q.storedMerchant === q.merchant),
      describe(result.quotes, (q) => q.storedMerchant),
    ],
    ['every deposit address is swept empty', result.quotes.every((q) => q.leftAtAddress === 0n), describe(result.quotes, (q) => q.leftAtAddress)],
    ['the old merchant received the old quotes (native coin)', result.oldMerchantReceived === sum(old), `${result.oldMerchantReceived} of ${sum(old)} wei`],
    ['the new merchant received the new quotes (the token)', result.newMerchantReceived === sum(fresh), `${result.newMerchantReceived} of ${sum(fresh)}`],
    [
      '`pnpm payments reconcile` under the new settings judges the new quotes and names the old ones it does not judge',
      result.reconcileNew.code === 0 &&
        result.reconcileNew.checked === fresh.length &&
        result.reconcileNew.stdout.includes(`not judged: ${old.length} quote(s) issued for merchant ${result.before.merchant} in the native coin`),
      `exit ${result.reconcileNew.code}, ${result.reconcileNew.checked} addresses checked; ${result.reconcileNew.stdout.split('\n').find((line) => line.startsWith('not judged')) ?? 'no quote named as not judged'}`,
    ],
    [
      '`pnpm payments reconcile --also <old merchant>` judges every quote and finds the ledger matching',
      result.reconcileAlso.code === 0 &&
        result.reconcileAlso.checked === result.quotes.length &&
        result.reconcileAlso.stdout.includes('the ledger matches the chain'),
      `exit ${result.reconcileAlso.code}, ${result.reconcileAlso.checked} addresses checked: ${result.reconcileAlso.stdout.trim().split('\n').at(-1)}`,
    ],
  ];
}
