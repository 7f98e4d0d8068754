import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multipartBody } from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'client-multipart-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collect(chunks: AsyncGenerator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('multipartBody', () => {
  it('streams fields and files (larger than one read) that a multipart parser reads back byte for byte, with the exact declared length', async () => {
    const video = randomBytes(3 * 1024 * 1024 + 17);
    const logo = randomBytes(1000);
    await writeFile(join(dir, 'clip "one".mp4'), video);
    await writeFile(join(dir, 'logo.png'), logo);
    const body = await multipartBody({ title: 'Bike, Berlin ✓', hashtags: '#a #b' }, [
      { name: 'video', path: join(dir, 'clip "one".mp4') },
      { name: 'logo', path: join(dir, 'logo.png') },
    ]);
    const bytes = await collect(body.chunks());
    expect(bytes.byteLength).toBe(body.length);

    const form = await new Response(bytes, { headers: { 'content-type': body.contentType } }).formData();
    expect(form.get('title')).toBe('Bike, Berlin ✓');
    expect(form.get('hashtags')).toBe('#a #b');
    const sentVideo = form.get('video') as File;
    // Quotes are escaped as %22 on the wire (WHATWG), and decoded back by the parser.
    expect(sentVideo.name).toBe('clip "one".mp4');
    expect(Buffer.from(await sentVideo.arrayBuffer()).equals(video)).toBe(true);
    expect(Buffer.from(await (form.get('logo') as File).arrayBuffer()).equals(logo)).toBe(true);
  });

  it('uses a fresh random boundary for every body', async () => {
    const a = await multipartBody({}, []);
    const b = await multipartBody({}, []);
    expect(a.contentType).not.toBe(b.contentType);
  });
});
