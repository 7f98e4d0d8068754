import { randomBytes } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectRedis } from '@reelboard/bus';
import { queues } from '@reelboard/contracts';
import { makeClip, makePng } from '@reelboard/testkit/media';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { type Gateway, infra, openStream, startGateway } from './harness.js';

type Json = Record<string, any>;

const redis = connectRedis(infra.REDIS_URL ?? '', 'gateway-surface-test');
const ALLOWED_ORIGIN = 'https://app.reelboard.example';
let gw: Gateway;
let work: string;
let clip: string;
let logo: string;
let buyer: string;
let stranger: string;

const FIELDS = { title: 'Bike', latitude: '52.5', longitude: '13.4', hashtags: '#bikes' };

/** Posts the listing form; every part is given as [name, value] or [name, file path, file name]. */
async function postForm(token: string, parts: ([string, string] | [string, string, string])[]) {
  const form = new FormData();
  for (const part of parts) {
    if (part.length === 3) form.append(part[0], await openAsBlob(part[1]), part[2]);
    else form.append(part[0], part[1]);
  }
  const res = await fetch(`${gw.base}/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
  return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
}
const fieldParts = (fields: Record<string, string>) => Object.entries(fields) as [string, string][];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'gw-surface-'));
  clip = join(work, 'clip.mp4');
  logo = join(work, 'logo.png');
  await Promise.all([makeClip(clip, { width: 320, height: 240, seconds: 1 }), makePng(logo, { width: 64, height: 64 })]);
  const clipBytes = (await stat(clip)).size;
  gw = await startGateway(redis, { MAX_VIDEO_BYTES: String(clipBytes + 20_000), SSE_HEARTBEAT_MS: '100', CORS_ORIGINS: ALLOWED_ORIGIN });
  buyer = await gw.signIn(ANVIL_ACCOUNTS.buyer.key);
  stranger = await gw.signIn(ANVIL_ACCOUNTS.stranger.key);
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await redis.quit();
  await rm(work, { recursive: true, force: true });
});

describe('the listing form', () => {
  it('refuses a video over the size limit with 413 and leaves nothing in staging', async () => {
    const big = join(work, 'big.mp4');
    await writeFile(big, randomBytes(gw.config.MAX_VIDEO_BYTES + 50_000));
    const before = await readdir(gw.stagingDir);
    const res = await postForm(buyer, [...fieldParts(FIELDS), ['video', big, 'big.mp4']]);
    expect(res).toMatchObject({ status: 413, body: { error: 'file_too_large' } });
    expect(await readdir(gw.stagingDir)).toEqual(before);
  });

  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    const answer = await new Promise<{ status: number; body: Json }>((resolve, reject) => {
      const url = new URL('/v1/uploads', gw.base);
      const req = request(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${buyer}`, 'content-type': 'multipart/form-data; boundary=xyz', 'content-length': String(50 * 1024 ** 3) },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Json });
        });
      });
      req.on('error', reject);
      // Only the start of a 50 GiB body is ever sent: the answer must come without the rest.
      req.write('--xyz\r\n');
    });
    expect(answer).toMatchObject({ status: 413, body: { error: 'request_too_large' } });
  });

  it('names each bad field: missing title, latitude out of range, NaN, Infinity, a field sent twice', async () => {
    const first = await postForm(buyer, [
      ['latitude', '91'],
      ['longitude', 'NaN'],
      ['video', clip, 'clip.mp4'],
    ]);
    expect(first.status).toBe(400);
    expect(first.body.error).toBe('invalid_form');
    expect(Object.keys(first.body.fields).sort()).toEqual(['latitude', 'longitude', 'title']);
    expect(first.body.fields.latitude).toMatch(/between -90 and 90/);
    expect(first.body.fields.longitude).toMatch(/decimal number/);
    const second = await postForm(buyer, [
      ['title', 'One'],
      ['title', 'Two'],
      ['latitude', 'Infinity'],
      ['longitude', '13'],
      ['video', clip, 'clip.mp4'],
    ]);
    expect(second.status).toBe(400);
    expect(second.body.fields).toMatchObject({ title: 'title was sent more than once', latitude: expect.stringMatching(/decimal number/) });
    expect(await readdir(gw.stagingDir)).toEqual([]);
  });

  it('refuses a PNG renamed .mp4 as the video, and an SVG logo, with 415', async () => {
    const renamed = join(work, 'really-a-png.mp4');
    await writeFile(renamed, await import('node:fs/promises').then((fs) => fs.readFile(logo)));
    const video = await postForm(buyer, [...fieldParts(FIELDS), ['video', renamed, 'clip.mp4']]);
    expect(video).toMatchObject({ status: 415, body: { error: 'unsupported_video' } });
    const svg = join(work, 'logo.svg');
    await writeFile(svg, '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>');
    const svgLogo = await postForm(buyer, [...fieldParts(FIELDS), ['video', clip, 'clip.mp4'], ['logo', svg, 'logo.png']]);
    expect(svgLogo).toMatchObject({ status: 415, body: { error: 'unsupported_logo' } });
    expect(await readdir(gw.stagingDir)).toEqual([]);
  });
});

describe('status', () => {
  let uploadId: string;
  const events = () => `${gw.base}/v1/uploads/${uploadId}/events`;

  beforeAll(async () => {
    const res = await postForm(buyer, [...fieldParts(FIELDS), ['video', clip, 'clip.mp4'], ['logo', logo, 'logo.png']]);
    expect(res.status).toBe(202);
    uploadId = res.body.uploadId;
  });

  it("hides an upload's stream from anyone but its owner (404)", async () => {
    const stream = await openStream(events(), { authorization: `Bearer ${stranger}` });
    expect(stream).toMatchObject({ status: 404, body: { error: 'upload_not_found' } });
  });

  it('sends the current status first, then heartbeats while idle', async () => {
    const stream = await openStream(events(), { authorization: `Bearer ${buyer}` });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const first = await stream.nextEvent();
    expect(first).toMatchObject({ id: '1', event: 'upload.received' });
    expect(JSON.parse(first?.data ?? '{}')).toMatchObject({ seq: 1, uploadId, state: 'awaiting_payment' });
    expect(await stream.next()).toEqual({ kind: 'comment', text: 'heartbeat' });
    stream.close();
  });

  it('replays exactly the events after Last-Event-ID, then ends after a terminal event', async () => {
    for (const progress of [10, 50, 90]) {
      await gw.bus.status.publish({ uploadId, event: 'progress', stage: 'transcoder', state: 'processing', progress });
    }
    const resumed = await openStream(events(), { authorization: `Bearer ${buyer}`, 'last-event-id': '2' });
    const replayed = [await resumed.nextEvent(), await resumed.nextEvent()];
    expect(replayed.map((event) => [event?.id, JSON.parse(event?.data ?? '{}').progress])).toEqual([
      ['3', 50],
      ['4', 90],
    ]);
    await gw.bus.status.publish({ uploadId, event: 'failed', stage: 'transcoder', state: 'failed', reason: 'the test ends it' });
    const last = await resumed.nextEvent();
    expect(last).toMatchObject({ id: '5', event: 'failed' });
    // The server closes the stream: nothing more arrives, not even a heartbeat.
    expect(await resumed.next()).toBeUndefined();
  });

  it("lists only the signed-in user's uploads", async () => {
    const strangers = await postForm(stranger, [...fieldParts(FIELDS), ['video', clip, 'clip.mp4']]);
    expect(strangers.status).toBe(202);
    const mine = (await (await fetch(`${gw.base}/v1/me/uploads`, { headers: { authorization: `Bearer ${buyer}` } })).json()) as Json;
    expect(mine.items.map((item: Json) => item.uploadId)).toEqual([uploadId]);
    expect(mine.items[0].status).toMatchObject({ event: 'failed', seq: 5 });
    const theirs = (await (await fetch(`${gw.base}/v1/me/uploads`, { headers: { authorization: `Bearer ${stranger}` } })).json()) as Json;
    expect(theirs.items.map((item: Json) => item.uploadId)).toEqual([strangers.body.uploadId]);
  });
});

describe('the surface', () => {
  it('limits sign-in attempts per IP with 429, Retry-After and a JSON error', async () => {
    const limited = await startGateway(redis, { RATE_LIMIT_AUTH_PER_IP_PER_MINUTE: '3' });
    try {
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let attempt = 0; attempt < 4; attempt += 1) {
        last = await fetch(`${limited.base}/v1/auth/nonce`);
        statuses.push(last.status);
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(Number(last?.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await last?.json()).toMatchObject({ error: 'rate_limited', message: expect.any(String) });
      // Other routes have their own, larger budget.
      expect((await fetch(`${limited.base}/v1/hashtags?prefix=a`)).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('limits new uploads per wallet, not per IP', async () => {
    const limited = await startGateway(redis, { RATE_LIMIT_UPLOADS_PER_WALLET_PER_HOUR: '1' });
    try {
      const post = async (token: string) => {
        const form = new FormData();
        for (const [name, value] of fieldParts(FIELDS)) form.append(name, value);
        form.append('video', await openAsBlob(clip), 'clip.mp4');
        const res = await fetch(`${limited.base}/v1/uploads`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: form });
        return { status: res.status, body: (await res.json()) as Json };
      };
      const [first, second] = [await limited.signIn(ANVIL_ACCOUNTS.buyer.key), await limited.signIn(ANVIL_ACCOUNTS.stranger.key)];
      expect((await post(first)).status).toBe(202);
      expect(await post(first)).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
      // Same IP, another wallet: its own budget.
      expect((await post(second)).status).toBe(202);
    } finally {
      await limited.close();
    }
  });

  it('allows CORS for configured origins only', async () => {
    const allowed = await fetch(`${gw.base}/v1/listings`, { headers: { origin: ALLOWED_ORIGIN } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    const preflight = await fetch(`${gw.base}/v1/uploads`, {
      method: 'OPTIONS',
      headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const other = await fetch(`${gw.base}/v1/listings`, { headers: { origin: 'https://evil.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('sends security headers', async () => {
    const res = await fetch(`${gw.base}/v1/hashtags?prefix=a`);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('content-security-policy')).toContain("style-src 'self';");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('answers an unknown route with a JSON 404', async () => {
    const res = await fetch(`${gw.base}/v1/nothing-here`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'not_found', message: 'no route GET /v1/nothing-here' });
  });
});

describe('the queue dashboard', () => {
  const basic = (password: string) => `Basic ${Buffer.from(`ops:${password}`).toString('base64')}`;

  it('asks for credentials (401 with a Basic challenge), and refuses non-admins', async () => {
    const anonymous = await fetch(`${gw.base}/admin/queues`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect(((await anonymous.json()) as Json).error).toBe('unauthenticated');
    const wrong = await fetch(`${gw.base}/admin/queues`, { headers: { authorization: basic('not-the-token-at-all-000000') } });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as Json).error).toBe('invalid_credentials');
    const nonAdmin = await fetch(`${gw.base}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${stranger}` } });
    expect(nonAdmin.status).toBe(403);
    // Basic auth is the dashboard's alone: the moderation API does not take it.
    expect((await fetch(`${gw.base}/v1/admin/listings`, { headers: { authorization: basic(gw.adminToken) } })).status).toBe(401);
  });

  it('shows every channel queue to admins: Basic with the admin token, X-Admin-Token, or an admin wallet', async () => {
    const page = await fetch(`${gw.base}/admin/queues`, { headers: { authorization: basic(gw.adminToken) } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('www-authenticate')).toBeNull();
    // Its UI styles elements inline: allowed on its pages only, and scripts stay 'self'.
    expect(page.headers.get('content-security-policy')).toContain("style-src 'self' 'unsafe-inline'");
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self';");
    expect(await page.text()).toContain('Reelboard queues');
    const api = await fetch(`${gw.base}/admin/queues/api/queues`, { headers: { 'x-admin-token': gw.adminToken } });
    expect(api.status).toBe(200);
    const names = ((await api.json()) as Json).queues.map((queue: Json) => queue.name);
    // Every queue of the table: the work channels, the notifier's and the maintenance jobs'.
    expect(names.sort()).toEqual(Object.keys(queues).sort());
    const admin = await gw.signIn(ANVIL_ACCOUNTS.buyer.key);
    expect((await fetch(`${gw.base}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(200);
  });

  it("refuses queue changes from another site even with the admin's credentials", async () => {
    const url = `${gw.base}/admin/queues/api/queues/upload.received/retry/failed`;
    const crossSite = await fetch(url, {
      method: 'PUT',
      headers: { authorization: basic(gw.adminToken), origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
    const sameSite = await fetch(url, {
      method: 'PUT',
      headers: { authorization: basic(gw.adminToken), origin: new URL(gw.base).origin, 'sec-fetch-site': 'same-origin' },
    });
    expect(sameSite.status).toBe(200);
  });
});
