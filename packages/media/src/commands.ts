import { vp9Codec, bitrateForHeight, type CodecConfig, type EncoderSpeed } from './codecs.js';
import type { FrameSize } from './geometry.js';
import type { MediaInfo, VideoStreamInfo } from './probe.js';
import { STRIP_METADATA_OPTIONS, videoFilterChain } from './video-filters.js';

// Pure builders: typed settings in, ffmpeg arguments out. They run nothing, so each is unit-tested
// without ffmpeg; the runner (ffmpeg-runner.ts) is the only place a process is started.

/** One ffmpeg invocation as data: a single input file to a single output. */
export interface FfmpegCommand {
  /** Input file. */
  input: string;
  /** Options placed before `-i`: input restrictions, decoder threads, a fast seek. */
  inputOptions: string[];
  /** Output file (`-` with a null muxer for measurements). */
  output: string;
  /** Options placed before the output file; each flag and value its own element. */
  outputOptions: string[];
  /** Duration the output is expected to have, to turn its position into a percent. */
  expectedDurationSeconds?: number;
}

/**
 * Demuxers an upload may be read with: real video containers, plus the still-image ones so a photo
 * is refused with its own reason. Playlist and reference formats (hls, dash, concat, the image2
 * sequence pattern tricks aside) can make ffmpeg open other files or URLs, so they are never allowed.
 */
export const SOURCE_DEMUXERS: readonly string[] = [
  'mov', // mp4, mov, m4v, m4a, 3gp
  'matroska', // mkv, webm
  'avi',
  'flv',
  'mpegts',
  'mpeg', // MPEG program streams (.mpg, .vob)
  'asf', // wmv
  'ogg',
  'gif',
  'srt', // refused later as "no video stream", with that reason
  'image2',
  'png_pipe',
  'jpeg_pipe',
  'webp_pipe',
];

/** Demuxers for what this package wrote itself (a poster being measured). */
export const OWN_IMAGE_DEMUXERS: readonly string[] = ['image2', 'webp_pipe'];

/** How an input may be read: only the `file` protocol, only the allowed demuxers, and this many decoder threads. */
export interface InputRestrictions {
  /** Decoder threads; ffmpeg would otherwise count the host's CPUs, not the container's quota. */
  threads?: number;
  /** Demuxers allowed; default SOURCE_DEMUXERS. */
  demuxers?: readonly string[];
}

/** Input options that keep ffmpeg and ffprobe to the one staged file (no URLs, no playlists). */
export function restrictedInputOptions({ threads, demuxers = SOURCE_DEMUXERS }: InputRestrictions = {}): string[] {
  return [
    '-protocol_whitelist', 'file',
    '-format_whitelist', demuxers.join(','),
    ...(threads === undefined ? [] : ['-threads', String(threads)]),
  ];
}

/** Arguments of ffprobe before the file name: quiet, and restricted like every input. */
export function buildProbeOptions(): string[] {
  // -v error keeps stderr to the actual complaint, which becomes the error's stderrTail.
  return ['-hide_banner', '-v', 'error', ...restrictedInputOptions()];
}

/** What the full transcode is asked for. */
export interface TranscodeCommandSettings {
  input: string;
  output: string;
  /** The source's probe. */
  source: MediaInfo & { video: VideoStreamInfo };
  /** Output frame size (already fitted). */
  size: FrameSize;
  /** Encoder and decoder threads. */
  threads: number;
  /** Frame-rate cap. */
  maxFps: number;
  /** Video bitrate; default from the ladder for the output's short side. */
  videoBitrateKbps?: number;
  /** Opus bitrate. */
  audioBitrateKbps: number;
  /** Overrides of the codec's default speed profile. */
  speed?: Partial<EncoderSpeed>;
  /** Codec; default VP9 WebM. */
  codec?: CodecConfig;
}

/** The full transcode: upright, scaled, 8-bit, metadata stripped, video and (if any) audio. */
export function buildTranscodeCommand(settings: TranscodeCommandSettings): FfmpegCommand {
  const { source, size, threads, maxFps } = settings;
  const codec = settings.codec ?? vp9Codec;
  const fps = source.video.fps > 0 ? Math.min(source.video.fps, maxFps) : maxFps;
  return {
    input: settings.input,
    inputOptions: restrictedInputOptions({ threads }),
    output: settings.output,
    outputOptions: [
      '-map', '0:v:0',
      ...(source.audio ? ['-map', '0:a:0'] : ['-an']),
      ...STRIP_METADATA_OPTIONS,
      '-vf', videoFilterChain(source.video, size),
      '-fpsmax', String(maxFps),
      ...codec.videoOptions({
        bitrateKbps: settings.videoBitrateKbps ?? bitrateForHeight(Math.min(size.width, size.height)),
        threads,
        width: size.width,
        fps,
        speed: { ...codec.defaultSpeed, ...settings.speed },
      }),
      ...(source.audio ? codec.audioOptions({ bitrateKbps: settings.audioBitrateKbps, channels: source.audio.channels }) : []),
      ...codec.containerOptions(),
    ],
    expectedDurationSeconds: source.durationSeconds,
  };
}

/** What a preview clip is asked for. */
export interface PreviewCommandSettings {
  input: string;
  output: string;
  source: MediaInfo & { video: VideoStreamInfo };
  /** Output frame size (already fitted). */
  size: FrameSize;
  /** Clip length; a shorter video simply ends. */
  seconds: number;
  threads: number;
  maxFps: number;
  videoBitrateKbps?: number;
  speed?: Partial<EncoderSpeed>;
  codec?: CodecConfig;
}

/** A muted clip of the first seconds, with the codec's fast preview profile. */
export function buildPreviewCommand(settings: PreviewCommandSettings): FfmpegCommand {
  const { source, size, threads, maxFps } = settings;
  const codec = settings.codec ?? vp9Codec;
  const fps = source.video.fps > 0 ? Math.min(source.video.fps, maxFps) : maxFps;
  return {
    input: settings.input,
    inputOptions: restrictedInputOptions({ threads }),
    output: settings.output,
    outputOptions: [
      '-map', '0:v:0',
      // Muted: previews autoplay, and browsers only autoplay muted media anyway.
      '-an',
      ...STRIP_METADATA_OPTIONS,
      // Output-side -t is frame-accurate; a video shorter than this simply ends.
      '-t', String(settings.seconds),
      '-vf', videoFilterChain(source.video, size),
      '-fpsmax', String(maxFps),
      ...codec.videoOptions({
        bitrateKbps: settings.videoBitrateKbps ?? bitrateForHeight(Math.min(size.width, size.height)),
        threads,
        width: size.width,
        fps,
        speed: { ...codec.previewSpeed, ...settings.speed },
      }),
      ...codec.containerOptions(),
    ],
    expectedDurationSeconds: Math.min(settings.seconds, source.durationSeconds),
  };
}

/** What one poster candidate is asked for. */
export interface PosterFrameSettings {
  input: string;
  output: string;
  source: MediaInfo & { video: VideoStreamInfo };
  size: FrameSize;
  /** Where the frame window starts (fast input seek). */
  atSeconds: number;
  /** Pick the most representative frame of a short window rather than the first one. */
  chooseFrame: boolean;
  /** libwebp quality 0-100. */
  quality: number;
  threads?: number;
}

/** One WebP frame at a time, optionally the most typical of a ~1 s window (thumbnail filter). */
export function buildPosterFrameCommand(settings: PosterFrameSettings): FfmpegCommand {
  const { source } = settings;
  // thumbnail= picks the frame closest to the window's average histogram, skipping flashes and cuts;
  // it runs after scaling so its frame buffer stays small even for 4K sources.
  const window = Math.min(30, Math.max(2, Math.round(source.video.fps || 25)));
  const base = videoFilterChain(source.video, settings.size);
  return {
    input: settings.input,
    inputOptions: [...restrictedInputOptions(settings.threads === undefined ? {} : { threads: settings.threads }), '-ss', settings.atSeconds.toFixed(3)],
    output: settings.output,
    outputOptions: [
      '-map', '0:v:0', '-an', '-sn', '-dn', '-map_metadata', '-1',
      '-vf', settings.chooseFrame ? `${base},thumbnail=${window}` : base,
      '-frames:v', '1',
      '-c:v', 'libwebp', '-quality', String(settings.quality),
      '-f', 'webp',
    ],
  };
}

/** Mean luma of an image this package wrote, printed by signalstats on stderr. */
export function buildMeanLumaCommand(path: string): FfmpegCommand {
  return {
    input: path,
    inputOptions: restrictedInputOptions({ demuxers: OWN_IMAGE_DEMUXERS }),
    output: '-',
    outputOptions: ['-vf', 'format=yuv420p,signalstats,metadata=print:key=lavfi.signalstats.YAVG', '-frames:v', '1', '-f', 'null'],
  };
}

/** Parses the YAVG line buildMeanLumaCommand makes ffmpeg print; undefined for any other line. */
export function parseMeanLuma(line: string): number | undefined {
  const match = /lavfi\.signalstats\.YAVG=([\d.]+)/.exec(line);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}
