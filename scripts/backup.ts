// Backups of what a Reelboard install keeps: the Postgres database and the bucket's objects.
//   pnpm backup [--out DIR]      a dump (pg_dump of the server's own major, custom format) and every
//                                object of S3_BUCKET, into DIR (default backups/<UTC time>)
//   pnpm restore --from DIR      restores that dump (pg_restore --clean: tables are replaced) and
//                                puts every object back (objects not in the backup are left alone)
// Reads DATABASE_URL and the S3 variables the services read (S3_BUCKET, S3_ENDPOINT, ...); beside
// `pnpm dev`, with none set: the stack's own (.data/dev.env). PG_BIN_DIR names the folder of
// pg_dump/pg_restore when they are not under /usr/lib/postgresql/<major>/bin or on PATH.
// Redis is not in it: copy its own snapshots (docs/operations.md, "Backups").
import { execFile } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs, promisify } from 'node:util';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ConfigError, databaseEnvSchema, loadConfig } from '@reelboard/config';
import { connectDatabase } from '@reelboard/db';
import { type ObjectStorage, s3EnvSchema, storageFromEnv } from '@reelboard/storage';
import { loadDevStackEnv } from './dev-stack-env.js';

const run = promisify(execFile);

const configSchema = databaseEnvSchema.pick({ DATABASE_URL: true }).extend(s3EnvSchema.shape);

/** What a backup folder holds besides the dump and the objects, so a restore can check it first. */
interface BackupManifest {
  format: 1;
  createdAt: string;
  postgresMajor: number;
  bucket: string;
  objects: { key: string; size: number; contentType?: string; cacheControl?: string }[];
}

const DUMP_FILE = 'database.dump';
const MANIFEST_FILE = 'manifest.json';
const OBJECTS_DIR = 'objects';

/** A problem the operator can fix, reported as one line and exit 1. */
class BackupError extends Error {}

/** The server's major version (pg_dump must be at least that; the same major is picked first). */
async function serverMajor(databaseUrl: string): Promise<number> {
  const db = connectDatabase(databaseUrl, { min: 0, max: 1 });
  try {
    const { rows } = await db.raw<{ rows: { server_version_num: string }[] }>('SHOW server_version_num');
    return Math.floor(Number(rows[0]!.server_version_num) / 10000);
  } finally {
    await db.destroy();
  }
}

/** The major of a pg_dump/pg_restore binary, or undefined when it cannot be run. */
async function toolMajor(path: string): Promise<number | undefined> {
  try {
    const { stdout } = await run(path, ['--version']);
    const match = /\(PostgreSQL\)\s+(\d+)/.exec(stdout);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pg_dump or pg_restore to use with a server of `major`: PG_BIN_DIR's, then Debian's
 * /usr/lib/postgresql/<major>/bin, then PATH's, the first whose major is the server's or newer
 * (an older one refuses to dump a newer server).
 */
async function postgresTool(tool: 'pg_dump' | 'pg_restore', major: number): Promise<string> {
  const candidates = [...(process.env.PG_BIN_DIR ? [join(process.env.PG_BIN_DIR, tool)] : []), `/usr/lib/postgresql/${major}/bin/${tool}`, tool];
  const found: string[] = [];
  for (const candidate of candidates) {
    if (candidate.includes('/') && !existsSync(candidate)) continue;
    const toolVersion = await toolMajor(candidate);
    if (toolVersion === undefined) continue;
    if (toolVersion >= major) return candidate;
    found.push(`${candidate} (${toolVersion})`);
  }
  throw new BackupError(
    `no ${tool} for PostgreSQL ${major}${found.length ? ` (found only ${found.join(', ')})` : ''}: install postgresql-client-${major}, or set PG_BIN_DIR to the folder of one`,
  );
}

/** The URL without its password, for the command line (ps shows those); PGPASSWORD carries it. */
function withoutPassword(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.password = '';
  return url.toString();
}

function libpqEnv(databaseUrl: string): NodeJS.ProcessEnv {
  const password = decodeURIComponent(new URL(databaseUrl).password);
  return { ...process.env, ...(password ? { PGPASSWORD: password } : {}) };
}

async function runTool(path: string, args: string[], databaseUrl: string): Promise<void> {
  try {
    await run(path, args, { env: libpqEnv(databaseUrl), maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    throw new BackupError(`${path} failed: ${stderr || (error as Error).message}`);
  }
}

async function* bucketKeys(storage: ObjectStorage): AsyncGenerator<string> {
  let token: string | undefined;
  do {
    const page = await storage.client.send(new ListObjectsV2Command({ Bucket: storage.config.bucket, ContinuationToken: token }));
    for (const object of page.Contents ?? []) if (object.Key) yield object.Key;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}

/** Keys become paths under objects/: one that could climb out of it is refused, not written. */
function objectPath(dir: string, key: string): string {
  const base = resolve(dir, OBJECTS_DIR);
  const path = resolve(base, key);
  if (!path.startsWith(`${base}/`)) throw new BackupError(`object key ${JSON.stringify(key)} does not map to a file under ${OBJECTS_DIR}/`);
  return path;
}

export async function backup(config: { DATABASE_URL: string } & Parameters<typeof storageFromEnv>[0], dir: string): Promise<BackupManifest> {
  if (existsSync(join(dir, MANIFEST_FILE))) throw new BackupError(`${dir} already holds a backup: name another --out`);
  await mkdir(dir, { recursive: true });
  const major = await serverMajor(config.DATABASE_URL);
  const pgDump = await postgresTool('pg_dump', major);
  await runTool(
    pgDump,
    ['--format=custom', '--no-owner', `--file=${join(dir, DUMP_FILE)}`, `--dbname=${withoutPassword(config.DATABASE_URL)}`],
    config.DATABASE_URL,
  );
  const storage = storageFromEnv(config);
  const objects: BackupManifest['objects'] = [];
  try {
    for await (const key of bucketKeys(storage)) {
      const path = objectPath(dir, key);
      await mkdir(dirname(path), { recursive: true });
      const object = await storage.client.send(new GetObjectCommand({ Bucket: storage.config.bucket, Key: key }));
      await pipeline(object.Body as Readable, createWriteStream(path));
      const { size } = await stat(path);
      if (object.ContentLength !== undefined && size !== object.ContentLength) throw new BackupError(`${key}: got ${size} of ${object.ContentLength} bytes`);
      objects.push({ key, size, contentType: object.ContentType, cacheControl: object.CacheControl });
    }
  } finally {
    storage.close();
  }
  const manifest: BackupManifest = { format: 1, createdAt: new Date().toISOString(), postgresMajor: major, bucket: config.S3_BUCKET, objects };
  // Written last: a folder without it is an interrupted backup, which restore refuses.
  await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

async function readManifest(dir: string): Promise<BackupManifest> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch {
    throw new BackupError(`${dir} has no ${MANIFEST_FILE}: not a backup, or one that did not finish`);
  }
  const manifest = JSON.parse(text) as BackupManifest;
  if (manifest.format !== 1 || !Array.isArray(manifest.objects))
    throw new BackupError(`${join(dir, MANIFEST_FILE)} is not a backup manifest this version reads`);
  if (!existsSync(join(dir, DUMP_FILE))) throw new BackupError(`${dir} has no ${DUMP_FILE}`);
  return manifest;
}

export async function restore(config: { DATABASE_URL: string } & Parameters<typeof storageFromEnv>[0], dir: string): Promise<BackupManifest> {
  const manifest = await readManifest(dir);
  for (const object of manifest.objects) {
    const { size } = await stat(objectPath(dir, object.key)).catch(() => {
      throw new BackupError(`${dir} lacks the object ${object.key} its manifest lists`);
    });
    if (size !== object.size) throw new BackupError(`${object.key}: the backup holds ${size} bytes, its manifest says ${object.size}`);
  }
  const major = await serverMajor(config.DATABASE_URL);
  if (major < manifest.postgresMajor)
    throw new BackupError(`the backup is of PostgreSQL ${manifest.postgresMajor}; this server is ${major} (restore into ${manifest.postgresMajor} or newer)`);
  const pgRestore = await postgresTool('pg_restore', Math.max(major, manifest.postgresMajor));
  // --clean --if-exists: the dump's tables replace those there (a restore onto a live database);
  // one transaction, so a failed restore leaves the database as it was.
  await runTool(
    pgRestore,
    ['--clean', '--if-exists', '--no-owner', '--single-transaction', `--dbname=${withoutPassword(config.DATABASE_URL)}`, join(dir, DUMP_FILE)],
    config.DATABASE_URL,
  );
  const storage = storageFromEnv(config);
  try {
    await storage.ensureBucket();
    for (const object of manifest.objects) {
      // putFile checks the stored size and checksum, and retries transient failures.
      await storage.putFile(object.key, objectPath(dir, object.key), object.contentType ?? 'application/octet-stream', object.cacheControl);
    }
  } finally {
    storage.close();
  }
  return manifest;
}

const usage = () =>
  'usage: pnpm backup [--out DIR]     (a Postgres dump and every object of S3_BUCKET into DIR)\n' +
  '       pnpm restore --from DIR     (the dump restored over the database, the objects put back)\n';

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  if (command !== 'backup' && command !== 'restore') {
    process.stderr.write(usage());
    return 2;
  }
  let args: { out?: string; from?: string };
  try {
    args = parseArgs({ args: rest, options: { out: { type: 'string' }, from: { type: 'string' } }, strict: true }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage()}`);
    return 2;
  }
  if (command === 'restore' && !args.from) {
    process.stderr.write(`restore needs --from DIR (a folder pnpm backup wrote)\n${usage()}`);
    return 2;
  }
  const devStackEnv = loadDevStackEnv();
  if (devStackEnv) process.stderr.write(`using the development stack's settings from ${devStackEnv} (scripts/dev.sh)\n`);
  let config: ReturnType<typeof loadConfig<typeof configSchema>>;
  try {
    config = loadConfig(configSchema);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return error instanceof ConfigError ? 78 : 1;
  }
  try {
    if (command === 'backup') {
      const dir = resolve(args.out ?? join('backups', new Date().toISOString().replace(/[:.]/g, '-')));
      const manifest = await backup(config, dir);
      process.stdout.write(`backed up PostgreSQL ${manifest.postgresMajor} and ${manifest.objects.length} objects of ${manifest.bucket} to ${dir}\n`);
    } else {
      const dir = resolve(args.from!);
      const manifest = await restore(config, dir);
      process.stdout.write(`restored ${dir} (taken ${manifest.createdAt}): the database and ${manifest.objects.length} objects into ${config.S3_BUCKET}\n`);
    }
    return 0;
  } catch (error) {
    process.stderr.write(`${command} failed: ${(error as Error).message}\n`);
    return 1;
  }
}

process.exitCode = await main();
