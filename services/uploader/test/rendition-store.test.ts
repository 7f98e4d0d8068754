import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RenditionStore, stagedDashPaths, stagedPaths } from '@reelboard/contracts';
import { dashKeys, type ObjectStorage, s3EnvSchema, speculativeRungKeys, storageFromEnv } from '@reelboard/storage';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { fakeContext, paymentConfirmed } from '@reelboard/testkit/stage';
import { handleRenditionStore, MANIFEST_CACHE_CONTROL } from '../src/handle-rendition-store.js';

// The lowest rung encoded while the person paid is published by a copy of its private objects
// (s3rver), with the staged manifest put beside it; a rung without them is put from staging.

let staging = '';
let storage: ObjectStorage;

beforeAll(async () => {
  staging = await mkdtemp(join(tmpdir(), 'uploader-rendition-'));
  storage = storageFromEnv(s3EnvSchema.parse(infraEnv()));
  await storage.ensureBucket();
});
afterAll(async () => {
  storage?.close();
  await rm(staging, { recursive: true, force: true });
});

const rung = { name: 240, width: 426, height: 240, bitrateKbps: 300 };

describe('handleRenditionStore', () => {
  it('copies a speculative lowest rung and its audio from their private keys (no staged rung read), then puts the manifest', async () => {
    const uploadId = randomUUID();
    const keys = speculativeRungKeys(uploadId);
    await writeFile(join(staging, 'v'), Buffer.alloc(4000, 1));
    await writeFile(join(staging, 'a'), Buffer.alloc(900, 2));
    await storage.putFile(keys.video, join(staging, 'v'), 'video/webm');
    await storage.putFile(keys.audio, join(staging, 'a'), 'audio/webm');
    const manifest = stagedDashPaths.manifest(uploadId, 240);
    await mkdir(join(staging, uploadId, 'dash'), { recursive: true });
    await writeFile(join(staging, manifest), '<MPD/>');
    // The staged rung and audio are absent: only the private objects can be the source.
    const job: RenditionStore = {
      ...paymentConfirmed(uploadId, stagedPaths(uploadId).source),
      rung,
      video: stagedDashPaths.rung(uploadId, 240),
      audio: stagedDashPaths.audio(uploadId),
      manifest,
      copy: keys,
    };
    const { context, captured } = fakeContext();
    const outcome = await handleRenditionStore(storage, staging, job, context);
    const published = dashKeys(uploadId);
    expect(outcome).toMatchObject({ rung: 240, manifestKey: published.manifest });
    expect(await storage.head(published.rung(240))).toMatchObject({ bytes: 4000, contentType: 'video/webm' });
    expect(await storage.head(published.audio)).toMatchObject({ bytes: 900, contentType: 'audio/webm' });
    expect(await storage.head(published.manifest)).toMatchObject({ contentType: 'application/dash+xml', cacheControl: MANIFEST_CACHE_CONTROL });
    expect(captured.statuses.map((status) => status.event)).toEqual(['rendition.ready']);
  });

  it('puts a rung encoded after the payment from staging', async () => {
    const uploadId = randomUUID();
    await mkdir(join(staging, uploadId, 'dash'), { recursive: true });
    await writeFile(join(staging, stagedDashPaths.rung(uploadId, 240)), Buffer.alloc(1234, 5));
    await writeFile(join(staging, stagedDashPaths.manifest(uploadId, 240)), '<MPD/>');
    const job: RenditionStore = {
      ...paymentConfirmed(uploadId, stagedPaths(uploadId).source),
      rung,
      video: stagedDashPaths.rung(uploadId, 240),
      manifest: stagedDashPaths.manifest(uploadId, 240),
    };
    await handleRenditionStore(storage, staging, job, fakeContext().context);
    expect(await storage.head(dashKeys(uploadId).rung(240))).toMatchObject({ bytes: 1234 });
  });
});
