// The package's one entry. What runs ffmpeg is the adapter (createMediaAdapter, built from the media
// configuration); beside it only what runs nothing: the pure command builders and parsers, the codec
// settings, the probe's types and checks, and the errors. Services import from here and never from
// fluent-ffmpeg or from a module of this package.
export { createMediaAdapter, type MediaAdapter } from './adapter.js';
export { mediaEnvSchema, mediaBinariesSchema, runnerOptionsFrom, binariesFrom, type MediaEnv, type MediaBinaries } from './config.js';
export { MediaError, isMediaError, type MediaErrorCode, type MediaErrorDetails } from './errors.js';
export type { MediaInfo, VideoStreamInfo, AudioStreamInfo } from './types.js';
export { clampPercent, type FfmpegRunnerOptions, type FfmpegProgress } from './ffmpeg-runner.js';
export {
  buildTranscodeCommand,
  buildPreviewCommand,
  buildPosterFrameCommand,
  buildPreviewAndPosterCommand,
  parseMeanLuma,
  buildMeanLumaCommand,
  buildProbeOptions,
  buildVideoChunkCommand,
  buildAudioTrackCommand,
  buildConcatList,
  buildJoinCommand,
  buildPacketProbeArgs,
  parsePacketProbe,
  restrictedInputOptions,
  SOURCE_DEMUXERS,
  OWN_WEBM_DEMUXERS,
  OWN_CONCAT_DEMUXERS,
  type VideoChunkCommandSettings,
  type AudioTrackCommandSettings,
  type ConcatEntry,
  type JoinCommandSettings,
  type PacketSummary,
  type FfmpegCommand,
  type TranscodeCommandSettings,
  type PreviewCommandSettings,
  type PosterFrameSettings,
  type PreviewAndPosterCommandSettings,
} from './commands.js';
export { toMediaInfo, assertPlayableVideo } from './probe.js';
export {
  vp9Codec,
  h264Codec,
  hevcCodec,
  av1Codec,
  bitrateForHeight,
  vp9TileColumnsLog2,
  DEFAULT_VP9_BITRATES,
  KEYFRAME_INTERVAL_SECONDS,
  MAX_INTRA_RATE_PERCENT,
  type CodecConfig,
  type EncoderSpeed,
  type BitrateStep,
  type VideoEncodeParams,
  type AudioEncodeParams,
} from './codecs.js';
export { fitShortSide, fitWidth, type FrameSize } from './geometry.js';
export { assertWholeInputEncoded, type TranscodeOptions, type TranscodeResult, type ProgressListener } from './transcode.js';
export type { PreviewOptions, PreviewResult } from './preview.js';
export { posterCandidateTimes, type PosterOptions, type PosterResult } from './poster.js';
export type { PreviewAndPosterOptions, PreviewAndPosterResult } from './preview-and-poster.js';
export { REQUIRED_ENCODERS, type FfmpegHealth } from './health.js';
export { outputFps, type VideoChunkOptions, type VideoChunkResult, type AudioTrackOptions, type JoinOptions } from './chunks.js';
