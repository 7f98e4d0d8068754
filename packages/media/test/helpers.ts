import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Runs ffmpeg quietly with the given arguments (fixtures are generated, never committed). */
export async function ffmpegCli(args: string[]): Promise<void> {
  await execFileAsync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', ...args]);
}

/** Independent ffprobe (not the code under test) of a file's streams and format. */
export interface ProbeJson {
  format: { format_name: string; duration?: string };
  streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number; pix_fmt?: string; side_data_list?: unknown[] }>;
}

/** ffprobe as JSON. */
export async function ffprobeJson(path: string): Promise<ProbeJson> {
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path]);
  return JSON.parse(stdout) as ProbeJson;
}

/** Mean gray level (0-255) of an image, averaged by scaling it to one pixel. */
export async function meanGray(path: string): Promise<number> {
  const { stdout } = await execFileAsync(
    'ffmpeg',
    ['-v', 'error', '-i', path, '-vf', 'scale=1:1:flags=area,format=gray', '-frames:v', '1', '-f', 'rawvideo', '-'],
    { encoding: 'buffer' },
  );
  const value = stdout[0];
  if (value === undefined) throw new Error(`no pixel decoded from ${path}`);
  return value;
}

let displayRotation: boolean | undefined;
/**
 * Whether this ffmpeg has the -display_rotation input option (6.0 and later), which writes a real
 * Display Matrix, as phones do. Older ones only have the mp4 `rotate` tag; ffmpeg 7 ignores that tag.
 */
export function ffmpegHasDisplayRotation(): boolean {
  displayRotation ??= execFileSync('ffmpeg', ['-hide_banner', '-h', 'full'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).includes('-display_rotation');
  return displayRotation;
}

/** The colour tags of HDR10 (PQ transfer, BT.2020 primaries and matrix). */
export const HDR10_TAGS = {
  /**
   * On the frames (setparams), which is where ffmpeg 7 takes an encoder's colour tags from (its
   * -color_trc and -color_primaries output options alone come out untagged there), and as output
   * options too, which is what ffmpeg 5.1 reads.
   */
  args: [
    '-vf',
    'setparams=color_trc=smpte2084:color_primaries=bt2020:colorspace=bt2020nc',
    '-color_trc',
    'smpte2084',
    '-color_primaries',
    'bt2020',
    '-colorspace',
    'bt2020nc',
  ],
};

/** Fixture recipes: small and short so the whole suite stays well under a minute on 2 cores. */
export const FIXTURES = {
  /** 1280x720 30 fps, 3 s, h264 + aac. */
  withAudio: (out: string) => [
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=1280x720:rate=30',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440',
    '-t',
    '3',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    out,
  ],
  /** 640x360, 2 s, no audio track. */
  silent: (out: string) => [
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=640x360:rate=30',
    '-t',
    '2',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    out,
  ],
  /** 1 s of black then 2 s of picture, like a fade-in opening. */
  blackStart: (out: string) => [
    '-filter_complex',
    'color=black:size=640x360:rate=30:duration=1[b];testsrc2=size=640x360:rate=30:duration=2[t];[b][t]concat=n=2:v=1:a=0',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    out,
  ],
  /** 10-bit, tagged HDR10 (PQ / BT.2020). */
  hdr10: (out: string) => [
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=640x360:rate=30',
    '-t',
    '1',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p10le',
    ...HDR10_TAGS.args,
    out,
  ],
  /**
   * Phone-style rotation: stored landscape, displayed portrait, by a Display Matrix of 90 degrees on a
   * stream copy into mp4. ffmpeg 6 and later write it from -display_rotation; 5.1 has no such option
   * and writes the same matrix from the `rotate` tag (which it drops when encoding).
   */
  rotate90: (input: string, out: string) =>
    ffmpegHasDisplayRotation() ? ['-display_rotation', '90', '-i', input, '-c', 'copy', out] : ['-i', input, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', out],
};
