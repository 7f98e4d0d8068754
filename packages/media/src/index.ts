// The package's one entry. What runs ffmpeg is the adapter (createMediaAdapter, built from the media
// configuration); beside it only what runs nothing: the pure command builders and parsers, the codec
// settings, the probe's types and checks, and the errors. Services import from here and never from
// fluent-ffmpeg or from a module of this package.
export { createMediaAdapter, type MediaAdapter } from './adapter.js';
export {
  type AudioTrackOptions,
  type JoinOptions,
  type LadderChunkOptions,
  type LadderChunkRung,
  outputFps,
  type VideoChunkOptions,
  type VideoChunkResult,
} from './chunks.js';
export {
  type AudioEncodeParams,
  av1Codec,
  type BitrateStep,
  bitrateForHeight,
  type CodecConfig,
  DEFAULT_VP9_BITRATES,
  type EncoderSpeed,
  h264Codec,
  hevcCodec,
  KEYFRAME_INTERVAL_SECONDS,
  keyframeSecondsFor,
  MAX_INTRA_RATE_PERCENT,
  type VideoEncodeParams,
  vp9Codec,
  vp9TileColumnsLog2,
} from './codecs.js';
export {
  type AudioTrackCommandSettings,
  buildAudioTrackCommand,
  buildConcatList,
  buildJoinCommand,
  buildLadderChunkCommand,
  buildMeanLumaCommand,
  buildPacketProbeArgs,
  buildPosterFrameCommand,
  buildPreviewAndPosterCommand,
  buildPreviewCommand,
  buildProbeOptions,
  buildTranscodeCommand,
  buildVideoChunkCommand,
  type ConcatEntry,
  type FfmpegCommand,
  type JoinCommandSettings,
  type LadderChunkCommandSettings,
  type LadderChunkOutput,
  OWN_CONCAT_DEMUXERS,
  OWN_WEBM_DEMUXERS,
  type PacketSummary,
  type PosterFrameSettings,
  type PreviewAndPosterCommandSettings,
  type PreviewCommandSettings,
  parseMeanLuma,
  parsePacketProbe,
  restrictedInputOptions,
  SOURCE_DEMUXERS,
  type TranscodeCommandSettings,
  type VideoChunkCommandSettings,
} from './commands.js';
export { binariesFrom, type MediaBinaries, type MediaEnv, mediaBinariesSchema, mediaEnvSchema, runnerOptionsFrom } from './config.js';
export { isMediaError, MediaError, type MediaErrorCode, type MediaErrorDetails } from './errors.js';
export { clampPercent, type FfmpegProgress, type FfmpegRunnerOptions } from './ffmpeg-runner.js';
export { type FrameSize, fitShortSide, fitWidth } from './geometry.js';
export { describeFfmpegProblem, type FfmpegHealth, ffmpegVersionProblem, REQUIRED_ENCODERS, SUPPORTED_FFMPEG, SUPPORTED_FFMPEG_TEXT } from './health.js';
export {
  buildDashManifestCommand,
  buildProgressiveRemuxCommand,
  buildRungJoinCommand,
  DASH_AUDIO_FILE,
  DASH_MANIFEST_FILE,
  type LadderStep,
  planLadder,
  type Rung,
  type RungJoinOptions,
  rungFileName,
  VP9_LADDER,
} from './ladder.js';
export { type PosterOptions, type PosterResult, posterCandidateTimes } from './poster.js';
export type { PreviewOptions, PreviewResult } from './preview.js';
export type { PreviewAndPosterOptions, PreviewAndPosterResult } from './preview-and-poster.js';
export { assertPlayableVideo, toMediaInfo } from './probe.js';
export {
  buildStoryboardCommand,
  DEFAULT_STORYBOARD,
  planStoryboard,
  STORYBOARD_VTT,
  type StoryboardCue,
  type StoryboardPlan,
  type StoryboardResult,
  type StoryboardSettings,
  spriteName,
  storyboardVtt,
} from './storyboard.js';
export { assertWholeInputEncoded, type ProgressListener, type TranscodeOptions, type TranscodeResult } from './transcode.js';
export type { AudioStreamInfo, MediaInfo, VideoStreamInfo } from './types.js';
