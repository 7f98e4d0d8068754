import type { Redis } from 'ioredis';
import type { UploadFailed } from '@reelboard/contracts';
import type { Uploads } from '@reelboard/lifecycle';
import type { Logger } from '@reelboard/logger';
import { countStuckWork } from './metrics.js';
import { ScanLock } from './scan-lock.js';

/** What the stuck-work sweep may leave in a state without any status event before it gives up on it. */
export interface StuckWorkDeadlines {
  /** An upload paid and never started (its payment.confirmed job lost). */
  paidMs: number;
  /** An upload processing with no progress (its media job lost in a failover). */
  processingMs: number;
  /** A renewal paid and never applied to its listing (its credit's ledger job lost). */
  renewalMs: number;
}

export type StuckKind = 'paid' | 'processing' | 'renewal';

export interface SweepStuckWorkParameters {
  uploads: Pick<Uploads, 'inState' | 'latest' | 'get' | 'renewal' | 'payment' | 'transition'>;
  /** Hands the failure to the ledger (the `upload.failed` channel: profile-writer records the payment due back). */
  publishFailed: (failure: UploadFailed) => Promise<void>;
  deadlines: StuckWorkDeadlines;
  /** Milliseconds since the epoch; a parameter so a test can move time. */
  now: number;
}

export interface SweepStuckWorkReturnType {
  /** What was given up on: each is now `failed` and its payment recorded due back (or for a retry). */
  failed: { uploadId: string; kind: StuckKind; idleMs: number; reason: string }[];
}

/** The stage name the failures carry (status events, the ledger's failed_stage). */
export const STUCK_WORK_STAGE = 'stuck-work';

/**
 * Finds work no stage will finish: an upload `paid` or `processing`, or a renewal `paid`, with no
 * status event for longer than its deadline (each transcoded chunk reports progress, so a live job
 * keeps its upload fresh). Each is first handed to the ledger as `upload.failed`, with the owner,
 * quote and payment, so the confirmed payment is recorded due back (or for `pnpm failed-uploads
 * retry`) and never lost; then it moves to `failed` with the reason. A plain function of its
 * dependencies: the caller runs it under a lease, one replica at a time.
 */
export async function sweepStuckWork(parameters: SweepStuckWorkParameters): Promise<SweepStuckWorkReturnType> {
  const { uploads, deadlines, now } = parameters;
  const failed: SweepStuckWorkReturnType['failed'] = [];
  for (const state of ['paid', 'processing'] as const) {
    for (const uploadId of await uploads.inState(state)) {
      const latest = await uploads.latest(uploadId);
      // No event at all: the record is gone with its history (retention); nothing to judge it by.
      if (!latest) continue;
      const renewal = state === 'paid' ? await uploads.renewal(uploadId) : undefined;
      const kind: StuckKind = renewal ? 'renewal' : state;
      const deadline = kind === 'renewal' ? deadlines.renewalMs : kind === 'paid' ? deadlines.paidMs : deadlines.processingMs;
      const idleMs = now - Date.parse(latest.at);
      if (idleMs <= deadline) continue;
      const minutes = Math.round(idleMs / 60_000);
      const reason =
        kind === 'renewal'
          ? `the renewal of listing ${renewal?.listingId} was paid ${minutes} min ago and never confirmed applied; unless the ledger renewed the listing, the payment is recorded for refund`
          : `the upload was left ${state} for ${minutes} min with no progress (its job was lost); the payment is recorded for a retry or a refund`;
      const subject = renewal ?? (await uploads.get(uploadId));
      const payment = await uploads.payment(uploadId);
      await parameters.publishFailed({
        uploadId,
        stage: STUCK_WORK_STAGE,
        reason,
        upload: { ...(subject ? { owner: subject.owner, quote: subject.quote } : {}), ...(payment ? { payment } : {}) },
      });
      const moved = await uploads.transition(uploadId, 'fail', { stage: STUCK_WORK_STAGE, reason });
      // It moved on between the read and the change (a late job finished): the ledger ignores a saved upload's failure.
      if (!moved.moved) continue;
      failed.push({ uploadId, kind, idleMs, reason });
    }
  }
  return { failed };
}

/**
 * Runs the sweep every `intervalMs` on the replica that holds its lease (renewed at each run; given
 * up at stop, so another replica takes over at once).
 */
export class StuckWorkSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly lock: ScanLock;

  constructor(
    private readonly deps: {
      redis: Redis;
      prefix: string;
      uploads: SweepStuckWorkParameters['uploads'];
      publishFailed: SweepStuckWorkParameters['publishFailed'];
      deadlines: StuckWorkDeadlines;
      log: Logger;
      intervalMs: number;
    },
  ) {
    // Longer than the interval, so the holder keeps it from one run to the next.
    this.lock = new ScanLock(deps.redis, `${deps.prefix}:payment:stuck-work-lock`, deps.intervalMs * 2 + 10_000);
  }

  /** One run, if this replica holds the lease. */
  async runOnce(): Promise<SweepStuckWorkReturnType | undefined> {
    if (!(await this.lock.acquire())) return undefined;
    const { log } = this.deps;
    const outcome = await sweepStuckWork({
      uploads: this.deps.uploads,
      publishFailed: this.deps.publishFailed,
      deadlines: this.deps.deadlines,
      now: Date.now(),
    });
    for (const stuck of outcome.failed) {
      countStuckWork(stuck.kind);
      log.warn('stuck work failed; its payment is recorded due back', {
        uploadId: stuck.uploadId,
        kind: stuck.kind,
        idleSeconds: Math.round(stuck.idleMs / 1000),
        reason: stuck.reason,
      });
    }
    return outcome;
  }

  start(): void {
    const tick = () => {
      this.running = this.runOnce()
        .then(() => undefined)
        .catch((error: unknown) => {
          this.deps.log.error('stuck-work sweep failed; trying again at the next interval', { error: String(error) });
        })
        .finally(() => {
          this.running = undefined;
        });
    };
    this.timer = setInterval(tick, this.deps.intervalMs);
    tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.lock.release();
  }
}
