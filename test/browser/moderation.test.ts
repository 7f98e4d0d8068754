import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { HDAccount } from 'viem/accounts';
import { privateKeyToAccount } from 'viem/accounts';
import { connectRedis } from '@reelboard/bus';
import { editListing, moderateListing, saveListing } from '@reelboard/db';
import { seriousA11yViolations, sidewaysOverflow } from '@reelboard/testkit/a11y';
import { findChromium } from '@reelboard/testkit/chromium';
import { listingInput, randomWallet } from '@reelboard/testkit/db-fixtures';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { makePng } from '@reelboard/testkit/media';
import { ANVIL_ACCOUNTS } from '@reelboard/testkit/stack';
import { type Gateway, startGateway } from '../../services/api-gateway/test/harness.js';
import { injectWallet } from './wallet-bridge.js';

// The moderation screen (/moderate) in Chromium, against a gateway with the real Redis, Postgres,
// S3 server and anvil: a moderator signs in with an admin wallet (SIWE through the injected wallet),
// approves a pending listing with the keyboard, rejects a listing's revision with a reason, and
// dismisses the reports that held a listing; then the phone layout with the admin token.
// Every view is checked with axe-core (no serious or critical violation) on desktop and a 390 px
// phone, and the phone page must not scroll sideways.

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'];
const ADMIN_TOKEN = `moderation-browser-${randomBytes(12).toString('hex')}`;

/** The parts of DOM objects the test reads in the page (the test compiles without the DOM library). */
type MediaLike = { readyState: number; paused: boolean; currentTime: number; src: string };

const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'browser-moderation-test');
let gateway: Gateway;
let browser: Browser;
let work: string;
const owner = randomWallet();
const ids = { pending: '', other: '', revised: '', reported: '', visitor: '', visitorPhone: '' };
let revisionId = '';
const pageErrors: string[] = [];

/** axe-core's serious and critical violations of the page as it is now (the testkit's check). */
const seriousViolations = async (page: Page) => (await seriousA11yViolations(page)).map((violation) => `${violation.id}: ${violation.targets.join(', ')}`);

/** How far the page scrolls sideways, against the test's viewport (the testkit's check). */
const sidewaysScroll = sidewaysOverflow;

/** Presses j until the queue's selected item is `id` (the queues may hold other tests' items). */
async function selectWithKeys(page: Page, id: string): Promise<void> {
  await page.locator('.mod-item').first().waitFor();
  for (let step = 0; step < 200; step += 1) {
    if ((await page.locator('.mod-item[aria-current="true"]').getAttribute('data-id')) === id) return;
    await page.keyboard.press('j');
  }
  throw new Error(`${id} is not in the moderation queues`);
}

beforeAll(async () => {
  const executablePath = findChromium();
  work = await mkdtemp(join(tmpdir(), 'moderation-browser-'));
  const clip = join(work, 'clip.webm');
  // A real VP9 clip the video and preview elements can play.
  await promisify(execFile)('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x180:rate=15',
    '-t',
    '3',
    '-c:v',
    'libvpx-vp9',
    '-b:v',
    '150k',
    '-deadline',
    'realtime',
    clip,
  ]);
  await makePng(join(work, 'logo.png'), { width: 64, height: 64 });
  gateway = await startGateway(redis, { ADMIN_TOKEN, REPORTS_HOLD_THRESHOLD: '1' });
  const { db, storage } = gateway;
  for (const name of Object.keys(ids) as (keyof typeof ids)[]) {
    const input = listingInput({ wallet: owner, title: `Moderated ${name} ${randomBytes(2).toString('hex')}` });
    await saveListing(db, input);
    ids[name] = input.listingId;
    await storage.putFile(input.listing.videoKey, clip, 'video/webm');
    await storage.putFile(input.listing.previewKey, clip, 'video/webm');
    await storage.putFile(input.listing.posterKey, join(work, 'logo.png'), 'image/png');
    await storage.putFile(input.listing.logoKey ?? '', join(work, 'logo.png'), 'image/png');
    if (name !== 'pending' && name !== 'other') await moderateListing(db, { listingId: input.listingId, actor: 'test', action: 'approve' });
  }
  // An edit of an approved listing waits as a revision; its new logo makes the diff show two images.
  const edit = await editListing(db, { listingId: ids.revised, wallet: owner, changes: { title: 'A much better title' } });
  revisionId = edit.revisionId ?? '';
  const newLogo = `listings/${ids.revised}/logo-${randomBytes(3).toString('hex')}.webp`;
  await storage.putFile(newLogo, join(work, 'logo.png'), 'image/png');
  await db('listing_revisions')
    .where({ id: revisionId })
    .update({ changes: db.raw(`changes || ?::jsonb`, [JSON.stringify({ logoKey: newLogo })]) });
  // One report holds a listing here (REPORTS_HOLD_THRESHOLD=1).
  const reported = await fetch(`${gateway.base}/v1/listings/${ids.reported}/reports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'misleading', details: 'the video shows something else' }),
  });
  expect(reported.status).toBe(201);
  browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await gateway?.db('listings').whereIn('id', Object.values(ids)).delete();
  await gateway?.db('users').where('wallet_address', owner.toLowerCase()).delete();
  await gateway?.close();
  await redis.quit();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the moderation screen in Chromium', () => {
  it('a moderator signs in with the admin wallet, approves with the keyboard, rejects a revision with a reason, dismisses reports', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // The admin wallet of the gateway (ADMIN_ADDRESSES), signing through the injected wallet.
    await injectWallet(page, privateKeyToAccount(ANVIL_ACCOUNTS.buyer.key) as unknown as HDAccount, gateway.config.RPC_URL ?? '', gateway.config.CHAIN_ID);
    await page.goto(`${gateway.base}/moderate`);
    await page.getByRole('button', { name: 'Sign in with wallet' }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Sign in with wallet' }).click();
    await expect.poll(() => page.locator('#mod-legend').textContent()).toContain('approve');

    // The pending listing: its video and the preview loop play beside its fields.
    await selectWithKeys(page, ids.pending);
    await expect.poll(() => page.locator('#mod-title').textContent()).toContain('Moderated pending');
    await expect
      .poll(() => page.locator('#mod-preview').evaluate((video) => (video as unknown as MediaLike).currentTime), { timeout: 15_000 })
      .toBeGreaterThan(0);
    await expect.poll(() => page.locator('#mod-video').evaluate((video) => (video as unknown as MediaLike).readyState)).toBeGreaterThanOrEqual(1);
    expect(await seriousViolations(page)).toEqual([]);
    // Keys typed into the reason field are words, not shortcuts.
    await page.locator('#mod-reason').fill('');
    await page.locator('#mod-reason').press('a');
    await page.locator('#mod-reason').press('j');
    expect(await page.locator('.mod-item[aria-current="true"]').getAttribute('data-id')).toBe(ids.pending);
    expect((await gateway.db('listings').where({ id: ids.pending }).first('moderation_status')).moderation_status).toBe('pending');
    await page.locator('#mod-reason').fill('');
    await page.locator('.mod-item[aria-current="true"]').focus();
    await page.keyboard.press('a');
    await expect.poll(() => page.locator('#mod-status').textContent()).toContain('Approved: Moderated pending');
    expect((await gateway.db('listings').where({ id: ids.pending }).first('moderation_status')).moderation_status).toBe('approved');
    expect(await gateway.db('moderation_events').where({ listing_id: ids.pending }).select('actor', 'action')).toEqual([
      { actor: ANVIL_ACCOUNTS.buyer.address.toLowerCase(), action: 'approve' },
    ]);
    expect(await page.locator(`.mod-item[data-id="${ids.pending}"]`).count()).toBe(0);

    // The revision: a diff, old -> new, the logo change as two images; r asks for a reason, Enter rejects.
    await selectWithKeys(page, revisionId);
    const titleRow = page.locator('#mod-diff tr', { hasText: 'title' });
    await expect.poll(() => titleRow.locator('.mod-new').textContent()).toBe('A much better title');
    expect(await titleRow.locator('.mod-old').textContent()).toContain('Moderated revised');
    expect(await page.locator('#mod-diff img[alt="Current logo"]').count()).toBe(1);
    // The proposed logo is the stored one: it loads (its width is 0 until it has).
    await expect
      .poll(() => page.locator('#mod-diff img[alt="Proposed logo"]').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth))
      .toBe(64);
    await page.keyboard.press('r');
    await expect
      .poll(() => page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id))
      .toBe('mod-reason');
    await page.getByRole('button', { name: 'Reject changes' }).click();
    await expect.poll(() => page.locator('#mod-reason-error').textContent()).toContain('Give a reason');
    expect(await page.locator('#mod-reason').getAttribute('aria-invalid')).toBe('true');
    await page.keyboard.type('the new title promises what the video does not show');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#mod-status').textContent()).toContain('Rejected');
    expect(await gateway.db('listing_revisions').where({ id: revisionId }).first('status', 'reason', 'decided_by')).toEqual({
      status: 'rejected',
      reason: 'the new title promises what the video does not show',
      decided_by: ANVIL_ACCOUNTS.buyer.address.toLowerCase(),
    });

    // The report that held a listing: the hold, the report and the media; a dismisses, the listing is public again.
    expect((await fetch(`${gateway.base}/v1/listings/${ids.reported}`)).status).toBe(404);
    await selectWithKeys(page, ids.reported);
    await expect.poll(() => page.locator('#mod-held').textContent()).toContain('Hidden from the public');
    expect(await page.locator('#mod-reports').textContent()).toContain('the video shows something else');
    expect(await page.locator('#mod-reports').textContent()).toContain('Misleading');
    expect(await seriousViolations(page)).toEqual([]);
    await page.keyboard.press('a');
    await expect.poll(() => page.locator('#mod-status').textContent()).toContain('Reports dismissed');
    expect((await fetch(`${gateway.base}/v1/listings/${ids.reported}`)).status).toBe(200);
    expect(await gateway.db('moderation_events').where({ listing_id: ids.reported, action: 'dismiss' }).select('actor')).toEqual([
      { actor: ANVIL_ACCOUNTS.buyer.address.toLowerCase() },
    ]);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 60_000);

  it('on a 390 px phone, with the admin token: the queues and the selected item, no sideways scroll, nothing serious for axe', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${gateway.base}/moderate`);
    await page.locator('#admin-token').fill('wrong-token-wrong-token');
    await page.getByRole('button', { name: 'Use token' }).click();
    await expect.poll(() => page.locator('#admin-token-error').textContent()).toContain('Not a moderator');
    expect(await seriousViolations(page)).toEqual([]);
    expect(await sidewaysScroll(page)).toBeLessThanOrEqual(0);
    await page.locator('#admin-token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await selectWithKeys(page, ids.other);
    await expect.poll(() => page.locator('#mod-title').textContent()).toContain('Moderated other');
    expect(await seriousViolations(page)).toEqual([]);
    expect(await sidewaysScroll(page)).toBeLessThanOrEqual(0);
    await page.getByRole('button', { name: 'Reject', exact: true }).click();
    await expect.poll(() => page.locator('#mod-reason-error').textContent()).toContain('Give a reason');
    await page.locator('#mod-reason').fill('the video is a slideshow');
    await page.getByRole('button', { name: 'Reject', exact: true }).click();
    await expect.poll(() => page.locator('#mod-status').textContent()).toContain('Rejected: Moderated other');
    expect(await gateway.db('moderation_events').where({ listing_id: ids.other }).select('actor', 'action', 'reason')).toEqual([
      { actor: 'admin-token', action: 'reject', reason: 'the video is a slideshow' },
    ]);
    expect(await sidewaysScroll(page)).toBeLessThanOrEqual(0);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 60_000);

  it('a visitor reports a listing from its page, without signing in, on desktop and on a phone', async () => {
    const viewports = [
      { id: ids.visitor, options: { viewport: { width: 1200, height: 900 } } },
      { id: ids.visitorPhone, options: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } },
    ];
    for (const { id, options } of viewports) {
      const page = await browser.newPage(options);
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(`${gateway.base}/#/listing/${id}`);
      await page.getByText('Report this listing').click();
      await page.getByRole('button', { name: 'Send report' }).click();
      await expect.poll(() => page.locator('#report-status').textContent()).toContain('Choose what is wrong');
      await page.getByLabel('Something else (say what)').check();
      await page.getByRole('button', { name: 'Send report' }).click();
      // The gateway's refusal, next to the field it concerns.
      await expect.poll(() => page.locator('#report-details-error').textContent()).toContain('details are required');
      expect(await seriousViolations(page)).toEqual([]);
      await page.locator('#report-details').fill('the phone number belongs to someone else');
      await page.getByRole('button', { name: 'Send report' }).click();
      await expect.poll(() => page.locator('#report-status').textContent()).toContain('Thank you');
      expect(await gateway.db('listing_reports').where({ listing_id: id }).select('reason', 'details', 'reporter_wallet')).toEqual([
        { reason: 'other', details: 'the phone number belongs to someone else', reporter_wallet: null },
      ]);
      expect(await seriousViolations(page)).toEqual([]);
      expect(await sidewaysScroll(page)).toBeLessThanOrEqual(0);
      await page.close();
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
