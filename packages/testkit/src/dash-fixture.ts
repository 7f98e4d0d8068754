import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PutBucketCorsCommand, type S3Client } from '@aws-sdk/client-s3';
import { type Knex, saveListing } from '@reelboard/db';
import { listingInput } from './db-fixtures.js';

const run = promisify(execFile);

/** One rung of a ladder to build: its height (width follows the source's aspect) and target bitrate. */
export interface DashRungSpec {
  height: number;
  bitrateKbps: number;
}

export interface DashLadderOptions {
  /** Rungs, lowest first (the MPD lists them in this order). */
  rungs: DashRungSpec[];
  /** The source's size; rungs keep its aspect ratio. */
  width?: number;
  height?: number;
  seconds?: number;
  fps?: number;
  /**
   * Temporal noise over the test pattern, so the encoder spends the target bitrate as it would on
   * camera footage (a clean test pattern compresses to a fraction of it, and a benchmark's bytes
   * would mean nothing).
   */
  noise?: boolean;
  /** Also encode the single progressive VP9/Opus WebM (the fallback, `video.webm`) at this bitrate. */
  progressiveKbps?: number;
}

/** A file of the stored layout, named relative to its folder as the MPD names it. */
export interface DashFile {
  name: string;
  path: string;
  contentType: string;
}

export interface DashLadder {
  dir: string;
  /** `manifest.mpd`, then `audio.webm`, then each rung's `video-<height>p.webm`. */
  files: DashFile[];
  renditions: { width: number; height: number; bitrateKbps: number }[];
  durationSeconds: number;
  width: number;
  height: number;
  /** The progressive fallback, when asked for. */
  progressive?: DashFile;
}

const even = (value: number) => Math.max(2, Math.round(value / 2) * 2);

function sourceArgs(width: number, height: number, seconds: number, fps: number, noise: boolean): string[] {
  const pattern = `testsrc2=size=${width}x${height}:rate=${fps}${noise ? ',noise=alls=24:allf=t+u' : ''}`;
  return ['-f', 'lavfi', '-i', pattern, '-t', String(seconds)];
}

/** VP9 at a constant bitrate with a keyframe every 2 s exactly, so every rung switches at the same times. */
function vp9Args(bitrateKbps: number, fps: number): string[] {
  const rate = `${bitrateKbps}k`;
  const gop = String(fps * 2);
  return [
    ...['-c:v', 'libvpx-vp9', '-b:v', rate, '-minrate', rate, '-maxrate', rate, '-bufsize', `${bitrateKbps * 2}k`],
    ...['-g', gop, '-keyint_min', gop, '-deadline', 'realtime', '-cpu-used', '8', '-row-mt', '1', '-pix_fmt', 'yuv420p'],
  ];
}

/**
 * Builds the streaming contract's DASH layout with ffmpeg (docs/codecs.md; the transcoder makes the
 * real one): each rung one VP9 WebM with Cues (`-dash 1`), one Opus WebM, and the MPD that ffmpeg's
 * `webm_dash_manifest` muxer writes for them, whose BaseURLs are the file names relative to it.
 */
export async function makeDashLadder(dir: string, options: DashLadderOptions): Promise<DashLadder> {
  const { rungs, width = 1920, height = 1080, seconds = 4, fps = 30, noise = false } = options;
  if (rungs.length === 0) throw new Error('makeDashLadder needs at least one rung');
  const renditions = rungs.map((rung) => ({ width: even((width * rung.height) / height), height: rung.height, bitrateKbps: rung.bitrateKbps }));
  const ffmpeg = (args: string[]) => run('ffmpeg', ['-v', 'error', '-y', ...args], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });

  await ffmpeg([
    ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds)],
    ...['-c:a', 'libopus', '-b:a', '64k', '-vn', '-f', 'webm', '-dash', '1', '-cluster_time_limit', '2000', 'audio.webm'],
  ]);
  for (const rendition of renditions) {
    await ffmpeg([
      ...sourceArgs(width, height, seconds, fps, noise),
      ...['-vf', `scale=${rendition.width}:${rendition.height}`, ...vp9Args(rendition.bitrateKbps, fps)],
      ...['-an', '-f', 'webm', '-dash', '1', `video-${rendition.height}p.webm`],
    ]);
  }
  const videos = renditions.map((rendition) => `video-${rendition.height}p.webm`);
  const inputs = [...videos, 'audio.webm'].flatMap((name) => ['-f', 'webm_dash_manifest', '-i', name]);
  const videoStreams = videos.map((_, index) => index).join(',');
  await ffmpeg([
    ...inputs,
    ...['-c', 'copy', ...[...videos, 'audio.webm'].flatMap((_, index) => ['-map', String(index)])],
    ...['-f', 'webm_dash_manifest', '-adaptation_sets', `id=0,streams=${videoStreams} id=1,streams=${videos.length}`, 'manifest.mpd'],
  ]);

  let progressive: DashFile | undefined;
  if (options.progressiveKbps) {
    await ffmpeg([
      ...sourceArgs(width, height, seconds, fps, noise),
      ...['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'],
      ...vp9Args(options.progressiveKbps, fps),
      ...['-c:a', 'libopus', '-b:a', '64k', '-shortest', '-f', 'webm', 'video.webm'],
    ]);
    progressive = { name: 'video.webm', path: join(dir, 'video.webm'), contentType: 'video/webm' };
  }

  return {
    dir,
    files: [
      { name: 'manifest.mpd', path: join(dir, 'manifest.mpd'), contentType: 'application/dash+xml' },
      { name: 'audio.webm', path: join(dir, 'audio.webm'), contentType: 'audio/webm' },
      ...videos.map((name) => ({ name, path: join(dir, name), contentType: 'video/webm' })),
    ],
    renditions,
    durationSeconds: seconds,
    width,
    height,
    ...(progressive ? { progressive } : {}),
  };
}

/** What storing needs of the storage adapter (`ObjectStorage` from @reelboard/storage). */
export interface PutFile {
  putFile(key: string, path: string, contentType: string, cacheControl?: string): Promise<unknown>;
}

/** The contract's cache policy: files never change once written; the MPD does while rungs join. */
const MANIFEST_CACHE_CONTROL = 'public, max-age=10';

/**
 * Stores a ladder under `listings/<id>/dash/` as the transcoder does, each object with its
 * Content-Type. Returns the MPD's key (the listing's `manifest_key`).
 */
export async function storeDashLadder(storage: PutFile, id: string, ladder: DashLadder): Promise<{ manifestKey: string; folder: string }> {
  const folder = `listings/${id}/dash`;
  for (const file of ladder.files) {
    await storage.putFile(`${folder}/${file.name}`, file.path, file.contentType, ...(file.name === 'manifest.mpd' ? [MANIFEST_CACHE_CONTROL] : []));
  }
  return { manifestKey: `${folder}/manifest.mpd`, folder };
}

/**
 * Lets a page of any origin read the bucket's objects with Range requests, as a player's Media
 * Source fetches need (a `<video src>` does not): what docs/operations.md asks of a production bucket.
 */
export async function allowBrowserReads(storage: { client: S3Client; config: { bucket: string } }): Promise<void> {
  await storage.client.send(
    new PutBucketCorsCommand({
      Bucket: storage.config.bucket,
      CORSConfiguration: {
        CORSRules: [
          {
            AllowedOrigins: ['*'],
            AllowedMethods: ['GET', 'HEAD'],
            AllowedHeaders: ['*'],
            ExposeHeaders: ['Content-Range', 'Content-Length', 'ETag'],
            MaxAgeSeconds: 3600,
          },
        ],
      },
    }),
  );
}

export interface DashListingOptions {
  id?: string;
  wallet?: string;
  title?: string;
  /** A picture to store as the poster (its Content-Type given). */
  poster?: { path: string; contentType: string };
  /** Store the ladder and name it in the row (false: a listing saved before the ladder, progressive only). */
  withManifest?: boolean;
}

/**
 * Saves a listing whose video is `ladder` (the progressive file, which the ladder must include, as
 * `video.webm`; the MPD and rungs unless `withManifest` is false), with the row's manifest key and
 * renditions as the profile-writer writes them. The listing waits for moderation, as a new one does.
 */
export async function saveDashListing(
  storage: PutFile,
  db: Knex,
  ladder: DashLadder,
  { id = randomUUID(), wallet, title = 'A bike on video', poster, withManifest = true }: DashListingOptions = {},
): Promise<string> {
  if (!ladder.progressive) throw new Error('saveDashListing needs a ladder made with progressiveKbps (the fallback file)');
  const input = listingInput({ id, title, ...(wallet ? { wallet } : {}) });
  await storage.putFile(input.listing.videoKey, ladder.progressive.path, 'video/webm');
  if (poster) await storage.putFile(input.listing.posterKey, poster.path, poster.contentType);
  Object.assign(input.listing, {
    durationSeconds: ladder.durationSeconds,
    width: ladder.width,
    height: ladder.height,
    videoBytes: (await stat(ladder.progressive.path)).size,
  });
  if (withManifest) {
    input.listing.manifestKey = (await storeDashLadder(storage, id, ladder)).manifestKey;
    input.listing.renditions = ladder.renditions;
  }
  await saveListing(db, input);
  return id;
}
