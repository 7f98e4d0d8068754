import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AssetsStored, type PreviewExtracted, stagedPaths } from '@reelboard/contracts';
import { type ObjectStorage, s3EnvSchema, speculativeKeys, storageFromEnv, storyboardKeys } from '@reelboard/storage';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { fakeContext, paymentConfirmed } from '@reelboard/testkit/stage';
import { handlePreviewExtracted } from '../src/handle-preview-extracted.js';

let staging = '';
let storage: ObjectStorage;

beforeAll(async () => {
  staging = await mkdtemp(join(tmpdir(), 'uploader-extracted-'));
  storage = storageFromEnv(s3EnvSchema.parse(infraEnv()));
  await storage.ensureBucket();
});
afterAll(async () => {
  storage?.close();
  await rm(staging, { recursive: true, force: true });
});

describe('handlePreviewExtracted', () => {
  it("stores the storyboard beside the listing's objects with its types, names its index in assets.stored, and drops the private speculative copies", async () => {
    const uploadId = randomUUID();
    const paths = stagedPaths(uploadId);
    await mkdir(join(staging, uploadId, 'storyboard'), { recursive: true });
    const files: Record<string, Buffer> = {
      [paths.video]: Buffer.alloc(4000, 1),
      [paths.preview]: Buffer.alloc(900, 2),
      [paths.poster]: Buffer.alloc(300, 3),
      [`${uploadId}/storyboard/storyboard.vtt`]: Buffer.from('WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nsprite-1.jpg#xywh=0,0,160,90\n'),
      [`${uploadId}/storyboard/sprite-1.jpg`]: Buffer.alloc(1500, 4),
    };
    for (const [path, bytes] of Object.entries(files)) await writeFile(join(staging, path), bytes);
    const speculative = speculativeKeys(uploadId);
    await writeFile(join(staging, 'spec'), 'x');
    for (const key of Object.values(speculative)) await storage.putFile(key, join(staging, 'spec'), 'application/octet-stream');

    const upload: PreviewExtracted = {
      ...paymentConfirmed(uploadId, paths.source),
      video: { path: paths.video, bytes: 4000, durationSeconds: 2, width: 320, height: 180 },
      preview: { path: paths.preview, bytes: 900, durationSeconds: 2 },
      poster: { path: paths.poster, bytes: 300 },
      storyboard: { dir: `${uploadId}/storyboard`, files: ['storyboard.vtt', 'sprite-1.jpg'] },
    };
    const { context, captured } = fakeContext();
    await handlePreviewExtracted(storage, staging, upload, context);

    const keys = storyboardKeys(uploadId);
    expect(keys.vtt).toBe(`listings/${uploadId}/storyboard/storyboard.vtt`);
    expect(await storage.head(keys.vtt)).toMatchObject({ contentType: 'text/vtt', cacheControl: expect.stringContaining('immutable') });
    expect(await storage.head(keys.file('sprite-1.jpg'))).toMatchObject({ bytes: 1500, contentType: 'image/jpeg' });
    const stored = captured.emitted[0]?.payload as AssetsStored;
    expect(captured.emitted[0]?.channel).toBe('assets.stored');
    expect(stored.objects.storyboard).toBe(keys.vtt);
    for (const key of Object.values(speculative)) expect(await storage.head(key)).toBeUndefined();
  });
});
