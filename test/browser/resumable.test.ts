import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, chromium, type Page } from 'playwright-core';
import { mnemonicToAccount } from 'viem/accounts';
import { connectRedis } from '@reelboard/bus';
import { STAGED_FILES } from '@reelboard/contracts';
import { findChromium } from '@reelboard/testkit/chromium';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { makeClip } from '@reelboard/testkit/media';
import { type Gateway, startGateway } from '../../services/api-gateway/test/harness.js';
import { type InjectedWallet, injectWallet } from './wallet-bridge.js';

// The web client's resumable upload in Chromium: the connection is cut in the middle of the video
// (the second chunk's request is reset), and the upload continues from the server's offset instead
// of starting over; the listing form then names the finished upload. The gateway tells the client a
// small chunk size (WEB_UPLOAD_CHUNK_BYTES), so a video of a few hundred kB spans several chunks
// and the test takes seconds; the 8 MiB default is measured by `pnpm bench resumable`.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const CHUNK = 128 * 1024;
const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'browser-resumable-test');
/** An anvil dev account no other test pays with (the flow test has index 7); this test never pays. */
const account = mnemonicToAccount('test test test test test test test test test test test junk', { addressIndex: 8 });
let gateway: Gateway;
let browser: Browser;
let page: Page;
let wallet: InjectedWallet;
let work: string;
let video: string;
let size: number;

beforeAll(async () => {
  const executablePath = findChromium();
  work = await mkdtemp(join(tmpdir(), 'reelboard-resumable-'));
  // A real MP4 (its first bytes are sniffed) padded past three chunks, so the cut falls mid-video.
  await makeClip(join(work, 'clip.mp4'), { width: 160, height: 120, seconds: 1 });
  video = join(work, 'ride.mp4');
  const bytes = Buffer.concat([await readFile(join(work, 'clip.mp4')), randomBytes(3 * CHUNK + 4096)]);
  size = bytes.length;
  await writeFile(video, bytes);
  gateway = await startGateway(redis, { WEB_UPLOAD_CHUNK_BYTES: String(CHUNK) });
  browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
  page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  wallet = await injectWallet(page, account, infraEnv().RPC_URL ?? '', Number(infraEnv().CHAIN_ID));
});

afterAll(async () => {
  await browser?.close();
  await gateway?.close();
  await redis.quit();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('resumable upload in the web client', () => {
  it('survives a connection cut mid-upload without starting over', async () => {
    const patches: { offset: number; failed: boolean }[] = [];
    let cut = false;
    await page.route('**/v1/resumable-uploads/*', async (route) => {
      const request = route.request();
      if (request.method() !== 'PATCH') return route.continue();
      const offset = Number(request.headers()['upload-offset']);
      // The second chunk's connection is reset, once, before the gateway sees it.
      if (!cut && offset === CHUNK) {
        cut = true;
        patches.push({ offset, failed: true });
        return route.abort('connectionreset');
      }
      patches.push({ offset, failed: false });
      return route.continue();
    });

    await page.goto(`${gateway.base}/sell`);
    expect(await page.locator('meta[name="upload-chunk-bytes"]').getAttribute('content')).toBe(String(CHUNK));
    await page.getByRole('button', { name: 'Connect wallet' }).click();
    await page.getByRole('button', { name: 'Sign in with Ethereum' }).click();
    await expect.poll(() => page.locator('#wallet-status').textContent(), { timeout: 20_000 }).toContain('Signed in as');
    await page.getByLabel('Video').setInputFiles(video);
    await page.getByLabel('Title').fill('Long ride');
    await page.getByLabel('Latitude').fill('52.52');
    await page.getByLabel('Longitude').fill('13.405');
    // The payment is declined in the wallet: the test ends once the form is accepted, nothing is paid.
    wallet.declineNextPayment();
    await page.getByRole('button', { name: 'PAY' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 30_000 }).toContain('Payment cancelled in the wallet');

    // The upload completed and the form named it.
    const owner = account.address.toLowerCase();
    const uploads = await gateway.uploads.uploadsOf(owner);
    expect(uploads).toHaveLength(1);
    const [uploadId] = uploads;
    expect(await gateway.uploads.state(uploadId ?? '')).toBeDefined();
    expect(await readFile(join(gateway.stagingDir, uploadId ?? '', STAGED_FILES.source))).toEqual(await readFile(video));

    // After the cut the client asked the server for its offset and went on from it, not from zero.
    const chunks = Math.ceil(size / CHUNK);
    expect(patches).toEqual([
      { offset: 0, failed: false },
      { offset: CHUNK, failed: true },
      ...Array.from({ length: chunks - 1 }, (_, index) => ({ offset: (index + 1) * CHUNK, failed: false })),
    ]);
    const sent = patches.reduce((total, patch) => total + Math.min(CHUNK, size - patch.offset), 0);
    expect(sent - size).toBeGreaterThan(0);
    expect(sent - size).toBeLessThanOrEqual(CHUNK);
  });
});
