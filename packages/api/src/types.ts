import type { z } from 'zod';
import type { RequestBody, ResponseBody } from './route.js';
import type { Api } from './routes.js';
import type * as s from './schemas.js';

export type { RequestBody, ResponseBody } from './route.js';
/**
 * The API's types, derived from the route table and its schemas: the client package and the web
 * client import these (type-only: nothing of zod reaches the browser bundle).
 */
export type { Api, RouteName } from './routes.js';

/** The JSON answer of route `N` with status `S`: `Answer<'getListing', 200>`. */
export type Answer<N extends keyof Api, S extends keyof Api[N]['responses']> = ResponseBody<Api[N], S>;
/** The JSON body route `N` reads. */
export type Body<N extends keyof Api> = RequestBody<Api[N]>;

export type ErrorBody = z.output<typeof s.errorBody>;
export type StatusEvent = z.output<typeof s.statusEvent>;
export type StatusEventName = StatusEvent['event'];
export type UploadState = StatusEvent['state'];
export type Quote = z.output<typeof s.quote>;
export type PaymentRequest = z.output<typeof s.paymentRequest>;
export type PaymentOffer = z.output<typeof s.paymentOffer>;
export type AcceptedUpload = z.output<typeof s.acceptedUpload>;
export type UploadView = z.output<typeof s.uploadView>;
export type UploadPreview = z.output<typeof s.uploadPreview>;
export type Listing = z.output<typeof s.listing>;
export type ListingPage = z.output<typeof s.listingPage>;
export type UserProfile = z.output<typeof s.userProfile>;
export type HashtagSuggestion = z.output<typeof s.hashtagSuggestions>['hashtags'][number];
export type Payment = z.output<typeof s.payment>;
export type PaymentPage = z.output<typeof s.paymentPage>;
export type WebhookEndpoint = z.output<typeof s.webhookEndpoint>;
export type WebhookDelivery = z.output<typeof s.webhookDelivery>;
export type Session = Answer<'signIn', 200>;
export type Price = z.output<typeof s.price>;
export type OwnListing = z.output<typeof s.ownListing>;
export type ListingLifecycleState = OwnListing['state'];
export type RenewalQuote = z.output<typeof s.renewalQuote>;
export type Revision = z.output<typeof s.revision>;
export type SavedSearch = z.output<typeof s.savedSearch>;
export type Pricing = z.output<typeof s.pricing>;
export type PricingOffer = Pricing['offers'][number];
export type UnpaidUpload = z.output<typeof s.unpaidUpload>;
export type CancelledUpload = z.output<typeof s.cancelledUpload>;
