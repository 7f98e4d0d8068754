import type { Redis } from 'ioredis';
import type { UploadReceived } from '@reelboard/contracts';
import type { DepositSweep } from '@reelboard/chain';

type Address = `0x${string}`;

/** What the deposit watcher needs of a quote, kept small: it reads every watched quote on every block. */
export interface WatchedQuote {
  uploadId: string;
  owner: Address;
  address: Address;
  token: Address | null;
  amount: string;
  createdAt: string;
  expiresAt: string;
}

/** What is watched of an upload's or a renewal's quote. */
export const watchedQuoteOf = (upload: Pick<UploadReceived, 'uploadId' | 'owner' | 'quote'>): WatchedQuote => ({
  uploadId: upload.uploadId,
  owner: upload.owner,
  address: upload.quote.to,
  token: upload.quote.token,
  amount: upload.quote.amount,
  createdAt: upload.quote.createdAt,
  expiresAt: upload.quote.expiresAt,
});

// Raises the credited total only: two watchers (a block pass and a client's hint) may settle the
// same address at different heights, and an older total must never replace a newer one.
const RAISE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and (string.len(current) > string.len(ARGV[2]) or (string.len(current) == string.len(ARGV[2]) and current >= ARGV[2])) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
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
  ) {}

  private key(...parts: string[]): string {
    return [this.prefix, 'payment', ...parts].join(':');
  }

  /** Watches a quote's deposit address until `until` (ms). */
  async watch(quote: WatchedQuote, until: number): Promise<void> {
    await this.redis
      .multi()
      .hset(this.key('watch', 'info'), quote.uploadId, JSON.stringify(quote))
      .zadd(this.key('watch'), until, quote.uploadId)
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

  async quote(uploadId: string): Promise<WatchedQuote | undefined> {
    const raw = await this.redis.hget(this.key('watch', 'info'), uploadId);
    return raw ? (JSON.parse(raw) as WatchedQuote) : undefined;
  }

  /** What each address was last known to have received (balance plus swept), in its quote's asset. */
  async credited(addresses: readonly Address[]): Promise<bigint[]> {
    if (addresses.length === 0) return [];
    const values = await this.redis.hmget(this.key('credited'), ...addresses);
    return values.map((value) => BigInt(value ?? '0'));
  }

  /** Records a higher total for an address; a lower or equal one is ignored. True if this call raised it. */
  async raiseCredited(address: Address, total: bigint): Promise<boolean> {
    return Number(await this.redis.eval(RAISE_SCRIPT, 1, this.key('credited'), address, total.toString())) === 1;
  }

  /** Remembers sweeps (idempotent per log), so totals can add back what left an address. */
  async addSweeps(sweeps: readonly DepositSweep[]): Promise<void> {
    for (const sweep of sweeps) {
      const id = `${sweep.txHash}:${sweep.logIndex}`;
      const raw = await this.redis.hget(this.key('swept'), sweep.deposit);
      const list = raw ? (JSON.parse(raw) as { id: string; block: string; native: string; token: string }[]) : [];
      if (list.some((entry) => entry.id === id)) continue;
      list.push({ id, block: sweep.blockNumber.toString(), native: sweep.native.toString(), token: sweep.token.toString() });
      await this.redis.hset(this.key('swept'), sweep.deposit, JSON.stringify(list));
    }
  }

  /** What sweeps moved out of each address in blocks up to `height`, in the native coin or the token. */
  async sweptUpTo(addresses: readonly Address[], height: bigint, asset: 'native' | 'token'): Promise<bigint[]> {
    if (addresses.length === 0) return [];
    const values = await this.redis.hmget(this.key('swept'), ...addresses);
    return values.map((raw) => {
      if (!raw) return 0n;
      const list = JSON.parse(raw) as { block: string; native: string; token: string }[];
      return list.filter((entry) => BigInt(entry.block) <= height).reduce((sum, entry) => sum + BigInt(entry[asset]), 0n);
    });
  }

  /** The last confirmed block the passes have settled, and its timestamp (ms). */
  async cursor(): Promise<{ block: bigint; time: number } | undefined> {
    const [block, time] = await this.redis.hmget(this.key('cursor'), 'block', 'time');
    return block && time ? { block: BigInt(block), time: Number(time) } : undefined;
  }

  async saveCursor(block: bigint, time: number): Promise<void> {
    await this.redis.hset(this.key('cursor'), { block: block.toString(), time: String(time) });
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
      for (const { quote, until } of entries.slice(i, i + 500)) batch.hset(this.key('watch', 'info'), quote.uploadId, JSON.stringify(quote)).zadd(this.key('watch'), until, quote.uploadId);
      await batch.incr(this.key('watch', 'version')).exec();
      for (const { quote, credited } of entries.slice(i, i + 500)) if (credited > 0n) await this.raiseCredited(quote.address, credited);
    }
    await this.redis.set(this.key('watch', 'restored'), '1');
  }
}
