import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { UploadReceived } from '@reelboard/contracts';

/** An `upload.received` payload as the gateway publishes it: a one-byte staged source and a quote open for a minute. */
export function receivedUpload(uploadId: string = randomUUID(), quote: Partial<UploadReceived['quote']> = {}): UploadReceived {
  const now = new Date();
  return {
    uploadId,
    owner: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
    form: { title: 't', description: '', hashtags: [], latitude: 1, longitude: 2 },
    quote: {
      chainId: 31337,
      to: '0xa0ee7a142d267c1f36714e4a8f75612f20a79720',
      amount: '1',
      token: null,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + 60_000).toISOString(),
      ...quote,
    },
    staged: { source: `${uploadId}/source`, sourceBytes: 1 },
    receivedAt: now.toISOString(),
  };
}

/** Deletes every key a test wrote under its prefix. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
}
