import { createHash } from 'node:crypto';
import type { ReportReason } from '@reelboard/contracts';
import { fileReport, type Knex, NoOpenReportsError, openReportCount, type ReportDecision, resolveReports } from '@reelboard/db';
import type { PipelineBus } from '@reelboard/lifecycle';
import type { Logger } from '@reelboard/logger';
import type { ObjectStorage } from '@reelboard/storage';
import { removeAndDelete } from './listing-life.js';
import { decideListing } from './moderation.js';

export interface ReportDeps {
  db: Knex;
  storage: ObjectStorage;
  bus: PipelineBus;
  log: Logger;
  /** Open reports that hold a listing (REPORTS_HOLD_THRESHOLD). */
  holdThreshold: number;
  /** Days an approval runs a listing (LISTING_DAYS), for a rejection's bookkeeping. */
  listingDays?: number | undefined;
}

/**
 * Who reports, for one open report each: the wallet when signed in, else a hash of the client IP
 * (the address itself is not stored; the hash only tells one anonymous reporter from another).
 */
export const reporterKey = (reporter: { wallet?: string | undefined; ip?: string | undefined }): string =>
  reporter.wallet
    ? `wallet:${reporter.wallet.toLowerCase()}`
    : `ip:${createHash('sha256')
        .update(reporter.ip ?? 'unknown')
        .digest('hex')
        .slice(0, 32)}`;

export interface ReportListingParameters {
  listingId: string;
  reason: ReportReason;
  details?: string | undefined;
  wallet?: string | undefined;
  ip?: string | undefined;
}

/**
 * Files a report; the one that reaches the threshold holds the listing, and its owner is told
 * (`listing.held` on the listing's status: push, webhooks, My listings).
 */
export async function reportListing(deps: ReportDeps, input: ReportListingParameters) {
  const filed = await fileReport(deps.db, {
    listingId: input.listingId,
    reason: input.reason,
    details: input.details,
    wallet: input.wallet?.toLowerCase(),
    reporterKey: reporterKey(input),
    holdThreshold: deps.holdThreshold,
  });
  if (filed.held) {
    await deps.bus.status.publish({
      uploadId: filed.listingId,
      event: 'listing.held',
      stage: 'moderation',
      state: 'saved',
      message: 'reported by several people: hidden until a moderator reviews the reports',
    });
    deps.log.info('listing held by reports', { listingId: filed.listingId, openReports: filed.openReports, threshold: deps.holdThreshold });
  }
  deps.log.info('listing reported', { listingId: filed.listingId, reportId: filed.id, reason: filed.reason, anonymous: !input.wallet });
  return { id: filed.id, listingId: filed.listingId, reason: filed.reason, createdAt: filed.createdAt };
}

/**
 * A moderator's decision on a listing's open reports. `reject` and `remove` act on the listing first
 * (audited and told to the owner as any rejection or removal), then the reports record the decision;
 * `dismiss` releases a held listing and tells its owner.
 */
export async function decideOnReports(deps: ReportDeps, input: { listingId: string; decision: ReportDecision; actor: string; reason?: string | undefined }) {
  const listingId = input.listingId.toLowerCase();
  // Checked before acting, so a decision never rejects or removes a listing nobody reported.
  if ((await openReportCount(deps.db, listingId)) === 0) throw new NoOpenReportsError(listingId);
  if (input.decision === 'reject') {
    await decideListing(deps, { action: 'reject', listingId, actor: input.actor, reason: input.reason });
  } else if (input.decision === 'remove') {
    await removeAndDelete(deps, { listingId, actor: input.actor, reason: input.reason });
  }
  const resolved = await resolveReports(deps.db, { listingId, decision: input.decision, actor: input.actor, reason: input.reason });
  if (input.decision === 'dismiss' && resolved.released) {
    await deps.bus.status.publish({
      uploadId: listingId,
      event: 'listing.released',
      stage: 'moderation',
      state: 'saved',
      message: 'a moderator dismissed the reports: public again',
    });
  }
  deps.log.info('reports resolved', { ...resolved, actor: input.actor, reason: input.reason });
  return resolved;
}
