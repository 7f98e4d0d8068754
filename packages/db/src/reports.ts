import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { ReportReason } from '@reelboard/contracts';
import { ListingNotFoundError } from './listing-errors.js';
import { PUBLIC_LISTING } from './visibility.js';

export type ReportStatus = 'open' | 'dismissed' | 'actioned';
/** What a moderator does with a listing's open reports: dismiss them, or reject or remove the listing. */
export type ReportDecision = 'dismiss' | 'reject' | 'remove';

/** The reporter already has an open report on this listing. */
export class ReportExistsError extends Error {
  override readonly name = 'ReportExistsError';
  constructor(
    readonly listingId: string,
    readonly reportId: string,
  ) {
    super(`you already reported listing ${listingId}; a moderator will review it`);
  }
}

/** The listing has no open report to resolve (resolved meanwhile, or never reported). */
export class NoOpenReportsError extends Error {
  override readonly name = 'NoOpenReportsError';
  constructor(readonly listingId: string) {
    super(`listing ${listingId} has no open reports`);
  }
}

export interface FileReportParameters {
  listingId: string;
  reason: ReportReason;
  details?: string | undefined;
  /** The signed-in wallet (lower case), or undefined for an anonymous report. */
  wallet?: string | undefined;
  /** Who reported, for one open report each: `wallet:<address>` or `ip:<hash>`. */
  reporterKey: string;
  /** Open reports that hold the listing from the public (REPORTS_HOLD_THRESHOLD). */
  holdThreshold: number;
}

export interface FileReportReturnType {
  id: string;
  listingId: string;
  reason: ReportReason;
  createdAt: string;
  /** Whether this report put the listing on hold (its owner is told). */
  held: boolean;
  openReports: number;
}

const UNIQUE_VIOLATION = '23505';

/**
 * Files a report on a public listing (a listing that is not public, or held already, is not found).
 * The listing row is locked, so reports arriving together count in order and the one that reaches
 * the threshold holds the listing once, audited in listing_events.
 */
export async function fileReport(db: Knex, input: FileReportParameters): Promise<FileReportReturnType> {
  return db.transaction(async (trx) => {
    const listing: { id: string } | undefined = /^[0-9a-f-]{36}$/i.test(input.listingId)
      ? await trx('listings as l').where('l.id', input.listingId.toLowerCase()).whereRaw(PUBLIC_LISTING).forUpdate('l').first('l.id')
      : undefined;
    if (!listing) throw new ListingNotFoundError(input.listingId);
    const existing: { id: string } | undefined = await trx('listing_reports')
      .where({ listing_id: listing.id, reporter_key: input.reporterKey, status: 'open' })
      .first('id');
    if (existing) throw new ReportExistsError(listing.id, existing.id);
    const id = randomUUID();
    let created: Date;
    try {
      const [row] = await trx('listing_reports')
        .insert({
          id,
          listing_id: listing.id,
          reason: input.reason,
          details: input.details ?? null,
          reporter_wallet: input.wallet ?? null,
          reporter_key: input.reporterKey,
        })
        .returning('created_at');
      created = (row as { created_at: Date }).created_at;
    } catch (error) {
      // The listing row lock orders reports on one listing, so this is a bug's net, not a race's.
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) throw new ReportExistsError(listing.id, 'unknown');
      throw error;
    }
    const [{ count }] = (await trx('listing_reports').where({ listing_id: listing.id, status: 'open' }).count({ count: '*' })) as [{ count: string }];
    const openReports = Number(count);
    const held = openReports >= input.holdThreshold;
    if (held) {
      await trx('listings').where({ id: listing.id }).update({ reports_held_at: trx.fn.now(), updated_at: trx.fn.now() });
      await trx('listing_events').insert({
        listing_id: listing.id,
        actor: 'reports',
        action: 'hold',
        detail: JSON.stringify({ openReports, threshold: input.holdThreshold }),
      });
    }
    return { id, listingId: listing.id, reason: input.reason, createdAt: created.toISOString(), held, openReports };
  });
}

/** One report as moderators see it. */
export interface ReportView {
  id: string;
  reason: ReportReason;
  details: string | null;
  /** The reporter's wallet, or null for an anonymous report. */
  reporter: string | null;
  status: ReportStatus;
  resolution: ReportDecision | null;
  resolvedBy: string | null;
  resolvedAt: string | null;
  resolutionReason: string | null;
  createdAt: string;
}

/** A listing with reports: the moderators' queue groups reports by listing, since a decision is about the listing. */
export interface ReportedListing {
  listingId: string;
  title: string;
  /** When the reports put it on hold (null: not held). */
  heldAt: string | null;
  moderationStatus: string;
  state: string;
  reports: ReportView[];
}

interface ReportRow {
  id: string;
  listing_id: string;
  reason: ReportReason;
  details: string | null;
  reporter_wallet: string | null;
  status: ReportStatus;
  resolution: ReportDecision | null;
  resolved_by: string | null;
  resolved_at: Date | null;
  resolution_reason: string | null;
  created_at: Date;
}

const toReportView = (row: ReportRow): ReportView => ({
  id: row.id,
  reason: row.reason,
  details: row.details,
  reporter: row.reporter_wallet,
  status: row.status,
  resolution: row.resolution,
  resolvedBy: row.resolved_by,
  resolvedAt: row.resolved_at?.toISOString() ?? null,
  resolutionReason: row.resolution_reason,
  createdAt: row.created_at.toISOString(),
});

/**
 * The listings with open reports (held ones first, then by their oldest open report), or with
 * resolved reports (most recently resolved first), each with those reports.
 */
export async function listReportedListings(db: Knex, query: { status: 'open' | 'resolved'; limit: number }): Promise<ReportedListing[]> {
  const open = query.status === 'open';
  const listings: { id: string; title: string; reports_held_at: Date | null; moderation_status: string; state: string }[] = await db('listings as l')
    .join(
      db('listing_reports')
        .modify((q) => (open ? q.where('status', 'open') : q.whereNot('status', 'open')))
        .groupBy('listing_id')
        .select('listing_id', db.raw('min(created_at) AS oldest'), db.raw('max(resolved_at) AS latest'))
        .as('r'),
      'r.listing_id',
      'l.id',
    )
    .orderByRaw(open ? 'l.reports_held_at IS NULL, r.oldest, l.id' : 'r.latest DESC, l.id')
    .limit(query.limit)
    .select('l.id', 'l.title', 'l.reports_held_at', 'l.moderation_status', 'l.state');
  if (listings.length === 0) return [];
  const rows: ReportRow[] = await db('listing_reports')
    .whereIn(
      'listing_id',
      listings.map((listing) => listing.id),
    )
    .modify((q) => (open ? q.where('status', 'open') : q.whereNot('status', 'open')))
    .orderBy([{ column: 'created_at' }, { column: 'id' }]);
  return listings.map((listing) => ({
    listingId: listing.id,
    title: listing.title,
    heldAt: listing.reports_held_at?.toISOString() ?? null,
    moderationStatus: listing.moderation_status,
    state: listing.state,
    reports: rows.filter((row) => row.listing_id === listing.id).map(toReportView),
  }));
}

export interface ResolveReportsParameters {
  listingId: string;
  decision: ReportDecision;
  /** The moderator: an admin wallet or `admin-token`. */
  actor: string;
  reason?: string | undefined;
}

export interface ResolveReportsReturnType {
  listingId: string;
  decision: ReportDecision;
  resolved: number;
  /** Whether the listing was on hold and is no longer (a dismissal makes it public again). */
  released: boolean;
}

/**
 * Resolves every open report of a listing at once, in one transaction: each report records the
 * decision, who took it, when and why; a hold is lifted (audited as `release`); a dismissal is
 * audited in moderation_events (a rejection is audited there by the rejection itself, a removal
 * in listing_events).
 */
export async function resolveReports(db: Knex, input: ResolveReportsParameters): Promise<ResolveReportsReturnType> {
  return db.transaction(async (trx) => {
    const listing: { id: string; reports_held_at: Date | null } | undefined = /^[0-9a-f-]{36}$/i.test(input.listingId)
      ? await trx('listings').where({ id: input.listingId.toLowerCase() }).forUpdate().first('id', 'reports_held_at')
      : undefined;
    if (!listing) throw new ListingNotFoundError(input.listingId);
    const resolved = await trx('listing_reports')
      .where({ listing_id: listing.id, status: 'open' })
      .update({
        status: input.decision === 'dismiss' ? 'dismissed' : 'actioned',
        resolution: input.decision,
        resolved_by: input.actor,
        resolved_at: trx.fn.now(),
        resolution_reason: input.reason ?? null,
      });
    if (resolved === 0) throw new NoOpenReportsError(listing.id);
    const released = listing.reports_held_at !== null;
    if (released) {
      await trx('listings').where({ id: listing.id }).update({ reports_held_at: null, updated_at: trx.fn.now() });
      await trx('listing_events').insert({
        listing_id: listing.id,
        actor: input.actor,
        action: 'release',
        detail: JSON.stringify({ decision: input.decision, resolved }),
      });
    }
    if (input.decision === 'dismiss') {
      await trx('moderation_events').insert({ listing_id: listing.id, actor: input.actor, action: 'dismiss', reason: input.reason ?? null });
    }
    return { listingId: listing.id, decision: input.decision, resolved, released };
  });
}

/** How many open reports a listing has (a moderator acts on a listing only while it has some). */
export async function openReportCount(db: Knex, listingId: string): Promise<number> {
  if (!/^[0-9a-f-]{36}$/i.test(listingId)) return 0;
  const [{ count }] = (await db('listing_reports').where({ listing_id: listingId.toLowerCase(), status: 'open' }).count({ count: '*' })) as [{ count: string }];
  return Number(count);
}
