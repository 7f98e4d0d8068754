/**
 * Media benchmark: the project's VP9 settings against libvpx's defaults at the same target
 * bitrate (speed, SSIM, PSNR, size), the bitrate ladder, the preview and poster cost, and
 * H.264 / H.265 / AV1 on the same sources. Sources are generated here with ffmpeg (a zooming
 * fractal blended with a moving, hue-cycling pattern plus film-grain noise: detail, motion and
 * noise, unlike a flat test pattern).
 *
 *   node --import tsx scripts/bench/media.ts
 *   BENCH_MEDIA_CODECS=0 node --import tsx scripts/bench/media.ts   # skip the other-codec table
 *
 * Speed is reported twice: wall-clock fps, and CPU seconds (user + sys of ffmpeg) per frame. On a
 * shared machine other processes steal wall time; CPU time is what a dedicated core would spend.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '@reelboard/config';
import {
  av1Codec,
  binariesFrom,
  bitrateForHeight,
  type CodecConfig,
  createMediaAdapter,
  h264Codec,
  hevcCodec,
  mediaBinariesSchema,
  vp9Codec,
} from '../../packages/media/src/index.js';
import { childCpuSecondsOf } from './lib/chain-run.js';
import { writeReport } from './lib/report.js';

const execFileAsync = promisify(execFile);
const THREADS = 2;
// No niceness and no time limit: the encodes are what is measured.
const media = createMediaAdapter(binariesFrom(loadConfig(mediaBinariesSchema)));
const withCodecs = process.env.BENCH_MEDIA_CODECS !== '0';

interface Source {
  label: string;
  width: number;
  height: number;
  seconds: number;
  path: string;
  frames: number;
  /** Bitrates (kbps) tried for the ladder, besides the ladder's own. */
  ladderProbe: number[];
}

interface Measured {
  label: string;
  source: string;
  kbps: number;
  wallSeconds: number;
  cpuSeconds: number;
  fps: number;
  bytes: number;
  ssim: number;
  psnr: number;
}

/** libvpx as ffmpeg configures it when given nothing but a codec and a bitrate. */
const libvpxDefaults: CodecConfig = {
  ...vp9Codec,
  name: 'libvpx-defaults',
  videoOptions: ({ bitrateKbps }) => ['-c:v', 'libvpx-vp9', '-pix_fmt', 'yuv420p', '-b:v', `${bitrateKbps}k`],
};

/** The issue's reference point: good, cpu-used 5, row-mt, 4 tile columns, 2 threads, nothing else. */
const issueReference: CodecConfig = {
  ...vp9Codec,
  name: 'reference-good5',
  videoOptions: ({ bitrateKbps, threads }) => [
    '-c:v',
    'libvpx-vp9',
    '-pix_fmt',
    'yuv420p',
    '-b:v',
    `${bitrateKbps}k`,
    '-deadline',
    'good',
    '-cpu-used',
    '5',
    '-row-mt',
    '1',
    '-tile-columns',
    '2',
    '-threads',
    String(threads),
  ],
};

/** The project's options with the realtime deadline, to show what it costs in quality. */
const realtime5: CodecConfig = {
  ...vp9Codec,
  name: 'project-realtime5',
  videoOptions: (params) => vp9Codec.videoOptions({ ...params, speed: { deadline: 'realtime', cpuUsed: 5, rowMt: true } }),
};

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; wallSeconds: number; cpuSeconds: number }> {
  const cpuBefore = childCpuSecondsOf('self');
  const started = performance.now();
  const result = await work();
  return { result, wallSeconds: (performance.now() - started) / 1000, cpuSeconds: childCpuSecondsOf('self') - cpuBefore };
}

async function generateSource(dir: string, label: string, width: number, height: number, seconds: number, ladderProbe: number[]): Promise<Source> {
  const path = join(dir, `${label}.mkv`);
  const graph = [
    `mandelbrot=s=${width}x${height}:r=30:end_scale=0.001[m]`,
    `testsrc2=s=${width}x${height}:r=30,hue=H=t[t]`,
    '[m][t]blend=all_mode=average,noise=alls=4:allf=t+u,format=yuv420p[v]',
  ].join(';');
  // H.264 at CRF 18 lands near what phones record (15-20 Mbit/s at 1080p30), so decoding the
  // upload costs what it costs in production.
  await execFileAsync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-filter_complex',
    graph,
    '-map',
    '[v]',
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-crf',
    '18',
    path,
  ]);
  return { label, width, height, seconds, path, frames: Math.round(seconds * 30), ladderProbe };
}

/** SSIM (All) and PSNR (average) of an encode against its source, frame n against frame n. */
async function quality(encoded: string, source: string): Promise<{ ssim: number; psnr: number }> {
  // Frame index as timestamp, in one shared time base: Matroska rounds times to 1 ms and MP4 does
  // not, so matching by timestamp would pair every third frame with its neighbour.
  const graph = '[0:v]settb=1/30,setpts=N,split[a1][a2];[1:v]settb=1/30,setpts=N,split[b1][b2];[a1][b1]ssim;[a2][b2]psnr';
  const { stderr } = await execFileAsync('ffmpeg', ['-hide_banner', '-i', encoded, '-i', source, '-lavfi', graph, '-f', 'null', '-'], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const ssim = /SSIM .*All:([\d.]+)/.exec(stderr)?.[1];
  const psnr = /PSNR .*average:([\d.]+|inf)/.exec(stderr)?.[1];
  if (!ssim || !psnr) throw new Error(`no SSIM/PSNR for ${encoded}: ${stderr.slice(-500)}`);
  return { ssim: Number(ssim), psnr: Number(psnr) };
}

async function encode(codec: CodecConfig, source: Source, dir: string, kbps: number): Promise<Measured> {
  const output = join(dir, `${source.label}-${codec.name}-${kbps}.${codec.extension}`);
  const { wallSeconds, cpuSeconds } = await timed(() =>
    media.transcodeWithCodec(codec, source.path, output, { maxHeight: 2160, threads: THREADS, videoBitrateKbps: kbps }),
  );
  const { ssim, psnr } = await quality(output, source.path);
  const measured: Measured = {
    label: codec.name,
    source: source.label,
    kbps,
    wallSeconds: round(wallSeconds, 2),
    cpuSeconds: round(cpuSeconds, 2),
    fps: round(source.frames / wallSeconds, 1),
    bytes: (await stat(output)).size,
    ssim,
    psnr,
  };
  process.stderr.write(`${JSON.stringify(measured)}\n`);
  return measured;
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

const signed = (value: number, digits: number): string => `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`;

function comparisonRow(project: Measured, baseline: Measured): string {
  return [
    project.source,
    `${project.kbps}k`,
    `${baseline.fps} → ${project.fps}`,
    `${(project.fps / baseline.fps).toFixed(2)}x`,
    `${(baseline.cpuSeconds / project.cpuSeconds).toFixed(2)}x`,
    `${baseline.ssim.toFixed(4)} → ${project.ssim.toFixed(4)} (${signed(project.ssim - baseline.ssim, 4)})`,
    `${baseline.psnr.toFixed(2)} → ${project.psnr.toFixed(2)} (${signed(project.psnr - baseline.psnr, 2)})`,
    `${(project.bytes / baseline.bytes).toFixed(3)}`,
  ].join(' | ');
}

function measuredRow(m: Measured, reference?: Measured): string {
  const versus = reference
    ? ` | ${(reference.cpuSeconds / m.cpuSeconds).toFixed(2)}x | ${signed(m.ssim - reference.ssim, 4)} | ${(m.bytes / reference.bytes).toFixed(3)}`
    : '';
  return `| ${m.label} | ${m.source} | ${m.kbps}k | ${m.fps} | ${(m.cpuSeconds / 1).toFixed(1)} | ${m.ssim.toFixed(4)} | ${m.psnr.toFixed(2)} | ${m.bytes}${versus} |`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'reelboard-bench-media-'));
  try {
    const sources = [
      await generateSource(dir, '720p', 1280, 720, 4, [1200, 2700]),
      await generateSource(dir, '1080p', 1920, 1080, 4, [1500, 3500]),
      await generateSource(dir, '2160p', 3840, 2160, 2, [3500, 7500]),
    ];

    const comparisons: Array<{ project: Measured; defaults: Measured }> = [];
    const ladder: Measured[] = [];
    for (const source of sources) {
      const kbps = bitrateForHeight(source.height);
      const defaults = await encode(libvpxDefaults, source, dir, kbps);
      const project = await encode(vp9Codec, source, dir, kbps);
      comparisons.push({ project, defaults });
      ladder.push(project);
      for (const probe of source.ladderProbe) ladder.push(await encode(vp9Codec, source, dir, probe));
    }

    const hd = sources[1] as Source;
    const hdKbps = bitrateForHeight(hd.height);
    const hdComparison = comparisons[1] as { project: Measured; defaults: Measured };
    const profiles = [hdComparison.defaults, await encode(issueReference, hd, dir, hdKbps), hdComparison.project, await encode(realtime5, hd, dir, hdKbps)];

    // Preview and poster are cut from the transcoded video, as the preview-extractor does.
    const transcoded = join(dir, `${hd.label}-${vp9Codec.name}-${hdKbps}.webm`);
    const preview = await timed(() => media.extractPreview(transcoded, join(dir, 'preview.webm'), { seconds: 5, threads: THREADS }));
    const poster = await timed(() => media.extractPoster(transcoded, join(dir, 'poster.webp')));

    const codecs: Measured[] = [];
    if (withCodecs) {
      codecs.push(hdComparison.project);
      for (const codec of [h264Codec, hevcCodec, av1Codec]) codecs.push(await encode(codec, hd, dir, hdKbps));
    }

    const goal = hdComparison;
    const cpuSpeedup = goal.defaults.cpuSeconds / goal.project.cpuSeconds;
    const wallSpeedup = goal.project.fps / goal.defaults.fps;
    const ssimDelta = goal.project.ssim - goal.defaults.ssim;
    const sizeRatio = goal.project.bytes / goal.defaults.bytes;
    const met = (ok: boolean): string => (ok ? 'met' : 'MISSED');

    const header = '| label | source | bitrate | fps (wall) | CPU s | SSIM | PSNR dB | bytes |';
    const markdown = `
Sources: generated 720p (4 s), 1080p (4 s) and 2160p (2 s) at 30 fps; ${THREADS} ffmpeg threads; one encode at a time.
"CPU s" is user + sys time of ffmpeg: the wall-clock fps depends on what else the machine was running.

### Project defaults vs libvpx defaults, same target bitrate (from the ladder)

| source | bitrate | fps (wall) defaults → project | wall speed ratio | CPU speed ratio | SSIM | PSNR dB | size ratio |
|---|---|---|---|---|---|---|---|
${comparisons.map(({ project, defaults }) => `| ${comparisonRow(project, defaults)} |`).join('\n')}

Goal at 1080p: ≥ 3x libvpx defaults' speed (CPU time: ${cpuSpeedup.toFixed(2)}x: ${met(cpuSpeedup >= 3)}; wall clock ${wallSpeedup.toFixed(2)}x, not judged: it moves with the machine's other load),
SSIM at most 0.005 lower (${signed(ssimDelta, 4)}: ${met(ssimDelta >= -0.005)}), file at most 5% larger (${((sizeRatio - 1) * 100).toFixed(1)}%: ${met(sizeRatio <= 1.05)}).

### VP9 speed profiles at 1080p, ${hdKbps}k

${header} CPU speed vs defaults | ΔSSIM vs defaults | size vs defaults |
|---|---|---|---|---|---|---|---|---|---|---|
${profiles.map((m) => measuredRow(m, hdComparison.defaults)).join('\n')}

### Bitrate ladder (project settings)

${header}
|---|---|---|---|---|---|---|---|
${ladder.map((m) => measuredRow(m)).join('\n')}

### Preview and poster, cut from the 1080p transcode

| step | wall s | CPU s | CPU vs the full transcode | output |
|---|---|---|---|---|
| preview (5 s, ≤480p, muted VP9) | ${preview.wallSeconds.toFixed(2)} | ${preview.cpuSeconds.toFixed(2)} | ${((preview.cpuSeconds / goal.project.cpuSeconds) * 100).toFixed(0)}% | ${preview.result.width}x${preview.result.height}, ${preview.result.durationSeconds} s, ${preview.result.outputBytes} bytes |
| poster (WebP) | ${poster.wallSeconds.toFixed(2)} | ${poster.cpuSeconds.toFixed(2)} | ${((poster.cpuSeconds / goal.project.cpuSeconds) * 100).toFixed(0)}% | ${poster.result.width}x${poster.result.height} at ${poster.result.atSeconds} s, ${poster.result.outputBytes} bytes |

The preview's cost is fixed (5 s at ≤480p) while the transcode's grows with the video's length, so for a
typical 1-2 minute listing the share is far smaller than on this ${hd.seconds} s clip.
${
  withCodecs
    ? `
### Codecs at 1080p, ${hdKbps}k (same source, same target bitrate)

${header} CPU speed vs VP9 | ΔSSIM vs VP9 | size vs VP9 |
|---|---|---|---|---|---|---|---|---|---|---|
${codecs.map((m) => measuredRow(m, hdComparison.project)).join('\n')}
`
    : ''
}`;

    writeReport({
      part: 'media',
      title: 'Media: VP9 speed and quality, ladder, preview and poster, codecs',
      command: 'node --import tsx scripts/bench/media.ts',
      headline: `VP9 at 1080p ${cpuSpeedup.toFixed(2)}x libvpx defaults' speed in CPU time (goal >= 3x: ${cpuSpeedup >= 3 ? 'met' : 'missed'}), SSIM ${ssimDelta >= 0 ? '+' : ''}${ssimDelta.toFixed(4)}, size ${((sizeRatio - 1) * 100).toFixed(1)}%`,
      markdown,
      data: { comparisons, profiles, ladder, preview, poster, codecs, goal: { cpuSpeedup, wallSpeedup, ssimDelta, sizeRatio } },
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
