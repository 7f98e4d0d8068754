import { z } from 'zod';
import { LISTING_LIMITS } from './limits.js';

const hex = (bytes: number) =>
  z
    .string()
    .regex(new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`))
    .transform((value) => value.toLowerCase() as `0x${string}`)
    // The API document (zod-openapi) cannot render a transform: any case is read, lower case is written.
    .meta({
      override: ({ jsonSchema, io }: { jsonSchema: Record<string, unknown>; io: 'input' | 'output' }) => {
        jsonSchema.type = 'string';
        jsonSchema.pattern = io === 'input' ? `^0x[0-9a-fA-F]{${bytes * 2}}$` : `^0x[0-9a-f]{${bytes * 2}}$`;
      },
    });

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

/** An asking price: a decimal amount with at most 2 decimals, and an ISO 4217 currency code. */
export const priceSchema = z.object({
  amount: z.string().regex(/^\d{1,12}(\.\d{1,2})?$/, 'amount must be a decimal number with at most 12 digits before the point and 2 after'),
  currency: z.string().regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code such as EUR or USD'),
});

/** What the person typed into the listing form, already validated by the gateway. */
export const listingFormSchema = z.object({
  title: z.string().min(1).max(LISTING_LIMITS.title),
  description: z.string().max(LISTING_LIMITS.description),
  hashtags: z.array(z.string()).max(LISTING_LIMITS.hashtags),
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  displayName: z.string().max(LISTING_LIMITS.displayName).optional(),
  contact: z.string().max(LISTING_LIMITS.contact).optional(),
  /** The asking price, if any. */
  price: priceSchema.optional(),
  /** The listing's language (ISO 639-1), if the seller gave it: search stems its words in that language. */
  language: z
    .string()
    .regex(/^[a-z]{2}$/)
    .optional(),
});

/** A price in a fiat currency: a decimal amount and an ISO 4217 code (`5.00`, `USD`). */
export const fiatPriceSchema = z.object({
  amount: z.string().regex(/^\d{1,12}(\.\d{1,18})?$/, 'amount must be a decimal number'),
  currency: z.string().regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code such as EUR or USD'),
});

/** A price feed's answer as a quote locked it: fiat per whole coin, with `decimals` decimals, as the feed last updated it. */
export const lockedRateSchema = z.object({
  feed: addressSchema,
  answer: amountSchema,
  decimals: z.number().int().min(0).max(36),
  updatedAt: z.iso.datetime(),
});

/**
 * One (chain, asset) a quote accepts, at its own amount: the quote's deposit address is the same on
 * every chain, so whatever reaches it on `chainId` in `token` pays the quote once it covers `amount`.
 */
export const quoteOfferSchema = z.object({
  chainId: z.number().int().positive(),
  /** The chain's name for people (CHAINS' `name`). */
  chainName: z.string().min(1),
  /** null for the chain's native coin, else the ERC-20 contract. */
  token: addressSchema.nullable(),
  /** The asset's ticker (USDC, ETH): shown beside amounts, never used to tell assets apart. */
  symbol: z.string().min(1),
  /** Base units per whole coin as a power of ten: the amount is `amount` / 10^decimals. */
  decimals: z.number().int().min(0).max(36),
  /** What this offer asks, in the asset's base units. */
  amount: amountSchema,
  /** For the native coin priced in fiat: the feed's answer `amount` was computed at, locked for the quote's lifetime. */
  rate: lockedRateSchema.optional(),
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
  /**
   * The merchant the deposit address pays (it derives from it): the watcher and the sweeper follow it,
   * not their own setting, so a quote outlives a change of merchant. Absent on quotes issued before.
   */
  merchant: addressSchema.optional(),
  /**
   * The CREATE2 salt of `to` (a keyed hash of the quote id, DEPOSIT_SALT_KEY): the watcher and the
   * sweeper use it, so a new key leaves the quote where it was. Absent on quotes issued before: the quote id.
   */
  salt: hex(32).optional(),
  /** The fiat price `amount` was computed from (PRICE), when the listing is priced in a fiat currency. */
  price: fiatPriceSchema.optional(),
  /** For the native coin priced in fiat: the feed's answer `amount` was computed at, locked for the quote's lifetime. */
  rate: lockedRateSchema.optional(),
  /**
   * Every (chain, asset) the quote accepts, the first being `chainId`/`token`/`amount` above; one
   * offer covered pays the quote. Absent on quotes issued before offers (they accept only the above).
   */
  offers: z.array(quoteOfferSchema).min(1).optional(),
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

/**
 * The renewal of a listing was quoted: like an upload's quote (its own deposit address, paid through
 * the same watcher and ledger), but nothing is uploaded or encoded. `uploadId` is the renewal's own
 * id (the quote id and CREATE2 salt), under which the lifecycle and the status stream know it.
 */
export const renewalQuotedSchema = z.object({
  uploadId: uploadIdSchema,
  purpose: z.literal('renewal'),
  /** The listing it renews. */
  listingId: uploadIdSchema,
  owner: addressSchema,
  quote: quoteSchema,
  /** Days the listing runs longer once paid (LISTING_DAYS when quoted). */
  days: z.number().int().positive(),
  receivedAt: z.iso.datetime(),
});

/** A transaction hash the client says pays its upload: a hint that makes the watcher look at once. */
export const paymentSubmittedSchema = z.object({
  uploadId: uploadIdSchema,
  txHash: txHashSchema,
  /** How many times this hash has been submitted for this upload: a re-submission is a new job, never a no-op. */
  round: z.number().int().positive().default(1),
  /** The chain of the offer the client paid (one of the quote's offers); absent (an older client): the quote's own chain. */
  chainId: z.number().int().positive().optional(),
});

/**
 * How a credit stands against its quote, as judged when it was seen at the confirmation threshold:
 * `partial` (the quote is not covered yet), `paid` (it covers the quote exactly), `overpaid` (more than
 * the quote: the excess is due back), `late` (arrived after the quote expired: due back), `unmatched`
 * (sent to the plain merchant address, no quote: due back).
 */
export const creditStatusSchema = z.enum(['partial', 'paid', 'overpaid', 'late', 'unmatched']);

/** A transfer the chain shows (a top-level transaction or a token Transfer log) inside a credited range. */
export const creditTransferSchema = z.object({
  txHash: txHashSchema,
  /** The token Transfer log's index; null for a native transfer. */
  logIndex: z.number().int().nonnegative().nullable(),
  from: addressSchema,
  amount: amountSchema,
});

/**
 * The payment that covered an upload's quote: what its deposit address had received (balance plus
 * what was swept) at the confirmed block where the quote was first covered.
 */
export const paymentSchema = z.object({
  chainId: z.number().int().positive(),
  /** The quote's deposit address. */
  address: addressSchema,
  /** null for the chain's native coin, else the ERC-20 contract. */
  token: addressSchema.nullable(),
  /** Everything received at the address by `blockNumber`, in base units. */
  amount: amountSchema,
  blockNumber: amountSchema,
  blockTime: z.iso.datetime(),
  status: z.enum(['paid', 'overpaid']),
  /** Transactions seen paying it where the chain shows them; empty when it came by internal calls only. */
  txHashes: z.array(txHashSchema),
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
export const previewEarlySchema = paymentConfirmedSchema.extend({
  preview: stagedPreviewSchema,
  poster: stagedPosterSchema,
  /**
   * Set when both were cut while the person paid and are already stored under these private keys:
   * the uploader copies them to the listing's keys in S3 instead of uploading the staged files.
   */
  speculative: z.object({ preview: z.string().min(1), poster: z.string().min(1) }).optional(),
});

/**
 * One part of a chunked encode (a long video): a run of the output's frames encoded to video alone,
 * or the whole audio track, encoded once. Any transcoder replica that is free takes it.
 */
export const chunkPartSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('video'),
    /** 0-based position of the chunk in the video. */
    index: z.number().int().nonnegative(),
    /** First output frame of the chunk. */
    startFrame: z.number().int().nonnegative(),
    /** Frames in the chunk; absent for the last one, which runs to the end of the source. */
    frames: z.number().int().positive().optional(),
    /** The ladder rung (its name, the short side) this chunk is encoded for; absent for a single-rendition encode. */
    rung: z.number().int().positive().optional(),
    /**
     * The ladder rungs this chunk is encoded for in one ffmpeg run, one decode of the source shared
     * by all (the rungs above the lowest); each rung's chunk is written to its own staged path.
     */
    rungs: z.array(z.number().int().positive()).min(1).optional(),
    /** Where the speculative encode of the same plan writes this chunk: taken from there (hard link) when it is whole, encoded otherwise. */
    takeFrom: stagedPathSchema.optional(),
    /**
     * More chunks of the same rung this job encodes beside `index`, each in its own ffmpeg run with
     * an equal share of the replica's threads (the lowest rung: its small frames leave libvpx one
     * tile, so chunks side by side fill the cores where threads within one run do not).
     */
    alongside: z
      .array(
        z.object({
          index: z.number().int().nonnegative(),
          startFrame: z.number().int().nonnegative(),
          frames: z.number().int().positive().optional(),
          takeFrom: stagedPathSchema.optional(),
        }),
      )
      .optional(),
  }),
  z.object({
    kind: z.literal('audio'),
    /** Where the speculative encode of the same plan writes the audio track: taken from there when it is whole. */
    takeFrom: stagedPathSchema.optional(),
  }),
]);

/** One rung of a rendition ladder: its name (the short side cap, `240` for 240p), its output size, bitrate and encoder effort. */
export const ladderRungSchema = z.object({
  name: z.number().int().positive(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  bitrateKbps: z.number().int().positive(),
  /** libvpx settings of this rung (lower rungs encode faster). */
  speed: z.object({ deadline: z.enum(['good', 'realtime', 'best']).optional(), cpuUsed: z.number().int().optional() }).optional(),
  /** Its chunks decode the source without its deblocking filter: the lowest rung, at most a third of the source's size (docs/codecs.md). */
  skipLoopFilter: z.boolean().optional(),
});

/** What every part of one chunked encode shares: the plan the parts were cut from. */
export const chunkedEncodeSchema = z.object({
  /** Output frame rate the frame numbers count in. */
  fps: z.number().positive(),
  /** Video chunks in the plan. */
  chunks: z.number().int().positive(),
  /** Frames the plan expects in total (from the source's duration; the last chunk may differ by a frame). */
  totalFrames: z.number().int().positive(),
  /** First frame of every chunk, in order (chunks differ in length: progress weighs each by its frames). Absent from jobs planned before it existed: chunks then weigh the same. */
  starts: z.array(z.number().int().nonnegative()).optional(),
  /** Output frame size (the same for every chunk). */
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** The encode's time limit per chunk, scaled to the chunk's work. */
  chunkTimeoutSeconds: z.number().positive(),
  /** The rendition ladder, lowest rung first: every chunk is encoded once per rung. Absent: one rendition at width x height. */
  ladder: z.array(ladderRungSchema).min(1).optional(),
});

/** A chunk job: the paid upload (so a give-up records its payment), the plan and its part. */
export const videoChunkSchema = paymentConfirmedSchema.extend({ chunked: chunkedEncodeSchema, part: chunkPartSchema });

/** The parent of a chunked encode: joins the parts once every child is done, then the chain goes on. */
export const videoAssembleSchema = paymentConfirmedSchema.extend({
  chunked: chunkedEncodeSchema,
  /** The preview and poster already cut from the source. */
  preview: stagedPreviewSchema.optional(),
  poster: stagedPosterSchema.optional(),
});

/** A rung of the ladder joined from its chunks (transcoder): its DASH file and the manifest of the rungs up to it. */
export const renditionJoinSchema = paymentConfirmedSchema.extend({ chunked: chunkedEncodeSchema, rung: z.number().int().positive() });

/**
 * A joined rung put in object storage (uploader) with the manifest that lists it and every rung
 * below (and the audio, with the lowest rung): the full video plays from the lowest rung on.
 */
export const renditionStoreSchema = paymentConfirmedSchema.extend({
  rung: ladderRungSchema,
  /** The rung's staged DASH file. */
  video: stagedPathSchema,
  /** The staged DASH audio file, stored with the lowest rung. */
  audio: stagedPathSchema.optional(),
  /** The staged manifest of the rungs up to this one. */
  manifest: stagedPathSchema,
  /** The lowest rung (and audio) encoded while the person paid, at private keys: published by a copy inside S3 instead of a put. */
  copy: z.object({ video: z.string().min(1), audio: z.string().min(1).optional() }).optional(),
});

/** A rendition as stored and listed: what `listings.renditions` keeps. */
export const renditionSchema = z.object({ width: z.number().int().positive(), height: z.number().int().positive(), bitrateKbps: z.number().int().positive() });

export const videoTranscodedSchema = paymentConfirmedSchema.extend({
  /** The DASH ladder, already in object storage: its manifest's key and its rungs, lowest first. Absent for a single-rendition encode. */
  stream: z.object({ manifestKey: z.string().min(1), renditions: z.array(renditionSchema).min(1) }).optional(),
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

/** A storyboard in the staging directory: its folder and the files in it (the WebVTT index first, then the sprite sheets). */
export const stagedStoryboardSchema = z.object({
  dir: stagedPathSchema,
  files: z.array(z.string().regex(/^(storyboard\.vtt|sprite-\d+\.jpg)$/, 'a storyboard file is storyboard.vtt or sprite-<n>.jpg')).min(2),
});

export const previewExtractedSchema = videoTranscodedSchema.extend({
  preview: stagedPreviewSchema,
  poster: stagedPosterSchema,
  /** Thumbnails for scrubbing; absent when none was made (turned off, or a job from before storyboards). */
  storyboard: stagedStoryboardSchema.optional(),
});

export const assetsStoredSchema = previewExtractedSchema.extend({
  objects: z.object({
    video: z.string().min(1),
    preview: z.string().min(1),
    poster: z.string().min(1),
    logo: z.string().min(1).optional(),
    /** The storyboard's WebVTT index; its sprite sheets are beside it. */
    storyboard: z.string().min(1).optional(),
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
 * A credit seen at the confirmation threshold, on its way to the Postgres ledger (profile-writer).
 * `deposit`: what a quote's deposit address has received in all (`totalReceived`, balance plus swept)
 * at `toBlock`; the writer records the increase over what it already holds, so the same observation
 * twice, or an older one after a newer one, records nothing more. `merchant`: one transfer to the
 * plain merchant address (no quote), recorded `unmatched` for refund. `closed`: the quote ended
 * without being covered (expired): its partial credits are due back. `reversed`: a reorg deeper than
 * the confirmations took money back off the address: what the ledger credited above `totalReceived`
 * is `reversed`, and the listing it paid is held from the public until the money is back.
 * `merchant_reversed`: the same for a transfer to the plain merchant address: nothing is due back.
 */
export const paymentCreditedSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('deposit'),
    uploadId: uploadIdSchema,
    owner: addressSchema,
    chainId: z.number().int().positive(),
    address: addressSchema,
    token: addressSchema.nullable(),
    quoteAmount: amountSchema,
    totalReceived: amountSchema,
    /** The blocks the increase arrived in (fromBlock..toBlock): one block unless the watcher caught up. */
    fromBlock: amountSchema,
    toBlock: amountSchema,
    blockTime: z.iso.datetime(),
    /** Transfers the chain shows into the address in that range; empty for internal transfers. */
    transfers: z.array(creditTransferSchema),
    status: creditStatusSchema,
    /** Reversals the address has seen before this credit: the same total credited again after a reorg is a new observation. */
    epoch: z.number().int().nonnegative().optional(),
  }),
  z.object({
    kind: z.literal('reversed'),
    uploadId: uploadIdSchema,
    owner: addressSchema,
    chainId: z.number().int().positive(),
    address: addressSchema,
    token: addressSchema.nullable(),
    /** What the address has received in all on the chain as it is now (lower than what was credited). */
    totalReceived: amountSchema,
    /** What had been credited before the reorg. */
    creditedBefore: amountSchema,
    /** The blocks the reorg replaced: the first after the common ancestor to the last the watcher had read. */
    fromBlock: amountSchema,
    toBlock: amountSchema,
    /** The address's reversal count, this one included: keys the job, and the credits after it. */
    epoch: z.number().int().positive(),
  }),
  z.object({
    kind: z.literal('merchant'),
    chainId: z.number().int().positive(),
    address: addressSchema,
    token: addressSchema.nullable(),
    transfer: creditTransferSchema,
    blockNumber: amountSchema,
    blockTime: z.iso.datetime(),
    /** Reversals the transfer has seen before: the same transfer mined again after a reorg is a new observation. */
    epoch: z.number().int().nonnegative().optional(),
  }),
  z.object({
    kind: z.literal('merchant_reversed'),
    chainId: z.number().int().positive(),
    address: addressSchema,
    token: addressSchema.nullable(),
    transfer: creditTransferSchema,
    /** The block it had been seen in. */
    blockNumber: amountSchema,
    /** The blocks the reorg replaced. */
    fromBlock: amountSchema,
    toBlock: amountSchema,
    /** The transfer's reversal count, this one included. */
    epoch: z.number().int().positive(),
  }),
  z.object({
    kind: z.literal('closed'),
    uploadId: uploadIdSchema,
    chainId: z.number().int().positive(),
    address: addressSchema,
    outcome: z.literal('expired'),
  }),
]);

/** The delayed job that ends an unpaid upload at its quote's expiry. */
export const uploadExpireSchema = z.object({ uploadId: uploadIdSchema });

export type ListingForm = z.infer<typeof listingFormSchema>;
export type Quote = z.infer<typeof quoteSchema>;
export type QuoteOffer = z.infer<typeof quoteOfferSchema>;
export type UploadReceived = z.infer<typeof uploadReceivedSchema>;
export type RenewalQuoted = z.infer<typeof renewalQuotedSchema>;
export type Price = z.infer<typeof priceSchema>;
export type PaymentSubmitted = z.infer<typeof paymentSubmittedSchema>;
export type Payment = z.infer<typeof paymentSchema>;
export type CreditStatus = z.infer<typeof creditStatusSchema>;
export type CreditTransfer = z.infer<typeof creditTransferSchema>;
export type PaymentConfirmed = z.infer<typeof paymentConfirmedSchema>;
export type PreviewEarly = z.infer<typeof previewEarlySchema>;
export type VideoTranscoded = z.infer<typeof videoTranscodedSchema>;
export type ChunkPart = z.infer<typeof chunkPartSchema>;
export type ChunkedEncode = z.infer<typeof chunkedEncodeSchema>;
export type VideoChunk = z.infer<typeof videoChunkSchema>;
export type VideoAssemble = z.infer<typeof videoAssembleSchema>;
export type LadderRung = z.infer<typeof ladderRungSchema>;
export type RenditionJoin = z.infer<typeof renditionJoinSchema>;
export type RenditionStore = z.infer<typeof renditionStoreSchema>;
export type PreviewExtracted = z.infer<typeof previewExtractedSchema>;
export type AssetsStored = z.infer<typeof assetsStoredSchema>;
export type UploadFailed = z.infer<typeof uploadFailedSchema>;
export type UploadExpire = z.infer<typeof uploadExpireSchema>;
export type PaymentCredited = z.infer<typeof paymentCreditedSchema>;

/** What a push message carries to the person's browser (contracts/notifications.ts builds it). */
export const pushMessageSchema = z.object({
  title: z.string(),
  body: z.string(),
  url: z.string(),
  tag: z.string(),
  event: z.string(),
  seq: z.number().int().nonnegative(),
});
/** One push message to one browser subscription (`notify.push`). */
export const pushJobSchema = z.object({ subscriptionId: z.uuid(), uploadId: uploadIdSchema, message: pushMessageSchema });
/** One webhook delivery (`notify.webhook`); the delivery row in Postgres holds the body and the endpoint. */
export const webhookJobSchema = z.object({
  deliveryId: z.uuid(),
  /** Set on an admin's replay: each request is a job of its own for the same delivery. */
  replayRequestedAt: z.number().int().positive().optional(),
  /** Failed sends of this job so far (its own retry count, kept in the job across delays). */
  tries: z.number().int().nonnegative().optional(),
  /** Times this job waited behind an earlier event of the same upload (its wait grows). */
  orderingWaits: z.number().int().nonnegative().optional(),
});
/**
 * A maintenance run: the scheduler's jobs carry nothing (the run reads what is due); a run added by
 * hand (Bus.publish) carries when it was asked for, one job per request.
 */
export const scheduledRunSchema = z.object({ requestedAt: z.number().int().positive().optional() }).strict();

/** A listing just approved, to match against buyers' saved searches (`notify.saved-searches`). */
export const savedSearchJobSchema = z.object({ listingId: uploadIdSchema });

export type PushJob = z.infer<typeof pushJobSchema>;
export type SavedSearchJob = z.infer<typeof savedSearchJobSchema>;
export type WebhookJob = z.infer<typeof webhookJobSchema>;
