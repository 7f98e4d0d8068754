import { bitrateForHeight, type CodecConfig, type EncoderSpeed, keyframeSecondsFor, vp9Codec } from './codecs.js';
import type { FrameSize } from './geometry.js';
import type { MediaInfo, VideoStreamInfo } from './types.js';
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
  /** Further inputs after the first (a join reads the video chunks' list and the audio track). */
  extraInputs?: Array<{ input: string; inputOptions: string[] }>;
  /** Further outputs after the first, written by the same run (the preview and its poster from one decode). */
  extraOutputs?: Array<{ output: string; outputOptions: string[] }>;
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

/** Demuxers for the parts of a chunked encode this package wrote itself (WebM chunks, the audio track). */
export const OWN_WEBM_DEMUXERS: readonly string[] = ['matroska'];

/**
 * Demuxers for the join's list of chunks. The concat demuxer is allowed only here, for a list the
 * transcoder wrote from its own plan (never for an upload); the files it names may only be WebM.
 */
export const OWN_CONCAT_DEMUXERS: readonly string[] = ['concat', ...OWN_WEBM_DEMUXERS];

/** How an input may be read: only the `file` protocol, only the allowed demuxers, and this many decoder threads. */
export interface InputRestrictions {
  /** Decoder threads; ffmpeg would otherwise count the host's CPUs, not the container's quota. */
  threads?: number;
  /** Demuxers allowed; default SOURCE_DEMUXERS. */
  demuxers?: readonly string[];
}

/** Input options that keep ffmpeg and ffprobe to the one staged file (no URLs, no playlists). */
export function restrictedInputOptions({ threads, demuxers = SOURCE_DEMUXERS }: InputRestrictions = {}): string[] {
  return ['-protocol_whitelist', 'file', '-format_whitelist', demuxers.join(','), ...(threads === undefined ? [] : ['-threads', String(threads)])];
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

/**
 * The frame-rate cap of the full transcode and its chunks as a filter, for a source faster than the
 * cap: each output slot of 1/maxFps gets the last source frame before the slot ends (round=down),
 * so a chunk, whose timestamps start a quarter source frame late (buildVideoChunkCommand), gets the
 * single encode's frames, exactly as many as its slot has. As -fpsmax it was ffmpeg's output frame
 * rate, which ffmpeg 7 makes constant-rate from each chunk's half-frame-shifted start: 62 frames in
 * a 60-frame chunk of a 120 fps source (61 in the first chunk on ffmpeg 5.1), refused as truncated.
 */
function rateCapFilters(source: { video: { fps: number } }, maxFps: number): string[] {
  return source.video.fps > maxFps ? [`fps=${maxFps}:round=down`] : [];
}

/**
 * The video encoder's options after the filters: the frame-rate cap (unless the filters have it),
 * then the codec's options at the bitrate for the output's size (the ladder's unless given) and the
 * given speed profile. The full transcode, its chunks and the preview all encode through this, so
 * chunks keep the single encode's settings exactly.
 */
function videoEncodeOptions(
  codec: CodecConfig,
  settings: {
    source: { video: { fps: number }; durationSeconds: number };
    size: FrameSize;
    threads: number;
    maxFps: number;
    fps: number;
    videoBitrateKbps?: number | undefined;
  },
  speed: EncoderSpeed,
  rateCap: 'option' | 'filter' = 'option',
): string[] {
  const { size } = settings;
  const sourceFps = settings.source.video.fps;
  const capInFilters = rateCap === 'filter' && sourceFps > settings.maxFps;
  return [
    // Only for a source faster than the cap (or of unknown rate): ffmpeg 7 makes every output given
    // -fpsmax constant-rate, padding a variable-frame-rate video with repeated frames (40 became 58)
    // and the chunks with frames their neighbours also have; ffmpeg 5.1 only lowered an automatic rate.
    ...((sourceFps > 0 && sourceFps <= settings.maxFps) || capInFilters ? [] : ['-fpsmax', String(settings.maxFps)]),
    ...codec.videoOptions({
      bitrateKbps: settings.videoBitrateKbps ?? bitrateForHeight(Math.min(size.width, size.height)),
      threads: settings.threads,
      width: size.width,
      fps: settings.fps,
      speed,
      keyframeSeconds: keyframeSecondsFor(settings.source.durationSeconds),
    }),
  ];
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
      '-map',
      '0:v:0',
      ...(source.audio ? ['-map', '0:a:0'] : ['-an']),
      ...STRIP_METADATA_OPTIONS,
      '-vf',
      [...rateCapFilters(source, maxFps), videoFilterChain(source.video, size)].join(','),
      ...videoEncodeOptions(codec, { ...settings, fps }, { ...codec.defaultSpeed, ...settings.speed }, 'filter'),
      ...(source.audio ? codec.audioOptions({ bitrateKbps: settings.audioBitrateKbps, channels: source.audio.channels }) : []),
      ...codec.containerOptions(),
    ],
    expectedDurationSeconds: source.durationSeconds,
  };
}

/** What one video chunk of a chunked encode is asked for: the full transcode's video settings, on a run of frames. */
export interface VideoChunkCommandSettings extends Omit<TranscodeCommandSettings, 'audioBitrateKbps'> {
  /** Output frame rate the frame numbers count in (the source's, capped at maxFps). */
  fps: number;
  /** First output frame of the chunk. */
  startFrame: number;
  /** Frames of the output rate in the chunk's slot (its length is frames / fps); absent: to the end of the source. */
  frames?: number;
  /**
   * Decode without the source's in-loop deblocking (`-skip_loop_filter all`): for an output at most a
   * third of the source's size, whose pixels average away the block edges it would smooth. 6-11 % of
   * a 240p chunk's CPU from 1080p H.264 for 0.001-0.002 SSIM (docs/codecs.md).
   */
  skipLoopFilter?: boolean;
}

/**
 * One chunk, video only, with exactly the full transcode's video settings. The demuxer seeks to a
 * quarter frame past the chunk's first frame, so it starts reading at that frame when the plan put
 * it on a source keyframe (reading from the keyframe before would decode a whole GOP for nothing:
 * 3 to 4 % of a 10 s chunk's CPU at 360p). The input's timestamps are shifted three quarters of a
 * frame later, so the first frame lands half a frame past ffmpeg's exact-seek point: it is kept and
 * the one before dropped whatever the timestamps' rounding; a trim at the slot's length ends the
 * chunk on its last frame. (A source faster than the cap: a quarter of its own frame, see
 * rateCapFilters.) The encoder starts with a keyframe (forced, to say so), so chunks join
 * without re-encoding.
 */
export function buildVideoChunkCommand(settings: VideoChunkCommandSettings): FfmpegCommand {
  const { source, size, threads, fps, startFrame, frames } = settings;
  if (!(fps > 0)) throw new RangeError(`chunk fps must be > 0, got ${fps}`);
  if (!Number.isInteger(startFrame) || startFrame < 0) throw new RangeError(`startFrame must be a whole number >= 0, got ${startFrame}`);
  if (frames !== undefined && (!Number.isInteger(frames) || frames < 1)) throw new RangeError(`frames must be a whole number >= 1, got ${frames}`);
  const codec = settings.codec ?? vp9Codec;
  const slot = chunkSlot(settings);
  return {
    input: settings.input,
    inputOptions: [...restrictedInputOptions({ threads }), ...(settings.skipLoopFilter ? ['-skip_loop_filter', 'all'] : []), ...slot.seek],
    output: settings.output,
    outputOptions: [
      '-map',
      '0:v:0',
      '-an',
      ...STRIP_METADATA_OPTIONS,
      '-vf',
      [...slot.filters, videoFilterChain(source.video, size)].join(','),
      ...chunkEncodeOptions(codec, settings, settings.speed),
    ],
    expectedDurationSeconds: slot.expectedDurationSeconds,
  };
}

/**
 * The seek (input options) and the filters (rate cap, trim) that cut a chunk's slot out of the
 * source, before any scaling: shared by a chunk of one size and a chunk of several rungs.
 */
function chunkSlot(settings: Pick<VideoChunkCommandSettings, 'source' | 'maxFps' | 'fps' | 'startFrame' | 'frames'>): {
  seek: string[];
  filters: string[];
  expectedDurationSeconds: number;
} {
  const { source, fps, startFrame, frames } = settings;
  const startSeconds = startFrame / fps;
  const rateCap = rateCapFilters(source, settings.maxFps);
  // A source faster than the output rate: its first frame lands a quarter of its own frame late, so
  // the rate cap's round=down puts it in the chunk's first slot as the single encode does.
  const sourceFrame = 1 / (rateCap.length > 0 ? source.video.fps : fps);
  const [shift, past] = rateCap.length > 0 ? [0.5, 0.25] : [0.75, 0.25];
  const seek = startFrame > 0 ? ['-itsoffset', (shift * sourceFrame).toFixed(6), '-ss', (startSeconds + past * sourceFrame).toFixed(6)] : [];
  // The chunk ends by time, not by a frame count, so a variable-frame-rate source's chunk stays in
  // its slot too: after the seek a frame's time is its source time minus the seek point, the next
  // chunk's first frame sits at the slot's length plus half a frame, and trim drops it.
  const trim = frames === undefined ? [] : [`trim=end=${(frames / fps).toFixed(6)}`];
  return {
    seek,
    filters: [...rateCap, ...trim],
    expectedDurationSeconds: frames === undefined ? Math.max(0, source.durationSeconds - startSeconds) : frames / fps,
  };
}

/** A chunk's encoder options: the full transcode's video settings at this size, bitrate and speed, starting on a keyframe. */
function chunkEncodeOptions(
  codec: CodecConfig,
  settings: Omit<VideoChunkCommandSettings, 'input' | 'output' | 'startFrame' | 'frames'>,
  speed: Partial<EncoderSpeed> | undefined,
): string[] {
  return [
    ...videoEncodeOptions(codec, settings, { ...codec.defaultSpeed, ...speed }, 'filter'),
    '-force_key_frames',
    'expr:eq(n,0)',
    ...codec.containerOptions(),
  ];
}

/** One output of a chunk encoded for several ladder rungs at once. */
export interface LadderChunkOutput {
  output: string;
  /** Output frame size (already fitted). */
  size: FrameSize;
  videoBitrateKbps: number;
  /** Overrides of the codec's default speed profile. */
  speed?: Partial<EncoderSpeed>;
}

/** What a chunk of several rungs is asked for: one chunk's slot, and each rung's size, bitrate and speed. */
export interface LadderChunkCommandSettings extends Omit<VideoChunkCommandSettings, 'output' | 'size' | 'videoBitrateKbps' | 'speed'> {
  /** The rungs, in any order; at least one. */
  outputs: readonly LadderChunkOutput[];
}

/**
 * One chunk of several ladder rungs from ONE decode of the source: the chunk's slot (seek, rate
 * cap, trim) once, then `split` into a scale per rung, each rung its own encoder and file with
 * exactly the options a chunk of that rung alone gets (forced keyframe first, fixed GOP). Decoding
 * a 1080p H.264 source is about a fifth of a 240p rung's encode and a seventh of the lower rungs'
 * work: each rung reading the source itself paid it once per rung (docs/codecs.md).
 */
export function buildLadderChunkCommand(settings: LadderChunkCommandSettings): FfmpegCommand {
  const { source, threads, fps, startFrame, frames, outputs } = settings;
  if (!(fps > 0)) throw new RangeError(`chunk fps must be > 0, got ${fps}`);
  if (!Number.isInteger(startFrame) || startFrame < 0) throw new RangeError(`startFrame must be a whole number >= 0, got ${startFrame}`);
  if (frames !== undefined && (!Number.isInteger(frames) || frames < 1)) throw new RangeError(`frames must be a whole number >= 1, got ${frames}`);
  const [first, ...rest] = outputs;
  if (!first) throw new RangeError('a ladder chunk needs at least one output');
  const codec = settings.codec ?? vp9Codec;
  const slot = chunkSlot(settings);
  const labels = outputs.map((_, index) => `rung${index}`);
  const graph = [
    `[0:v:0]${[...slot.filters, `split=${outputs.length}`].join(',')}${labels.map((label) => `[${label}in]`).join('')}`,
    ...outputs.map((output, index) => `[${labels[index]}in]${videoFilterChain(source.video, output.size)}[${labels[index]}]`),
  ].join(';');
  const outputOptions = (output: LadderChunkOutput, index: number): string[] => [
    '-map',
    `[${labels[index]}]`,
    '-an',
    ...STRIP_METADATA_OPTIONS,
    ...chunkEncodeOptions(codec, { ...settings, size: output.size, videoBitrateKbps: output.videoBitrateKbps }, output.speed),
  ];
  return {
    input: settings.input,
    inputOptions: [...restrictedInputOptions({ threads }), ...slot.seek],
    output: first.output,
    // -filter_complex is global: given once, with the first output's options.
    outputOptions: ['-filter_complex', graph, ...outputOptions(first, 0)],
    extraOutputs: rest.map((output, index) => ({ output: output.output, outputOptions: outputOptions(output, index + 1) })),
    expectedDurationSeconds: slot.expectedDurationSeconds,
  };
}

/** What the audio track of a chunked encode is asked for. */
export interface AudioTrackCommandSettings {
  input: string;
  output: string;
  source: MediaInfo & { audio: NonNullable<MediaInfo['audio']> };
  /** Opus bitrate. */
  audioBitrateKbps: number;
  /** Decoder threads. */
  threads: number;
  codec?: CodecConfig;
}

/** The whole audio track, once, with the full transcode's audio settings (no seams, no drift). */
export function buildAudioTrackCommand(settings: AudioTrackCommandSettings): FfmpegCommand {
  const codec = settings.codec ?? vp9Codec;
  return {
    input: settings.input,
    inputOptions: restrictedInputOptions({ threads: settings.threads }),
    output: settings.output,
    outputOptions: [
      '-map',
      '0:a:0',
      '-vn',
      ...STRIP_METADATA_OPTIONS,
      ...codec.audioOptions({ bitrateKbps: settings.audioBitrateKbps, channels: settings.source.audio.channels }),
      '-f',
      codec.container,
      // The track is also the DASH audio file: clusters a player can fetch by range, each in the Cues.
      // A cluster per keyframe interval, so its Cues have the entries a DASH reader needs (at least two).
      ...(codec.container === 'webm'
        ? ['-dash', '1', '-cluster_time_limit', String(Math.round(keyframeSecondsFor(settings.source.durationSeconds) * 1000))]
        : []),
    ],
    expectedDurationSeconds: settings.source.durationSeconds,
  };
}

/** One line of a join list: a chunk file beside the list, and its exact duration (absent for the last). */
export interface ConcatEntry {
  /** File name relative to the list's folder (letters, digits, '-', '_' and '.'). */
  file: string;
  /** Exact duration; the concat demuxer then places the next chunk right after its last frame. */
  durationSeconds?: number;
}

/**
 * The ffconcat list of a join, from the transcoder's own plan. Names are checked rather than quoted:
 * only plain relative names pass, which is also what the demuxer's `safe` mode accepts.
 */
export function buildConcatList(entries: readonly ConcatEntry[]): string {
  if (entries.length === 0) throw new RangeError('a join needs at least one chunk');
  const lines = ['ffconcat version 1.0'];
  for (const entry of entries) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(entry.file)) throw new RangeError(`not a plain chunk file name: ${JSON.stringify(entry.file)}`);
    lines.push(`file ${entry.file}`);
    if (entry.durationSeconds !== undefined) {
      if (!(entry.durationSeconds > 0)) throw new RangeError(`chunk duration must be > 0, got ${entry.durationSeconds}`);
      lines.push(`duration ${entry.durationSeconds.toFixed(6)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** What the join of a chunked encode is asked for. */
export interface JoinCommandSettings {
  /** The ffconcat list (buildConcatList) naming the video chunks. */
  list: string;
  /** The audio track, if the source has audio. */
  audio?: string;
  output: string;
  /** Duration the joined file should have. */
  durationSeconds: number;
  codec?: CodecConfig;
}

/** Joins the chunks without re-encoding (stream copy) and muxes the audio track in, cues at the front. */
export function buildJoinCommand(settings: JoinCommandSettings): FfmpegCommand {
  const codec = settings.codec ?? vp9Codec;
  return {
    input: settings.list,
    inputOptions: ['-f', 'concat', '-safe', '1', ...restrictedInputOptions({ demuxers: OWN_CONCAT_DEMUXERS })],
    ...(settings.audio ? { extraInputs: [{ input: settings.audio, inputOptions: restrictedInputOptions({ demuxers: OWN_WEBM_DEMUXERS }) }] } : {}),
    output: settings.output,
    outputOptions: ['-map', '0:v:0', ...(settings.audio ? ['-map', '1:a:0'] : []), '-c', 'copy', '-map_metadata', '-1', ...codec.containerOptions()],
    expectedDurationSeconds: settings.durationSeconds,
  };
}

/** ffprobe arguments listing a file's video packets (time and flags), without decoding anything. */
export function buildPacketProbeArgs(path: string): string[] {
  return [...buildProbeOptions(), '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', path];
}

/** A file's video packets: how many, and when its keyframes are. */
export interface PacketSummary {
  /** Video packets (one per frame for the codecs this service writes). */
  packets: number;
  /** Presentation times of the keyframes, ascending. */
  keyframeSeconds: number[];
  /** Presentation time of the earliest packet (undefined when there is none). */
  firstSeconds?: number;
  /** Presentation time of the latest packet (undefined when there is none). */
  lastSeconds?: number;
}

/** Parses buildPacketProbeArgs' output (lines like `1.001000,K__`). */
export function parsePacketProbe(text: string): PacketSummary {
  let packets = 0;
  let firstSeconds: number | undefined;
  let lastSeconds: number | undefined;
  const keyframeSeconds: number[] = [];
  for (const line of text.split('\n')) {
    const [time, flags] = line.trim().split(',');
    if (!time || flags === undefined) continue;
    packets++;
    const seconds = Number(time);
    if (Number.isFinite(seconds) && (firstSeconds === undefined || seconds < firstSeconds)) firstSeconds = seconds;
    if (Number.isFinite(seconds) && (lastSeconds === undefined || seconds > lastSeconds)) lastSeconds = seconds;
    if (flags.startsWith('K') && Number.isFinite(seconds)) keyframeSeconds.push(seconds);
  }
  keyframeSeconds.sort((a, b) => a - b);
  return firstSeconds === undefined || lastSeconds === undefined ? { packets, keyframeSeconds } : { packets, keyframeSeconds, firstSeconds, lastSeconds };
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
  const { source, size, threads } = settings;
  return {
    input: settings.input,
    inputOptions: restrictedInputOptions({ threads }),
    output: settings.output,
    outputOptions: ['-map', '0:v:0', ...previewOutputOptions(settings, ['-vf', videoFilterChain(source.video, size)])],
    expectedDurationSeconds: Math.min(settings.seconds, source.durationSeconds),
  };
}

/** The preview's output options after its `-map`: muted, cut to length, the filters given, the fast profile. */
function previewOutputOptions(settings: Omit<PreviewCommandSettings, 'input' | 'output'>, filters: string[]): string[] {
  const { source, maxFps } = settings;
  const codec = settings.codec ?? vp9Codec;
  const fps = source.video.fps > 0 ? Math.min(source.video.fps, maxFps) : maxFps;
  return [
    // Muted: previews autoplay, and browsers only autoplay muted media anyway.
    '-an',
    ...STRIP_METADATA_OPTIONS,
    // Output-side -t is frame-accurate; a video shorter than this simply ends.
    '-t',
    String(settings.seconds),
    ...filters,
    ...videoEncodeOptions(codec, { ...settings, fps }, { ...codec.previewSpeed, ...settings.speed }),
    ...codec.containerOptions(),
  ];
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
  const window = posterWindowFrames(source.video);
  const base = videoFilterChain(source.video, settings.size);
  return {
    input: settings.input,
    inputOptions: [...restrictedInputOptions(settings.threads === undefined ? {} : { threads: settings.threads }), '-ss', settings.atSeconds.toFixed(3)],
    output: settings.output,
    outputOptions: [
      '-map',
      '0:v:0',
      '-an',
      '-sn',
      '-dn',
      '-map_metadata',
      '-1',
      '-vf',
      settings.chooseFrame ? `${base},thumbnail=${window}` : base,
      '-frames:v',
      '1',
      '-c:v',
      'libwebp',
      '-quality',
      String(settings.quality),
      '-f',
      'webp',
    ],
  };
}

/** Frames the poster's thumbnail filter chooses among: about one second of the source, 2 to 30. */
function posterWindowFrames(video: VideoStreamInfo): number {
  return Math.min(30, Math.max(2, Math.round(video.fps || 25)));
}

// Prints the mean luma (YAVG, 0-255) of each frame passing through, on stderr; parseMeanLuma reads it.
const PRINT_MEAN_LUMA = 'signalstats,metadata=print:key=lavfi.signalstats.YAVG';

/** What the preview and the first poster candidate are asked for, cut by one ffmpeg run. */
export interface PreviewAndPosterCommandSettings extends Omit<PreviewCommandSettings, 'output'> {
  /** The preview clip's file. */
  previewOutput: string;
  /** The poster image's file. */
  posterOutput: string;
  /** The poster's frame size (already fitted). */
  posterSize: FrameSize;
  /** Where the poster's frame window starts; inside the video. */
  posterAtSeconds: number;
  /** Pick the most representative frame of a ~1 s window rather than the first one. */
  chooseFrame: boolean;
  /** libwebp quality 0-100. */
  quality: number;
}

/**
 * The preview clip and the first poster candidate from one decode of the video's start: the decoded
 * frames are split, one branch becomes the preview, the other is trimmed to the poster's window,
 * scaled, reduced to one frame (thumbnail when choosing) and measured (its mean luma on stderr, read
 * with parseMeanLuma), so a dark poster is known without another run. The input is read only as far
 * as the longer of the clip and the poster's window.
 */
export function buildPreviewAndPosterCommand(settings: PreviewAndPosterCommandSettings): FfmpegCommand {
  const { source, threads } = settings;
  if (!(settings.seconds > 0)) throw new RangeError(`preview seconds must be > 0, got ${settings.seconds}`);
  if (!(settings.posterAtSeconds >= 0)) throw new RangeError(`poster time must be >= 0, got ${settings.posterAtSeconds}`);
  const sourceFps = source.video.fps > 0 ? source.video.fps : 25;
  const windowFrames = settings.chooseFrame ? posterWindowFrames(source.video) : 1;
  // Read up to the end of the poster's window when it ends after the clip (a very short preview).
  const readSeconds = Math.max(settings.seconds, settings.posterAtSeconds + windowFrames / sourceFps);
  const posterFilters = [
    // Frames before the poster's time are dropped before they are scaled.
    `trim=start=${settings.posterAtSeconds.toFixed(3)}`,
    videoFilterChain(source.video, settings.posterSize),
    ...(settings.chooseFrame ? [`thumbnail=${windowFrames}`] : []),
    // One frame only, so exactly one luma line is printed whatever else the thumbnail filter emits.
    'trim=end_frame=1',
    PRINT_MEAN_LUMA,
  ];
  const graph = [
    '[0:v:0]split=2[preview_in][poster_in]',
    `[preview_in]${videoFilterChain(source.video, settings.size)}[preview]`,
    `[poster_in]${posterFilters.join(',')}[poster]`,
  ].join(';');
  return {
    input: settings.input,
    inputOptions: [...restrictedInputOptions({ threads }), '-t', (Math.ceil(readSeconds * 1000) / 1000).toFixed(3)],
    output: settings.previewOutput,
    outputOptions: ['-filter_complex', graph, '-map', '[preview]', ...previewOutputOptions(settings, [])],
    extraOutputs: [
      {
        output: settings.posterOutput,
        outputOptions: ['-map', '[poster]', '-map_metadata', '-1', '-frames:v', '1', '-c:v', 'libwebp', '-quality', String(settings.quality), '-f', 'webp'],
      },
    ],
    expectedDurationSeconds: Math.min(settings.seconds, source.durationSeconds),
  };
}

/** Mean luma of an image this package wrote, printed by signalstats on stderr. */
export function buildMeanLumaCommand(path: string): FfmpegCommand {
  return {
    input: path,
    inputOptions: restrictedInputOptions({ demuxers: OWN_IMAGE_DEMUXERS }),
    output: '-',
    outputOptions: ['-vf', `format=yuv420p,${PRINT_MEAN_LUMA}`, '-frames:v', '1', '-f', 'null'],
  };
}

/** Parses the YAVG line buildMeanLumaCommand makes ffmpeg print; undefined for any other line. */
export function parseMeanLuma(line: string): number | undefined {
  const match = /lavfi\.signalstats\.YAVG=([\d.]+)/.exec(line);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}
