import { describe, it, expect } from 'vitest';
import {
  buildMeanLumaCommand,
  buildPosterFrameCommand,
  buildPreviewCommand,
  buildProbeOptions,
  buildTranscodeCommand,
  SOURCE_DEMUXERS,
  vp9Codec,
  type MediaInfo,
  type VideoStreamInfo,
} from '../src/index.js';
import { parseEncoderList } from '../src/ffmpeg-runner.js';

// The builders are pure: these tests run no ffmpeg.

const video: VideoStreamInfo = { codec: 'h264', width: 1920, height: 1080, rotation: 0, fps: 30, pixelFormat: 'yuv420p', bitDepth: 8 };
const withAudio: MediaInfo & { video: VideoStreamInfo } = { formatName: 'mov,mp4', durationSeconds: 60, sizeBytes: 1, video, audio: { codec: 'aac', channels: 2, sampleRate: 48000 } };
const silent: MediaInfo & { video: VideoStreamInfo } = { formatName: 'mov,mp4', durationSeconds: 60, sizeBytes: 1, video };
const valueOf = (args: string[], flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);

describe('every input is restricted to the staged file', () => {
  const commands = [
    buildTranscodeCommand({ input: 'in', output: 'out', source: withAudio, size: { width: 1280, height: 720 }, threads: 3, maxFps: 60, audioBitrateKbps: 128 }),
    buildPreviewCommand({ input: 'in', output: 'out', source: withAudio, size: { width: 852, height: 480 }, seconds: 5, threads: 3, maxFps: 30 }),
    buildPosterFrameCommand({ input: 'in', output: 'out', source: withAudio, size: { width: 1280, height: 720 }, atSeconds: 3, chooseFrame: true, quality: 80, threads: 3 }),
    buildMeanLumaCommand('poster.webp'),
  ];
  it('reads only through the file protocol and only with allowed demuxers, never a playlist format', () => {
    for (const command of commands) {
      expect(valueOf(command.inputOptions, '-protocol_whitelist')).toBe('file');
      const demuxers = valueOf(command.inputOptions, '-format_whitelist')?.split(',') ?? [];
      expect(demuxers.length).toBeGreaterThan(0);
      for (const playlist of ['hls', 'dash', 'concat', 'applehttp', 'tty']) expect(demuxers).not.toContain(playlist);
    }
    expect(buildProbeOptions()).toEqual(expect.arrayContaining(['-protocol_whitelist', 'file', '-format_whitelist', SOURCE_DEMUXERS.join(',')]));
  });
  it('gives the decoder FFMPEG_THREADS threads, before the input (ffmpeg would count the host\'s CPUs)', () => {
    for (const command of commands.slice(0, 3)) expect(valueOf(command.inputOptions, '-threads')).toBe('3');
  });
  it('lets the luma measurement read only image formats this package writes', () => {
    expect(valueOf(buildMeanLumaCommand('p.webp').inputOptions, '-format_whitelist')).toBe('image2,webp_pipe');
  });
});

describe('buildTranscodeCommand', () => {
  it('maps video and audio, scales, strips metadata and uses the ladder and the default speed', () => {
    const command = buildTranscodeCommand({ input: 'in.mp4', output: 'out.webm', source: withAudio, size: { width: 1280, height: 720 }, threads: 2, maxFps: 60, audioBitrateKbps: 128 });
    const args = command.outputOptions;
    expect(command.input).toBe('in.mp4');
    expect(command.output).toBe('out.webm');
    expect(args.filter((a, i) => args[i - 1] === '-map')).toEqual(['0:v:0', '0:a:0']);
    expect(valueOf(args, '-vf')).toBe('scale=1280:720,setsar=1,format=yuv420p');
    expect(valueOf(args, '-map_metadata')).toBe('-1');
    expect(valueOf(args, '-b:v')).toBe('1800k');
    expect(valueOf(args, '-deadline')).toBe(vp9Codec.defaultSpeed.deadline);
    expect(valueOf(args, '-c:a')).toBe('libopus');
    expect(valueOf(args, '-g')).toBe('60');
    expect(args.slice(-4)).toEqual(['-f', 'webm', '-cues_to_front', '1']);
    expect(command.expectedDurationSeconds).toBe(60);
  });
  it('writes no audio track for a silent source and honours an explicit bitrate and speed', () => {
    const args = buildTranscodeCommand({ input: 'in', output: 'out', source: silent, size: { width: 1920, height: 1080 }, threads: 1, maxFps: 60, audioBitrateKbps: 128, videoBitrateKbps: 900, speed: { cpuUsed: 8 } }).outputOptions;
    expect(args).toContain('-an');
    expect(args).not.toContain('-c:a');
    expect(valueOf(args, '-b:v')).toBe('900k');
    expect(valueOf(args, '-cpu-used')).toBe('8');
  });
  it('caps the keyframe interval to the capped frame rate', () => {
    const fast = { ...withAudio, video: { ...video, fps: 240 } };
    const args = buildTranscodeCommand({ input: 'in', output: 'out', source: fast, size: { width: 1280, height: 720 }, threads: 1, maxFps: 60, audioBitrateKbps: 128 }).outputOptions;
    expect(valueOf(args, '-fpsmax')).toBe('60');
    expect(valueOf(args, '-g')).toBe('120');
  });
});

describe('buildPreviewCommand', () => {
  it('is muted, cut to its length with the fast preview profile, and expects the shorter of clip and video', () => {
    const command = buildPreviewCommand({ input: 'in', output: 'out', source: { ...withAudio, durationSeconds: 3 }, size: { width: 852, height: 480 }, seconds: 5, threads: 2, maxFps: 30 });
    expect(command.outputOptions).toContain('-an');
    expect(command.outputOptions).not.toContain('0:a:0');
    expect(valueOf(command.outputOptions, '-t')).toBe('5');
    expect(valueOf(command.outputOptions, '-deadline')).toBe('realtime');
    expect(valueOf(command.outputOptions, '-b:v')).toBe('1000k');
    expect(command.expectedDurationSeconds).toBe(3);
  });
});

describe('buildPosterFrameCommand', () => {
  it('seeks before the input, takes one WebP frame and picks a typical frame of a one-second window when asked', () => {
    const chosen = buildPosterFrameCommand({ input: 'in', output: 'p.webp', source: withAudio, size: { width: 1280, height: 720 }, atSeconds: 2.5, chooseFrame: true, quality: 75 });
    expect(valueOf(chosen.inputOptions, '-ss')).toBe('2.500');
    expect(valueOf(chosen.outputOptions, '-vf')).toMatch(/,thumbnail=30$/);
    expect(valueOf(chosen.outputOptions, '-frames:v')).toBe('1');
    expect(valueOf(chosen.outputOptions, '-quality')).toBe('75');
    const exact = buildPosterFrameCommand({ input: 'in', output: 'p.webp', source: withAudio, size: { width: 1280, height: 720 }, atSeconds: 1, chooseFrame: false, quality: 80 });
    expect(valueOf(exact.outputOptions, '-vf')).not.toContain('thumbnail');
    expect(exact.inputOptions).not.toContain('-threads');
  });
});

describe('parseEncoderList', () => {
  it('reads encoder names from ffmpeg -encoders output', () => {
    const text = ['Encoders:', ' V..... = Video', ' ------', ' V....D libvpx-vp9           libvpx VP9 (codec vp9)', ' A....D libopus              libopus Opus (codec opus)', ' V....D libwebp              libwebp WebP image (codec webp)'].join('\n');
    expect([...parseEncoderList(text)]).toEqual(['libvpx-vp9', 'libopus', 'libwebp']);
  });
});
