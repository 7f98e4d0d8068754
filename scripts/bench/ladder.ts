/**
 * The rendition ladder after payment: one paid 60 s 1080p upload through the six services with one
 * transcoder replica. "Full video playable" is the time from the `payment.confirmed` status event
 * until the DASH manifest (the lowest rung and the audio) answers a HEAD in S3; each rung's
 * `rendition.ready` follows, then the listing is saved. The CPU the transcoder's ffmpeg runs used
 * for the whole upload (preview cut, every rung, joins, manifests, the progressive remux) is set
 * against one single 1080p encode of the same source (the encode before the ladder), and each
 * rung's SSIM is measured against the source scaled to the rung (ffmpeg's ssim filter).
 *
 *   node --import tsx scripts/bench/ladder.ts
 *   BENCH_LADDER_SECONDS=20 node --import tsx scripts/bench/ladder.ts   # a shorter clip (not comparable)
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '@reelboard/config';
import { dashKeys, ObjectStorage } from '@reelboard/storage';
import { binariesFrom, createMediaAdapter, mediaBinariesSchema, planLadder } from '../../packages/media/src/index.js';
import { childCpuSecondsOf, makeLogo, makeRealisticClip, newSeller, payUpload, postListing, round, startBenchStack } from './lib/chain-run.js';
import { writeReport } from './lib/report.js';

const execFileAsync = promisify(execFile);
const CLIP_SECONDS = Number(process.env.BENCH_LADDER_SECONDS ?? 60);
const POLL_MS = 100;
const SETTINGS = { FFMPEG_THREADS: 2, FFMPEG_NICENESS: 5 };
const BINARIES = binariesFrom(loadConfig(mediaBinariesSchema));
const GOALS = { fullPlayableSeconds: 20, cpuRatio: 1.6 };

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
  const bench = await startBenchStack({ FFMPEG_THREADS: String(SETTINGS.FFMPEG_THREADS), FFMPEG_NICENESS: String(SETTINGS.FFMPEG_NICENESS) });
  const env = bench.stack.env;
  const storage = new ObjectStorage({
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION ?? 'us-east-1',
    bucket: env.S3_BUCKET ?? '',
    accessKeyId: env.S3_ACCESS_KEY_ID,
    secretAccessKey: env.S3_SECRET_ACCESS_KEY,
    forcePathStyle: true,
    partSizeBytes: 8 * 1024 * 1024,
    queueSize: 2,
  });
  try {
    const source = join(work, 'clip.mp4');
    const logo = join(work, 'logo.png');
    await Promise.all([makeRealisticClip(source, { width: 1920, height: 1080, seconds: CLIP_SECONDS }), makeLogo(logo)]);
    const transcoderPid = bench.stack.pidOf('transcoder');
    if (!transcoderPid) throw new Error('the transcoder is not running');

    const seller = await newSeller(bench);
    const upload = await postListing(seller, source, logo);
    const cpuBefore = childCpuSecondsOf(transcoderPid);
    const loadAtStart = round(loadavg()[0] ?? 0, 1);
    await payUpload(bench, seller, upload);
    await bench.events.waitFor(upload.uploadId, 'payment.confirmed', 120_000);
    const keys = dashKeys(upload.uploadId);
    let manifestAt = 0;
    for (;;) {
      if (await storage.head(keys.manifest)) {
        manifestAt = Date.now();
        break;
      }
      if (bench.events.names(upload.uploadId).some((name) => name === 'failed' || name === 'expired'))
        throw new Error(`upload ended ${bench.events.names(upload.uploadId).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    await bench.events.waitFor(upload.uploadId, 'profile.saved', 60 * 60_000);
    const ladderCpu = childCpuSecondsOf(transcoderPid) - cpuBefore;
    const loadAtEnd = round(loadavg()[0] ?? 0, 1);
    const paidAt = bench.events.at(upload.uploadId, 'payment.confirmed');
    const sincePaid = (at: number) => round((at - paidAt) / 1000);
    const readyEvents = (await bench.bus.status.history(upload.uploadId)).filter((event) => event.event === 'rendition.ready');
    const rungsReady = readyEvents.map((event) => ({ rung: event.rendition?.height ?? 0, seconds: sincePaid(Date.parse(event.at)) }));
    const pipeline = {
      previewReady: sincePaid(bench.events.at(upload.uploadId, 'preview.ready')),
      fullPlayable: sincePaid(manifestAt),
      rungsReady,
      saved: sincePaid(bench.events.at(upload.uploadId, 'profile.saved')),
    };
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
    const playableMet = pipeline.fullPlayable <= GOALS.fullPlayableSeconds;
    const cpuMet = ratio <= GOALS.cpuRatio;
    const markdown = `
One paid ${CLIP_SECONDS} s 1080p30 upload (generated: moving fractal + pattern + grain, H.264 CRF 18 + AAC) through the six
services, one transcoder replica (TRANSCODE_CONCURRENCY=1, FFMPEG_THREADS=${SETTINGS.FFMPEG_THREADS}, default chunking: a
${CLIP_SECONDS} s source is ${CLIP_SECONDS > 90 ? 'chunked' : 'one piece per rung'}); times from the \`payment.confirmed\` status event.
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

The ladder's CPU includes the preview cut, every rung's decode of the source (one per rung), the joins, the manifests and the
remux of the progressive fallback (stream copy: no second encode). The lower rungs use faster libvpx settings
(packages/media/src/ladder.ts, VP9_LADDER); docs/codecs.md says why.
`;
    writeReport({
      part: 'ladder',
      title: 'Rendition ladder: full video playable after payment, ladder CPU, SSIM per rung',
      headline: `${CLIP_SECONDS} s 1080p, one replica: full video playable ${pipeline.fullPlayable} s after payment (goal <= ${GOALS.fullPlayableSeconds}, ${met(playableMet)}); whole ladder ${ratio}x the single 1080p encode's CPU (goal <= ${GOALS.cpuRatio}, ${met(cpuMet)})`,
      command: `${CLIP_SECONDS === 60 ? '' : `BENCH_LADDER_SECONDS=${CLIP_SECONDS} `}node --import tsx scripts/bench/ladder.ts`,
      markdown,
      data: {
        clipSeconds: CLIP_SECONDS,
        pipeline,
        ladderCpuSeconds: round(ladderCpu, 1),
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
