import { describe, expect, it } from 'vitest';
import type { FfprobeData } from 'fluent-ffmpeg';
import { parseProgressLine } from '../src/ffmpeg-runner.js';
import {
  assertPlayableVideo,
  assertWholeInputEncoded,
  bitrateForHeight,
  clampPercent,
  DEFAULT_VP9_BITRATES,
  fitShortSide,
  fitWidth,
  MediaError,
  type MediaInfo,
  posterCandidateTimes,
  toMediaInfo,
  vp9Codec,
  vp9TileColumnsLog2,
} from '../src/index.js';

describe('bitrateForHeight', () => {
  it('picks the first step whose bound covers the height', () => {
    expect(bitrateForHeight(360)).toBe(700);
    expect(bitrateForHeight(361)).toBe(1000);
    expect(bitrateForHeight(720)).toBe(1800);
    expect(bitrateForHeight(1080)).toBe(2500);
  });
  it('uses the top step above the table', () => {
    expect(bitrateForHeight(4320)).toBe(DEFAULT_VP9_BITRATES.at(-1)?.kbps);
  });
  it('accepts a custom, unsorted table', () => {
    expect(
      bitrateForHeight(500, [
        { maxHeight: 1080, kbps: 2000 },
        { maxHeight: 480, kbps: 900 },
      ]),
    ).toBe(2000);
  });
  it('rejects an empty table', () => {
    expect(() => bitrateForHeight(720, [])).toThrow(RangeError);
  });
});

describe('geometry', () => {
  it('caps the short side, keeps aspect and even sides', () => {
    expect(fitShortSide({ width: 1280, height: 720 }, 360)).toEqual({ width: 640, height: 360 });
    expect(fitShortSide({ width: 1280, height: 720 }, 480)).toEqual({ width: 852, height: 480 });
  });
  it('caps a portrait video by its width', () => {
    expect(fitShortSide({ width: 1080, height: 1920 }, 720)).toEqual({ width: 720, height: 1280 });
  });
  it('never upscales but still evens odd sizes', () => {
    expect(fitShortSide({ width: 641, height: 359 }, 1080)).toEqual({ width: 640, height: 358 });
  });
  it('fits a width cap', () => {
    expect(fitWidth({ width: 3840, height: 2160 }, 1280)).toEqual({ width: 1280, height: 720 });
    expect(fitWidth({ width: 640, height: 360 }, 1280)).toEqual({ width: 640, height: 360 });
  });
});

describe('vp9 codec config', () => {
  it('tiles by width (256 px per tile, at most 4)', () => {
    expect(vp9TileColumnsLog2(320)).toBe(0);
    expect(vp9TileColumnsLog2(640)).toBe(1);
    expect(vp9TileColumnsLog2(1920)).toBe(2);
    expect(vp9TileColumnsLog2(3840)).toBe(2);
  });
  it('maps bitrate, threads and fps to options with the measured default profile', () => {
    const args = vp9Codec.videoOptions({ bitrateKbps: 2000, threads: 4, width: 1920, fps: 30, speed: vp9Codec.defaultSpeed });
    const value = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    expect(value('-c:v')).toBe('libvpx-vp9');
    expect(value('-b:v')).toBe('2000k');
    expect(value('-maxrate')).toBe('3000k');
    expect(value('-deadline')).toBe('good');
    expect(value('-cpu-used')).toBe('5');
    expect(value('-row-mt')).toBe('1');
    expect(value('-tile-columns')).toBe('2');
    expect(value('-threads')).toBe('4');
    expect(value('-g')).toBe('60');
    expect(value('-pix_fmt')).toBe('yuv420p');
  });
  it('downmixes surround to stereo for opus', () => {
    const args = vp9Codec.audioOptions({ bitrateKbps: 128, channels: 6 });
    expect(args).toEqual(['-c:a', 'libopus', '-b:a', '128k', '-ac', '2']);
  });
});

describe('progress parsing', () => {
  it('reads frames and time from a stats line', () => {
    expect(parseProgressLine('frame=   45 fps= 30 q=0.0 size=     256kB time=00:01:02.50 bitrate= 1.0kbits/s speed=1x')).toEqual({
      frames: 45,
      outTimeSeconds: 62.5,
    });
  });
  it('ignores other lines and treats negative time as zero', () => {
    expect(parseProgressLine('Stream mapping:')).toBeUndefined();
    expect(parseProgressLine('frame=0 time=-00:00:00.02')).toEqual({ frames: 0, outTimeSeconds: 0 });
  });
  it('clamps percent', () => {
    expect(clampPercent(104)).toBe(100);
    expect(clampPercent(-3)).toBe(0);
    expect(clampPercent(Number.NaN)).toBe(0);
  });
});

describe('toMediaInfo', () => {
  const base = (stream: Record<string, unknown>): FfprobeData => ({
    format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: 10, size: 1000 },
    streams: [
      { index: 0, codec_type: 'video', codec_name: 'hevc', width: 1920, height: 1080, pix_fmt: 'yuv420p10le', avg_frame_rate: '30000/1001', ...stream },
    ],
    chapters: [],
  });
  it('swaps display size for a -90 rotation (ffprobe string) and derives bit depth from pix_fmt', () => {
    const info = toMediaInfo('x.mov', base({ rotation: '-90' }));
    expect(info.video).toMatchObject({ width: 1080, height: 1920, rotation: 270, bitDepth: 10, fps: 29.97 });
  });
  it('applies non-square pixels to the display width', () => {
    const info = toMediaInfo('x.mov', base({ width: 720, height: 576, sample_aspect_ratio: '16:15' }));
    expect(info.video).toMatchObject({ width: 768, height: 576 });
  });
  it('does not count cover art as video', () => {
    const data = base({ disposition: { attached_pic: 1 }, codec_name: 'mjpeg' });
    data.streams.push({ index: 1, codec_type: 'audio', codec_name: 'mp3', channels: 2, sample_rate: 44100 });
    const info = toMediaInfo('song.mp3', data);
    expect(info.video).toBeUndefined();
    expect(info.audio).toEqual({ codec: 'mp3', channels: 2, sampleRate: 44100 });
  });
  it('rejects a file with no streams as not_media', () => {
    const data: FfprobeData = { format: { format_name: 'tty' }, streams: [], chapters: [] };
    expect(() => toMediaInfo('a.txt', data)).toThrow(MediaError);
  });
});

describe('posterCandidateTimes', () => {
  it('starts a quarter in, at most 3 s, then middle and late', () => {
    expect(posterCandidateTimes(4)).toEqual([1, 2, 3]);
    expect(posterCandidateTimes(60)).toEqual([3, 30, 45]);
  });
});

describe('assertPlayableVideo', () => {
  const info = (extra: Partial<MediaInfo>): MediaInfo => ({ formatName: 'matroska,webm', durationSeconds: 3, sizeBytes: 100, ...extra });
  const video = { codec: 'h264', width: 640, height: 360, rotation: 0, fps: 30, pixelFormat: 'yuv420p', bitDepth: 8 };
  it('tells audio-only files from files with no streams worth playing', () => {
    expect(() => assertPlayableVideo(info({ audio: { codec: 'aac', channels: 2, sampleRate: 48000 } }))).toThrow(
      expect.objectContaining({ code: 'audio_only', permanent: true }),
    );
    expect(() => assertPlayableVideo(info({}))).toThrow(expect.objectContaining({ code: 'no_video_stream' }));
  });
  it('refuses a video stream whose codec ffmpeg cannot name', () => {
    expect(() => assertPlayableVideo(info({ video: { ...video, codec: 'unknown' } }))).toThrow(
      expect.objectContaining({ code: 'undecodable', permanent: true }),
    );
  });
  it('refuses a still image as zero duration', () => {
    expect(() => assertPlayableVideo(info({ formatName: 'png_pipe', durationSeconds: 0, video }))).toThrow(expect.objectContaining({ code: 'zero_duration' }));
  });
});

describe('assertWholeInputEncoded', () => {
  const video = { codec: 'vp9', width: 640, height: 360, rotation: 0, fps: 30, pixelFormat: 'yuv420p', bitDepth: 8 };
  const source: MediaInfo = { formatName: 'mov,mp4', durationSeconds: 10, sizeBytes: 1, video: { ...video, codec: 'h264' } };
  const produced = (durationSeconds: number): MediaInfo => ({ formatName: 'matroska,webm', durationSeconds, sizeBytes: 1, video });
  it('accepts an output within container rounding of the source', () => {
    expect(() => assertWholeInputEncoded(source, produced(9.6), { inputTruncated: false }, 'in.mp4')).not.toThrow();
  });
  it('calls an output missing part of the source truncated', () => {
    expect(() => assertWholeInputEncoded(source, produced(4), { inputTruncated: false }, 'in.mp4')).toThrow(
      expect.objectContaining({ code: 'truncated', permanent: true }),
    );
  });
  it('trusts ffmpeg noticing a cut-off file even when the lengths agree', () => {
    expect(() => assertWholeInputEncoded(source, produced(10), { inputTruncated: true }, 'in.mp4')).toThrow(expect.objectContaining({ code: 'truncated' }));
  });
  it('calls an output with no frames undecodable', () => {
    expect(() =>
      assertWholeInputEncoded(source, { formatName: 'matroska,webm', durationSeconds: 0, sizeBytes: 1 }, { inputTruncated: false }, 'in.mp4'),
    ).toThrow(expect.objectContaining({ code: 'undecodable' }));
  });
});
