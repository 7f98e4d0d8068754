import type { FfprobeData, FfprobeStream } from 'fluent-ffmpeg';
import { MediaError } from './errors.js';
import type { FfmpegRunner } from './ffmpeg-runner.js';
import type { AudioStreamInfo, MediaInfo, VideoStreamInfo } from './types.js';

// Demuxers that accept almost any bytes (text as "ANSI art"): a match is not media.
const NON_MEDIA_FORMATS = new Set(['tty']);

/** Reads a file's container and streams with ffprobe; throws MediaError 'not_media' if it cannot. */
export async function probeMedia(path: string, runner: FfmpegRunner): Promise<MediaInfo> {
  const data = await runner.probe(path);
  return toMediaInfo(path, data);
}

/** Turns raw ffprobe data into MediaInfo; exported for tests and fakes. */
export function toMediaInfo(path: string, data: FfprobeData): MediaInfo {
  const formatName = str(data.format.format_name);
  if (data.streams.length === 0 || formatName === '' || NON_MEDIA_FORMATS.has(formatName)) {
    throw new MediaError('not_media', 'file has no media streams', { path });
  }
  const videoStream = data.streams.find(isRealVideo);
  const audioStream = data.streams.find((s) => s.codec_type === 'audio');
  const info: MediaInfo = {
    formatName,
    durationSeconds: durationOf(data, videoStream ?? audioStream),
    sizeBytes: num(data.format.size),
  };
  if (videoStream) info.video = toVideoInfo(videoStream);
  if (audioStream) info.audio = toAudioInfo(audioStream);
  return info;
}

/** Throws MediaError unless the file has a video stream with a positive duration. */
export function assertPlayableVideo(info: MediaInfo, path?: string): asserts info is MediaInfo & { video: VideoStreamInfo } {
  const details = path === undefined ? {} : { path };
  if (!info.video && info.audio) {
    throw new MediaError('audio_only', `file has only audio (${info.audio.codec}), no video stream`, details);
  }
  if (!info.video || info.video.width <= 0 || info.video.height <= 0) {
    throw new MediaError('no_video_stream', 'file has no video stream', details);
  }
  // ffprobe names every codec it has a decoder for; a nameless stream would fail mid-encode.
  if (['', 'none', 'unknown'].includes(info.video.codec)) {
    throw new MediaError('undecodable', `video codec of the ${info.formatName} file is unknown to ffmpeg`, details);
  }
  // Still images (png, jpeg in image2 demuxer) report a video stream but are not videos.
  if (info.durationSeconds <= 0 || info.formatName.startsWith('image2') || info.formatName.endsWith('_pipe')) {
    throw new MediaError('zero_duration', `video has no duration (a still ${info.formatName.replace(/_pipe$/, '')} image or an empty track)`, details);
  }
}

function isRealVideo(stream: FfprobeStream): boolean {
  // Cover art in mp3/m4a shows up as a one-frame video stream.
  return stream.codec_type === 'video' && num(stream.disposition?.attached_pic) !== 1;
}

function toVideoInfo(stream: FfprobeStream): VideoStreamInfo {
  const rotation = rotationOf(stream);
  const sar = ratio(stream.sample_aspect_ratio);
  const storedWidth = num(stream.width);
  const storedHeight = num(stream.height);
  const squareWidth = sar > 0 ? Math.round(storedWidth * sar) : storedWidth;
  const sideways = rotation === 90 || rotation === 270;
  const pixelFormat = str(stream.pix_fmt);
  const info: VideoStreamInfo = {
    codec: str(stream.codec_name),
    width: sideways ? storedHeight : squareWidth,
    height: sideways ? squareWidth : storedHeight,
    rotation,
    fps: round3(ratio(stream.avg_frame_rate) || ratio(stream.r_frame_rate)),
    pixelFormat,
    bitDepth: num(stream.bits_per_raw_sample) || bitDepthOf(pixelFormat),
  };
  const transfer = str(stream.color_transfer);
  if (transfer !== '' && transfer !== 'unknown') info.colorTransfer = transfer;
  return info;
}

function toAudioInfo(stream: FfprobeStream): AudioStreamInfo {
  return { codec: str(stream.codec_name), channels: num(stream.channels), sampleRate: num(stream.sample_rate) };
}

function rotationOf(stream: FfprobeStream): number {
  // fluent-ffmpeg flattens the Display Matrix side data into `rotation`; old files use a `rotate` tag.
  const raw = stream.rotation ?? (stream.tags as Record<string, unknown> | undefined)?.rotate;
  const degrees = num(raw);
  const normalised = (((Math.round(degrees / 90) * 90) % 360) + 360) % 360;
  return normalised;
}

function durationOf(data: FfprobeData, stream: FfprobeStream | undefined): number {
  const fromFormat = num(data.format.duration);
  if (fromFormat > 0) return round3(fromFormat);
  return round3(num(stream?.duration));
}

function bitDepthOf(pixelFormat: string): number {
  const match = /p(\d{2})(le|be)?$/.exec(pixelFormat);
  return match?.[1] ? Number(match[1]) : 8;
}

function ratio(value: unknown): number {
  const text = str(value);
  const [a, b] = text.split(/[/:]/);
  const numerator = Number(a);
  const denominator = b === undefined ? 1 : Number(b);
  if (!Number.isFinite(numerator) || !Number.isFinite(denominator) || denominator === 0) return 0;
  return numerator / denominator;
}

function num(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : 0;
}

function str(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
