import { statfs } from 'node:fs/promises';
import { Counter, Gauge } from 'prom-client';

const rpcErrors = new Counter({
  name: 'reelboard_rpc_errors_total',
  help: 'HTTP requests to an RPC endpoint that failed (no answer, a timeout, or a non-2xx status), by endpoint host',
  labelNames: ['endpoint'] as const,
});

/** Counts one failed request to an RPC endpoint (createChainClient's `onRequestError`). */
export function countRpcError(endpoint: string): void {
  rpcErrors.inc({ endpoint });
}

const stagingDirs = new Set<string>();

/** Reads the staging volume's size at scrape time; a volume that cannot be read reports nothing (and the alert on absence fires). */
async function stagingStats(): Promise<{ dir: string; free: number; size: number }[]> {
  const results = await Promise.all(
    [...stagingDirs].map(async (dir) => {
      try {
        const stats = await statfs(dir);
        return [{ dir, free: stats.bavail * stats.bsize, size: stats.blocks * stats.bsize }];
      } catch {
        return [];
      }
    }),
  );
  return results.flat();
}

new Gauge({
  name: 'reelboard_staging_free_bytes',
  help: 'Bytes free to this service on the staging volume (STAGING_DIR), read at scrape time',
  async collect() {
    this.reset();
    for (const { free } of await stagingStats()) this.set(free);
  },
});

new Gauge({
  name: 'reelboard_staging_size_bytes',
  help: 'Size of the staging volume (STAGING_DIR) in bytes, read at scrape time',
  async collect() {
    this.reset();
    for (const { size } of await stagingStats()) this.set(size);
  },
});

/**
 * Reports the staging volume's free space on `/metrics`: a full volume refuses every upload (the
 * gateway's reserve) and stops the uploader, long before anything else looks wrong.
 */
export function watchStagingSpace(dir: string): void {
  stagingDirs.add(dir);
}
