import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channels, type PreviewEarly, stagedPaths } from '@reelboard/contracts';
import { listingKeys, type ObjectStorage, s3EnvSchema, speculativeKeys, storageFromEnv } from '@reelboard/storage';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { fakeContext, paymentConfirmed } from '@reelboard/testkit/stage';
import { handlePreviewEarly } from '../src/handle-preview-early.js';

let staging = '';
let storage: ObjectStorage;

beforeAll(async () => {
  staging = await mkdtemp(join(tmpdir(), 'uploader-early-'));
  storage = storageFromEnv(s3EnvSchema.parse(infraEnv()));
  await storage.ensureBucket();
});
afterAll(async () => {
  storage?.close();
  await rm(staging, { recursive: true, force: true });
});

describe('handlePreviewEarly', () => {
  it('stores the early preview and poster under their final keys, then announces preview.ready', async () => {
    const uploadId = randomUUID();
    const paths = stagedPaths(uploadId);
    await mkdir(join(staging, paths.dir));
    await writeFile(join(staging, paths.preview), Buffer.alloc(2048, 7));
    await writeFile(join(staging, paths.poster), Buffer.alloc(512, 9));
    const upload: PreviewEarly = {
      ...paymentConfirmed(uploadId, paths.source),
      preview: { path: paths.preview, bytes: 2048, durationSeconds: 5 },
      poster: { path: paths.poster, bytes: 512 },
    };
    const { context, captured } = fakeContext();
    await handlePreviewEarly(storage, staging, upload, context);
    const keys = listingKeys(uploadId);
    expect(await storage.head(keys.preview)).toMatchObject({ bytes: 2048, contentType: 'video/webm' });
    expect(await storage.head(keys.poster)).toMatchObject({ bytes: 512, contentType: 'image/webp' });
    // Announced only once both are stored; nothing is handed on, the chain goes on by itself.
    expect(captured.statuses.map((s) => s.event)).toEqual(['preview.ready']);
    expect(captured.emitted).toEqual([]);
  });

  it("publishes a preview cut while the person paid by copying its private objects (no staged file read), with the listing keys' types", async () => {
    const uploadId = randomUUID();
    const paths = stagedPaths(uploadId);
    const keys = speculativeKeys(uploadId);
    await mkdir(join(staging, paths.dir));
    await writeFile(join(staging, 'p'), Buffer.alloc(3000, 3));
    await writeFile(join(staging, 'q'), Buffer.alloc(700, 4));
    await storage.putFile(keys.preview, join(staging, 'p'), 'video/webm');
    await storage.putFile(keys.poster, join(staging, 'q'), 'image/webp');
    // The staged paths name nothing: only the private objects can be the source.
    const upload: PreviewEarly = {
      ...paymentConfirmed(uploadId, paths.source),
      preview: { path: paths.preview, bytes: 3000, durationSeconds: 5 },
      poster: { path: paths.poster, bytes: 700 },
      speculative: keys,
    };
    const { context, captured } = fakeContext();
    await handlePreviewEarly(storage, staging, upload, context);
    const listing = listingKeys(uploadId);
    expect(await storage.head(listing.preview)).toMatchObject({ bytes: 3000, contentType: 'video/webm', cacheControl: expect.stringContaining('immutable') });
    expect(await storage.head(listing.poster)).toMatchObject({ bytes: 700, contentType: 'image/webp' });
    expect((await storage.getBytes(listing.preview)).equals(Buffer.alloc(3000, 3))).toBe(true);
    expect(keys.preview.startsWith('listings/')).toBe(false);
    expect(captured.statuses.map((s) => s.event)).toEqual(['preview.ready']);
  });

  it('fails (to be retried) when a staged file is missing; its channel gives up by logging only (the channel table)', async () => {
    const uploadId = randomUUID();
    const paths = stagedPaths(uploadId);
    const upload: PreviewEarly = {
      ...paymentConfirmed(uploadId, paths.source),
      preview: { path: paths.preview, bytes: 1, durationSeconds: 5 },
      poster: { path: paths.poster, bytes: 1 },
    };
    const { context, captured } = fakeContext();
    const error = await handlePreviewEarly(storage, staging, upload, context).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect(captured.statuses).toEqual([]);
    // No failed status, no upload.failed when it gives up: the early copy is an optimisation only.
    expect(channels['preview.early'].giveUp).toBe('log-only');
  });
});
