import { describe, expect, it } from 'vitest';
import { personNotifications, pushMessageFor, statusEventNames } from '@reelboard/contracts';
import { retryDelay } from '../src/deliver-webhook.js';
import { signatureHeader, verifySignature } from '../src/sign-webhook.js';

const uploadId = '0b5d7c4e-3f7a-4a53-9d1e-6a2c1f0e9b11';

describe('what the person is told', () => {
  it('words each mapped event with the listing title and links the right page', () => {
    const live = pushMessageFor({ uploadId, seq: 7, event: 'moderation.approved' }, 'Red bike', 'https://board.example/');
    expect(live).toEqual({
      title: 'Your listing is live',
      body: '"Red bike" was approved and is public now.',
      url: `https://board.example/listings/${uploadId}`,
      tag: uploadId,
      event: 'moderation.approved',
      seq: 7,
    });
    const late = pushMessageFor(
      {
        uploadId,
        seq: 3,
        event: 'payment.received',
        code: 'late',
        message: 'partial',
        reason: '10 received in all, after the quote expired; recorded for refund',
      },
      'Red bike',
      'https://board.example',
    );
    expect(late?.title).toBe('Payment arrived late');
    expect(late?.body).toContain('recorded for a refund');
    expect(late?.url).toBe(`https://board.example/uploads/${uploadId}`);
    const partial = pushMessageFor(
      { uploadId, seq: 4, event: 'payment.received', code: 'partial', reason: 'received 1 of 2' },
      'Red bike',
      'https://board.example',
    );
    expect(partial?.body).toContain('Send the rest to the same address');
    // An upload its owner cancelled is told as cancelled, not as expired.
    const cancelled = pushMessageFor({ uploadId, seq: 2, event: 'expired', code: 'cancelled' }, 'Red bike', 'https://board.example');
    expect(cancelled).toMatchObject({ title: 'Upload cancelled', body: 'You cancelled "Red bike". Nothing was charged.' });
    const cancelledOwing = pushMessageFor({ uploadId, seq: 3, event: 'refund.due', code: 'cancelled' }, 'Red bike', 'https://board.example');
    expect(cancelledOwing?.body).toContain('recorded for a refund');
    expect(pushMessageFor({ uploadId, seq: 2, event: 'expired' }, 'Red bike', 'https://board.example')?.title).toBe('Upload expired');
    const elsewhere = pushMessageFor(
      { uploadId, seq: 5, event: 'payment.rejected', code: 'no_payment', reason: 'sent nothing to 0xabc' },
      'Red bike',
      'https://board.example',
    );
    expect(elsewhere?.body).toContain("does not pay it: that transaction sent nothing to this listing's payment address.");
    // The code is read, never the message: a message that looks like a code words nothing.
    const unknownCode = pushMessageFor(
      { uploadId, seq: 6, event: 'payment.rejected', message: 'no_payment', reason: 'payment could not be verified: RPC down' },
      'Red bike',
      'https://board.example',
    );
    expect(unknownCode?.body).toContain('does not pay it: payment could not be verified: RPC down.');
    expect(pushMessageFor({ uploadId, seq: 8, event: 'refund.due' }, 'Red bike', 'https://board.example')?.body).toContain('recorded for a refund');
    const failed = pushMessageFor({ uploadId, seq: 9, event: 'failed', reason: 'transcoder: no video stream' }, 'Red bike', 'https://board.example');
    expect(failed?.body).toContain('(transcoder: no video stream)');
    expect(failed?.body).toContain('payment is kept on record');
  });

  it("words a listing's life after it is saved, and a renewal's payment as a renewal", () => {
    expect(
      pushMessageFor({ uploadId, seq: 3, event: 'payment.confirmed', code: 'renewal', message: 'paid 1 to 0xabc' }, 'Red bike', 'https://board.example')?.body,
    ).toContain('renewal of "Red bike" is paid');
    expect(
      pushMessageFor({ uploadId, seq: 3, event: 'payment.confirmed', code: 'upload', message: 'renewal paid 1 to 0xabc' }, 'Red bike', 'https://board.example')
        ?.body,
    ).toContain('being converted');
    expect(pushMessageFor({ uploadId, seq: 4, event: 'listing.expired' }, 'Red bike', 'https://board.example')?.body).toContain('Renew it');
    // Weeks after the upload, its status page may be gone: these lead to My listings.
    for (const event of ['listing.expired', 'listing.removed', 'revision.rejected'] as const)
      expect(pushMessageFor({ uploadId, seq: 7, event }, 'Red bike', 'https://board.example')?.url).toBe('https://board.example/mine');
    expect(pushMessageFor({ uploadId, seq: 5, event: 'listing.removed', reason: 'fraud' }, 'Red bike', 'https://board.example')?.body).toContain(
      'removed: fraud',
    );
    expect(pushMessageFor({ uploadId, seq: 6, event: 'revision.rejected', reason: 'price bait' }, 'Red bike', 'https://board.example')?.body).toContain(
      'stays as it was',
    );
    for (const name of ['listing.expired', 'listing.renewed', 'listing.removed', 'revision.approved', 'revision.rejected'])
      expect(statusEventNames as readonly string[]).toContain(name);
    // Reports hold a listing, and a dismissal releases it: the owner hears both, in words.
    const held = pushMessageFor({ uploadId, seq: 8, event: 'listing.held' }, 'Red bike', 'https://board.example');
    expect(held).toMatchObject({ title: 'Listing on hold for review', url: 'https://board.example/mine' });
    expect(held?.body).toContain('hidden until a moderator reviews it');
    expect(pushMessageFor({ uploadId, seq: 9, event: 'listing.released' }, 'Red bike', 'https://board.example')?.url).toBe(
      `https://board.example/listings/${uploadId}`,
    );
  });

  it('skips unknown and unmapped events, and never words a name inherited from Object', () => {
    expect(pushMessageFor({ uploadId, seq: 1, event: 'payment.credited_someday' }, 'x', 'https://b.example')).toBeUndefined();
    expect(pushMessageFor({ uploadId, seq: 1, event: 'progress' }, 'x', 'https://b.example')).toBeUndefined();
    expect(pushMessageFor({ uploadId, seq: 1, event: 'toString' }, 'x', 'https://b.example')).toBeUndefined();
  });

  it('covers the events the issue names, and shortens long titles', () => {
    for (const name of [
      'payment.confirmed',
      'payment.rejected',
      'payment.received',
      'refund.due',
      'refund.sent',
      'profile.saved',
      'failed',
      'expired',
      'moderation.approved',
      'moderation.rejected',
    ]) {
      expect(statusEventNames as readonly string[]).toContain(name);
      expect(personNotifications[name]).toBeDefined();
    }
    const long = pushMessageFor({ uploadId, seq: 1, event: 'expired' }, 'a'.repeat(120), 'https://b.example');
    expect(long?.body).toContain(`"${'a'.repeat(79)}…"`);
    expect(pushMessageFor({ uploadId, seq: 1, event: 'expired' }, undefined, 'https://b.example')?.body).toContain('"your listing"');
  });
});

describe('webhook retry schedule', () => {
  it('doubles from the first delay and stops when the next retry would start past the window', () => {
    const day = { firstRetryMs: 10_000, retryForMs: 24 * 3600_000 };
    const delays: number[] = [];
    for (let retry = 1; retryDelay(day, retry) !== undefined; retry += 1) delays.push(retryDelay(day, retry)!);
    expect(delays[0]).toBe(10_000);
    expect(delays[1]).toBe(20_000);
    expect(delays).toHaveLength(13);
    const lastStartsAt = delays.reduce((sum, delay) => sum + delay, 0);
    expect(lastStartsAt).toBeLessThanOrEqual(24 * 3600_000);
    expect(lastStartsAt + delays.at(-1)! * 2).toBeGreaterThan(24 * 3600_000);
  });
});

describe('webhook signatures', () => {
  it('verify with the secret and timestamp, and fail when malformed, stale or forged', () => {
    const body = '{"id":"x.1"}';
    const header = signatureHeader(['whsec_one', 'whsec_two'], body, 1_700_000_000);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    expect(verifySignature('whsec_two', header, body, 300, 1_700_000_100)).toEqual({ ok: true, timestamp: 1_700_000_000 });
    expect(verifySignature('whsec_three', header, body, 300, 1_700_000_100)).toEqual({ ok: false, reason: 'no_match' });
    expect(verifySignature('whsec_one', header, body, 300, 1_700_000_301)).toEqual({ ok: false, reason: 'too_old' });
    expect(verifySignature('whsec_one', 'v1=abc', body)).toEqual({ ok: false, reason: 'malformed' });
  });
});
