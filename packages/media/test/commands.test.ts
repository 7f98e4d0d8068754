import { describe, expect, it } from 'vitest';
import { parseEncoderList } from '../src/ffmpeg-runner.js';
import {
  buildMeanLumaCommand,
  buildPosterFrameCommand,
  buildPreviewAndPosterCommand,
  buildPreviewCommand,
  buildProbeOptions,
  buildTranscodeCommand,
  buildVideoChunkCommand,
  type MediaInfo,
  parseMeanLuma,
  SOURCE_DEMUXERS,
  type VideoStreamInfo,
  vp9Codec,
} from '../src/index.js';

// The builders are pure: these tests run no ffmpeg.

const video: VideoStreamInfo = { codec: 'h264', width: 1920, height: 1080, rotation: 0, fps: 30, pixelFormat: 'yuv420p', bitDepth: 8 };
const withAudio: MediaInfo & { video: VideoStreamInfo } = {
  formatName: 'mov,mp4',
  durationSeconds: 60,
  sizeBytes: 1,
  video,
  audio: { codec: 'aac', channels: 2, sampleRate: 48000 },
};
const silent: MediaInfo & { video: VideoStreamInfo } = { formatName: 'mov,mp4', durationSeconds: 60, sizeBytes: 1, video };
const flagValue = (args: string[], flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);

describe('every input is restricted to the staged file', () => {
  const commands = [
    buildTranscodeCommand({ input: 'in', output: 'out', source: withAudio, size: { width: 1280, height: 720 }, threads: 3, maxFps: 60, audioBitrateKbps: 128 }),
    buildPreviewCommand({ input: 'in', output: 'out', source: withAudio, size: { width: 852, height: 480 }, seconds: 5, threads: 3, maxFps: 30 }),
    buildPosterFrameCommand({
      input: 'in',
      output: 'out',
      source: withAudio,
      size: { width: 1280, height: 720 },
      atSeconds: 3,
      chooseFrame: true,
      quality: 80,
      threads: 3,
    }),
    buildPreviewAndPosterCommand({
      input: 'in',
      previewOutput: 'p',
      posterOutput: 'q',
      source: withAudio,
      size: { width: 852, height: 480 },
      posterSize: { width: 1280, height: 720 },
      seconds: 5,
      threads: 3,
      maxFps: 30,
      posterAtSeconds: 3,
      chooseFrame: true,
      quality: 80,
    }),
    buildMeanLumaCommand('poster.webp'),
  ];
  it('reads only through the file protocol and only with allowed demuxers, never a playlist format', () => {
    for (const command of commands) {
      expect(flagValue(command.inputOptions, '-protocol_whitelist')).toBe('file');
      const demuxers = flagValue(command.inputOptions, '-format_whitelist')?.split(',') ?? [];
      expect(demuxers.length).toBeGreaterThan(0);
      for (const playlist of ['hls', 'dash', 'concat', 'applehttp', 'tty']) expect(demuxers).not.toContain(playlist);
    }
    expect(buildProbeOptions()).toEqual(expect.arrayContaining(['-protocol_whitelist', 'file', '-format_whitelist', SOURCE_DEMUXERS.join(',')]));
  });
  it("gives the decoder FFMPEG_THREADS threads, before the input (ffmpeg would count the host's CPUs)", () => {
    for (const command of commands.slice(0, 4)) expect(flagValue(command.inputOptions, '-threads')).toBe('3');
  });
  it('lets the luma measurement read only image formats this package writes', () => {
    expect(flagValue(buildMeanLumaCommand('p.webp').inputOptions, '-format_whitelist')).toBe('image2,webp_pipe');
  });
});

describe('buildTranscodeCommand', () => {
  it('maps video and audio, scales, strips metadata and uses the ladder and the default speed', () => {
    const command = buildTranscodeCommand({
      input: 'in.mp4',
      output: 'out.webm',
      source: withAudio,
      size: { width: 1280, height: 720 },
      threads: 2,
      maxFps: 60,
      audioBitrateKbps: 128,
    });
    const args = command.outputOptions;
    expect(command.input).toBe('in.mp4');
    expect(command.output).toBe('out.webm');
    expect(args.filter((_arg, i) => args[i - 1] === '-map')).toEqual(['0:v:0', '0:a:0']);
    expect(flagValue(args, '-vf')).toBe('scale=1280:720,setsar=1,format=yuv420p');
    expect(flagValue(args, '-map_metadata')).toBe('-1');
    expect(flagValue(args, '-b:v')).toBe('1800k');
    expect(flagValue(args, '-deadline')).toBe(vp9Codec.defaultSpeed.deadline);
    expect(flagValue(args, '-c:a')).toBe('libopus');
    expect(flagValue(args, '-g')).toBe('60');
    expect(args.slice(-4)).toEqual(['-f', 'webm', '-cues_to_front', '1']);
    expect(command.expectedDurationSeconds).toBe(60);
  });
  it('writes no audio track for a silent source and honours an explicit bitrate and speed', () => {
    const args = buildTranscodeCommand({
      input: 'in',
      output: 'out',
      source: silent,
      size: { width: 1920, height: 1080 },
      threads: 1,
      maxFps: 60,
      audioBitrateKbps: 128,
      videoBitrateKbps: 900,
      speed: { cpuUsed: 8 },
    }).outputOptions;
    expect(args).toContain('-an');
    expect(args).not.toContain('-c:a');
    expect(flagValue(args, '-b:v')).toBe('900k');
    expect(flagValue(args, '-cpu-used')).toBe('8');
  });
  it('caps the keyframe interval to the capped frame rate', () => {
    const fast = { ...withAudio, video: { ...video, fps: 240 } };
    const args = buildTranscodeCommand({
      input: 'in',
      output: 'out',
      source: fast,
      size: { width: 1280, height: 720 },
      threads: 1,
      maxFps: 60,
      audioBitrateKbps: 128,
    }).outputOptions;
    // The cap is a filter (fps, round=down), so the chunks of such a source get the same frames; as
    // -fpsmax, ffmpeg 7 made each chunk constant-rate from its shifted start (62 frames for 60).
    expect(flagValue(args, '-vf')).toMatch(/^fps=60:round=down,scale=/);
    expect(args).not.toContain('-fpsmax');
    expect(flagValue(args, '-g')).toBe('120');
    const chunk = buildVideoChunkCommand({
      input: 'in',
      output: 'out',
      source: fast,
      size: { width: 1280, height: 720 },
      threads: 1,
      maxFps: 60,
      fps: 60,
      startFrame: 60,
      frames: 60,
    });
    expect(flagValue(chunk.outputOptions, '-vf')).toMatch(/^fps=60:round=down,trim=end=1\.000000,scale=/);
    expect(chunk.outputOptions).not.toContain('-fpsmax');
    // Shifted by a quarter of the source's frame (1/240 s), not of the output's.
    expect(flagValue(chunk.inputOptions, '-itsoffset')).toBe((0.5 / 240).toFixed(6));
    expect(flagValue(chunk.inputOptions, '-ss')).toBe((1 + 0.25 / 240).toFixed(6));
  });
  it('gives no -fpsmax to a source within the cap (ffmpeg 7 would make a variable-frame-rate video constant-rate)', () => {
    const vfr = { ...withAudio, video: { ...video, fps: 20.69 } };
    const args = buildTranscodeCommand({
      input: 'in',
      output: 'out',
      source: vfr,
      size: { width: 1280, height: 720 },
      threads: 1,
      maxFps: 30,
      audioBitrateKbps: 128,
    }).outputOptions;
    expect(args).not.toContain('-fpsmax');
    const atCap = buildTranscodeCommand({
      input: 'in',
      output: 'out',
      source: { ...withAudio, video: { ...video, fps: 30 } },
      size: { width: 1280, height: 720 },
      threads: 1,
      maxFps: 30,
      audioBitrateKbps: 128,
    });
    expect(atCap.outputOptions).not.toContain('-fpsmax');
    const chunk = buildVideoChunkCommand({
      input: 'in',
      output: 'out',
      source: vfr,
      size: { width: 1280, height: 720 },
      threads: 1,
      maxFps: 30,
      fps: 20.69,
      startFrame: 30,
      frames: 30,
    });
    expect(chunk.outputOptions).not.toContain('-fpsmax');
    // Unknown rate: capped.
    const unknown = buildTranscodeCommand({
      input: 'in',
      output: 'out',
      source: { ...withAudio, video: { ...video, fps: 0 } },
      size: { width: 1280, height: 720 },
      threads: 1,
      maxFps: 30,
      audioBitrateKbps: 128,
    });
    expect(flagValue(unknown.outputOptions, '-fpsmax')).toBe('30');
  });
});

describe('buildPreviewCommand', () => {
  it('is muted, cut to its length with the fast preview profile, and expects the shorter of clip and video', () => {
    const command = buildPreviewCommand({
      input: 'in',
      output: 'out',
      source: { ...withAudio, durationSeconds: 3 },
      size: { width: 852, height: 480 },
      seconds: 5,
      threads: 2,
      maxFps: 30,
    });
    expect(command.outputOptions).toContain('-an');
    expect(command.outputOptions).not.toContain('0:a:0');
    expect(flagValue(command.outputOptions, '-t')).toBe('5');
    expect(flagValue(command.outputOptions, '-deadline')).toBe('realtime');
    expect(flagValue(command.outputOptions, '-b:v')).toBe('1000k');
    expect(command.expectedDurationSeconds).toBe(3);
  });
});

describe('buildPosterFrameCommand', () => {
  it('seeks before the input, takes one WebP frame and picks a typical frame of a one-second window when asked', () => {
    const chosen = buildPosterFrameCommand({
      input: 'in',
      output: 'p.webp',
      source: withAudio,
      size: { width: 1280, height: 720 },
      atSeconds: 2.5,
      chooseFrame: true,
      quality: 75,
    });
    expect(flagValue(chosen.inputOptions, '-ss')).toBe('2.500');
    expect(flagValue(chosen.outputOptions, '-vf')).toMatch(/,thumbnail=30$/);
    expect(flagValue(chosen.outputOptions, '-frames:v')).toBe('1');
    expect(flagValue(chosen.outputOptions, '-quality')).toBe('75');
    const exact = buildPosterFrameCommand({
      input: 'in',
      output: 'p.webp',
      source: withAudio,
      size: { width: 1280, height: 720 },
      atSeconds: 1,
      chooseFrame: false,
      quality: 80,
    });
    expect(flagValue(exact.outputOptions, '-vf')).not.toContain('thumbnail');
    expect(exact.inputOptions).not.toContain('-threads');
  });
});

describe('buildPreviewAndPosterCommand', () => {
  const settings = {
    input: 'in.mp4',
    previewOutput: 'preview.webm.part',
    posterOutput: 'poster.webp.part',
    source: withAudio,
    size: { width: 852, height: 480 },
    posterSize: { width: 1280, height: 720 },
    seconds: 5,
    threads: 2,
    maxFps: 30,
    posterAtSeconds: 3,
    chooseFrame: true,
    quality: 75,
  };
  const command = buildPreviewAndPosterCommand(settings);
  const graph = flagValue(command.outputOptions, '-filter_complex') ?? '';
  const branches = graph.split(';');

  it('is one run writing two files: the preview first, the poster as the second output', () => {
    expect(command.input).toBe('in.mp4');
    expect(command.output).toBe('preview.webm.part');
    expect(command.extraOutputs?.map((output) => output.output)).toEqual(['poster.webp.part']);
    expect(command.expectedDurationSeconds).toBe(5);
  });

  it('decodes the video once and splits it: one branch scaled for the preview, one for the poster', () => {
    expect(branches).toHaveLength(3);
    expect(branches[0]).toBe('[0:v:0]split=2[preview_in][poster_in]');
    expect(branches[1]).toBe('[preview_in]scale=852:480,setsar=1,format=yuv420p[preview]');
    expect(flagValue(command.outputOptions, '-map')).toBe('[preview]');
    expect(flagValue(command.extraOutputs?.[0]?.outputOptions ?? [], '-map')).toBe('[poster]');
  });

  it('encodes the preview exactly as buildPreviewCommand does (same length, profile, bitrate, container)', () => {
    const alone = buildPreviewCommand({ ...settings, output: 'preview.webm' }).outputOptions;
    const withoutFilters = alone.filter((_, i) => !['-vf', '-map'].includes(alone[i] ?? '') && !['-vf', '-map'].includes(alone[i - 1] ?? ''));
    const shared = command.outputOptions.filter(
      (_, i) =>
        !['-filter_complex', '-map'].includes(command.outputOptions[i] ?? '') && !['-filter_complex', '-map'].includes(command.outputOptions[i - 1] ?? ''),
    );
    expect(shared).toEqual(withoutFilters);
    expect(flagValue(shared, '-t')).toBe('5');
    expect(flagValue(shared, '-deadline')).toBe('realtime');
    expect(shared).toContain('-an');
  });

  it('takes the poster as extractPoster does: from its time on, scaled, the typical frame of a one-second window, one WebP frame', () => {
    const poster = branches[2] ?? '';
    expect(poster.startsWith('[poster_in]trim=start=3.000,scale=1280:720,setsar=1,format=yuv420p,thumbnail=30,')).toBe(true);
    const options = command.extraOutputs?.[0]?.outputOptions ?? [];
    expect(flagValue(options, '-frames:v')).toBe('1');
    expect(flagValue(options, '-c:v')).toBe('libwebp');
    expect(flagValue(options, '-quality')).toBe('75');
    expect(flagValue(options, '-map_metadata')).toBe('-1');
    const exact = buildPreviewAndPosterCommand({ ...settings, chooseFrame: false });
    expect(flagValue(exact.outputOptions, '-filter_complex')).not.toContain('thumbnail');
  });

  it("measures the poster's mean luma in the same run, for exactly one frame", () => {
    expect(branches[2]).toMatch(/,trim=end_frame=1,signalstats,metadata=print:key=lavfi\.signalstats\.YAVG\[poster\]$/);
    // The line the metadata filter prints in such a run.
    expect(parseMeanLuma('[Parsed_metadata_11 @ 0x55cc47074240] lavfi.signalstats.YAVG=115.783')).toBe(115.783);
    expect(parseMeanLuma('frame=  150 fps= 39 q=45.0 size= 638kB time=00:00:04.96')).toBeUndefined();
  });

  it('reads the input only as far as the longer of the clip and the poster window', () => {
    expect(flagValue(command.inputOptions, '-t')).toBe('5.000');
    // A 2 s clip with the poster window at 3 s: read to its end, 3 s + 30 frames at 30 fps.
    expect(flagValue(buildPreviewAndPosterCommand({ ...settings, seconds: 2 }).inputOptions, '-t')).toBe('4.000');
    // An exact frame needs only that frame.
    expect(flagValue(buildPreviewAndPosterCommand({ ...settings, seconds: 2, chooseFrame: false }).inputOptions, '-t')).toBe('3.034');
    // The read limit sits after the restrictions and before the input, where it limits the input.
    expect(command.inputOptions.indexOf('-t')).toBeGreaterThan(command.inputOptions.indexOf('-format_whitelist'));
  });

  it('refuses a clip length or a poster time that cannot be cut', () => {
    expect(() => buildPreviewAndPosterCommand({ ...settings, seconds: 0 })).toThrow(RangeError);
    expect(() => buildPreviewAndPosterCommand({ ...settings, posterAtSeconds: -1 })).toThrow(RangeError);
  });
});

describe('parseEncoderList', () => {
  it('reads encoder names from ffmpeg -encoders output', () => {
    const text = [
      'Encoders:',
      ' V..... = Video',
      ' ------',
      ' V....D libvpx-vp9           libvpx VP9 (codec vp9)',
      ' A....D libopus              libopus Opus (codec opus)',
      ' V....D libwebp              libwebp WebP image (codec webp)',
    ].join('\n');
    expect([...parseEncoderList(text)]).toEqual(['libvpx-vp9', 'libopus', 'libwebp']);
  });
});
