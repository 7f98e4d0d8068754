import { describe, expect, it } from 'vitest';
import {
  buildAudioTrackCommand,
  buildConcatList,
  buildJoinCommand,
  buildLadderChunkCommand,
  buildPacketProbeArgs,
  buildTranscodeCommand,
  buildVideoChunkCommand,
  MAX_INTRA_RATE_PERCENT,
  type MediaInfo,
  OWN_CONCAT_DEMUXERS,
  parsePacketProbe,
  SOURCE_DEMUXERS,
  type VideoStreamInfo,
} from '../src/index.js';

// The chunked encode's builders are pure: these tests run no ffmpeg.

const video: VideoStreamInfo = { codec: 'h264', width: 1920, height: 1080, rotation: 0, fps: 30, pixelFormat: 'yuv420p', bitDepth: 8 };
const source: MediaInfo & { video: VideoStreamInfo; audio: NonNullable<MediaInfo['audio']> } = {
  formatName: 'mov,mp4',
  durationSeconds: 60,
  sizeBytes: 1,
  video,
  audio: { codec: 'aac', channels: 6, sampleRate: 48000 },
};
const size = { width: 1280, height: 720 };
const flagValue = (args: readonly string[], flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const withoutFlags = (args: readonly string[], flags: string[]): string[] => {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (flags.includes(args[i] ?? '')) i++;
    else out.push(args[i] ?? '');
  }
  return out;
};

describe('buildVideoChunkCommand', () => {
  const chunk = (startFrame: number, frames?: number) =>
    buildVideoChunkCommand({
      input: 'in',
      output: 'out',
      source,
      size,
      threads: 2,
      maxFps: 60,
      fps: 30,
      startFrame,
      ...(frames === undefined ? {} : { frames }),
    });

  it("uses exactly the full transcode's video settings, without audio", () => {
    const single = buildTranscodeCommand({ input: 'in', output: 'out', source, size, threads: 2, maxFps: 60, audioBitrateKbps: 128 });
    const singleVideo = single.outputOptions.slice(single.outputOptions.indexOf('-c:v'), single.outputOptions.indexOf('-c:a'));
    const ofChunk = chunk(60, 60).outputOptions;
    expect(ofChunk.slice(ofChunk.indexOf('-c:v'), ofChunk.indexOf('-c:v') + singleVideo.length)).toEqual(singleVideo);
    // Both cap keyframes: without it every chunk's first keyframe takes libvpx's first-frame boost (+9 % size at 10 s chunks).
    expect(flagValue(singleVideo, '-max-intra-rate')).toBe(String(MAX_INTRA_RATE_PERCENT));
    expect(flagValue(ofChunk, '-vf')).toBe(`trim=end=2.000000,${flagValue(single.outputOptions, '-vf')}`);
    expect(ofChunk).toContain('-an');
    expect(ofChunk).not.toContain('-c:a');
  });

  it('seeks a quarter frame past its first frame, shifted so that frame is kept, and stops after its frames, starting on a keyframe', () => {
    const second = chunk(60, 60);
    // The demuxer lands on frame 60's keyframe (60.25 / 30 s); shifted by 0.75 / 30 s, frame 60 sits
    // half a frame past the exact-seek point and frame 59 half a frame before it.
    expect(flagValue(second.inputOptions, '-ss')).toBe('2.008333');
    expect(flagValue(second.inputOptions, '-itsoffset')).toBe('0.025000');
    expect(second.inputOptions.indexOf('-ss')).toBeGreaterThan(second.inputOptions.indexOf('-format_whitelist'));
    expect(second.outputOptions).not.toContain('-frames:v');
    // A variable-frame-rate source has fewer frames in the slot: the trim keeps it inside.
    expect(flagValue(second.outputOptions, '-vf')?.startsWith('trim=end=2.000000,')).toBe(true);
    expect(flagValue(second.outputOptions, '-force_key_frames')).toBe('expr:eq(n,0)');
    expect(second.expectedDurationSeconds).toBe(2);
    const first = chunk(0, 60);
    expect(first.inputOptions).not.toContain('-ss');
    expect(first.inputOptions).not.toContain('-itsoffset');
    const last = chunk(1740);
    expect(last.outputOptions).not.toContain('-frames:v');
    expect(flagValue(last.outputOptions, '-vf')).not.toContain('trim');
    expect(last.expectedDurationSeconds).toBeCloseTo(2, 6);
  });

  it('reads the source as any upload is read (file protocol, source demuxers, decoder threads)', () => {
    const { inputOptions } = chunk(60, 60);
    expect(flagValue(inputOptions, '-protocol_whitelist')).toBe('file');
    expect(flagValue(inputOptions, '-format_whitelist')).toBe(SOURCE_DEMUXERS.join(','));
    expect(flagValue(inputOptions, '-threads')).toBe('2');
  });

  it("skips the source's deblocking only when asked (the lowest rung at a third of the source or less), as a decoder option", () => {
    expect(chunk(60, 60).inputOptions).not.toContain('-skip_loop_filter');
    const skipping = buildVideoChunkCommand({
      input: 'in',
      output: 'out',
      source,
      size,
      threads: 1,
      maxFps: 60,
      fps: 30,
      startFrame: 60,
      frames: 60,
      skipLoopFilter: true,
    });
    expect(flagValue(skipping.inputOptions, '-skip_loop_filter')).toBe('all');
    // Before the input (ffmpeg applies an option to the next -i), the encode's options unchanged.
    expect(skipping.inputOptions.indexOf('-skip_loop_filter')).toBeLessThan(skipping.inputOptions.indexOf('-ss'));
    expect(skipping.outputOptions).toEqual(
      buildVideoChunkCommand({ input: 'in', output: 'out', source, size, threads: 1, maxFps: 60, fps: 30, startFrame: 60, frames: 60 }).outputOptions,
    );
  });

  it('refuses a nonsense frame range', () => {
    expect(() => chunk(-1, 60)).toThrow(RangeError);
    expect(() => chunk(1.5, 60)).toThrow(RangeError);
    expect(() => chunk(0, 0)).toThrow(RangeError);
  });
});

describe('buildAudioTrackCommand', () => {
  it("encodes the whole track once with the full transcode's audio settings", () => {
    const single = buildTranscodeCommand({ input: 'in', output: 'out', source, size, threads: 2, maxFps: 60, audioBitrateKbps: 96 });
    const audio = buildAudioTrackCommand({ input: 'in', output: 'a.webm', source, audioBitrateKbps: 96, threads: 2 });
    const singleAudio = single.outputOptions.slice(single.outputOptions.indexOf('-c:a'), single.outputOptions.indexOf('-c:a') + 6);
    expect(audio.outputOptions).toEqual(expect.arrayContaining(singleAudio));
    expect(flagValue(audio.outputOptions, '-ac')).toBe('2');
    expect(audio.outputOptions).toContain('-vn');
    expect(audio.inputOptions).not.toContain('-ss');
    expect(audio.expectedDurationSeconds).toBe(60);
  });
});

describe('buildConcatList', () => {
  it('lists plain names with exact durations, the last one open', () => {
    expect(
      buildConcatList([{ file: 'video-0000.webm', durationSeconds: 2 }, { file: 'video-0001.webm', durationSeconds: 2.002 }, { file: 'video-0002.webm' }]),
    ).toBe('ffconcat version 1.0\nfile video-0000.webm\nduration 2.000000\nfile video-0001.webm\nduration 2.002000\nfile video-0002.webm\n');
  });
  it('refuses anything but a plain file name beside the list', () => {
    for (const file of ['../source', '/etc/passwd', 'http://example.com/a.webm', "a'b.webm", 'a\nfile b', '', '.hidden']) {
      expect(() => buildConcatList([{ file }]), file).toThrow(RangeError);
    }
    expect(() => buildConcatList([])).toThrow(RangeError);
    expect(() => buildConcatList([{ file: 'a.webm', durationSeconds: 0 }])).toThrow(RangeError);
  });
});

describe('buildJoinCommand', () => {
  it('copies the chunks and the audio without re-encoding, cues at the front', () => {
    const join = buildJoinCommand({ list: 'chunks.ffconcat', audio: 'audio.webm', output: 'video.webm', durationSeconds: 60 });
    expect(flagValue(join.outputOptions, '-c')).toBe('copy');
    expect(join.outputOptions).not.toContain('-c:v');
    expect(join.outputOptions.join(' ')).toContain('-map 0:v:0 -map 1:a:0');
    expect(flagValue(join.outputOptions, '-cues_to_front')).toBe('1');
    expect(withoutFlags(join.outputOptions, ['-map', '-c', '-map_metadata', '-f', '-cues_to_front'])).toEqual([]);
  });
  it('allows the concat demuxer only for its own list, and only WebM behind it', () => {
    const join = buildJoinCommand({ list: 'chunks.ffconcat', audio: 'audio.webm', output: 'video.webm', durationSeconds: 60 });
    expect(flagValue(join.inputOptions, '-f')).toBe('concat');
    expect(flagValue(join.inputOptions, '-safe')).toBe('1');
    expect(flagValue(join.inputOptions, '-protocol_whitelist')).toBe('file');
    expect(flagValue(join.inputOptions, '-format_whitelist')).toBe(OWN_CONCAT_DEMUXERS.join(','));
    expect(OWN_CONCAT_DEMUXERS).toEqual(['concat', 'matroska']);
    expect(SOURCE_DEMUXERS).not.toContain('concat');
    expect(join.extraInputs?.[0]?.inputOptions).toEqual(['-protocol_whitelist', 'file', '-format_whitelist', 'matroska']);
    const silent = buildJoinCommand({ list: 'chunks.ffconcat', output: 'video.webm', durationSeconds: 60 });
    expect(silent.extraInputs).toBeUndefined();
    expect(silent.outputOptions).not.toContain('1:a:0');
  });
});

describe('packet probe', () => {
  it('lists video packets of the one staged file without decoding', () => {
    const args = buildPacketProbeArgs('/staging/x/source');
    expect(args.at(-1)).toBe('/staging/x/source');
    expect(flagValue(args, '-select_streams')).toBe('v:0');
    expect(flagValue(args, '-show_entries')).toBe('packet=pts_time,flags');
    expect(flagValue(args, '-protocol_whitelist')).toBe('file');
  });
  it('counts packets and collects keyframe times in order', () => {
    expect(parsePacketProbe('0.033000,__\n0.000000,K__\n0.066000,___\n2.000000,K_\n\nN/A\n')).toEqual({
      packets: 4,
      keyframeSeconds: [0, 2],
      firstSeconds: 0,
      lastSeconds: 2,
    });
    expect(parsePacketProbe('')).toEqual({ packets: 0, keyframeSeconds: [] });
  });
});

describe('buildLadderChunkCommand', () => {
  const rungs = [
    { output: '/s/video-360p-0001.webm', size: { width: 640, height: 360 }, videoBitrateKbps: 700, speed: { deadline: 'realtime' as const, cpuUsed: 7 } },
    { output: '/s/video-1080p-0001.webm', size: { width: 1920, height: 1080 }, videoBitrateKbps: 2500 },
  ];
  const command = buildLadderChunkCommand({ input: '/s/in.mp4', source, threads: 2, maxFps: 60, fps: 30, startFrame: 300, frames: 300, outputs: rungs });
  const single = (index: number) =>
    buildVideoChunkCommand({
      input: '/s/in.mp4',
      output: rungs[index]?.output ?? '',
      source,
      size: rungs[index]?.size ?? size,
      threads: 2,
      maxFps: 60,
      fps: 30,
      startFrame: 300,
      frames: 300,
      videoBitrateKbps: rungs[index]?.videoBitrateKbps ?? 0,
      ...(rungs[index]?.speed ? { speed: rungs[index].speed } : {}),
    });

  it("decodes the chunk once: the single chunk's seek, then trim and split before a scale per rung", () => {
    expect(command.inputOptions).toEqual(single(0).inputOptions);
    const graph = flagValue(command.outputOptions, '-filter_complex') ?? '';
    expect(graph).toBe(
      '[0:v:0]trim=end=10.000000,split=2[rung0in][rung1in];[rung0in]scale=640:360,setsar=1,format=yuv420p[rung0];[rung1in]scale=1920:1080,setsar=1,format=yuv420p[rung1]',
    );
    expect(command.extraOutputs?.map((output) => output.output)).toEqual(['/s/video-1080p-0001.webm']);
  });

  it("gives each rung exactly a single chunk's encoder options for its size, bitrate and speed", () => {
    const encoderOptions = (options: readonly string[]) => withoutFlags(options, ['-filter_complex', '-map', '-vf']);
    expect(encoderOptions(command.outputOptions)).toEqual(encoderOptions(single(0).outputOptions));
    expect(encoderOptions(command.extraOutputs?.[0]?.outputOptions ?? [])).toEqual(encoderOptions(single(1).outputOptions));
    expect(flagValue(command.outputOptions, '-deadline')).toBe('realtime');
    expect(flagValue(command.extraOutputs?.[0]?.outputOptions ?? [], '-deadline')).toBe('good');
  });

  it('refuses no output', () => {
    expect(() => buildLadderChunkCommand({ input: '/s/in.mp4', source, threads: 2, maxFps: 60, fps: 30, startFrame: 0, outputs: [] })).toThrow(
      /at least one output/,
    );
  });
});
