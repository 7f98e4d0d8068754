import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, chromium, type Page } from 'playwright-core';
import { connectRedis } from '@reelboard/bus';
import { findChromium } from '@reelboard/testkit/chromium';
import { allowBrowserReads, type DashLadder, makeDashLadder, saveDashListing } from '@reelboard/testkit/dash-fixture';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { makePng } from '@reelboard/testkit/media';
import { type Gateway, startGateway } from '../../services/api-gateway/test/harness.js';

// The fast start of a listing's page (packages/web/src/fast-start.ts) in Chromium on a phone over a
// throttled link (DevTools protocol: 1.6 Mbit/s down, 150 ms latency), against the gateway and the S3
// server: the first frame comes from the page's own `<video>` playing the lowest rung's file before
// the adaptive player's script is even asked for; then the player takes over on a second element
// without a stall or a jump back, and the start file's download stops.
//
// The lowest rung is 2 MB (40 s at 400 kbit/s, with noise so the encoder spends it): about 10 s of the
// whole link, so a start element left downloading would still be at it after the hand-off.

type Frame = { at: number; mediaTime: number; height: number; element: number; visible: boolean };
type PageRecord = { frames: Frame[]; waiting: { at: number; element: number; visible: boolean }[]; elements: number };
type Globals = {
  fastStartRecord: PageRecord;
  performance: { getEntriesByType(type: string): { name: string; startTime: number }[]; getEntriesByName(name: string): { startTime: number }[] };
  document: { querySelector(selector: string): { currentTime: number; videoHeight: number; dataset: { [key: string]: string } } | null };
};

/**
 * Installed before the page's own HTML is parsed: every frame each `<video>` presents (wall time in
 * ms since navigation, media time, whether the element was the one shown) and every `waiting` event.
 */
const RECORDER = `(() => {
  const record = { frames: [], waiting: [], elements: 0 };
  globalThis.fastStartRecord = record;
  const seen = new WeakSet();
  const visible = (video) => video.isConnected && !video.hidden;
  const watch = (video) => {
    if (seen.has(video)) return;
    seen.add(video);
    const element = record.elements++;
    const frame = (now, metadata) => {
      record.frames.push({ at: performance.now(), mediaTime: metadata.mediaTime, height: video.videoHeight, element, visible: visible(video) });
      video.requestVideoFrameCallback(frame);
    };
    video.requestVideoFrameCallback(frame);
    video.addEventListener('waiting', () => record.waiting.push({ at: performance.now(), element, visible: visible(video) }));
  };
  new MutationObserver(() => document.querySelectorAll('video').forEach(watch)).observe(document, { childList: true, subtree: true });
})();`;

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--autoplay-policy=no-user-gesture-required'];
const ADMIN_TOKEN = 'fast-start-test-admin-token-0123456789';
const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'browser-fast-start-test');
let gateway: Gateway;
let browser: Browser;
let work: string;
let ladder: DashLadder;
let listingId = '';

/** Reads the page with `read`, given the page's globals (sent as source: it runs there, not here). */
const inPage = <T>(page: Page, read: (globals: Globals) => T): Promise<T> => page.evaluate(`(${read.toString()})(globalThis)`);

beforeAll(async () => {
  gateway = await startGateway(redis, { ADMIN_TOKEN });
  await allowBrowserReads(gateway.storage);
  work = await mkdtemp(join(tmpdir(), 'fast-start-test-'));
  const poster = join(work, 'poster.png');
  await makePng(poster, { width: 320, height: 180 });
  ladder = await makeDashLadder(work, {
    width: 640,
    height: 360,
    seconds: 40,
    fps: 15,
    noise: true,
    progressiveKbps: 300,
    rungs: [
      { height: 240, bitrateKbps: 400 },
      { height: 360, bitrateKbps: 700 },
    ],
  });
  listingId = await saveDashListing(gateway.storage, gateway.db, ladder, { poster: { path: poster, contentType: 'image/png' } });
  const approved = await fetch(`${gateway.base}/v1/admin/listings/${listingId}/approve`, { method: 'POST', headers: { 'x-admin-token': ADMIN_TOKEN } });
  expect(approved.status).toBe(200);
  // The gateway compresses the player's script on its first request: a cold one would be timed here, not the page.
  await fetch(`${gateway.base}/assets/player.js`, { headers: { 'accept-encoding': 'br, gzip' } });
  await fetch(`${gateway.base}/`, { headers: { 'accept-encoding': 'br, gzip' } });
  browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_FLAGS });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (listingId) await gateway?.db('listings').where({ id: listingId }).del();
  await gateway?.close();
  await redis.quit();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("a listing page's fast start", () => {
  it('shows the first frame before the player script is asked for, then hands off to the adaptive player without a stall or a jump back, and stops the start download', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: 200_000, uploadThroughput: 100_000 });
      const startFile = `listings/${listingId}/dash/video-240p.webm`;
      // The start element's own requests (type Media): the adaptive player fetches the same rung's file with fetch().
      const startRequests = new Set<string>();
      const startRanges: string[] = [];
      let startBytes = 0;
      cdp.on('Network.requestWillBeSent', (event: { requestId: string; type?: string; request: { url: string; headers: Record<string, string> } }) => {
        if (event.type !== 'Media' || !event.request.url.includes(startFile)) return;
        startRequests.add(event.requestId);
        startRanges.push(event.request.headers.Range ?? event.request.headers.range ?? 'none');
      });
      cdp.on('Network.dataReceived', (event: { requestId: string; dataLength: number }) => {
        if (startRequests.has(event.requestId)) startBytes += event.dataLength;
      });
      const paths: string[] = [];
      page.on('request', (request) => paths.push(new URL(request.url()).pathname));
      await page.addInitScript({ content: RECORDER });

      await page.goto(`${gateway.base}/listings/${listingId}`);
      await page.waitForSelector('#player[data-playback="dash"]', { timeout: 40_000 });
      // Bytes already on their way when the page stopped the download may still arrive (the link's latency).
      await new Promise((resolve) => setTimeout(resolve, 500));
      const bytesAtHandOff = startBytes;
      // Two seconds of the adaptive player: enough to see a stall or a jump at the swap, and bytes after it.
      const handOffTime = await inPage(page, (g) => g.document.querySelector('#player')?.currentTime ?? 0);
      await page.waitForFunction((at) => ((globalThis as unknown as Globals).document.querySelector('#player')?.currentTime ?? 0) >= at + 2, handOffTime, {
        timeout: 30_000,
      });

      const record = await inPage(page, (g) => g.fastStartRecord);
      const timing = await inPage(page, (g) => ({
        player: g.performance.getEntriesByType('resource').find((entry) => entry.name.includes('/assets/player.js'))?.startTime ?? null,
        manifest: g.performance.getEntriesByType('resource').find((entry) => entry.name.includes('manifest.mpd'))?.startTime ?? null,
        handOff: g.performance.getEntriesByName('player-hand-off')[0]?.startTime ?? null,
      }));
      const shown = record.frames.filter((frame) => frame.visible);
      const first = shown[0];
      if (!first || timing.player === null || timing.handOff === null) throw new Error(`no first frame, player request or hand-off: ${JSON.stringify(timing)}`);

      // The start element reads the rung's file from its first byte: not its Cues, at the end of the file, first.
      expect(startRanges[0]).toBe('bytes=0-');
      // The first frame, from the page's own element on the lowest rung, before the player's script or the manifest is asked for.
      expect(first.element).toBe(0);
      expect(first.height).toBe(240);
      expect(first.at).toBeLessThan(timing.player);
      expect(timing.manifest).toBeGreaterThan(first.at);

      // The hand-off: the adaptive element is the one shown, on the DASH player, and the start element is gone.
      expect(await page.$$eval('.player video', (videos) => videos.length)).toBe(1);
      const afterSwap = shown.filter((frame) => frame.element !== 0);
      expect(afterSwap.length).toBeGreaterThan(10);
      const swapAt = timing.handOff;
      // Across it, the picture goes on: media time never goes back more than 0.3 s, no gap between frames shown over 0.5 s
      // from a second before it to a second after, no `waiting` on the element shown from a second before to two after.
      // (A stall elsewhere is the loaded machine's or the link's, which the benchmark counts: here it is the swap's.)
      const backwards = shown.slice(1).map((frame, index) => (shown[index]?.mediaTime ?? 0) - frame.mediaTime);
      expect(Math.max(...backwards)).toBeLessThanOrEqual(0.3);
      const gaps = shown.slice(1).map((frame, index) => ({ from: shown[index]?.at ?? 0, gap: frame.at - (shown[index]?.at ?? 0) }));
      const acrossSwap = gaps.filter(({ from }) => from > swapAt - 1000 && from < swapAt + 1000);
      expect(acrossSwap.length).toBeGreaterThan(0);
      expect(Math.max(...acrossSwap.map(({ gap }) => gap))).toBeLessThan(500);
      expect(record.waiting.filter((event) => event.visible && event.at > swapAt - 1000 && event.at < swapAt + 2000)).toEqual([]);

      // The start file's download stopped at the hand-off: nothing more arrived, and not the whole file.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(startRequests.size).toBeGreaterThan(0);
      expect(startBytes).toBe(bytesAtHandOff);
      const startSize = (await stat(join(work, 'video-240p.webm'))).size;
      expect(startBytes).toBeLessThan(startSize);

      // The manifest once, the listing not at all (it came with the page).
      expect(paths.filter((path) => path === `/v1/listings/${listingId}/stream/manifest.mpd`)).toHaveLength(1);
      expect(paths).not.toContain(`/v1/listings/${listingId}`);

      // The adaptive player's quality menu switches rungs.
      await page.selectOption('#quality', '360');
      await page.waitForFunction(() => (globalThis as unknown as Globals).document.querySelector('#player')?.videoHeight === 360, undefined, {
        timeout: 20_000,
      });
    } finally {
      await context.close();
    }
  }, 90_000);
  it('on a visit within the app makes the same start, and "Sound on" before the hand-off hands off at once, unmuted', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 150, downloadThroughput: 200_000, uploadThroughput: 100_000 });
      await page.addInitScript({ content: RECORDER });
      // The client's own route: the page comes without the listing, which the view asks the API for.
      await page.goto(`${gateway.base}/#/listing/${listingId}`);
      await page.waitForFunction(() => (globalThis as unknown as Globals).fastStartRecord.frames.length > 0, undefined, { timeout: 30_000 });
      const before = await inPage(page, (g) => ({
        playback: g.document.querySelector('#player')?.dataset.playback,
        player: g.performance.getEntriesByType('resource').find((entry) => entry.name.includes('/assets/player.js'))?.startTime ?? null,
        first: g.fastStartRecord.frames[0]?.at ?? null,
      }));
      expect(before.playback).toBe('start');
      expect(before.player === null || (before.first !== null && before.player >= before.first)).toBe(true);
      const asked = await inPage(page, (g) => g.performance.getEntriesByType('resource').length && performance.now());
      await page.click('#sound');
      await page.waitForSelector('#player[data-playback="dash"]', { timeout: 30_000 });
      const after = await inPage(page, (g) => ({
        muted: (g.document.querySelector('#player') as unknown as { muted: boolean }).muted,
        handOff: g.performance.getEntriesByName('player-hand-off')[0]?.startTime ?? 0,
      }));
      expect(after.muted).toBe(false);
      // From where the start element was: the adaptive element's first frame shown is within a second of its last.
      await page.waitForFunction(
        () => (globalThis as unknown as Globals).fastStartRecord.frames.some((frame) => frame.visible && frame.element === 1),
        undefined,
        {
          timeout: 20_000,
        },
      );
      const frames = (await inPage(page, (g) => g.fastStartRecord.frames)).filter((frame) => frame.visible);
      const lastStart = frames.filter((frame) => frame.element === 0).at(-1);
      const firstAdaptive = frames.find((frame) => frame.element === 1);
      expect(Math.abs((firstAdaptive?.mediaTime ?? -10) - (lastStart?.mediaTime ?? 10))).toBeLessThan(1);
      // At once: not 3 s of media ahead, only the player's script and manifest on the slow link (~1-2 s).
      expect(after.handOff - asked).toBeLessThan(4000);
      await page.waitForFunction(
        () =>
          !(
            (globalThis as unknown as { document: { querySelector(s: string): { paused: boolean } | null } }).document.querySelector('#player')?.paused ?? true
          ),
        undefined,
        {
          timeout: 20_000,
        },
      );
    } finally {
      await context.close();
    }
  }, 60_000);
});
