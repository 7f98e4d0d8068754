/**
 * The listing's text limits, in characters, and its hashtag count: written once, read by the pipeline's
 * payload schema, the API's form, edit and profile schemas, and the web client's inputs. Plain numbers
 * (no zod), so the browser bundle imports them (`@reelboard/contracts/limits`) without the schemas.
 */
export const LISTING_LIMITS = {
  title: 120,
  description: 5000,
  displayName: 80,
  contact: 200,
  hashtags: 10,
} as const;
