import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import type { StageContext } from '@reelboard/bus';
import type { Channel, PaymentConfirmed } from '@reelboard/contracts';
import type { Logger } from '@reelboard/logger';

const execFileAsync = promisify(execFile);

/** Runs ffmpeg quietly (fixtures are generated at test time, never committed). */
export async function ffmpegCli(args: string[]): Promise<void> {
  await execFileAsync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', ...args]);
}

/** An independent ffprobe of one file (not the code under test). */
export interface ProbeJson {
  format: { format_name: string; duration?: string };
  streams: Array<{
    codec_type: string;
    codec_name: string;
    width?: number;
    height?: number;
    pix_fmt?: string;
    nb_read_frames?: string;
    side_data_list?: unknown[];
  }>;
}

/** ffprobe as JSON, counting frames so frame-rate handling can be checked. */
export async function ffprobeJson(path: string): Promise<ProbeJson> {
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-count_frames', '-print_format', 'json', '-show_format', '-show_streams', path]);
  return JSON.parse(stdout) as ProbeJson;
}

/** Replaces the first occurrence of `from` in a file with `to` (same length), e.g. a codec id. */
export async function patchBytes(path: string, out: string, from: string, to: string): Promise<void> {
  if (from.length !== to.length) throw new RangeError('patch must keep the length');
  const data = await readFile(path);
  const at = data.indexOf(from);
  if (at < 0) throw new Error(`${from} not found in ${path}`);
  data.write(to, at, 'latin1');
  await writeFile(out, data);
}

/** Everything a handler did through its StageContext. */
export interface Captured {
  emitted: Array<{ channel: Channel; payload: unknown }>;
  statuses: Array<{ event: string; progress?: number; at: number }>;
  logs: Array<{ level: string; message: string; meta: Record<string, unknown> }>;
}

/** A StageContext that records instead of publishing: the bus itself has its own tests. */
export function fakeContext(): { context: StageContext; captured: Captured } {
  const captured: Captured = { emitted: [], statuses: [], logs: [] };
  const record =
    (level: string) =>
    (message: string, meta: Record<string, unknown> = {}) => {
      captured.logs.push({ level, message, meta });
    };
  const log = { info: record('info'), warn: record('warn'), error: record('error'), debug: record('debug') } as unknown as Logger;
  const context: StageContext = {
    log,
    attempt: 1,
    emit: async (channel, payload) => {
      captured.emitted.push({ channel, payload });
    },
    status: async (event, extra = {}) => {
      captured.statuses.push({ event, ...(extra.progress === undefined ? {} : { progress: extra.progress }), at: Date.now() });
    },
  };
  return { context, captured };
}

/** A valid payment.confirmed payload whose staged source is `source` (relative to STAGING_DIR). */
export function paymentConfirmed(uploadId: string, source: string): PaymentConfirmed {
  const now = new Date().toISOString();
  const wallet = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8' as const;
  const merchant = '0xa0ee7a142d267c1f36714e4a8f75612f20a79720' as const;
  return {
    uploadId,
    owner: wallet,
    form: { title: 'Bike for sale', description: '', hashtags: ['bikes'], latitude: 52.5, longitude: 13.4 },
    quote: { chainId: 31337, to: merchant, amount: '1000', token: null, createdAt: now, expiresAt: now },
    staged: { source, sourceBytes: 1 },
    receivedAt: now,
    payment: {
      chainId: 31337,
      address: merchant,
      token: null,
      txHashes: [`0x${'ab'.repeat(32)}`],
      amount: '1000',
      blockNumber: '1',
      blockTime: now,
      status: 'paid',
    },
  };
}

/** One stream's packets in a file: how many, and the span they cover (first start to last end). */
export interface StreamSpan {
  packets: number;
  startSeconds: number;
  endSeconds: number;
}

/** Video and audio packet spans of a file, read by an independent ffprobe (no decoding). */
export async function streamSpans(path: string): Promise<{ video: StreamSpan; audio?: StreamSpan }> {
  const { stdout } = await execFileAsync('ffprobe', ['-v', 'error', '-show_entries', 'packet=codec_type,pts_time,duration_time', '-of', 'csv=p=0', path], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const spans: Record<string, StreamSpan> = {};
  for (const line of stdout.split('\n')) {
    const [type, pts, duration] = line.trim().split(',');
    if (!type || pts === undefined || pts === 'N/A') continue;
    const start = Number(pts);
    const end = start + (Number(duration) || 0);
    const span = (spans[type] ??= { packets: 0, startSeconds: start, endSeconds: end });
    span.packets++;
    span.startSeconds = Math.min(span.startSeconds, start);
    span.endSeconds = Math.max(span.endSeconds, end);
  }
  if (!spans.video) throw new Error(`${path} has no video packets`);
  return { video: spans.video, ...(spans.audio ? { audio: spans.audio } : {}) };
}

/** Polls `probe` until it yields a value (every 200 ms, at most `ms`). */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 150_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A source long enough to chunk: `seconds` of 240p test pattern with a tone, H.264 keyframes every 60 frames. */
export async function makeChunkSource(path: string, seconds: number, fps: number): Promise<void> {
  await ffmpegCli([
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=426x240:rate=${fps}`,
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000',
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-g',
    '60',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    path,
  ]);
}
