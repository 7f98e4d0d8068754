import { access, statfs } from 'node:fs/promises';
import { join } from 'node:path';
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
  /** The clock (ms); Date.now unless a unit test passes another. */
  now?: () => number;
}

/**
 * How long an admitted upload counts although neither its staging folder nor its state exists yet:
 * it is admitted before its first byte is stored, and must not be forgotten by a concurrent check.
 */
export const ADMISSION_GRACE_MS = 60_000;

/**
 * A wallet's record outlives its last admission by this much, then goes from Redis (bounded Redis):
 * by then every upload it counted has been paid, expired (a quote lasts minutes) or removed
 * (an unfinished resumable upload lasts RESUMABLE_EXPIRY_SECONDS, a day by default).
 */
export const WALLET_RECORD_TTL_MS = 7 * 24 * 3600_000;

/**
 * The per-wallet check and reservation in one step on Redis, so two uploads of one wallet created
 * at the same instant (on any replicas) cannot both pass: counts the wallet's other uploads and
 * their bytes (each entry is `bytes:admittedAtMs`), and adds this one only within both limits.
 * Returns [0 admitted | 1 over the uploads limit | 2 over the bytes limit, uploads held, bytes held].
 */
const ADMIT_SCRIPT = `
local entries = redis.call('HGETALL', KEYS[1])
local count, held = 0, 0
for i = 1, #entries, 2 do
  if entries[i] ~= ARGV[1] then
    count = count + 1
    held = held + (tonumber(string.match(entries[i + 1], '^%d+')) or 0)
  end
end
if count + 1 > tonumber(ARGV[3]) then return {1, count, held} end
if held + tonumber(ARGV[2]) > tonumber(ARGV[4]) then return {2, count, held} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {0, count, held}
`;

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
  private readonly now: () => number;

  constructor(private readonly deps: StagingGuardDeps) {
    this.freeBytes = deps.freeBytes ?? (() => volumeFreeBytes(deps.stagingDir));
    this.now = deps.now ?? Date.now;
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
      Object.entries(entries).map(async ([uploadId, entry]) => {
        const [bytes = '0', admittedAt = '0'] = entry.split(':');
        const state = await this.deps.stateOf(uploadId);
        const arriving = state === undefined && (this.now() - Number(admittedAt) < ADMISSION_GRACE_MS || (await exists(join(this.deps.stagingDir, uploadId))));
        if (state === 'awaiting_payment' || arriving) unpaid.set(uploadId, Number(bytes));
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
    // Forgets paid and gone uploads first; the check and the reservation are then one atomic step.
    await this.unpaidOf(owner);
    const [verdict, count, held] = (await this.deps.redis.eval(
      ADMIT_SCRIPT,
      1,
      this.key(owner),
      uploadId,
      String(bytes),
      String(limits.maxUnpaidUploadsPerWallet),
      String(limits.maxUnpaidBytesPerWallet),
      String(this.now()),
      String(WALLET_RECORD_TTL_MS),
    )) as [number, number, number];
    if (verdict === 1) {
      throw new HttpError(
        429,
        'unpaid_uploads_limit',
        `this wallet already has ${count} unpaid uploads in staging (at most ${limits.maxUnpaidUploadsPerWallet}); pay for one or let it expire`,
        {
          limit: limits.maxUnpaidUploadsPerWallet,
        },
      );
    }
    if (verdict === 2) {
      throw new HttpError(
        429,
        'unpaid_bytes_limit',
        `this wallet's unpaid uploads hold ${held} bytes; ${bytes} more would pass its limit of ${limits.maxUnpaidBytesPerWallet}; pay for one or let it expire`,
        {
          limit: limits.maxUnpaidBytesPerWallet,
        },
      );
    }
    try {
      await this.checkSpace(bytes);
    } catch (error) {
      await this.release(owner, uploadId);
      throw error;
    }
  }

  /** Forgets an upload (refused, or removed). */
  async release(owner: string, uploadId: string): Promise<void> {
    await this.deps.redis.hdel(this.key(owner), uploadId);
  }

  /** Refuses with 507 when `bytes` more would take the volume below the reserve. */
  async checkSpace(bytes = 0): Promise<void> {
    const free = await this.freeBytes();
    if (free - bytes < this.deps.limits.reserveBytes) {
      throw new HttpError(
        507,
        'insufficient_storage',
        `the staging volume has ${free} bytes free and keeps ${this.deps.limits.reserveBytes} for paid work; try again later`,
        {
          freeBytes: free,
        },
      );
    }
  }
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );
