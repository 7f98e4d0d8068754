import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

// Renew or release only if we still hold it: a lock that expired and was taken by another
// replica must not be extended or deleted by the old holder.
const RENEW_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * A lease in Redis (SET NX PX, renewed by its holder): one replica at a time scans blocks. A
 * holder that dies stops renewing, and another replica takes over once the lease runs out.
 */
export class ScanLock {
  private readonly token = randomBytes(16).toString('hex');

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly leaseMs: number,
  ) {}

  /** Takes the lease, or renews it if we hold it; true if we hold it now. */
  async acquire(): Promise<boolean> {
    const renewed = Number(await this.redis.eval(RENEW_SCRIPT, 1, this.key, this.token, String(this.leaseMs)));
    if (renewed === 1) return true;
    return (await this.redis.set(this.key, this.token, 'PX', this.leaseMs, 'NX')) === 'OK';
  }

  /** Gives the lease up at shutdown, so another replica takes over at once. */
  async release(): Promise<void> {
    await this.redis.eval(RELEASE_SCRIPT, 1, this.key, this.token);
  }
}
