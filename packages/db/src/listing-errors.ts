// Errors both the moderation queue and the owner's listing actions raise; in a module of their own so
// neither of those two imports the other for them (they were an import cycle).

/** No listing with that id. */
export class ListingNotFoundError extends Error {
  override readonly name = 'ListingNotFoundError';
  constructor(readonly listingId: string) {
    super(`no listing ${listingId}`);
  }
}
