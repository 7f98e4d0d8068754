/**
 * The one rule of what the public sees, as a condition on `listings as l`: approved by a moderator,
 * and inside its visible period (`visible_until`, derived by the database: the paid period of an
 * active listing, the sold display of a sold one, never for a withdrawn or removed one). An expired
 * listing is hidden at query time, before the periodic job has even told its owner. A listing whose
 * payment a reorg took back is held (`payment_held_at`) until the money is on chain again; one with
 * REPORTS_HOLD_THRESHOLD open reports is held (`reports_held_at`) until a moderator resolves them.
 */
export const PUBLIC_LISTING = `l.moderation_status = 'approved' AND l.visible_until > now() AND l.payment_held_at IS NULL AND l.reports_held_at IS NULL`;
