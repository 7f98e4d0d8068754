/**
 * What the end-to-end benchmarks (pipeline, ingest, scaling, first-playable) share: realistic
 * sources made by ffmpeg, the real six-service stack, paid uploads from fresh wallets on the local
 * chain, and a recorder of every status event the services publish.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { createTestClient, type Hex, http, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { connectRedis } from '@reelboard/bus';
import { GatewayClient, payQuote } from '@reelboard/client';
import type { StatusEvent } from '@reelboard/contracts';
import { connectDatabase, migrateToLatest } from '@reelboard/db';
import { createBus, type PipelineBus } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { repoRoot } from '@reelboard/testkit/infra-env';
import { type Stack, startStack } from '@reelboard/testkit/stack';

const execFileAsync = promisify(execFile);

/**
 * Writes an H.264/AAC MP4 that costs what a phone recording costs to decode and encode: a zooming
 * fractal blended with a moving, hue-cycling pattern, film-grain noise, and a tone (the same
 * picture as scripts/bench/media.ts; the fractal is rendered small and scaled, because rendering it
 * at 1080p would take longer than the benchmark itself).
 */
export async function makeRealisticClip(
  path: string,
  { width, height, seconds, fps = 30 }: { width: number; height: number; seconds: number; fps?: number },
): Promise<void> {
  const graph = [
    `mandelbrot=s=${Math.round(width / 3)}x${Math.round(height / 3)}:r=${fps}:end_scale=0.001,scale=${width}:${height}[m]`,
    `testsrc2=s=${width}x${height}:r=${fps},hue=H=t[t]`,
    '[m][t]blend=all_mode=average,noise=alls=4:allf=t+u,format=yuv420p[v]',
    'sine=frequency=440:sample_rate=48000[a]',
  ].join(';');
  const args = [
    '-v',
    'error',
    '-y',
    '-filter_complex',
    graph,
    '-map',
    '[v]',
    '-map',
    '[a]',
    '-t',
    String(seconds),
    // CRF 18: with the grain noise this is 35-60 Mbit/s at 1080p30, more than a phone records, so decoding never flatters the stages.
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-crf',
    '18',
    '-c:a',
    'aac',
    '-b:a',
    '128k',
  ];
  // The fractal filter is single-threaded: 60 s of 1080p takes about 10 minutes to make. A clip made
  // once is kept under .data/bench-media (ignored by git), named by its recipe, and copied from there.
  const cached = join(repoRoot, '.data', 'bench-media', `realistic-${createHash('sha256').update(JSON.stringify(args)).digest('hex').slice(0, 16)}.mp4`);
  if (!existsSync(cached)) {
    await mkdir(dirname(cached), { recursive: true });
    const partial = `${cached}.${process.pid}.part.mp4`;
    await execFileAsync('ffmpeg', [...args, partial]);
    await rename(partial, cached);
  }
  await copyFile(cached, path);
}

/**
 * The clip of makeRealisticClip as a phone writes it: the same picture re-encoded by x264 at the
 * bitrate phones record 1080p30 H.264 at (about 17 Mbit/s; iPhone "Most Compatible" and Android
 * camera apps write 16-20), with a keyframe every second as their hardware encoders place them.
 * The grain clip (35-60 Mbit/s, a keyframe every few seconds) costs 2.3x as much to decode: it
 * bounds the stages from above, this one is what a seller uploads. Cached as the grain clip is.
 */
export async function makePhoneClip(
  path: string,
  { width, height, seconds, fps = 30 }: { width: number; height: number; seconds: number; fps?: number },
): Promise<void> {
  const options = [
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-profile:v',
    'high',
    '-b:v',
    '17M',
    '-maxrate',
    '20M',
    '-bufsize',
    '34M',
    '-g',
    String(fps),
    '-c:a',
    'copy',
  ];
  const cached = join(
    repoRoot,
    '.data',
    'bench-media',
    `phone-${createHash('sha256').update(JSON.stringify({ width, height, seconds, fps, options })).digest('hex').slice(0, 16)}.mp4`,
  );
  if (!existsSync(cached)) {
    const grain = `${cached}.grain.mp4`;
    await makeRealisticClip(grain, { width, height, seconds, fps });
    const partial = `${cached}.${process.pid}.part.mp4`;
    await execFileAsync('ffmpeg', ['-v', 'error', '-y', '-i', grain, ...options, partial]);
    await rename(partial, cached);
    await rm(grain, { force: true });
  }
  await copyFile(cached, path);
}

/** Writes a small PNG logo. */
export async function makeLogo(path: string): Promise<void> {
  await execFileAsync('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=300x200', '-frames:v', '1', path]);
}

/** The stack plus what a benchmark needs beside it: a bus on the same prefix and a status recorder. */
export interface BenchStack {
  stack: Stack;
  bus: PipelineBus;
  events: StatusRecorder;
  close(): Promise<void>;
}

/** Starts the six services (real processes) with their own Redis prefix, database and bucket. */
export async function startBenchStack(overrides: Record<string, string> = {}): Promise<BenchStack> {
  const stack = await startStack({ LOG_LEVEL: 'info', ...overrides });
  const db = connectDatabase(stack.env.DATABASE_URL ?? '', { min: 0, max: 1 });
  await migrateToLatest(db);
  await db.destroy();
  const redis = connectRedis(stack.env.REDIS_URL ?? '', 'bench');
  const bus = createBus(redis, stack.env.REDIS_PREFIX ?? '', 'bench', createLogger('bench', 'error'));
  const events = new StatusRecorder();
  await bus.status.subscribe((event) => events.record(event));
  return {
    stack,
    bus,
    events,
    close: async () => {
      await stack.shutdown();
      await bus.close(1_000);
      await redis.quit();
    },
  };
}

/** Every status event per upload, with the time the publishing service stamped on it. */
export class StatusRecorder {
  private readonly byUpload = new Map<string, StatusEvent[]>();
  private readonly waiters: { uploadId: string; name: string; resolve: (event: StatusEvent) => void }[] = [];

  record(event: StatusEvent): void {
    const list = this.byUpload.get(event.uploadId) ?? [];
    list.push(event);
    this.byUpload.set(event.uploadId, list);
    for (const waiter of this.waiters.filter((w) => w.uploadId === event.uploadId && (w.name === event.event || isTerminalFailure(event)))) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(event);
    }
  }

  /** Milliseconds since the epoch at which `name` was published for the upload (first occurrence). */
  at(uploadId: string, name: string): number {
    const event = this.byUpload.get(uploadId)?.find((e) => e.event === name);
    if (!event) throw new Error(`upload ${uploadId} has no ${name} event; got ${this.names(uploadId).join(', ')}`);
    return Date.parse(event.at);
  }

  /** The event names of an upload, in arrival order. */
  names(uploadId: string): string[] {
    return (this.byUpload.get(uploadId) ?? []).map((e) => e.event);
  }

  /** Resolves when the upload reaches `name`; rejects if it fails or expires first, or on timeout. */
  waitFor(uploadId: string, name: string, timeoutMs: number): Promise<StatusEvent> {
    const seen = this.byUpload.get(uploadId)?.find((e) => e.event === name || isTerminalFailure(e));
    const arrived = seen
      ? Promise.resolve(seen)
      : new Promise<StatusEvent>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`upload ${uploadId}: no ${name} within ${timeoutMs} ms; got ${this.names(uploadId).join(', ')}`)),
            timeoutMs,
          );
          this.waiters.push({ uploadId, name, resolve: (event) => (clearTimeout(timer), resolve(event)) });
        });
    return arrived.then((event) => {
      if (event.event !== name) throw new Error(`upload ${uploadId} ended ${event.event} (${event.reason ?? ''}) before ${name}`);
      return event;
    });
  }
}

function isTerminalFailure(event: StatusEvent): boolean {
  return event.event === 'failed' || event.event === 'expired';
}

/** A signed-in seller: a fresh wallet funded on the local chain, so benchmarks never share nonces with tests. */
export interface Seller {
  client: GatewayClient;
  key: Hex;
}

/** Creates a fresh wallet, gives it coin with anvil_setBalance and signs it in with SIWE. */
export async function newSeller(bench: BenchStack): Promise<Seller> {
  const env = bench.stack.env;
  const key = generatePrivateKey();
  const account = privateKeyToAccount(key);
  const testClient = createTestClient({ mode: 'anvil', transport: http(env.RPC_URL) });
  await testClient.setBalance({ address: account.address, value: parseEther('10') });
  const client = new GatewayClient(bench.stack.gatewayUrl);
  await client.signIn(account, Number(env.CHAIN_ID));
  return { client, key };
}

/** Posts the listing form with this video and returns the upload id and quote. */
export async function postListing(seller: Seller, video: string, logo?: string) {
  return seller.client.createListing({ video, logo }, { title: 'Benchmark listing', hashtags: '#bench', latitude: '52.52', longitude: '13.405' });
}

/** Pays an upload's quote with a real signed transaction and submits its hash. */
export async function payUpload(bench: BenchStack, seller: Seller, upload: Awaited<ReturnType<typeof postListing>>): Promise<Hex> {
  const txHash = await payQuote(bench.stack.env.RPC_URL ?? '', privateKeyToAccount(seller.key), upload.payment);
  await seller.client.submitPayment(upload.uploadId, txHash);
  return txHash;
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds (user + sys) a process's reaped children used: every ffmpeg a service ran. */
export function childCpuSecondsOf(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 16 and 17 of proc(5) (cutime, cstime); the slice starts at field 3.
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
}

/** Rounds for tables. */
export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
