import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { connectDatabase, type Knex, migrateToLatest, saveListing } from '@reelboard/db';
import { listingKeys, type ObjectStorage, s3EnvSchema, storageFromEnv } from '@reelboard/storage';
import { listingInput } from '@reelboard/testkit/db-fixtures';
import { infraEnv, repoRoot } from '@reelboard/testkit/infra-env';

// The restore drill of docs/operations.md ("Backups"), on the local stack: a listing and its
// objects are backed up with `pnpm backup`, deleted, and brought back by `pnpm restore`. It runs
// on a database and a bucket of its own, so the rest of the suite's data is never restored over.

const run = promisify(execFile);
const infra = infraEnv();
const suffix = randomBytes(4).toString('hex');
const database = `reelboard_drill_${suffix}`;
const bucket = `drill-${suffix}`;
const adminUrl = infra.TEST_DATABASE_URL ?? '';
const drillUrl = (() => {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
})();
const env = {
  ...process.env,
  DATABASE_URL: drillUrl,
  S3_ENDPOINT: infra.S3_ENDPOINT,
  S3_BUCKET: bucket,
  S3_REGION: infra.S3_REGION,
  S3_ACCESS_KEY_ID: infra.S3_ACCESS_KEY_ID,
  S3_SECRET_ACCESS_KEY: infra.S3_SECRET_ACCESS_KEY,
  S3_FORCE_PATH_STYLE: 'true',
};

let admin: Knex;
let db: Knex;
let storage: ObjectStorage;
let work: string;

/** `pnpm backup` / `pnpm restore` as package.json runs them; never throws, so a test can read a failure. */
async function cli(command: 'backup' | 'restore', args: string[], overrides: Record<string, string | undefined> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'backup.ts'), command, ...args], {
      cwd: repoRoot,
      env: { ...env, REELBOARD_DEV_ENV: '/nonexistent', ...overrides },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function objectText(key: string): Promise<{ body: string; contentType?: string }> {
  const object = await storage.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return { body: await object.Body!.transformToString(), contentType: object.ContentType };
}

beforeAll(async () => {
  admin = connectDatabase(adminUrl, { min: 0, max: 1 });
  await admin.raw(`CREATE DATABASE ${database}`);
  db = connectDatabase(drillUrl, { min: 0, max: 2 });
  await migrateToLatest(db);
  storage = storageFromEnv(s3EnvSchema.parse(env));
  await storage.ensureBucket();
  work = await mkdtemp(join(tmpdir(), 'reelboard-drill-'));
});

afterAll(async () => {
  await db?.destroy();
  await admin?.raw(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin?.destroy();
  storage?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('pnpm backup and pnpm restore', () => {
  it('bring back a deleted listing and its objects', async () => {
    const input = listingInput({ title: 'A drill bike', tags: ['drill'] });
    await saveListing(db, input);
    const keys = listingKeys(input.listingId);
    const files: Record<string, { body: string; contentType: string }> = {
      [keys.video]: { body: `video of ${input.listingId}`, contentType: 'video/webm' },
      [keys.poster]: { body: `poster of ${input.listingId}`, contentType: 'image/webp' },
    };
    for (const [key, { body, contentType }] of Object.entries(files)) {
      const path = join(work, 'source');
      await writeFile(path, body);
      await storage.putFile(key, path, contentType);
    }

    const out = join(work, 'backup');
    const backedUp = await cli('backup', ['--out', out]);
    expect(backedUp.code, backedUp.stderr).toBe(0);
    expect(backedUp.stdout).toMatch(/backed up PostgreSQL \d+ and 2 objects/);
    const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.objects.map((o: { key: string }) => o.key).sort()).toEqual(Object.keys(files).sort());

    // The loss: the listing's rows and its objects.
    await db('listings').where({ id: input.listingId }).delete();
    for (const key of Object.keys(files)) await storage.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    expect(await db('listings').where({ id: input.listingId }).first()).toBeUndefined();
    await expect(storage.client.send(new HeadObjectCommand({ Bucket: bucket, Key: keys.video }))).rejects.toThrow();

    const restored = await cli('restore', ['--from', out]);
    expect(restored.code, restored.stderr).toBe(0);
    // pg_restore replaced the tables: a new connection pool sees the restored rows.
    await db.destroy();
    db = connectDatabase(drillUrl, { min: 0, max: 2 });
    const listing = await db('listings').where({ id: input.listingId }).first();
    expect(listing).toMatchObject({ title: 'A drill bike', video_key: keys.video });
    const tags = await db('listing_hashtags')
      .join('hashtags', 'hashtags.id', 'listing_hashtags.hashtag_id')
      .where({ listing_id: input.listingId })
      .pluck('hashtags.tag');
    expect(tags).toEqual(['drill']);
    for (const [key, { body, contentType }] of Object.entries(files)) expect(await objectText(key)).toEqual({ body, contentType });
  });

  it('refuses, naming the problem, a folder that is not a finished backup', async () => {
    const empty = await mkdtemp(join(work, 'not-a-backup-'));
    const result = await cli('restore', ['--from', empty]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('has no manifest.json');
  });

  it('names a missing setting and a missing argument', async () => {
    const noDatabase = await cli('backup', ['--out', join(work, 'never')], { DATABASE_URL: undefined });
    expect(noDatabase.code).toBe(78);
    expect(noDatabase.stderr).toContain('DATABASE_URL');
    const noFrom = await cli('restore', []);
    expect(noFrom.code).toBe(2);
    expect(noFrom.stderr).toContain('--from DIR');
  });
});
