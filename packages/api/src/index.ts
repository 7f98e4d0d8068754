/**
 * The gateway's API as a contract: the route table (method, path, auth, schemas, answers, error
 * codes), the zod schemas, the domain-error to HTTP table and the types derived from them. The
 * gateway binds its handlers to these rows; the client package and the web client import the types.
 * Nothing here knows Express or a service.
 */

export * from './errors.js';
export * from './route.js';
export * from './routes.js';
export * as schemas from './schemas.js';
export type {
  AcceptedUpload,
  Answer,
  Body,
  CancelledUpload,
  ErrorBody,
  HashtagSuggestion,
  Listing,
  ListingLifecycleState,
  ListingPage,
  OwnListing,
  Payment,
  PaymentOffer,
  PaymentPage,
  PaymentRequest,
  Price,
  Pricing,
  PricingOffer,
  Quote,
  RenewalQuote,
  Revision,
  SavedSearch,
  Session,
  StatusEvent,
  StatusEventName,
  UnpaidUpload,
  UploadPreview,
  UploadState,
  UploadView,
  UserProfile,
  WebhookDelivery,
  WebhookEndpoint,
} from './types.js';
