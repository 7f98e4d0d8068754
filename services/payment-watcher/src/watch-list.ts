import type { Redis } from 'ioredis';
import type { DepositSweep } from '@reelboard/chain';
import type { UploadReceived } from '@reelboard/contracts';
import { type Fence, LeaseLostError } from './scan-lock.js';

type Address = `0x${string}`;
type Hash = `0x${string}`;

/** What the deposit watcher needs of a quote, kept small: it reads every watched quote on every block. */
export interface WatchedQuote {
  uploadId: string;
  owner: Address;
  address: Address;
  token: Address | null;
  amount: string;
  createdAt: string;
  expiresAt: string;
  /**
   * The merchant its deposit address pays, from the quote (with `token`, its sweeper's settings).
   * Absent on a quote watched before quotes carried it: the watcher's configured merchant.
   */
  merchant?: Address | undefined;
  /**
   * Set on an entry for another (chain, asset) of the quote than its own (its other offers, and the
   * chain's assets it did not offer): the entry's member in the watch set (`uploadId:asset`). Absent
   * on the quote's own asset, which is watched under the upload id as before.
   */
  entry?: string | undefined;
  /** False for an asset the quote did not offer: whatever reaches the address in it is due back. */
  offered?: boolean | undefined;
  /** The CREATE2 salt of its deposit address, as the gateway issued it; absent: the quote id (quotes from before salts were keyed). */
  salt?: Hash | undefined;
}

/** A watched entry's member in the watch set: the upload id for the quote's own asset, else `uploadId:asset`. */
export const watchKeyOf = (quote: Pick<WatchedQuote, 'uploadId' | 'entry'>) => quote.entry ?? quote.uploadId;

/**
 * Where an entry's credited total and reversal count are kept: the address for the quote's own asset
 * (as always), `address:asset` for another asset, so totals in different assets are never one number.
 */
export const creditKeyOf = (quote: Pick<WatchedQuote, 'address' | 'entry' | 'token'>) =>
  quote.entry === undefined ? quote.address : (`${quote.address}:${quote.token ?? 'native'}` as Address);

/** An asset of a chain: null for its native coin. */
export type ChainAsset = Address | null;

/**
 * The entries a quote is watched with on one chain: its offers there (the quote's own asset under the
 * upload id), and, for a quote with offers, every other asset the chain lists, not offered (money in
 * it is recorded, due back). A quote from before offers is its own asset alone.
 */
export function watchedEntriesOf(
  upload: Pick<UploadReceived, 'uploadId' | 'owner' | 'quote'>,
  chainId: number,
  chainAssets: readonly ChainAsset[] = [],
): WatchedQuote[] {
  const own = watchedQuoteOf(upload);
  const { offers } = upload.quote;
  if (!offers) return chainId === upload.quote.chainId ? [own] : [];
  const same = (a: ChainAsset, b: ChainAsset) => (a?.toLowerCase() ?? null) === (b?.toLowerCase() ?? null);
  const here = offers.filter((offer) => offer.chainId === chainId);
  if (here.length === 0) return [];
  const entries: WatchedQuote[] = [];
  for (const asset of [...new Set([...here.map((o) => o.token?.toLowerCase() ?? null), ...chainAssets.map((a) => a?.toLowerCase() ?? null)])] as ChainAsset[]) {
    if (chainId === upload.quote.chainId && same(asset, upload.quote.token)) {
      entries.push(own);
      continue;
    }
    const offer = here.find((o) => same(o.token, asset));
    entries.push({
      ...own,
      token: asset,
      amount: offer?.amount ?? '0',
      entry: `${upload.uploadId}:${asset ?? 'native'}`,
      ...(offer ? {} : { offered: false }),
    });
  }
  return entries;
}

/** A sweep of an address as the watch list keeps it (amounts as strings, for JSON). */
interface SweptEntry {
  id: string;
  block: string;
  native: string;
  token: string;
  /** The token swept (null: the native coin only); absent on entries recorded before sweeps named it. */
  asset?: Address | null;
}

/** A transfer to the plain merchant address the ledger was sent (block number as a string, for JSON). */
export interface MerchantSeen {
  blockNumber: string;
  token: Address | null;
  transfer: { txHash: Hash; logIndex: number | null; from: Address; amount: string };
}

/** A merchant transfer's key: its hash and log index (`native` for a top-level transfer). */
export const merchantKey = (transfer: { txHash: string; logIndex: number | null }) => `${transfer.txHash}:${transfer.logIndex ?? 'native'}`;

/** What is watched of an upload's or a renewal's quote. */
export const watchedQuoteOf = (upload: Pick<UploadReceived, 'uploadId' | 'owner' | 'quote'>): WatchedQuote => ({
  uploadId: upload.uploadId,
  owner: upload.owner,
  address: upload.quote.to,
  token: upload.quote.token,
  amount: upload.quote.amount,
  createdAt: upload.quote.createdAt,
  expiresAt: upload.quote.expiresAt,
  ...(upload.quote.merchant ? { merchant: upload.quote.merchant } : {}),
  ...(upload.quote.salt ? { salt: upload.quote.salt } : {}),
});

// Raises the credited total only: two watchers (a block pass and a client's hint) may settle the
// same address at different heights, and an older total must never replace a newer one.
const RAISE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and (string.len(current) > string.len(ARGV[2]) or (string.len(current) == string.len(ARGV[2]) and current >= ARGV[2])) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

// Lowers the credited total to what the chain shows after a reorg, and records the address's
// reversal count (given, not incremented: a pass replayed after a crash sets the same number).
const LOWER_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current or string.len(current) < string.len(ARGV[2]) or (string.len(current) == string.len(ARGV[2]) and current <= ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 1
`;

// Appends one sweep transaction's records (pairs of deposit address and entry) in one step, each
// skipped if its id (tx hash and log index) is already there: a read-then-write from the client
// lets two writers (a pass and a reorg's re-read, or two replicas) drop each other's entries, and a
// crash halfway leaves half a transaction, whose addresses then look as if money had left them.
const ADD_SWEEPS_SCRIPT = `
local added = 0
for i = 1, #ARGV, 3 do
  local deposit, id, entry = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local raw = redis.call('HGET', KEYS[1], deposit)
  if not raw then
    redis.call('HSET', KEYS[1], deposit, '[' .. entry .. ']')
    added = added + 1
  elseif not string.find(raw, '"id":"' .. id .. '"', 1, true) then
    redis.call('HSET', KEYS[1], deposit, string.sub(raw, 1, -2) .. ',' .. entry .. ']')
    added = added + 1
  end
end
return added
`;

// Forgets the sweeps above a block in one step, for the same reason (a concurrent append survives).
const DROP_SWEEPS_SCRIPT = `
local above = tonumber(ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local list = cjson.decode(all[i + 1])
  local kept = {}
  for _, entry in ipairs(list) do
    if tonumber(entry.block) <= above then table.insert(kept, entry) end
  end
  if #kept == 0 then redis.call('HDEL', KEYS[1], all[i])
  elseif #kept < #list then redis.call('HSET', KEYS[1], all[i], cjson.encode(kept)) end
end
return 1
`;

// Moves the cursor, fenced: with a token (ARGV[1]), only while the lease (KEYS[4]) holds it.
const SAVE_CURSOR_SCRIPT = `
if ARGV[1] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'block', ARGV[2], 'time', ARGV[3], 'hash', ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '(' .. ARGV[2], '+inf')
for i = 6, #ARGV, 2 do redis.call('ZADD', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[5])
return 1
`;

/**
 * The deposit watcher's state in Redis: which quotes are watched (until some days after their
 * expiry, for late money), what each address is known to have received, what sweeps moved out of
 * each, and how far the block passes have read. Everything here can be rebuilt from the chain;
 * Postgres holds the ledger itself.
 */
export class WatchList {
  private cache: { version: string; quotes: WatchedQuote[] } | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    /**
     * The chain this list is of, when it is not the home chain (CHAIN_ID): its keys then sit under
     * `payment:chain:<id>`, so each chain keeps its own watch set and cursor. The home chain keeps the
     * keys it had before several chains were watched, so an upgraded deployment resumes where it was.
     */
    readonly chainId?: number | undefined,
  ) {}

  private key(...parts: string[]): string {
    return [this.prefix, 'payment', ...(this.chainId === undefined ? [] : ['chain', String(this.chainId)]), ...parts].join(':');
  }

  /** Watches a quote's deposit address until `until` (ms). */
  async watch(quote: WatchedQuote, until: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key('watch', 'info'), watchKeyOf(quote), JSON.stringify(quote))
      .zadd(this.key('watch'), until, watchKeyOf(quote))
      .incr(this.key('watch', 'version'))
      .exec();
  }

  /** The quotes watched now; quotes past their watch window are dropped (reconciliation still covers them). */
  async watched(now = Date.now()): Promise<WatchedQuote[]> {
    const stale = await this.redis.zrangebyscore(this.key('watch'), '-inf', `(${now}`);
    if (stale.length > 0) {
      await this.redis
        .multi()
        .zrem(this.key('watch'), ...stale)
        .hdel(this.key('watch', 'info'), ...stale)
        .incr(this.key('watch', 'version'))
        .exec();
    }
    const version = (await this.redis.get(this.key('watch', 'version'))) ?? '0';
    if (this.cache?.version !== version) {
      const raw = await this.redis.hvals(this.key('watch', 'info'));
      this.cache = { version, quotes: raw.map((line) => JSON.parse(line) as WatchedQuote) };
    }
    return this.cache.quotes;
  }

  /** Block times (ms) of the last pass that read the balances of every open, and of every expired, watched quote. */
  async balancesReadAt(): Promise<{ open: number | undefined; expired: number | undefined }> {
    const [open, expired] = await this.redis.hmget(this.key('balances-read'), 'open', 'expired');
    return { open: open ? Number(open) : undefined, expired: expired ? Number(expired) : undefined };
  }

  async markBalancesRead(read: { open?: number | undefined; expired?: number | undefined }): Promise<void> {
    const fields = Object.entries(read).filter(([, time]) => time !== undefined) as [string, number][];
    if (fields.length > 0) await this.redis.hset(this.key('balances-read'), Object.fromEntries(fields));
  }

  async quote(uploadId: string): Promise<WatchedQuote | undefined> {
    const raw = await this.redis.hget(this.key('watch', 'info'), uploadId);
    return raw ? (JSON.parse(raw) as WatchedQuote) : undefined;
  }

  /** What each address was last known to have received (balance plus swept), in its quote's asset (keys: creditKeyOf). */
  async credited(addresses: readonly Address[]): Promise<bigint[]> {
    if (addresses.length === 0) return [];
    const values = await this.redis.hmget(this.key('credited'), ...addresses);
    return values.map((value) => BigInt(value ?? '0'));
  }

  /** Records a higher total for an address; a lower or equal one is ignored. True if this call raised it. */
  async raiseCredited(address: Address, total: bigint): Promise<boolean> {
    return Number(await this.redis.eval(RAISE_SCRIPT, 1, this.key('credited'), address, total.toString())) === 1;
  }

  /**
   * After a reorg: records the lower total the chain now shows for an address (a credited total
   * otherwise only rises) and its reversal count `epoch`. True if this call lowered it.
   */
  async lowerCredited(address: Address, total: bigint, epoch: number): Promise<boolean> {
    return Number(await this.redis.eval(LOWER_SCRIPT, 2, this.key('credited'), this.key('reversals'), address, total.toString(), String(epoch))) === 1;
  }

  /** How many reorgs took money back off each address (0 for most). */
  async reversals(addresses: readonly Address[]): Promise<number[]> {
    if (addresses.length === 0) return [];
    const values = await this.redis.hmget(this.key('reversals'), ...addresses);
    return values.map((value) => Number(value ?? '0'));
  }

  /** Forgets sweeps recorded in blocks above `block` (a reorg replaced them; the new chain's are read again). */
  async dropSweepsAbove(block: bigint): Promise<void> {
    await this.redis.eval(DROP_SWEEPS_SCRIPT, 1, this.key('swept'), block.toString());
  }

  /**
   * Remembers sweeps, so totals can add back what left an address: each sweep transaction's logs in
   * one atomic step, idempotent by log (a pass read again after a crash records each one once).
   */
  async addSweeps(sweeps: readonly DepositSweep[]): Promise<void> {
    const byTx = new Map<string, DepositSweep[]>();
    for (const sweep of sweeps) byTx.set(sweep.txHash, [...(byTx.get(sweep.txHash) ?? []), sweep]);
    for (const group of byTx.values()) {
      const args = group.flatMap((sweep) => {
        const entry: SweptEntry = {
          id: `${sweep.txHash}:${sweep.logIndex}`,
          block: sweep.blockNumber.toString(),
          native: sweep.native.toString(),
          token: sweep.token.toString(),
          asset: sweep.asset,
        };
        return [sweep.deposit, entry.id, JSON.stringify(entry)];
      });
      await this.redis.eval(ADD_SWEEPS_SCRIPT, 1, this.key('swept'), ...args);
    }
  }

  /** What sweeps moved out of each address in blocks up to `height`, in the native coin (null) or the token named. */
  async sweptUpTo(addresses: readonly Address[], height: bigint, asset: Address | null): Promise<bigint[]> {
    if (addresses.length === 0) return [];
    const values = await this.redis.hmget(this.key('swept'), ...addresses);
    const token = asset?.toLowerCase();
    return values.map((raw) => {
      if (!raw) return 0n;
      const list = JSON.parse(raw) as SweptEntry[];
      return list
        .filter((entry) => BigInt(entry.block) <= height)
        .reduce(
          // An entry recorded before sweeps named their token (no `asset`) moved the quote's own token.
          (sum, entry) => sum + (token === undefined ? BigInt(entry.native) : entry.asset === undefined || entry.asset === token ? BigInt(entry.token) : 0n),
          0n,
        );
    });
  }

  /** The last confirmed block the passes have settled: its number, timestamp (ms) and hash (none in a cursor saved before hashes were kept). */
  async cursor(): Promise<{ block: bigint; time: number; hash: Hash | undefined } | undefined> {
    const [block, time, hash] = await this.redis.hmget(this.key('cursor'), 'block', 'time', 'hash');
    return block && time ? { block: BigInt(block), time: Number(time), hash: (hash ?? undefined) as Hash | undefined } : undefined;
  }

  /**
   * Moves the cursor to `block` (forward after a pass, back to the common ancestor after a reorg)
   * and keeps the hashes of the blocks just read, up to `keep` blocks behind it, so the next reorg's
   * common ancestor can be found. Hashes above `block` are dropped: they belong to a replaced branch.
   * With a `fence`, the write is refused (LeaseLostError) unless the lease still holds our token,
   * checked in the same script: a pass that outlived its lease never moves the cursor.
   */
  async saveCursor(block: bigint, time: number, hash: Hash, read: ReadonlyMap<bigint, Hash> = new Map(), keep = 256, fence?: Fence | undefined): Promise<void> {
    const hashes = [...read].filter(([number]) => number <= block).flatMap(([number, blockHash]) => [number.toString(), `${number}:${blockHash}`]);
    const keys = [this.key('cursor'), this.key('cursor', 'hashes'), this.key('merchant', 'seen'), fence?.key ?? this.key('cursor')];
    // Transfers older than the hashes kept are past any reorg this watcher can follow.
    const written = await this.redis.eval(
      SAVE_CURSOR_SCRIPT,
      keys.length,
      ...keys,
      fence ? fence.token : '',
      block.toString(),
      String(time),
      hash,
      (block - BigInt(keep) + 1n).toString(),
      ...hashes,
    );
    if (Number(written) !== 1) throw new LeaseLostError(fence?.key ?? this.key('cursor'));
  }

  /** Remembers transfers to the merchant sent to the ledger, by block, so a reorg can take back those it removed. */
  async rememberMerchantTransfers(transfers: readonly MerchantSeen[]): Promise<void> {
    if (transfers.length === 0) return;
    const multi = this.redis.multi();
    for (const transfer of transfers) multi.zadd(this.key('merchant', 'seen'), transfer.blockNumber, JSON.stringify(transfer));
    await multi.exec();
  }

  /** The merchant transfers remembered in blocks above `block` (a reorg replaced them). */
  async merchantTransfersAbove(block: bigint): Promise<MerchantSeen[]> {
    const members = await this.redis.zrangebyscore(this.key('merchant', 'seen'), `(${block}`, '+inf');
    return members.map((member) => JSON.parse(member) as MerchantSeen);
  }

  async forgetMerchantTransfersAbove(block: bigint): Promise<void> {
    await this.redis.zremrangebyscore(this.key('merchant', 'seen'), `(${block}`, '+inf');
  }

  /** How many reorgs took each merchant transfer (`txHash:logIndex`) off the chain. */
  async merchantReversals(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    const values = await this.redis.hmget(this.key('merchant', 'reversals'), ...keys);
    return values.map((value) => Number(value ?? '0'));
  }

  async setMerchantReversals(key: string, epoch: number): Promise<void> {
    await this.redis.hset(this.key('merchant', 'reversals'), key, String(epoch));
  }

  /** The hashes of the recent blocks read, by number. */
  async recentHashes(): Promise<Map<bigint, Hash>> {
    const members = await this.redis.zrange(this.key('cursor', 'hashes'), '0', '-1');
    return new Map(
      members.map((member) => {
        const [number, hash] = member.split(':');
        return [BigInt(number ?? '0'), hash as Hash];
      }),
    );
  }

  /** True once the sweep log has been read from the start (a fresh Redis rebuilds it from the chain). */
  async sweepsIndexed(): Promise<boolean> {
    return (await this.redis.exists(this.key('swept', 'indexed'))) === 1;
  }

  async markSweepsIndexed(): Promise<void> {
    await this.redis.set(this.key('swept', 'indexed'), '1');
  }

  /**
   * True while the watch set here is known to hold every quote the ledger has open: the marker goes
   * with everything else when Redis loses its data, and its absence makes the watcher rebuild.
   */
  async watchSetRestored(): Promise<boolean> {
    return (await this.redis.exists(this.key('watch', 'restored'))) === 1;
  }

  /** Makes the next pass rebuild the watch set from the ledger. */
  async markWatchSetStale(): Promise<void> {
    await this.redis.del(this.key('watch', 'restored'));
  }

  /**
   * Puts back quotes read from the ledger (Postgres is the truth, this set a cache of it), with what the
   * ledger credited each address as its credited mark (raised only: a mark here may be ahead of the
   * ledger, whose writes are queued), then sets the marker.
   */
  async restore(entries: readonly { quote: WatchedQuote; until: number; credited: bigint }[]): Promise<void> {
    for (let i = 0; i < entries.length; i += 500) {
      const batch = this.redis.multi();
      for (const { quote, until } of entries.slice(i, i + 500))
        batch.hset(this.key('watch', 'info'), watchKeyOf(quote), JSON.stringify(quote)).zadd(this.key('watch'), until, watchKeyOf(quote));
      await batch.incr(this.key('watch', 'version')).exec();
      for (const { quote, credited } of entries.slice(i, i + 500)) if (credited > 0n) await this.raiseCredited(creditKeyOf(quote), credited);
    }
    await this.redis.set(this.key('watch', 'restored'), '1');
  }
}
