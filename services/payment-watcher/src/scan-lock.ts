import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

// Renew or release only if we still hold it: a lock that expired and was taken by another
// replica must not be extended or deleted by the old holder.
const RENEW_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** What a write guarded by a lease checks in the same Redis script: the lease's key still holds our token. */
export interface Fence {
  key: string;
  token: string;
}

/** The lease ran out or another replica took it while this one was working: what it was about to write is refused. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(readonly key: string) {
    super(`the lease ${key} is no longer held by this replica (it ran out or another replica took it); the pass stops without writing`);
  }
}

/**
 * A lease in Redis (SET NX PX, renewed by its holder): one replica at a time scans blocks. A
 * holder that dies stops renewing, and another replica takes over once the lease runs out.
 */
export class ScanLock {
  private readonly token = randomBytes(16).toString('hex');
  /** Set when a renewal found the lease gone: nothing more is written under it until it is acquired again. */
  private lost = false;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly leaseMs: number,
  ) {}

  /** Takes the lease, or renews it if we hold it; true if we hold it now. */
  async acquire(): Promise<boolean> {
    const held = (await this.renew()) || (await this.redis.set(this.key, this.token, 'PX', this.leaseMs, 'NX')) === 'OK';
    if (held) this.lost = false;
    return held;
  }

  /** Extends the lease if we still hold it; false if it is gone (ran out, or another replica has it). */
  private async renew(): Promise<boolean> {
    return Number(await this.redis.eval(RENEW_SCRIPT, 1, this.key, this.token, String(this.leaseMs))) === 1;
  }

  /** Renews the lease, or throws LeaseLostError if it is no longer ours: called before each step of work done under it. */
  async assertHeld(): Promise<void> {
    if (this.lost || !(await this.renew())) {
      this.lost = true;
      throw new LeaseLostError(this.key);
    }
  }

  /**
   * Renews the lease every third of its length until stopped, so a pass longer than the lease (a
   * slow node, a long catch-up) keeps it; a renewal that finds it gone marks it lost.
   */
  keepAlive(): { stop(): void } {
    const timer = setInterval(
      () => {
        this.renew().then(
          (held) => {
            if (!held) this.lost = true;
          },
          // Redis unreachable: the next assertHeld or fenced write fails on its own.
          () => undefined,
        );
      },
      Math.max(20, Math.floor(this.leaseMs / 3)),
    );
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }

  /** The key and token a fenced write checks (WatchList.saveCursor). */
  fence(): Fence {
    return { key: this.key, token: this.token };
  }

  /** Gives the lease up at shutdown, so another replica takes over at once. */
  async release(): Promise<void> {
    await this.redis.eval(RELEASE_SCRIPT, 1, this.key, this.token);
  }
}
