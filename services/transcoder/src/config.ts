import { commonSchema, env, internalPort, loadConfig, z } from '@reelboard/config';
import { mediaEnvSchema } from '@reelboard/media';
import { s3EnvSchema } from '@reelboard/storage';

// S3: the preview cut while the person pays is stored privately by the transcoder itself (no hop).
const commonWithStorage = commonSchema.extend(s3EnvSchema.shape);

export const transcoderSchema = commonWithStorage.extend(mediaEnvSchema.shape).extend({
  INTERNAL_PORT: internalPort(9082),
  TRANSCODE_CONCURRENCY: env.positiveInt(1).describe('Encodes this replica runs at once; it never takes more jobs than this.'),
  SPECULATIVE_CONCURRENCY: env
    .positiveInt(1)
    .describe(
      "Previews of unpaid uploads this replica cuts at once (the preview.speculative queue, apart from TRANSCODE_CONCURRENCY's: unpaid work never takes a paid job's slot).",
    ),
  SPECULATIVE_RUNG: env
    .boolean(true)
    .describe(
      "After an unpaid upload's speculative preview, encode the ladder's lowest rung too (in the same SPECULATIVE_CONCURRENCY slot, stored privately): paid after it finished, the full video plays at once. Abandoned when the payment confirms first; never kept for an unpaid upload beyond its staging.",
    ),
  MAX_OUTPUT_HEIGHT: env.positiveInt(2160).describe('Output is capped at this short side (2160 = 4K); never upscaled.'),
  MAX_DURATION_SECONDS: env.positiveInt(600).describe('Longer sources are refused.'),
  MAX_SOURCE_SIDE: env.positiveInt(7680).describe('Sources larger than this on their long side (before scaling) are refused; 7680 = 8K.'),
  ENCODE_MIN_MEGAPIXELS_PER_SECOND: z.coerce
    .number()
    .positive()
    .default(4)
    .describe(
      "The slowest encode a replica should sustain, in output megapixels per second (1080p at 2 fps is about 4); an encode's time limit is its frames x megapixels at this rate (at least FFMPEG_TIMEOUT_SECONDS).",
    ),
  CHUNK_THRESHOLD_SECONDS: z.coerce
    .number()
    .nonnegative()
    .default(90)
    .describe(
      'Sources longer than this are encoded in chunks that every free replica shares (a BullMQ flow); shorter ones in one piece. 0 chunks every video of at least 1.5 chunks.',
    ),
  STREAM_LADDER: env
    .boolean(true)
    .describe(
      'Encode the rendition ladder (VP9 rungs from the source size down to 240p, lowest first, published as a DASH manifest rung by rung, the progressive WebM remuxed from one rung); false: one VP9 rendition only, as before the ladder.',
    ),
  CHUNK_SECONDS: z.coerce.number().min(1).default(10).describe('About this much of the source per chunk; boundaries move to the nearest source keyframe.'),
  PROGRESS_INTERVAL_MS: z.coerce
    .number()
    .int()
    .positive()
    .max(2_000)
    .default(1_000)
    .describe('Time between two progress events of one encode; at most 2 s so a watcher always sees it alive.'),
});

export type TranscoderConfig = z.infer<typeof transcoderSchema>;
export const loadTranscoderConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(transcoderSchema, source);
