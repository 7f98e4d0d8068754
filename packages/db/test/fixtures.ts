import { randomBytes, randomUUID } from 'node:crypto';
import type { SaveListingInput } from '@reelboard/db';

/** A random wallet address in the checksummed-looking mixed case a client might send. */
export function randomWallet(): string {
  const hex = randomBytes(20).toString('hex');
  return `0x${hex.slice(0, 20).toUpperCase()}${hex.slice(20)}`;
}

/** A complete save input for one upload, as profile-writer builds it from `assets.stored`. */
export function listingInput(overrides: { wallet?: string; tags?: string[]; latitude?: number; longitude?: number; title?: string; displayName?: string; id?: string } = {}): SaveListingInput {
  const id = overrides.id ?? randomUUID();
  return {
    listingId: id,
    owner: { walletAddress: overrides.wallet ?? randomWallet(), displayName: overrides.displayName ?? 'Anna', contact: 'anna@example.com' },
    listing: {
      title: overrides.title ?? 'A bike',
      description: 'red, 3 gears',
      videoKey: `listings/${id}/video.webm`,
      previewKey: `listings/${id}/preview.webm`,
      posterKey: `listings/${id}/poster.webp`,
      logoKey: `listings/${id}/logo.webp`,
      durationSeconds: 4.2,
      width: 1280,
      height: 720,
      videoBytes: 123_456,
      sourceBytes: 654_321,
      latitude: overrides.latitude ?? 52.52,
      longitude: overrides.longitude ?? 13.405,
    },
    hashtags: overrides.tags ?? [],
    payment: {
      uploadId: id,
      chainId: 31337,
      txHash: `0x${randomBytes(32).toString('hex')}`,
      logIndex: null,
      from: `0x${randomBytes(20).toString('hex')}`,
      to: `0x${randomBytes(20).toString('hex')}`,
      token: null,
      amount: '10000000000000000',
      blockNumber: '12',
      blockTime: new Date().toISOString(),
      status: 'paid',
    },
  };
}
