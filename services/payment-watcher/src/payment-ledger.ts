import type { Redis } from 'ioredis';

/** How long payment reservations are kept (well beyond any reorg the watcher would follow). */
const RESERVATION_SECONDS = 90 * 24 * 3600;
/** How long after its expiry an upload can still be matched to a (late) payment, to record a refund. */
const LATE_MATCH_MS = 24 * 3600 * 1000;
/** How long a transaction in flight (submitted or found, not yet decided) holds back its upload's expiry. */
const IN_FLIGHT_SECONDS = 3600;

/** The claim the expiry job puts on an upload instead of a transaction hash. */
export const EXPIRED_CLAIM = 'expired';

/** Sender and nonce of a transaction seen in the mempool, and the head when it was seen. */
export interface SeenTransaction {
  from: `0x${string}`;
  nonce: number;
  seenAtBlock: string;
}

/**
 * Atomic reservations in Redis: a transfer pays for one upload only, and an upload is paid once
 * (a submitted hash and the block scan may find the same payment). Also the index of open
 * uploads by owner the block scan matches payments against, and what the scan has covered.
 */
export class PaymentLedger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(...parts: (string | number)[]): string {
    return [this.prefix, 'payment', ...parts].join(':');
  }

  /** Reserves a transfer (chain, tx, log index) for `uploadId`; returns the upload that already holds it, if another. */
  async reserveTx(chainId: number, txHash: string, uploadId: string, logIndex: number | null = null): Promise<string | undefined> {
    const key = this.key('tx', chainId, txHash.toLowerCase(), logIndex ?? 'native');
    const set = await this.redis.set(key, uploadId, 'EX', RESERVATION_SECONDS, 'NX');
    if (set === 'OK') return undefined;
    const holder = await this.redis.get(key);
    return holder === uploadId ? undefined : (holder ?? undefined);
  }

  /** Marks the upload paid by `txHash` (or expired); false if something else claimed it first. */
  async markPaid(uploadId: string, txHash: string): Promise<boolean> {
    const key = this.key('upload', uploadId);
    const set = await this.redis.set(key, txHash.toLowerCase(), 'EX', RESERVATION_SECONDS, 'NX');
    return set === 'OK' || (await this.redis.get(key)) === txHash.toLowerCase();
  }

  /** The transaction that paid for an upload, `expired`, or undefined while it is open. */
  async paidBy(uploadId: string): Promise<string | undefined> {
    return (await this.redis.get(this.key('upload', uploadId))) ?? undefined;
  }

  /** Lists an upload as awaiting payment from `owner`, so the block scan can match a payment to it. */
  async openUpload(owner: string, uploadId: string, expiresAt: string): Promise<void> {
    const key = this.key('open', owner.toLowerCase());
    await this.redis.multi().zadd(key, Date.parse(expiresAt), uploadId).expire(key, RESERVATION_SECONDS).exec();
  }

  /** Uploads of `owner` that a payment may still be matched to (open, or expired less than a day ago). */
  async openUploadsOf(owner: string, now = Date.now()): Promise<{ uploadId: string; expiresAt: number }[]> {
    const key = this.key('open', owner.toLowerCase());
    await this.redis.zremrangebyscore(key, '-inf', String(now - LATE_MATCH_MS));
    const flat = await this.redis.zrange(key, '0', '-1', 'WITHSCORES');
    const result: { uploadId: string; expiresAt: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) result.push({ uploadId: flat[i] as string, expiresAt: Number(flat[i + 1]) });
    return result;
  }

  /** Notes a transaction in flight for an upload: its expiry waits until it is decided. */
  async addInFlight(uploadId: string, txHash: string): Promise<void> {
    const key = this.key('inflight', uploadId);
    await this.redis.multi().sadd(key, txHash.toLowerCase()).expire(key, IN_FLIGHT_SECONDS).exec();
  }

  /** The transaction is decided (confirmed, recorded or refused). */
  async removeInFlight(uploadId: string, txHash: string): Promise<void> {
    await this.redis.srem(this.key('inflight', uploadId), txHash.toLowerCase());
  }

  /** How many transactions for the upload are still being decided. */
  async inFlightCount(uploadId: string): Promise<number> {
    return this.redis.scard(this.key('inflight', uploadId));
  }

  /** Claims a transfer found by the block scan the first time it is seen; false if it was already handled. */
  async claimFound(chainId: number, txHash: string, token: string | null): Promise<boolean> {
    const set = await this.redis.set(this.key('found', chainId, txHash.toLowerCase(), token ?? 'native'), '1', 'EX', RESERVATION_SECONDS, 'NX');
    return set === 'OK';
  }

  async releaseFound(chainId: number, txHash: string, token: string | null): Promise<void> {
    await this.redis.del(this.key('found', chainId, txHash.toLowerCase(), token ?? 'native'));
  }

  async isInFlight(uploadId: string, txHash: string): Promise<boolean> {
    return (await this.redis.sismember(this.key('inflight', uploadId), txHash.toLowerCase())) === 1;
  }

  /** Remembers a transaction seen in the mempool, to find what replaced it if it never gets mined. */
  async rememberSeen(txHash: string, seen: SeenTransaction): Promise<void> {
    await this.redis.set(this.key('seen', txHash.toLowerCase()), JSON.stringify(seen), 'EX', IN_FLIGHT_SECONDS, 'NX');
  }

  async seen(txHash: string): Promise<SeenTransaction | undefined> {
    const raw = await this.redis.get(this.key('seen', txHash.toLowerCase()));
    return raw ? (JSON.parse(raw) as SeenTransaction) : undefined;
  }

  /** The last block the scan processed, and the wall time at which that block was the head it read. */
  async scanCursor(): Promise<{ block: bigint; headReadAt: number } | undefined> {
    const [block, at] = await this.redis.hmget(this.key('scan'), 'block', 'headReadAt');
    return block && at ? { block: BigInt(block), headReadAt: Number(at) } : undefined;
  }

  async saveScanCursor(block: bigint, headReadAt: number): Promise<void> {
    await this.redis.hset(this.key('scan'), { block: block.toString(), headReadAt: String(headReadAt) });
  }
}
