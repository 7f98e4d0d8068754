import type { Redis } from 'ioredis';

/** How long payment reservations are kept (well beyond any reorg the watcher would follow). */
const RESERVATION_SECONDS = 90 * 24 * 3600;

/**
 * Atomic reservations in Redis: a transaction pays for one upload only, and an upload is paid
 * once (a submitted hash and the block scan may find the same payment).
 */
export class PaymentLedger {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Reserves `txHash` on `chainId` for `uploadId`; returns the upload that already holds it, if another. */
  async reserveTx(chainId: number, txHash: string, uploadId: string): Promise<string | undefined> {
    const key = `${this.prefix}:payment:tx:${chainId}:${txHash.toLowerCase()}`;
    const set = await this.redis.set(key, uploadId, 'EX', RESERVATION_SECONDS, 'NX');
    if (set === 'OK') return undefined;
    const holder = await this.redis.get(key);
    return holder === uploadId ? undefined : (holder ?? undefined);
  }

  /** Marks the upload paid by `txHash`; false if it was already paid by another transaction. */
  async markPaid(uploadId: string, txHash: string): Promise<boolean> {
    const key = `${this.prefix}:payment:upload:${uploadId}`;
    const set = await this.redis.set(key, txHash.toLowerCase(), 'EX', RESERVATION_SECONDS, 'NX');
    return set === 'OK' || (await this.redis.get(key)) === txHash.toLowerCase();
  }

  /** The transaction that paid for an upload, if any. */
  async paidBy(uploadId: string): Promise<string | undefined> {
    return (await this.redis.get(`${this.prefix}:payment:upload:${uploadId}`)) ?? undefined;
  }
}
