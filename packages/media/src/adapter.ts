import {
  type AudioTrackOptions,
  encodeAudioTrack,
  encodeLadderChunk,
  encodeVideoChunk,
  findAudioTrack,
  findVideoChunk,
  type JoinOptions,
  joinChunks,
  type LadderChunkOptions,
  type VideoChunkOptions,
  type VideoChunkResult,
} from './chunks.js';
import type { CodecConfig } from './codecs.js';
import type { PacketSummary } from './commands.js';
import { FfmpegRunner, type FfmpegRunnerOptions } from './ffmpeg-runner.js';
import { checkFfmpeg, type FfmpegHealth } from './health.js';
import { joinRung, type RungJoinOptions, remuxProgressive, writeDashManifest } from './ladder.js';
import { extractPoster, type PosterOptions, type PosterResult } from './poster.js';
import { extractPreview, type PreviewOptions, type PreviewResult } from './preview.js';
import { extractPreviewAndPoster, type PreviewAndPosterOptions, type PreviewAndPosterResult } from './preview-and-poster.js';
import { probeMedia } from './probe.js';
import { extractStoryboard, type StoryboardOptions, type StoryboardResult } from './storyboard.js';
import { type ProgressListener, type TranscodeOptions, type TranscodeResult, transcodeToVp9, transcodeWithCodec } from './transcode.js';
import type { MediaInfo } from './types.js';

type WithoutRunner<T> = Omit<T, 'runner'>;

/** The media operations a service depends on; a service's unit tests pass a fake of this. */
export interface MediaAdapter {
  /** See probeMedia. */
  probe(path: string): Promise<MediaInfo>;
  /** See transcodeToVp9. */
  transcodeToVp9(input: string, output: string, options: WithoutRunner<TranscodeOptions>, onProgress?: ProgressListener): Promise<TranscodeResult>;
  /** See transcodeWithCodec: another codec's settings (the media benchmark compares them). */
  transcodeWithCodec(
    codec: CodecConfig,
    input: string,
    output: string,
    options: WithoutRunner<TranscodeOptions>,
    onProgress?: ProgressListener,
  ): Promise<TranscodeResult>;
  /** See extractPreview. */
  extractPreview(input: string, output: string, options: WithoutRunner<PreviewOptions>): Promise<PreviewResult>;
  /** See extractPoster. */
  extractPoster(input: string, output: string, options?: WithoutRunner<PosterOptions>): Promise<PosterResult>;
  /** See extractPreviewAndPoster: both from one ffmpeg run. */
  extractPreviewAndPoster(
    input: string,
    previewOutput: string,
    posterOutput: string,
    options: WithoutRunner<PreviewAndPosterOptions>,
  ): Promise<PreviewAndPosterResult>;
  /** See checkFfmpeg. */
  health(): Promise<FfmpegHealth>;
  /** A file's video packets and keyframe times (FfmpegRunner.probePackets). */
  probePackets(path: string): Promise<PacketSummary>;
  /** See encodeVideoChunk. */
  encodeVideoChunk(input: string, output: string, options: WithoutRunner<VideoChunkOptions>, onProgress?: ProgressListener): Promise<VideoChunkResult>;
  /** See encodeLadderChunk: one chunk for several rungs from one decode of the source. */
  encodeLadderChunk(input: string, options: WithoutRunner<LadderChunkOptions>, onProgress?: ProgressListener): ReturnType<typeof encodeLadderChunk>;
  /** See findVideoChunk. */
  findVideoChunk(path: string, frames: number | undefined, fps: number): Promise<VideoChunkResult | undefined>;
  /** See encodeAudioTrack. */
  encodeAudioTrack(input: string, output: string, options: WithoutRunner<AudioTrackOptions>): ReturnType<typeof encodeAudioTrack>;
  /** See findAudioTrack. */
  findAudioTrack(path: string, source: MediaInfo): ReturnType<typeof findAudioTrack>;
  /** See joinChunks. */
  joinChunks(output: string, options: WithoutRunner<JoinOptions>): Promise<TranscodeResult>;
  /** See joinRung: a rung's chunks into its DASH file. */
  joinRung(output: string, options: WithoutRunner<RungJoinOptions>): Promise<TranscodeResult>;
  /** See writeDashManifest. */
  writeDashManifest(output: string, options: WithoutRunner<Parameters<typeof writeDashManifest>[1]>): Promise<{ outputBytes: number }>;
  /** See remuxProgressive: the single-file fallback from a rung and the audio, no encode. */
  remuxProgressive(output: string, options: WithoutRunner<Parameters<typeof remuxProgressive>[1]>): Promise<TranscodeResult>;
  /** See extractStoryboard. */
  extractStoryboard(input: string, outputDir: string, options?: WithoutRunner<StoryboardOptions>): Promise<StoryboardResult>;
}

/**
 * The package's one entry to running ffmpeg: every operation bound to one runner (binaries, niceness,
 * time limits) built from the caller's configuration (runnerOptionsFrom). There is no shared default:
 * whoever runs ffmpeg builds an adapter, so what runs and how is always the caller's choice.
 */
export function createMediaAdapter(options: FfmpegRunnerOptions = {}): MediaAdapter {
  const runner = new FfmpegRunner(options);
  return {
    probe: (path) => probeMedia(path, runner),
    transcodeToVp9: (input, output, opts, onProgress) => transcodeToVp9(input, output, { ...opts, runner }, onProgress),
    transcodeWithCodec: (codec, input, output, opts, onProgress) => transcodeWithCodec(codec, input, output, { ...opts, runner }, onProgress),
    extractPreview: (input, output, opts) => extractPreview(input, output, { ...opts, runner }),
    extractPoster: (input, output, opts = {}) => extractPoster(input, output, { ...opts, runner }),
    extractPreviewAndPoster: (input, previewOutput, posterOutput, opts) => extractPreviewAndPoster(input, previewOutput, posterOutput, { ...opts, runner }),
    health: () => checkFfmpeg(runner),
    probePackets: (path) => runner.probePackets(path),
    encodeVideoChunk: (input, output, opts, onProgress) => encodeVideoChunk(input, output, { ...opts, runner }, onProgress),
    encodeLadderChunk: (input, opts, onProgress) => encodeLadderChunk(input, { ...opts, runner }, onProgress),
    findVideoChunk: (path, frames, fps) => findVideoChunk(path, frames, fps, runner),
    encodeAudioTrack: (input, output, opts) => encodeAudioTrack(input, output, { ...opts, runner }),
    findAudioTrack: (path, source) => findAudioTrack(path, source, runner),
    joinChunks: (output, opts) => joinChunks(output, { ...opts, runner }),
    joinRung: (output, opts) => joinRung(output, { ...opts, runner }),
    writeDashManifest: (output, opts) => writeDashManifest(output, { ...opts, runner }),
    remuxProgressive: (output, opts) => remuxProgressive(output, { ...opts, runner }),
    extractStoryboard: (input, outputDir, opts = {}) => extractStoryboard(input, outputDir, { ...opts, runner }),
  };
}
