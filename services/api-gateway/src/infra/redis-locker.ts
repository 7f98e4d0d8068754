import { type Lock as HeldLock, Redlock } from '@sesamecare-oss/redlock';
import type { Lock, Locker, RequestRelease } from '@tus/utils';
import type { Redis } from 'ioredis';

export interface RedisLockerOptions {
  /** Key prefix of the locks and the name of the release channel. */
  prefix: string;
  /** How long a lock lives unless extended (it is extended while held, so a dead replica's lock lapses). */
  ttlMs?: number;
  /** How long a request waits for the lock before giving up (tus answers 500 ERR_LOCK_TIMEOUT). */
  acquireTimeoutMs?: number;
}

/**
 * The tus locker over Redis, so any gateway replica can take any chunk of an upload: one upload is
 * written by one request at a time across replicas. A request that finds the upload locked asks the
 * holder to let go (the tus protocol's answer to a client that reconnected while its old connection
 * is still half-open), through a Redis channel every replica listens on, and retries until the
 * holder has unlocked. The lock itself is Redlock's (a maintained library), extended while held.
 */
export class RedisLocker implements Locker {
  private readonly redlock: Redlock;
  private readonly holders = new Map<string, RequestRelease>();
  private readonly ready: Promise<unknown>;
  readonly ttlMs: number;
  readonly acquireTimeoutMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly options: RedisLockerOptions,
  ) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.acquireTimeoutMs = options.acquireTimeoutMs ?? 10_000;
    // One attempt per acquire call: the retry loop below asks the holder to release between attempts.
    this.redlock = new Redlock([redis], { retryCount: 0 });
    this.subscriber.on('message', (channel, id) => {
      if (channel === this.channel) void this.holders.get(id)?.();
    });
    this.ready = this.subscriber.subscribe(this.channel);
  }

  get channel(): string {
    return `${this.options.prefix}:tus-lock-release`;
  }

  key(id: string): string {
    return `${this.options.prefix}:tus-lock:${id}`;
  }

  newLock(id: string): Lock {
    return new RedisLock(this, id);
  }

  /** @internal */
  async tryAcquire(id: string): Promise<HeldLock | undefined> {
    await this.ready;
    try {
      return await this.redlock.acquire([this.key(id)], this.ttlMs);
    } catch {
      return undefined;
    }
  }

  /** @internal */
  hold(id: string, release: RequestRelease): void {
    this.holders.set(id, release);
  }

  /** @internal */
  forget(id: string): void {
    this.holders.delete(id);
  }

  /** @internal */
  async askToRelease(id: string): Promise<void> {
    await this.redis.publish(this.channel, id);
  }

  async close(): Promise<void> {
    await this.subscriber.unsubscribe(this.channel).catch(() => undefined);
  }
}

class RedisLock implements Lock {
  private held: HeldLock | undefined;
  private extender: NodeJS.Timeout | undefined;

  constructor(
    private readonly locker: RedisLocker,
    private readonly id: string,
  ) {}

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const deadline = Date.now() + this.locker.acquireTimeoutMs;
    let delay = 25;
    for (;;) {
      if (signal.aborted) throw new Error('lock request aborted');
      const held = await this.locker.tryAcquire(this.id);
      if (held) {
        this.held = held;
        this.locker.hold(this.id, requestRelease);
        this.extender = setInterval(() => {
          this.held?.extend(this.locker.ttlMs).then(
            (extended) => (this.held = extended),
            () => undefined,
          );
        }, this.locker.ttlMs / 3);
        this.extender.unref();
        return;
      }
      if (Date.now() > deadline) throw new Error(`lock on ${this.id} not acquired within ${this.locker.acquireTimeoutMs} ms`);
      await this.locker.askToRelease(this.id);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 500);
    }
  }

  async unlock(): Promise<void> {
    clearInterval(this.extender);
    this.locker.forget(this.id);
    const held = this.held;
    this.held = undefined;
    await held?.release().catch(() => undefined);
  }
}
