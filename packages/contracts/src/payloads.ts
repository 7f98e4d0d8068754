import { z } from 'zod';

const hex = (bytes: number) =>
  z
    .string()
    .regex(new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`))
    .transform((value) => value.toLowerCase() as `0x${string}`);

/** A wallet or contract address, always lower case inside the pipeline (one normal form). */
export const addressSchema = hex(20);
/** A transaction hash. */
export const txHashSchema = hex(32);
/** An unsigned integer amount in base units (wei), as a decimal string: JSON has no bigint. */
export const amountSchema = z.string().regex(/^\d+$/);
export const uploadIdSchema = z.uuid();
/** A path relative to the staging directory, so services with different mount points agree. */
export const stagedPathSchema = z
  .string()
  .min(1)
  .refine((value) => !value.startsWith('/') && !value.split('/').includes('..'), 'must be relative to the staging directory');

/** What the person typed into the listing form, already validated by the gateway. */
export const listingFormSchema = z.object({
  title: z.string().min(1).max(120),
  description: z.string().max(5000),
  hashtags: z.array(z.string()).max(10),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  displayName: z.string().max(80).optional(),
  contact: z.string().max(200).optional(),
});

/** The payment the gateway asked for: paid to `to` on `chainId`, at least `amount`, before `expiresAt`. */
export const quoteSchema = z.object({
  chainId: z.number().int().positive(),
  to: addressSchema,
  amount: amountSchema,
  /** null for the chain's native coin, else the ERC-20 contract. */
  token: addressSchema.nullable(),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
});

export const uploadReceivedSchema = z.object({
  uploadId: uploadIdSchema,
  /** The signed-in (SIWE-verified) wallet that owns the upload. */
  owner: addressSchema,
  form: listingFormSchema,
  quote: quoteSchema,
  staged: z.object({
    /** The original video as the person sent it. */
    source: stagedPathSchema,
    sourceBytes: z.number().int().nonnegative(),
    /** The logo, already normalised to a square WebP by the gateway. */
    logo: stagedPathSchema.optional(),
  }),
  receivedAt: z.iso.datetime(),
});

export const paymentSubmittedSchema = z.object({
  uploadId: uploadIdSchema,
  txHash: txHashSchema,
});

export const paymentStatusSchema = z.enum(['paid', 'overpaid', 'partial', 'late']);

export const paymentSchema = z.object({
  chainId: z.number().int().positive(),
  txHash: txHashSchema,
  /** The Transfer log's index for ERC-20 payments; null for a native transfer. */
  logIndex: z.number().int().nonnegative().nullable(),
  from: addressSchema,
  to: addressSchema,
  token: addressSchema.nullable(),
  amount: amountSchema,
  blockNumber: amountSchema,
  blockTime: z.iso.datetime(),
  status: paymentStatusSchema,
});

export const paymentConfirmedSchema = uploadReceivedSchema.extend({ payment: paymentSchema });

/** A preview clip in the staging directory: short, muted, looping. */
export const stagedPreviewSchema = z.object({ path: stagedPathSchema, bytes: z.number().int().positive(), durationSeconds: z.number().positive() });
/** A poster image in the staging directory. */
export const stagedPosterSchema = z.object({ path: stagedPathSchema, bytes: z.number().int().positive() });

/**
 * The preview and poster, cut from the source as soon as the payment is confirmed, for the uploader
 * to store under their final keys while the full transcode runs (first playable in seconds).
 */
export const previewEarlySchema = paymentConfirmedSchema.extend({ preview: stagedPreviewSchema, poster: stagedPosterSchema });

export const videoTranscodedSchema = paymentConfirmedSchema.extend({
  /** The preview and poster already cut from the source (absent when the transcoder did not cut them). */
  preview: stagedPreviewSchema.optional(),
  poster: stagedPosterSchema.optional(),
  video: z.object({
    path: stagedPathSchema,
    bytes: z.number().int().positive(),
    durationSeconds: z.number().positive(),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
  }),
});

export const previewExtractedSchema = videoTranscodedSchema.extend({ preview: stagedPreviewSchema, poster: stagedPosterSchema });

export const assetsStoredSchema = previewExtractedSchema.extend({
  objects: z.object({
    video: z.string().min(1),
    preview: z.string().min(1),
    poster: z.string().min(1),
    logo: z.string().min(1).optional(),
  }),
});

/** A stage gave up on an upload for good. `upload` is the stage's input, so a paid upload keeps its payment. */
export const uploadFailedSchema = z.object({
  uploadId: uploadIdSchema,
  stage: z.string(),
  reason: z.string(),
  upload: z.record(z.string(), z.unknown()),
});

/**
 * A confirmed payment that does not (or no longer can) fulfil its upload: an underpayment
 * (`partial`), one mined after the quote expired (`late`), or a second payment for an upload
 * already paid. Recorded in Postgres so an operator can refund it; the upload is not touched.
 */
export const paymentRecordedSchema = z.object({
  uploadId: uploadIdSchema,
  owner: addressSchema,
  payment: paymentSchema,
  /** Why it does not fulfil the upload, for the operator. */
  reason: z.string(),
});

/** The delayed job that ends an unpaid upload at its quote's expiry. */
export const uploadExpireSchema = z.object({ uploadId: uploadIdSchema });

export type ListingForm = z.infer<typeof listingFormSchema>;
export type Quote = z.infer<typeof quoteSchema>;
export type UploadReceived = z.infer<typeof uploadReceivedSchema>;
export type PaymentSubmitted = z.infer<typeof paymentSubmittedSchema>;
export type Payment = z.infer<typeof paymentSchema>;
export type PaymentStatus = z.infer<typeof paymentStatusSchema>;
export type PaymentConfirmed = z.infer<typeof paymentConfirmedSchema>;
export type PreviewEarly = z.infer<typeof previewEarlySchema>;
export type VideoTranscoded = z.infer<typeof videoTranscodedSchema>;
export type PreviewExtracted = z.infer<typeof previewExtractedSchema>;
export type AssetsStored = z.infer<typeof assetsStoredSchema>;
export type UploadFailed = z.infer<typeof uploadFailedSchema>;
export type UploadExpire = z.infer<typeof uploadExpireSchema>;
export type PaymentRecorded = z.infer<typeof paymentRecordedSchema>;
