// The one adapter over fluent-ffmpeg: services import from here and never from fluent-ffmpeg.
export { MediaError, isMediaError, type MediaErrorCode, type MediaErrorDetails } from './errors.js';
export {
  FfmpegRunner,
  clampPercent,
  type FfmpegRunnerOptions,
  type FfmpegJob,
  type FfmpegProgress,
  type FfmpegRunResult,
  type FfmpegInfo,
} from './ffmpeg-runner.js';
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
export {
  probeMedia,
  toMediaInfo,
  assertPlayableVideo,
  type MediaInfo,
  type VideoStreamInfo,
  type AudioStreamInfo,
} from './probe.js';
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
export {
  transcodeToVp9,
  transcodeWithCodec,
  assertWholeInputEncoded,
  type TranscodeOptions,
  type TranscodeResult,
  type ProgressListener,
} from './transcode.js';
export { extractPreview, type PreviewOptions, type PreviewResult } from './preview.js';
export {
  extractPoster,
  measureMeanLuma,
  posterCandidateTimes,
  type PosterOptions,
  type PosterResult,
} from './poster.js';
export { extractPreviewAndPoster, type PreviewAndPosterOptions, type PreviewAndPosterResult } from './preview-and-poster.js';
export { ffmpegVersion, isFfmpegAvailable, checkFfmpeg, REQUIRED_ENCODERS, type FfmpegHealth } from './health.js';
export { createMediaAdapter, type MediaAdapter } from './adapter.js';
export { mediaEnvSchema, runnerOptionsFrom, type MediaEnv } from './config.js';
export {
  encodeVideoChunk,
  findVideoChunk,
  encodeAudioTrack,
  findAudioTrack,
  joinChunks,
  outputFps,
  type VideoChunkOptions,
  type VideoChunkResult,
  type AudioTrackOptions,
  type JoinOptions,
} from './chunks.js';
