/** How the gateway answers an error: the status and the stable code clients switch on, and any fields beside `message`. */
export interface ErrorAnswer {
  status: number;
  code: string;
  extra?: Record<string, unknown>;
}

/**
 * THE DOMAIN-ERROR TABLE: every refusal a use-case may throw, by its class name, and the HTTP answer it
 * becomes (its `message` is the error's own). Keyed by name so this package needs neither the database
 * nor the gateway; the gateway's error handler is its one reader, and a gateway test checks that every
 * error class @reelboard/db exports has a row.
 */
export const domainErrors = {
  /** The route table's own refusal of params, query, headers or body (it carries its answer). */
  InvalidInput: (error: { status: number; code: string; extra: Record<string, unknown> }) => ({ status: error.status, code: error.code, extra: error.extra }),
  /** No such listing, or (for the owner's routes) not the caller's: the same 404, so others' listings do not show. */
  ListingNotFoundError: () => ({ status: 404, code: 'listing_not_found' }),
  /** A removed listing is not there for moderators either. */
  ListingRemovedError: () => ({ status: 404, code: 'listing_not_found' }),
  ListingStateError: (error: { state: string }) => ({ status: 409, code: 'listing_state', extra: { state: error.state } }),
  RevisionNotFoundError: () => ({ status: 404, code: 'revision_not_found' }),
  RevisionDecidedError: (error: { status: string }) => ({ status: 409, code: 'revision_decided', extra: { status: error.status } }),
  InvalidCursorError: () => ({ status: 400, code: 'invalid_cursor', extra: { field: 'cursor' } }),
  /** sort=relevance without q, sort=nearest without near (the route table refuses them first). */
  UnsupportedSortError: () => ({ status: 400, code: 'invalid_query', extra: { field: 'sort' } }),
  InvalidPaymentCursorError: () => ({ status: 400, code: 'invalid_cursor', extra: { field: 'cursor' } }),
  PaymentNotFoundError: () => ({ status: 404, code: 'payment_not_found' }),
  /** An upload that is not the caller's is as absent as one that never was. */
  UploadNotFoundError: () => ({ status: 404, code: 'upload_not_found' }),
  /** Too many transactions of one upload are being followed (MAX_PAYMENT_HINTS). */
  PaymentHintLimitError: () => ({ status: 429, code: 'too_many_hashes' }),
  /** A hint naming a chain the quote offers no payment on: `offered` lists those it does. */
  ChainNotOfferedError: (error: { offered: number[] }) => ({ status: 400, code: 'chain_not_offered', extra: { field: 'chainId', offered: error.offered } }),
  /** `not_refundable` or `already_refunded` (naming the transaction that refunded it). */
  RefundConflictError: (error: { code: string; refundTxHash: string | null }) => ({
    status: 409,
    code: error.code,
    extra: error.refundTxHash ? { refundTxHash: error.refundTxHash } : {},
  }),
  /** The chain does not show the refund transaction paying back what is due (its code names what is wrong). */
  RefundVerificationError: (error: { code: string; details: Record<string, unknown> }) => ({ status: 422, code: error.code, extra: error.details }),
  /** One open report per reporter and listing. */
  ReportExistsError: () => ({ status: 409, code: 'report_exists' }),
  NoOpenReportsError: () => ({ status: 409, code: 'no_open_reports' }),
  /** A wallet has as many favourites or saved searches as it may keep. */
  BuyerListFullError: (error: { list: string; limit: number }) => ({ status: 409, code: `${error.list}_full`, extra: { limit: error.limit } }),
  SavedSearchNameTakenError: () => ({ status: 409, code: 'saved_search_name_taken', extra: { field: 'name' } }),
} satisfies Record<string, (error: never) => ErrorAnswer>;

export type DomainErrorName = keyof typeof domainErrors;

/** The answer for an error of the table, or undefined for any other (an HttpError, a parser's, a failure). */
export function answerFor(error: unknown): (ErrorAnswer & { message: string }) | undefined {
  if (!(error instanceof Error) || !Object.hasOwn(domainErrors, error.name)) return undefined;
  const answer = (domainErrors[error.name as DomainErrorName] as (error: Error) => ErrorAnswer)(error);
  return { ...answer, message: error.message };
}
