import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { access } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import type { UploadState } from '@reelboard/contracts';
import { HttpError } from './http-error.js';

export interface StagingLimits {
  /** Unpaid staged bytes one wallet may hold. */
  maxUnpaidBytesPerWallet: number;
  /** Unpaid uploads one wallet may hold. */
  maxUnpaidUploadsPerWallet: number;
  /** Free bytes kept on the staging volume for paid work. */
  reserveBytes: number;
}

export interface StagingGuardDeps {
  redis: Redis;
  prefix: string;
  stagingDir: string;
  /** The upload's lifecycle state (undefined before it is registered: still arriving). */
  stateOf: (uploadId: string) => Promise<UploadState | undefined>;
  limits: StagingLimits;
  /** Free bytes on the staging volume; statfs unless a unit test passes another. */
  freeBytes?: () => Promise<number>;
}

/** Free bytes an unprivileged process may use on the volume holding `dir`. */
export async function volumeFreeBytes(dir: string): Promise<number> {
  const stats = await statfs(dir);
  return stats.bavail * stats.bsize;
}

/**
 * Keeps unpaid uploads from filling the staging volume. Every unpaid upload of a wallet is counted
 * from the moment it is admitted (a multipart form's Content-Length, a tus upload's Upload-Length)
 * until it is paid, expires or is removed: the per-wallet record is checked lazily against the
 * lifecycle, so nothing else has to report a payment here. New uploads are refused before a byte is
 * stored (429 over a wallet's limits, 507 below the free-space reserve); bytes still arriving are
 * refused once the volume is below the reserve. Paid work (transcodes, previews) is never refused:
 * the reserve is the room unpaid uploads can never take.
 */
export class StagingGuard {
  private readonly freeBytes: () => Promise<number>;

  constructor(private readonly deps: StagingGuardDeps) {
    this.freeBytes = deps.freeBytes ?? (() => volumeFreeBytes(deps.stagingDir));
  }

  private key(owner: string): string {
    return `${this.deps.prefix}:staging:unpaid:${owner.toLowerCase()}`;
  }

  /** The wallet's unpaid uploads still holding staging space, by upload id (bytes); forgets the rest. */
  async unpaidOf(owner: string): Promise<Map<string, number>> {
    const entries = await this.deps.redis.hgetall(this.key(owner));
    const unpaid = new Map<string, number>();
    const gone: string[] = [];
    await Promise.all(
      Object.entries(entries).map(async ([uploadId, bytes]) => {
        const state = await this.deps.stateOf(uploadId);
        const holding = state === 'awaiting_payment' || (state === undefined && (await exists(join(this.deps.stagingDir, uploadId))));
        if (holding) unpaid.set(uploadId, Number(bytes));
        else gone.push(uploadId);
      }),
    );
    if (gone.length) await this.deps.redis.hdel(this.key(owner), ...gone);
    return unpaid;
  }

  /**
   * Admits a new unpaid upload of `bytes` for `owner`, or refuses it: 429 `unpaid_uploads_limit` or
   * `unpaid_bytes_limit`, 507 `insufficient_storage`.
   */
  async admit(owner: string, uploadId: string, bytes: number): Promise<void> {
    const { limits } = this.deps;
    const unpaid = await this.unpaidOf(owner);
    unpaid.delete(uploadId);
    if (unpaid.size + 1 > limits.maxUnpaidUploadsPerWallet) {
      throw new HttpError(429, 'unpaid_uploads_limit', `this wallet already has ${unpaid.size} unpaid uploads in staging (at most ${limits.maxUnpaidUploadsPerWallet}); pay for one or let it expire`, {
        limit: limits.maxUnpaidUploadsPerWallet,
      });
    }
    const held = [...unpaid.values()].reduce((sum, value) => sum + value, 0);
    if (held + bytes > limits.maxUnpaidBytesPerWallet) {
      throw new HttpError(429, 'unpaid_bytes_limit', `this wallet's unpaid uploads hold ${held} bytes; ${bytes} more would pass its limit of ${limits.maxUnpaidBytesPerWallet}; pay for one or let it expire`, {
        limit: limits.maxUnpaidBytesPerWallet,
      });
    }
    await this.checkSpace(bytes);
    await this.deps.redis.hset(this.key(owner), uploadId, String(bytes));
  }

  /** Forgets an upload (refused, or removed). */
  async release(owner: string, uploadId: string): Promise<void> {
    await this.deps.redis.hdel(this.key(owner), uploadId);
  }

  /** Refuses with 507 when `bytes` more would take the volume below the reserve. */
  async checkSpace(bytes = 0): Promise<void> {
    const free = await this.freeBytes();
    if (free - bytes < this.deps.limits.reserveBytes) {
      throw new HttpError(507, 'insufficient_storage', `the staging volume has ${free} bytes free and keeps ${this.deps.limits.reserveBytes} for paid work; try again later`, {
        freeBytes: free,
      });
    }
  }
}

const exists = (path: string) => access(path).then(
  () => true,
  () => false,
);
