/**
 * The rendition ladder after payment: one paid 60 s 1080p upload through the six services with one
 * transcoder replica. "Full video playable" is the time from the `payment.confirmed` status event
 * until the DASH manifest (the lowest rung and the audio) answers a HEAD in S3; each rung's
 * `rendition.ready` follows, then the listing is saved. The CPU the transcoder's ffmpeg runs used
 * for the whole upload (preview cut, every rung, joins, manifests, the progressive remux) is set
 * against one single 1080p encode of the same source (the encode before the ladder), and each
 * rung's SSIM is measured against the source scaled to the rung (ffmpeg's ssim filter).
 *
 * The same run then pays more uploads of the same clip after a delay a wallet typically takes
 * (BENCH_LADDER_PAY_DELAYS, seconds after the upload is accepted): full video playable with the
 * lowest rung encoded while the person paid (SPECULATIVE_RUNG) when it was ready, and how often it
 * was; and one upload never paid, for what the speculative work (preview, poster, lowest rung)
 * costs in transcoder CPU and private S3 bytes.
 *
 *   node --import tsx scripts/bench/ladder.ts
 *   BENCH_LADDER_SECONDS=20 node --import tsx scripts/bench/ladder.ts   # a shorter clip (not comparable)
 *   BENCH_LADDER_PAY_DELAYS=10,20,40 node --import tsx scripts/bench/ladder.ts
 *   BENCH_LADDER_CHUNK_THRESHOLD_SECONDS=0 BENCH_LADDER_CHUNK_SECONDS=5 ...   # the transcoder's chunking (default: its own defaults)
 *
 * Per paid upload it also reads the transcoder's and uploader's logs: how many of the lowest rung's
 * chunks (and whether the audio) the paid path took from the speculative encode, and where the time
 * went from `payment.confirmed` to the manifest (each job's start and end, the payment job's steps).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '@reelboard/config';
import { dashKeys, s3EnvSchema, speculativeKeys, speculativeRungKeys, storageFromEnv } from '@reelboard/storage';
import { binariesFrom, createMediaAdapter, mediaBinariesSchema, planLadder } from '../../packages/media/src/index.js';
import { childCpuSecondsOf, makeLogo, makePhoneClip, makeRealisticClip, newSeller, payUpload, postListing, round, startBenchStack } from './lib/chain-run.js';
import { paidTimeline } from './lib/paid-timeline.js';
import { writeReport } from './lib/report.js';

const execFileAsync = promisify(execFile);
const CLIP_SECONDS = Number(process.env.BENCH_LADDER_SECONDS ?? 60);
/**
 * The source: `grain` (default), H.264 CRF 18 with film grain, 35-60 Mbit/s, a keyframe every few
 * seconds, harder to decode than any phone's file; `phone`, the same picture at a phone's 17 Mbit/s
 * with a keyframe a second (makePhoneClip). Each writes its own report (ladder, ladder-phone).
 */
const SOURCE = process.env.BENCH_LADDER_SOURCE ?? 'grain';
if (SOURCE !== 'grain' && SOURCE !== 'phone') throw new Error(`BENCH_LADDER_SOURCE must be grain or phone; got ${SOURCE}`);
const SOURCE_TEXT =
  SOURCE === 'phone'
    ? "H.264 at a phone's 17 Mbit/s, a keyframe a second (the grain clip re-encoded)"
    : 'H.264 CRF 18 with film grain, about 58 Mbit/s, harder to decode than a phone recording';
const POLL_MS = 100;
const SETTINGS = { FFMPEG_THREADS: 2, FFMPEG_NICENESS: 5 };
const BINARIES = binariesFrom(loadConfig(mediaBinariesSchema));
const GOALS = { fullPlayableSeconds: 20, cpuRatio: 1.6 };
/** Seconds between the upload's acceptance and its payment transaction: a wallet prompt, a signature, a network. */
const PAY_DELAYS = (process.env.BENCH_LADDER_PAY_DELAYS ?? '10,20,40')
  .split(',')
  .filter((value) => value.trim() !== '')
  .map(Number);
if (PAY_DELAYS.some((delay) => !Number.isFinite(delay) || delay < 0))
  throw new Error(`BENCH_LADDER_PAY_DELAYS must be seconds, comma-separated; got ${process.env.BENCH_LADDER_PAY_DELAYS}`);
/** The transcoder's chunking, when set: a clip under CHUNK_THRESHOLD_SECONDS (90 s by default) is one chunk per rung. */
const CHUNKING: Record<string, string> = {};
if (process.env.BENCH_LADDER_CHUNK_THRESHOLD_SECONDS) CHUNKING.CHUNK_THRESHOLD_SECONDS = process.env.BENCH_LADDER_CHUNK_THRESHOLD_SECONDS;
if (process.env.BENCH_LADDER_CHUNK_SECONDS) CHUNKING.CHUNK_SECONDS = process.env.BENCH_LADDER_CHUNK_SECONDS;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Mean SSIM (All) of `encoded` against `source` scaled to the encoded size, the way a viewer sees the rung. */
async function ssimAgainstSource(encoded: string, source: string, width: number, height: number): Promise<number> {
  const { stderr } = await execFileAsync(
    'nice',
    [
      '-n',
      '5',
      'ffmpeg',
      '-hide_banner',
      '-threads',
      '2',
      '-i',
      encoded,
      '-threads',
      '2',
      '-i',
      source,
      '-lavfi',
      // Both from 0: a file with Opus starts its video a few ms late (the audio's pre-skip), which
      // makes the filter pair frames by the wrong times (0.890 against 0.876 for the same frames).
      `[1:v]setpts=PTS-STARTPTS,scale=${width}:${height}:flags=bicubic,format=yuv420p[ref];[0:v]setpts=PTS-STARTPTS,format=yuv420p[enc];[enc][ref]ssim`,
      '-f',
      'null',
      '-',
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  const all = /SSIM .*All:([0-9.]+)/.exec(stderr)?.[1];
  if (!all) throw new Error(`no SSIM for ${encoded}: ${stderr.slice(-400)}`);
  return Number(all);
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'reelboard-bench-ladder-'));
  const bench = await startBenchStack({ FFMPEG_THREADS: String(SETTINGS.FFMPEG_THREADS), FFMPEG_NICENESS: String(SETTINGS.FFMPEG_NICENESS), ...CHUNKING });
  const env = bench.stack.env;
  const storage = storageFromEnv(s3EnvSchema.parse(env));
  try {
    const source = join(work, 'clip.mp4');
    const logo = join(work, 'logo.png');
    const makeClip = SOURCE === 'phone' ? makePhoneClip : makeRealisticClip;
    await Promise.all([makeClip(source, { width: 1920, height: 1080, seconds: CLIP_SECONDS }), makeLogo(logo)]);
    const transcoderPid = bench.stack.pidOf('transcoder');
    if (!transcoderPid) throw new Error('the transcoder is not running');

    /** One upload paid `delaySeconds` after it was accepted, followed until its listing is saved. */
    const paidRun = async (delaySeconds: number) => {
      const seller = await newSeller(bench);
      // From the upload on: the CPU of the speculative work counts towards this upload.
      const cpuBefore = childCpuSecondsOf(transcoderPid);
      const upload = await postListing(seller, source, logo);
      const loadAtStart = round(loadavg()[0] ?? 0, 1);
      await sleep(delaySeconds * 1000);
      await payUpload(bench, seller, upload);
      await bench.events.waitFor(upload.uploadId, 'payment.confirmed', 120_000);
      // Whether the paid path will find the lowest rung encoded while the person paid (its private object is stored before its record).
      const speculativeReady = (await storage.head(speculativeRungKeys(upload.uploadId).video)) !== undefined;
      const keys = dashKeys(upload.uploadId);
      let manifestAt = 0;
      for (;;) {
        if (await storage.head(keys.manifest)) {
          manifestAt = Date.now();
          break;
        }
        if (bench.events.names(upload.uploadId).some((name) => name === 'failed' || name === 'expired'))
          throw new Error(`upload ended ${bench.events.names(upload.uploadId).join(', ')}`);
        await sleep(POLL_MS);
      }
      await bench.events.waitFor(upload.uploadId, 'profile.saved', 60 * 60_000);
      const cpu = childCpuSecondsOf(transcoderPid) - cpuBefore;
      const paidAt = bench.events.at(upload.uploadId, 'payment.confirmed');
      const sincePaid = (at: number) => round((at - paidAt) / 1000);
      const readyEvents = (await bench.bus.status.history(upload.uploadId)).filter((event) => event.event === 'rendition.ready');
      const pipeline = {
        previewReady: sincePaid(bench.events.at(upload.uploadId, 'preview.ready')),
        fullPlayable: sincePaid(manifestAt),
        rungsReady: readyEvents.map((event) => ({ rung: event.rendition?.height ?? 0, seconds: sincePaid(Date.parse(event.at)) })),
        saved: sincePaid(bench.events.at(upload.uploadId, 'profile.saved')),
      };
      const timeline = await paidTimeline(upload.uploadId, paidAt, manifestAt);
      const taken = { chunks: timeline.chunksTaken, of: timeline.lowestChunks, audio: timeline.audioTaken };
      const run = { delaySeconds, speculativeReady, taken, cpu: round(cpu, 1), pipeline, loadAtStart, loadAtEnd: round(loadavg()[0] ?? 0, 1), timeline };
      process.stderr.write(`paid run: ${JSON.stringify({ ...run, timeline: undefined })}\n`);
      process.stderr.write(`timeline: ${JSON.stringify(timeline)}\n`);
      return { ...run, upload, keys };
    };

    // Paid at once (the payment's own confirmation is the only delay): the ladder as before, almost no speculation.
    const first = await paidRun(0);
    const { keys, pipeline, loadAtStart, loadAtEnd } = first;
    const ladderCpu = first.cpu;
    const rungsReady = pipeline.rungsReady;
    const delayed = [];
    for (const delay of PAY_DELAYS) delayed.push(await paidRun(delay));

    // Never paid: the speculative work alone, until its lowest rung is stored (or 5 minutes).
    const idle = await newSeller(bench);
    const unpaidCpuBefore = childCpuSecondsOf(transcoderPid);
    const unpaidStart = performance.now();
    const unpaid = await postListing(idle, source, logo);
    const privateKeys = [...Object.values(speculativeKeys(unpaid.uploadId)), ...Object.values(speculativeRungKeys(unpaid.uploadId))];
    while (!(await storage.head(speculativeRungKeys(unpaid.uploadId).video)) && performance.now() - unpaidStart < 300_000) await sleep(POLL_MS);
    // The record is written just after the objects; the job's last ffmpeg has exited by then.
    await sleep(1_000);
    const unpaidCost = {
      cpu: round(childCpuSecondsOf(transcoderPid) - unpaidCpuBefore, 1),
      wallSeconds: round((performance.now() - unpaidStart) / 1000, 1),
      privateBytes: (await Promise.all(privateKeys.map(async (key) => (await storage.head(key))?.bytes ?? 0))).reduce((sum, bytes) => sum + bytes, 0),
      objects: (await Promise.all(privateKeys.map((key) => storage.head(key)))).filter(Boolean).length,
    };
    process.stderr.write(`unpaid: ${JSON.stringify(unpaidCost)}\n`);
    process.stderr.write(`pipeline: ${JSON.stringify(pipeline)}\n`);

    // The rungs as stored, against the source.
    const media = createMediaAdapter({ ...BINARIES, niceness: SETTINGS.FFMPEG_NICENESS });
    const probed = await media.probe(source);
    if (!probed.video) throw new Error('the clip has no video');
    const rungs = [];
    for (const rung of planLadder(probed.video, 2160)) {
      const file = join(work, `video-${rung.name}p.webm`);
      await writeFile(file, await storage.getBytes(keys.rung(rung.name)));
      const info = await media.probe(file);
      const bytes = (await storage.head(keys.rung(rung.name)))?.bytes ?? 0;
      const ssim = await ssimAgainstSource(file, source, rung.width, rung.height);
      rungs.push({
        rung: rung.name,
        size: `${rung.width}x${rung.height}`,
        targetKbps: rung.bitrateKbps,
        actualKbps: Math.round((bytes * 8) / 1000 / info.durationSeconds),
        speed: `${rung.speed.deadline ?? 'good'}/cpu-used ${rung.speed.cpuUsed ?? '-'}`,
        ssim: round(ssim, 4),
      });
      process.stderr.write(`rung: ${JSON.stringify(rungs.at(-1))}\n`);
    }

    // The encode before the ladder: one 1080p VP9 + Opus file, the transcoder's settings.
    const singleBefore = childCpuSecondsOf('self');
    const singleStart = performance.now();
    await media.transcodeToVp9(source, join(work, 'single.webm'), { maxHeight: 2160, threads: SETTINGS.FFMPEG_THREADS, source: probed });
    const single = { cpu: round(childCpuSecondsOf('self') - singleBefore, 1), wall: round((performance.now() - singleStart) / 1000, 1) };
    const singleSsim = round(await ssimAgainstSource(join(work, 'single.webm'), source, 1920, 1080), 4);
    const ratio = round(ladderCpu / single.cpu, 2);
    process.stderr.write(`single: ${JSON.stringify({ ...single, singleSsim, ladderCpu, ratio })}\n`);

    const met = (ok: boolean) => (ok ? 'met' : 'missed');
    const reused = delayed.filter((run) => run.speculativeReady);
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
    const reusedPlayable = reused.length > 0 ? median(reused.map((run) => run.pipeline.fullPlayable)) : Number.NaN;
    const speculativeSummary =
      reused.length > 0
        ? `full video playable ${reusedPlayable} s after payment when the lowest rung was encoded while paying (ready in ${reused.length} of ${delayed.length} delayed payments)`
        : `the lowest rung encoded while paying was never ready (${delayed.length} delayed payments)`;
    // A whole rung ready is stored by copy (no chunk job at all); otherwise the chunks the speculative encode finished are taken.
    const takenText = (run: typeof first) =>
      run.speculativeReady ? 'whole rung (copy)' : `${run.taken.chunks} of ${run.taken.of}${run.taken.audio ? ' + audio' : ''}`;
    const partly = delayed.filter((run) => !run.speculativeReady && (run.taken.chunks > 0 || run.taken.audio));
    const timeline = first.timeline;
    const timelineMarkdown = `
### Where the time goes after \`payment.confirmed\` (the upload paid at once)

Each job of the upload that started before the lowest rung was stored, from the transcoder's and uploader's logs (seconds after
\`payment.confirmed\`; one replica, so a job waits for the one before). The payment job's own steps (ms from its start):
${Object.entries(timeline.paymentJobSteps)
  .map(([step, ms]) => `${step} ${ms}`)
  .join(
    ', ',
  )}. Lowest-rung chunk encodes on the paid path: ${timeline.chunkEncodeSeconds.map((seconds) => `${round(seconds, 2)} s`).join(', ') || 'none'}; taken from the speculative encode: ${takenText(first)}.

| job | start | end | seconds |
|---|---|---|---|
${timeline.jobs.map((job) => `| \`${job.job}\` | ${job.start} | ${job.end} | ${round(job.end - job.start, 2)} |`).join('\n')}
| **manifest stored (full video playable)** | | **${first.pipeline.fullPlayable}** | |
`;
    const kB = (bytes: number) => `${round(bytes / 1000, 1)} kB`;
    const speculativeMarkdown = `
### The lowest rung encoded while the person pays

The same clip paid ${PAY_DELAYS.join(', ')} s after its upload was accepted (a wallet prompt, a signature, two
confirmations), after the run above and one after the other, each followed until its listing was saved. "Ready" is
the lowest rung's private object in S3 when \`payment.confirmed\` arrived; then the paid path stores it by copy and
encodes only the higher rungs. Not ready, the lowest rung's chunks and the audio it had finished are taken (hard links after
the check a retried chunk gets) and only the rest is encoded: "its chunks taken". CPU: every ffmpeg run of the transcoder from the upload to the listing saved,
speculative work included.

| paid after | lowest rung ready at payment | its chunks taken by the paid path | full video playable | ratio to paid at once | first playable | listing saved | transcoder CPU s | load (1 min) |
|---|---|---|---|---|---|---|---|---|
| 0 s (the run above) | ${first.speculativeReady ? 'yes' : 'no'} | ${takenText(first)} | ${first.pipeline.fullPlayable} s | 1x | ${first.pipeline.previewReady} s | ${first.pipeline.saved} s | ${first.cpu} | ${first.loadAtStart} |
${delayed
  .map(
    (run) =>
      `| ${run.delaySeconds} s | ${run.speculativeReady ? 'yes' : 'no'} | ${takenText(run)} | ${run.pipeline.fullPlayable} s | ${round(run.pipeline.fullPlayable / first.pipeline.fullPlayable, 2)}x | ${run.pipeline.previewReady} s | ${run.pipeline.saved} s | ${run.cpu} | ${run.loadAtStart} |`,
  )
  .join('\n')}

- Ready in **${reused.length} of ${delayed.length}** delayed payments; partly done (some of its chunks or the audio taken by the paid path, the rest encoded there) in **${partly.length}**. ${reused.length > 0 ? `With it, the full video played ${reusedPlayable} s (median) after \`payment.confirmed\`, against ${first.pipeline.fullPlayable} s paid at once in this run (${round(reusedPlayable / first.pipeline.fullPlayable, 2)}x).` : ''}
- **An upload never paid** cost ${unpaidCost.cpu} CPU s of ffmpeg (preview, poster, lowest rung and audio; ${round(unpaidCost.cpu / ladderCpu, 2)}x the paid ladder's ${round(ladderCpu, 1)} CPU s in this run),
  ${unpaidCost.wallSeconds} s of its SPECULATIVE_CONCURRENCY slot, and ${kB(unpaidCost.privateBytes)} in ${unpaidCost.objects} private S3 objects under
  \`private/speculative/<id>/\` (deleted with its staging by the daily cleanup).
`;
    const playableMet = pipeline.fullPlayable <= GOALS.fullPlayableSeconds;
    const cpuMet = ratio <= GOALS.cpuRatio;
    const markdown = `
One paid ${CLIP_SECONDS} s 1080p30 upload (generated: moving fractal + pattern + grain; ${SOURCE_TEXT}; AAC) through the six
services, one transcoder replica (TRANSCODE_CONCURRENCY=1, FFMPEG_THREADS=${SETTINGS.FFMPEG_THREADS}, ${
      Object.keys(CHUNKING).length > 0
        ? Object.entries(CHUNKING)
            .map(([name, value]) => `${name}=${value}`)
            .join(', ')
        : `default chunking: a
${CLIP_SECONDS} s source is ${CLIP_SECONDS > 90 ? 'chunked' : 'one piece per rung'}`
    }); times from the \`payment.confirmed\` status event.
"Full video playable": the DASH manifest (lowest rung + audio) answers a HEAD in S3 (polled every ${POLL_MS} ms).
Load average (1 min): ${loadAtStart} when paid, ${loadAtEnd} when saved, on ${cpus().length} cores: the machine is shared,
so wall times are upper bounds; the CPU seconds are the work itself.

| After payment.confirmed | seconds |
|---|---|
| preview and poster stored (first playable) | ${pipeline.previewReady} |
| **full video playable (lowest rung stored, manifest listing it)** | **${pipeline.fullPlayable}** (goal <= ${GOALS.fullPlayableSeconds}: ${met(playableMet)}) |
${rungsReady.map((r) => `| \`rendition.ready\` ${r.rung}p | ${r.seconds} |`).join('\n')}
| listing saved (whole ladder stored, progressive fallback remuxed) | ${pipeline.saved} |

| Encode | CPU seconds | ratio |
|---|---|---|
| whole ladder (every ffmpeg run of the transcoder for this upload) | ${round(ladderCpu, 1)} | **${ratio}x** (goal <= ${GOALS.cpuRatio}: ${met(cpuMet)}) |
| single 1080p encode (before the ladder; wall ${single.wall} s, SSIM ${singleSsim}) | ${single.cpu} | 1x |

| Rung | size | target kbit/s | actual kbit/s | libvpx | SSIM vs source scaled |
|---|---|---|---|---|---|
${rungs.map((r) => `| ${r.rung}p | ${r.size} | ${r.targetKbps} | ${r.actualKbps} | ${r.speed} | ${r.ssim} |`).join('\n')}

${speculativeMarkdown}
${timelineMarkdown}
The ladder's CPU includes the preview cut, the lowest rung's chunks (their own decode of the source), the chunks of every
rung above it (one decode per chunk for all of them), the audio, the joins, the manifests and the remux of the progressive
fallback (stream copy: no second encode). The top rung is the single encode's settings; the rungs below it up to 720p are
libvpx realtime mode, cpu-used 6, at 15 % more bits (packages/media/src/ladder.ts, VP9_LADDER); docs/codecs.md has where
the CPU goes, rung by rung, and what each setting costs in SSIM.
`;
    writeReport({
      part: SOURCE === 'phone' ? 'ladder-phone' : 'ladder',
      title: 'Rendition ladder: full video playable after payment, ladder CPU, SSIM per rung',
      headline: `${CLIP_SECONDS} s 1080p (${SOURCE === 'phone' ? "a phone's 17 Mbit/s" : 'grain, 58 Mbit/s'}), one replica: full video playable ${pipeline.fullPlayable} s after payment (goal <= ${GOALS.fullPlayableSeconds}, ${met(playableMet)}); ${speculativeSummary}${partly.length > 0 ? `; partly encoded at payment in ${partly.length} (${partly.map((run) => `paid after ${run.delaySeconds} s: ${takenText(run)} taken, playable ${run.pipeline.fullPlayable} s`).join('; ')})` : ''}; an upload never paid costs ${unpaidCost.cpu} CPU s and ${kB(unpaidCost.privateBytes)} in S3; whole ladder ${ratio}x the single 1080p encode's CPU (goal <= ${GOALS.cpuRatio}, ${met(cpuMet)})`,
      command: `${SOURCE === 'grain' ? '' : `BENCH_LADDER_SOURCE=${SOURCE} `}${CLIP_SECONDS === 60 ? '' : `BENCH_LADDER_SECONDS=${CLIP_SECONDS} `}${Object.entries(
        CHUNKING,
      )
        .map(([name, value]) => `BENCH_LADDER_${name}=${value} `)
        .join(
          '',
        )}${process.env.BENCH_LADDER_PAY_DELAYS === undefined ? '' : `BENCH_LADDER_PAY_DELAYS=${PAY_DELAYS.join(',')} `}node --import tsx scripts/bench/ladder.ts`,
      markdown,
      data: {
        clipSeconds: CLIP_SECONDS,
        source: SOURCE,
        pipeline,
        ladderCpuSeconds: round(ladderCpu, 1),
        delayed: delayed.map(({ upload: _upload, keys: _keys, timeline: _timeline, ...run }) => run),
        paidAtOnce: { taken: first.taken, timeline: first.timeline },
        unpaidCost,
        single,
        singleSsim,
        ratio,
        rungs,
        load: { atStart: loadAtStart, atEnd: loadAtEnd },
      },
    });
  } finally {
    storage.close();
    await bench.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
