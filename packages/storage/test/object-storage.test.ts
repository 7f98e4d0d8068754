import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrityError, ObjectStorage, type StorageConfig } from '@reelboard/storage';
import { infraEnv } from '@reelboard/testkit/infra-env';

/** What the fault-injecting proxy does to one request on its way to the real S3 server. */
type Fault = 'pass' | 'slow-down' | 'corrupt-etag';

/**
 * A proxy in front of the real S3 server that can answer 503 SlowDown or rewrite an ETag, to
 * see the adapter's retries and integrity checks work over real connections.
 */
function startFaultyProxy(target: URL, decide: (req: IncomingMessage) => Fault) {
  const seen: { method: string; url: string; fault: Fault }[] = [];
  const server = createServer((req, res) => {
    const fault = decide(req);
    seen.push({ method: req.method ?? '', url: req.url ?? '', fault });
    if (fault === 'slow-down') {
      req.resume();
      req.on('end', () => {
        res.writeHead(503, { 'content-type': 'application/xml' });
        res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
      });
      return;
    }
    const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      const headers = { ...answer.headers };
      if (fault === 'corrupt-etag' && headers.etag) headers.etag = '"00000000000000000000000000000000"';
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return new Promise<{ server: Server; url: string; seen: typeof seen }>((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen }));
  });
}

const infra = infraEnv();
const MiB = 1024 * 1024;
let work: string;
const base = (): StorageConfig => ({
  endpoint: infra.S3_ENDPOINT,
  region: infra.S3_REGION ?? 'us-east-1',
  bucket: infra.TEST_S3_BUCKET ?? 'reelboard-test',
  accessKeyId: infra.S3_ACCESS_KEY_ID,
  secretAccessKey: infra.S3_SECRET_ACCESS_KEY,
  forcePathStyle: true,
  partSizeBytes: 5 * MiB,
  queueSize: 2,
  retryBaseDelayMs: 20,
});
const prefix = `storage-test-${Date.now().toString(36)}`;
const open: { close(): void }[] = [];
const servers: Server[] = [];
function storage(overrides: Partial<StorageConfig> = {}): ObjectStorage {
  const s = new ObjectStorage({ ...base(), ...overrides });
  open.push(s);
  return s;
}
const isPut = (req: IncomingMessage) => req.method === 'PUT' && !(req.url ?? '').endsWith('/') && (req.url ?? '').includes(prefix);

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'storage-test-'));
  await storage().ensureBucket();
});
afterAll(async () => {
  for (const s of open) s.close();
  for (const server of servers) server.close();
  await rm(work, { recursive: true, force: true });
});

async function file(name: string, bytes: number): Promise<{ path: string; content: Buffer }> {
  const content = randomBytes(bytes);
  const path = join(work, name);
  await writeFile(path, content);
  return { path, content };
}

describe('ObjectStorage on the real S3 server', () => {
  it('stores a small file in one PUT with its content type, cache headers and checksums', async () => {
    const s = storage();
    const { path, content } = await file('small.bin', 70_000);
    const stored = await s.putFile(`${prefix}/small.webp`, path, 'image/webp');
    expect(stored).toMatchObject({ bytes: 70_000, attempts: 1, sha256: createHash('sha256').update(content).digest('hex') });
    expect(stored.etag?.replace(/"/g, '')).toBe(createHash('md5').update(content).digest('hex'));
    const head = await s.head(`${prefix}/small.webp`);
    expect(head).toMatchObject({ bytes: 70_000, contentType: 'image/webp', cacheControl: 'public, max-age=31536000, immutable' });
    expect((await s.getBytes(`${prefix}/small.webp`)).equals(content)).toBe(true);
  });

  it('uploads a file larger than a part in parts, and the stored object is the file', async () => {
    const target = new URL(infra.S3_ENDPOINT ?? '');
    const proxy = await startFaultyProxy(target, () => 'pass');
    servers.push(proxy.server);
    const s = storage({ endpoint: proxy.url });
    const { path, content } = await file('large.bin', 11 * MiB);
    const stored = await s.putFile(`${prefix}/large.webm`, path, 'video/webm');
    expect(stored.bytes).toBe(11 * MiB);
    const parts = proxy.seen.filter((r) => r.method === 'PUT' && r.url.includes('partNumber='));
    expect(parts).toHaveLength(3);
    expect((await s.getBytes(`${prefix}/large.webm`)).equals(content)).toBe(true);
  });

  it('retries throttling (503 SlowDown) with backoff until the upload goes through', async () => {
    let refusals = 2;
    const proxy = await startFaultyProxy(new URL(infra.S3_ENDPOINT ?? ''), (req) => (isPut(req) && refusals-- > 0 ? 'slow-down' : 'pass'));
    servers.push(proxy.server);
    const s = storage({ endpoint: proxy.url });
    const { path, content } = await file('throttled.bin', 10_000);
    await s.putFile(`${prefix}/throttled.bin`, path, 'application/octet-stream');
    expect(proxy.seen.filter((r) => r.method === 'PUT').map((r) => r.fault)).toEqual(['slow-down', 'slow-down', 'pass']);
    expect((await s.getBytes(`${prefix}/throttled.bin`)).equals(content)).toBe(true);
  });

  it('fails after its tries when the server keeps answering 5xx', async () => {
    const proxy = await startFaultyProxy(new URL(infra.S3_ENDPOINT ?? ''), (req) => (isPut(req) ? 'slow-down' : 'pass'));
    servers.push(proxy.server);
    const s = storage({ endpoint: proxy.url, maxAttempts: 2, fileAttempts: 2 });
    const { path } = await file('refused.bin', 1000);
    await expect(s.putFile(`${prefix}/refused.bin`, path, 'application/octet-stream')).rejects.toMatchObject({ $metadata: { httpStatusCode: 503 } });
    expect(proxy.seen.filter((r) => r.method === 'PUT')).toHaveLength(4);
  });

  it('detects a checksum mismatch, uploads the file again, and gives up if it never matches', async () => {
    let corruptions = 1;
    const once = await startFaultyProxy(new URL(infra.S3_ENDPOINT ?? ''), (req) => (isPut(req) && corruptions-- > 0 ? 'corrupt-etag' : 'pass'));
    const always = await startFaultyProxy(new URL(infra.S3_ENDPOINT ?? ''), (req) => (isPut(req) ? 'corrupt-etag' : 'pass'));
    servers.push(once.server, always.server);
    const { path } = await file('checked.bin', 5000);
    const stored = await storage({ endpoint: once.url }).putFile(`${prefix}/checked.bin`, path, 'application/octet-stream');
    expect(stored.attempts).toBe(2);
    const error = await storage({ endpoint: always.url, fileAttempts: 2 })
      .putFile(`${prefix}/never.bin`, path, 'application/octet-stream')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as Error).message).toContain('never.bin');
    // With verification off (stores whose ETags are not MD5s) the size check alone decides.
    const unverified = await storage({ endpoint: always.url, verifyChecksum: false }).putFile(`${prefix}/unverified.bin`, path, 'application/octet-stream');
    expect(unverified.attempts).toBe(1);
  });

  it('does not retry what cannot pass (a missing bucket)', async () => {
    const { path } = await file('nobucket.bin', 100);
    const s = storage({ bucket: `missing-${Date.now()}` });
    const error = await s.putFile('x/y.bin', path, 'application/octet-stream').catch((e: unknown) => e);
    expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(404);
  });

  it('gives presigned GET URLs that work and expire as configured, or plain URLs under a public base', async () => {
    const s = storage({ presignTtlSeconds: 600 });
    const { path, content } = await file('signed.bin', 2000);
    await s.putFile(`${prefix}/signed file.bin`, path, 'application/octet-stream');
    const url = new URL(await s.urlFor(`${prefix}/signed file.bin`));
    expect(url.searchParams.get('X-Amz-Expires')).toBe('600');
    const answer = await fetch(url);
    expect(answer.status).toBe(200);
    expect(Buffer.from(await answer.arrayBuffer()).equals(content)).toBe(true);
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);

    const cdn = storage({ publicBaseUrl: 'https://cdn.example.com/media/' });
    expect(await cdn.urlFor('listings/abc/poster.webp')).toBe('https://cdn.example.com/media/listings/abc/poster.webp');
  });
});
