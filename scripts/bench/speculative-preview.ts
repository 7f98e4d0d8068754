/**
 * The preview cut while the person pays: first playable after `payment.confirmed` with the
 * speculative cut against without it, and what the cut costs for an upload that is never paid.
 * Real Redis (BullMQ queues, the lifecycle), s3rver and ffmpeg; the transcoder's and the uploader's
 * handlers on real workers (payment.confirmed, preview.early, preview.speculative), a 60 s 1080p
 * source. First playable is from publishing `payment.confirmed` until both listing objects answer
 * HEAD (polled every 20 ms), as a browse page would find them. The paid handler stops once it has
 * handed on preview.early: the full transcode after it is the same either way (first-playable part).
 * Rounds alternate with and without, so both meet the same load.
 *
 *   node --import tsx scripts/bench/speculative-preview.ts
 *   BENCH_SPECULATIVE_SECONDS=20 BENCH_SPECULATIVE_ROUNDS=2 node --import tsx scripts/bench/speculative-preview.ts
 */
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis, type StageContext } from '@reelboard/bus';
import { loadConfig } from '@reelboard/config';
import { stagedSpeculativePaths, type UploadReceived } from '@reelboard/contracts';
import { createBus, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { listingKeys, s3EnvSchema, storageFromEnv } from '@reelboard/storage';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { receivedUpload } from '@reelboard/testkit/uploads';
import { binariesFrom, createMediaAdapter, mediaBinariesSchema } from '../../packages/media/src/index.js';
import { handlePaymentConfirmed, type TranscodeSettings } from '../../services/transcoder/src/handle-payment-confirmed.js';
import { handlePreviewSpeculative } from '../../services/transcoder/src/handle-preview-speculative.js';
import { handlePreviewEarly } from '../../services/uploader/src/handle-preview-early.js';
import { makeRealisticClip, round } from './lib/chain-run.js';
import { writeReport } from './lib/report.js';

const CLIP_SECONDS = Number(process.env.BENCH_SPECULATIVE_SECONDS ?? 60);
const ROUNDS = Number(process.env.BENCH_SPECULATIVE_ROUNDS ?? 3);
const POLL_MS = 20;
/** The first-playable part's last figure (2026-12-02, 60 s 1080p, the cut after payment on the real stack). */
const FIRST_PLAYABLE_BEFORE = 4.8;
const env = { ...infraEnv(), ...process.env } as Record<string, string>;
const BINARIES = binariesFrom(loadConfig(mediaBinariesSchema));

const settings = (staging: string): TranscodeSettings => ({
  STAGING_DIR: staging,
  FFMPEG_THREADS: 2,
  MAX_OUTPUT_HEIGHT: 2160,
  MAX_DURATION_SECONDS: 600,
  MAX_SOURCE_SIDE: 7680,
  PROGRESS_INTERVAL_MS: 1_000,
  PREVIEW_SECONDS: 5,
  PREVIEW_MAX_HEIGHT: 480,
  FFMPEG_TIMEOUT_SECONDS: 600,
  ENCODE_MIN_MEGAPIXELS_PER_SECOND: 4,
  CHUNK_THRESHOLD_SECONDS: 90,
  CHUNK_SECONDS: 10,
});

/** CPU seconds this process's finished children (ffmpeg) used: /proc/self/stat cutime + cstime, in clock ticks. */
async function childCpuSeconds(): Promise<number> {
  const fields = (await readFile('/proc/self/stat', 'utf8')).split(') ')[1]?.split(' ') ?? [];
  // After the command name: field 16 (cutime) and 17 (cstime) are at 13 and 14 here; USER_HZ is 100 on Linux.
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

/** Stops the paid handler once it handed on the preview: what follows is the full transcode. */
class PreviewHandedOn extends Error {}

async function main(): Promise<void> {
  const staging = await mkdtemp(join(tmpdir(), 'reelboard-bench-speculative-'));
  const redis = connectRedis(env.REDIS_URL ?? '', 'bench-speculative');
  const prefix = `bench-speculative-${randomUUID().slice(0, 8)}`;
  const log = createLogger('bench-speculative', 'error');
  const bus = createBus(redis, prefix, 'bench', log);
  const uploads = new Uploads(redis, prefix, bus.status);
  const storage = storageFromEnv(s3EnvSchema.parse({ ...env, S3_BUCKET: env.TEST_S3_BUCKET ?? env.S3_BUCKET, S3_FORCE_PATH_STYLE: 'true' }));
  await storage.ensureBucket();
  const media = createMediaAdapter({ ...BINARIES, niceness: 5 });
  const config = settings(staging);
  try {
    const source = join(staging, 'clip.mp4');
    await makeRealisticClip(source, { width: 1920, height: 1080, seconds: CLIP_SECONDS });
    const sourceBytes = (await stat(source)).size;

    const speculativeDone = new Map<string, Awaited<ReturnType<typeof handlePreviewSpeculative>>>();
    bus.consume(
      'preview.speculative',
      async (upload, context) => {
        const outcome = await handlePreviewSpeculative({ media, storage, stateOf: (id) => uploads.state(id) }, config, upload, context);
        speculativeDone.set(upload.uploadId, outcome);
        return outcome;
      },
      { concurrency: 1 },
    );
    bus.consume(
      'payment.confirmed',
      async (upload, context) => {
        const stopAfterPreview: StageContext = {
          ...context,
          emit: async (channel, payload) => {
            await context.emit(channel, payload);
            if (channel === 'preview.early') throw new PreviewHandedOn();
          },
        };
        await handlePaymentConfirmed(media, config, upload, stopAfterPreview).catch((error: unknown) => {
          if (!(error instanceof PreviewHandedOn)) throw error;
        });
      },
      { concurrency: 1 },
    );
    bus.consume('preview.early', (upload, context) => handlePreviewEarly(storage, staging, upload, context), { concurrency: 2 });

    const accept = async (): Promise<UploadReceived> => {
      const upload = receivedUpload(randomUUID(), { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
      upload.staged.sourceBytes = sourceBytes;
      await mkdir(join(staging, upload.uploadId), { recursive: true });
      await copyFile(source, join(staging, upload.staged.source));
      await uploads.register(upload, 'bench');
      return upload;
    };
    const payAndTime = async (upload: UploadReceived): Promise<number> => {
      await uploads.pay(
        upload.uploadId,
        {
          chainId: 31337,
          address: upload.quote.to,
          token: null,
          amount: '1',
          blockNumber: '1',
          blockTime: new Date().toISOString(),
          status: 'paid',
          txHashes: [],
        },
        'bench',
      );
      const keys = listingKeys(upload.uploadId);
      const started = performance.now();
      await bus.publish('payment.confirmed', { ...upload, payment: (await uploads.payment(upload.uploadId))! });
      for (;;) {
        const [preview, poster] = await Promise.all([storage.head(keys.preview), storage.head(keys.poster)]);
        if (preview && poster) return round((performance.now() - started) / 1000, 3);
        if (performance.now() - started > 120_000) throw new Error(`no preview for ${upload.uploadId} after 120 s`);
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    };

    const withSpeculative: Array<{ firstPlayable: number; cpuSeconds: number; wallSeconds: number; storedBytes: number; stagedBytes: number }> = [];
    const without: number[] = [];
    const loadBefore = round(loadavg()[0] ?? 0, 1);
    for (let index = 0; index < ROUNDS; index++) {
      const order = index % 2 === 0 ? (['with', 'without'] as const) : (['without', 'with'] as const);
      for (const mode of order) {
        const upload = await accept();
        if (mode === 'without') {
          without.push(await payAndTime(upload));
          continue;
        }
        // The cut while unpaid: its CPU (ffmpeg's, as children of this process) and what it stores.
        const cpuBefore = await childCpuSeconds();
        await bus.publish('preview.speculative', upload);
        while (!speculativeDone.has(upload.uploadId)) await new Promise((resolve) => setTimeout(resolve, 50));
        const outcome = speculativeDone.get(upload.uploadId);
        if (outcome?.outcome !== 'stored') throw new Error(`speculative cut ${JSON.stringify(outcome)}`);
        const cpuSeconds = round((await childCpuSeconds()) - cpuBefore);
        const paths = stagedSpeculativePaths(upload.uploadId);
        const stagedBytes = (await Promise.all([paths.preview, paths.poster, paths.cut].map(async (path) => (await stat(join(staging, path))).size))).reduce(
          (sum, size) => sum + size,
          0,
        );
        const firstPlayable = await payAndTime(upload);
        withSpeculative.push({ firstPlayable, cpuSeconds, wallSeconds: round(outcome.wallSeconds), storedBytes: outcome.bytes, stagedBytes });
      }
    }
    const loadAfter = round(loadavg()[0] ?? 0, 1);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
    const med = {
      with: median(withSpeculative.map((run) => run.firstPlayable)),
      without: median(without),
      cpu: median(withSpeculative.map((run) => run.cpuSeconds)),
      wall: median(withSpeculative.map((run) => run.wallSeconds)),
      stored: median(withSpeculative.map((run) => run.storedBytes)),
      staged: median(withSpeculative.map((run) => run.stagedBytes)),
    };
    const met = med.with <= 1;
    const kB = (bytes: number) => `${round(bytes / 1000, 1)} kB`;
    const rows = withSpeculative.map(
      (run, index) =>
        `| ${index + 1} | ${run.firstPlayable.toFixed(3)} s | ${without[index]?.toFixed(3) ?? '-'} s | ${run.cpuSeconds} s | ${run.wallSeconds} s | ${kB(run.storedBytes)} | ${kB(run.stagedBytes)} |`,
    );
    writeReport({
      part: 'speculative-preview',
      title: 'First playable with the preview cut while the person pays',
      headline: `First playable ${med.with.toFixed(2)} s after payment.confirmed with the preview cut while paying (goal <= 1 s: ${met ? 'met' : 'missed'}), ${med.without.toFixed(2)} s without; an upload never paid costs ${med.cpu} CPU s and ${kB(med.stored)} in S3 (${CLIP_SECONDS} s 1080p, medians of ${ROUNDS})`,
      command: [
        ...(CLIP_SECONDS === 60 ? [] : [`BENCH_SPECULATIVE_SECONDS=${CLIP_SECONDS}`]),
        ...(ROUNDS === 3 ? [] : [`BENCH_SPECULATIVE_ROUNDS=${ROUNDS}`]),
        'node --import tsx scripts/bench/speculative-preview.ts',
      ].join(' '),
      markdown: `
The cut reads the source's first \`PREVIEW_SECONDS\` (and the poster's window inside them), so its cost and both
first-playable figures do not grow with the source's length. A ${CLIP_SECONDS} s 1080p30 H.264 source (${round(sourceBytes / 1e6, 1)} MB; grain, 35-60 Mbit/s), \`PREVIEW_SECONDS\` 5,
\`PREVIEW_MAX_HEIGHT\` 480, \`FFMPEG_THREADS\` 2, ffmpeg niceness 5; real Redis (BullMQ), s3rver and ffmpeg, the
transcoder's and uploader's handlers on real workers. First playable: from publishing \`payment.confirmed\` until both
listing objects answer HEAD (polled every ${POLL_MS} ms). Rounds alternate the two modes. 1-minute load average ${loadBefore}
before, ${loadAfter} after (the machine is shared).

| round | first playable, cut while paying | first playable, cut after payment | speculative cut: CPU | its wall time | stored in S3 (private) | staged |
|---|---|---|---|---|---|---|
${rows.join('\n')}
| **median** | **${med.with.toFixed(3)} s** | **${med.without.toFixed(3)} s** | **${med.cpu} s** | ${med.wall} s | ${kB(med.stored)} | ${kB(med.staged)} |

- **With the cut while paying**, first playable is the paid job reaching a transcoder, reading the cut's record,
  \`preview.early\` to the uploader and two CopyObject requests inside S3: ${med.with.toFixed(2)} s, the goal of at most
  1 s ${met ? 'met' : 'missed'}. Without it, the preview and poster are cut after the payment, as before: ${med.without.toFixed(2)} s
  here (the first-playable part measured ${FIRST_PLAYABLE_BEFORE} s on the whole stack).
- **An upload never paid** costs one cut: ${med.cpu} CPU s of ffmpeg (${med.wall} s wall on ${config.FFMPEG_THREADS} threads), ${kB(med.stored)}
  stored under \`private/speculative/<id>/\` (2 PUTs, later 2 DELETEs by the staging cleanup) and ${kB(med.staged)} staged until
  the cleanup removes its folder. The unpaid-staging limits (\`STAGING_MAX_UNPAID_UPLOADS_PER_WALLET\`, 3) bound how many such
  cuts one wallet causes, and \`SPECULATIVE_CONCURRENCY\` (1 a replica) how much CPU they take at once, apart from paid work.
- Measured at the handlers, not through the gateway and the payment-watcher: the time from the chain's confirmation to
  \`payment.confirmed\` is the same in both modes (payment-latency part).
- Not measured here: the lowest rung encoded while paying (the stream-ladder work; the seam is the same
  \`preview.speculative\` job and \`cut.json\` record).
`,
      data: { clipSeconds: CLIP_SECONDS, sourceBytes, rounds: ROUNDS, withSpeculative, without, median: med, loadBefore, loadAfter },
    });
  } finally {
    await bus.close(1_000);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    storage.close();
    await rm(staging, { recursive: true, force: true });
  }
}

await main();
