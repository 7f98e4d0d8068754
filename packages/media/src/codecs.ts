/** How hard the encoder works: the speed/quality trade-off. */
export interface EncoderSpeed {
  /** libvpx deadline: 'good' for files, 'realtime' for throwaway clips. */
  deadline: 'good' | 'realtime' | 'best';
  /** libvpx cpu-used: higher is faster and slightly worse. */
  cpuUsed: number;
  /** Row-based multithreading; lets more threads help on one tile column. */
  rowMt: boolean;
}

/** Inputs a codec config needs to produce video encoder options. */
export interface VideoEncodeParams {
  /** Target average bitrate. */
  bitrateKbps: number;
  /** Encoder threads. */
  threads: number;
  /** Output width (drives tiling). */
  width: number;
  /** Output frame rate (drives the keyframe interval). */
  fps: number;
  /** Speed profile. */
  speed: EncoderSpeed;
  /** Seconds between keyframes; default KEYFRAME_INTERVAL_SECONDS (keyframeSecondsFor gives a short video's). */
  keyframeSeconds?: number;
}

/** Inputs a codec config needs to produce audio encoder options. */
export interface AudioEncodeParams {
  /** Target audio bitrate. */
  bitrateKbps: number;
  /** Source channel count. */
  channels: number;
}

/** One output codec: container, codecs and the ffmpeg options for each; AV1 would be another of these. */
export interface CodecConfig {
  /** Short name used in logs and file names. */
  readonly name: string;
  /** ffmpeg muxer (`-f`). */
  readonly container: string;
  /** File extension, without the dot. */
  readonly extension: string;
  /** ffmpeg video encoder. */
  readonly videoCodec: string;
  /** ffmpeg audio encoder. */
  readonly audioCodec: string;
  /** Speed profile for full transcodes. */
  readonly defaultSpeed: EncoderSpeed;
  /** Speed profile for short previews where encode time matters more than quality. */
  readonly previewSpeed: EncoderSpeed;
  /** Video encoder options (codec, rate control, speed, keyframes). */
  videoOptions(params: VideoEncodeParams): string[];
  /** Audio encoder options. */
  audioOptions(params: AudioEncodeParams): string[];
  /** Muxer options. */
  containerOptions(): string[];
}

/** Seconds between keyframes: seeking lands at most this far from the requested point. */
export const KEYFRAME_INTERVAL_SECONDS = 2;

/**
 * Seconds between keyframes for a video of this length: KEYFRAME_INTERVAL_SECONDS, or a third of a
 * video shorter than two intervals. A DASH file needs at least two keyframes (two entries in its
 * Cues): ffmpeg's webm_dash_manifest reader refuses a file with one ("Error parsing Cues").
 */
export function keyframeSecondsFor(durationSeconds: number): number {
  if (!(durationSeconds > 0) || durationSeconds >= 2 * KEYFRAME_INTERVAL_SECONDS) return KEYFRAME_INTERVAL_SECONDS;
  return Math.max(0.1, durationSeconds / 3);
}

/** libvpx's `max-intra-rate`: a keyframe's bits at most this percent of an average frame's. */
export const MAX_INTRA_RATE_PERCENT = 300;

/** VP9 video + Opus audio in WebM. */
export const vp9Codec: CodecConfig = {
  name: 'vp9',
  container: 'webm',
  extension: 'webm',
  videoCodec: 'libvpx-vp9',
  audioCodec: 'libopus',
  // Measured elsewhere: ~2.5x faster than libvpx defaults at 1080p30 2M, SSIM -0.003.
  defaultSpeed: { deadline: 'good', cpuUsed: 5, rowMt: true },
  previewSpeed: { deadline: 'realtime', cpuUsed: 8, rowMt: true },
  videoOptions({ bitrateKbps, threads, width, fps, speed, keyframeSeconds = KEYFRAME_INTERVAL_SECONDS }) {
    // min = max: libvpx places keyframes on this fixed grid only (no scene-cut ones), so every rung
    // of a ladder, encoded in the same chunks, has its keyframes at the same times.
    const gop = Math.max(1, Math.round((fps > 0 ? fps : 30) * keyframeSeconds));
    return [
      '-c:v',
      'libvpx-vp9',
      // 8-bit 4:2:0 plays everywhere; 10-bit/HDR sources are converted down (tonemapped if tagged HDR).
      '-pix_fmt',
      'yuv420p',
      '-b:v',
      `${bitrateKbps}k`,
      // Constrained VBR: peaks may reach 1.5x the target, smoothed over ~2 s of buffer.
      '-maxrate',
      `${Math.round(bitrateKbps * 1.5)}k`,
      '-bufsize',
      `${bitrateKbps * 2}k`,
      '-deadline',
      speed.deadline,
      '-cpu-used',
      String(speed.cpuUsed),
      '-row-mt',
      speed.rowMt ? '1' : '0',
      '-tile-columns',
      String(vp9TileColumnsLog2(width)),
      '-threads',
      String(threads),
      '-g',
      String(gop),
      '-keyint_min',
      String(gop),
      // A keyframe may take at most 3x an average frame's bits. libvpx gives a stream's first
      // keyframe (and the frames after it) a large boost; every chunk of a chunked encode starts a
      // stream, so uncapped each spent ~80 KB more than the same frames in one encode (+9 % with
      // 10 s chunks at 360p). Capped, a chunk's first keyframe is coded like an interval keyframe
      // (57 KB -> 15.7 KB; the single encode's: 16.6 KB), at no encode time; a single encode loses
      // 0.001 SSIM (docs/codecs.md).
      '-max-intra-rate',
      String(MAX_INTRA_RATE_PERCENT),
    ];
  },
  audioOptions({ bitrateKbps, channels }) {
    return [
      '-c:a',
      'libopus',
      '-b:a',
      `${bitrateKbps}k`,
      // libopus rejects some 5.1 layouts ("side" channels); a listing does not need surround.
      '-ac',
      String(Math.min(2, Math.max(1, channels))),
    ];
  },
  containerOptions() {
    // Cues (the seek index) at the front so a browser can seek before the whole file has downloaded.
    return ['-f', 'webm', '-cues_to_front', '1'];
  },
};

/** log2 of VP9 tile columns for a width: each tile must be at least 256 px wide, and 4 are plenty. */
export function vp9TileColumnsLog2(width: number): number {
  const maxByWidth = Math.floor(Math.log2(Math.max(1, width) / 256));
  return Math.max(0, Math.min(2, maxByWidth));
}

/** One row of a bitrate ladder: sources up to this short side get this bitrate. */
export interface BitrateStep {
  /** Upper bound (inclusive) of the output's short side, in pixels. */
  maxHeight: number;
  /** Video bitrate for that size. */
  kbps: number;
}

/**
 * Default VP9 ladder at ~30 fps, chosen by measurement (docs/codecs.md, scripts/bench/media.ts):
 * each rung sits where 40-50% more bits buy less than ~0.005 SSIM on the benchmark's detailed,
 * noisy sources, and the rungs land at about the same SSIM. The prototype used 2M for 1080p and
 * 4-5M for 4K.
 */
export const DEFAULT_VP9_BITRATES: readonly BitrateStep[] = [
  { maxHeight: 360, kbps: 700 },
  { maxHeight: 480, kbps: 1000 },
  { maxHeight: 720, kbps: 1800 },
  { maxHeight: 1080, kbps: 2500 },
  // Not measured: between the 1080p and 2160p rungs by pixel count.
  { maxHeight: 1440, kbps: 3500 },
  { maxHeight: 2160, kbps: 5000 },
];

/** Picks the bitrate for an output height (short side) from a ladder; above the top row, the top row. */
export function bitrateForHeight(height: number, table: readonly BitrateStep[] = DEFAULT_VP9_BITRATES): number {
  const sorted = [...table].sort((a, b) => a.maxHeight - b.maxHeight);
  const step = sorted.find((row) => height <= row.maxHeight) ?? sorted.at(-1);
  if (!step) throw new RangeError('bitrate table is empty');
  return step.kbps;
}

// The comparison codecs below are the same kind of data as vp9Codec: the benchmark encodes with
// them through transcodeWithCodec, and switching the project's output is passing another config.
// They ignore EncoderSpeed (a libvpx notion) and use their encoder's own preset.

/** H.264 (libx264, preset medium) + AAC in MP4 with the index at the front. */
export const h264Codec: CodecConfig = {
  name: 'h264',
  container: 'mp4',
  extension: 'mp4',
  videoCodec: 'libx264',
  audioCodec: 'aac',
  defaultSpeed: vp9Codec.defaultSpeed,
  previewSpeed: vp9Codec.previewSpeed,
  videoOptions: ({ bitrateKbps, threads, fps }) => [
    '-c:v',
    'libx264',
    '-preset',
    'medium',
    '-pix_fmt',
    'yuv420p',
    '-b:v',
    `${bitrateKbps}k`,
    '-threads',
    String(threads),
    '-g',
    String(gopFrames(fps)),
  ],
  audioOptions: ({ bitrateKbps, channels }) => ['-c:a', 'aac', '-b:a', `${bitrateKbps}k`, '-ac', String(Math.min(2, Math.max(1, channels)))],
  containerOptions: () => ['-f', 'mp4', '-movflags', '+faststart'],
};

/** H.265 (libx265, preset medium) + AAC in MP4, tagged hvc1 so Safari plays it. */
export const hevcCodec: CodecConfig = {
  ...h264Codec,
  name: 'hevc',
  videoCodec: 'libx265',
  videoOptions: ({ bitrateKbps, threads, fps }) => [
    '-c:v',
    'libx265',
    '-preset',
    'medium',
    '-pix_fmt',
    'yuv420p',
    '-b:v',
    `${bitrateKbps}k`,
    '-tag:v',
    'hvc1',
    '-x265-params',
    `pools=${threads}:log-level=error:keyint=${gopFrames(fps)}`,
  ],
};

/** AV1 (SVT-AV1, preset 8) + Opus in WebM. */
export const av1Codec: CodecConfig = {
  ...vp9Codec,
  name: 'av1',
  videoCodec: 'libsvtav1',
  videoOptions: ({ bitrateKbps, fps }) => ['-c:v', 'libsvtav1', '-preset', '8', '-pix_fmt', 'yuv420p', '-b:v', `${bitrateKbps}k`, '-g', String(gopFrames(fps))],
};

function gopFrames(fps: number): number {
  return Math.max(1, Math.round((fps > 0 ? fps : 30) * KEYFRAME_INTERVAL_SECONDS));
}
