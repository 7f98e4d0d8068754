import { randomUUID } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { register } from 'prom-client';
import { connectRedis } from '@reelboard/bus';
import { watchStagingSpace } from '@reelboard/runtime';
import { type Gateway, infra, startGateway } from './harness.js';

// What an operator reads off the gateway's /metrics: requests by the route table's row (never the
// raw URL, whose ids would make a series per listing) and status, and the staging volume's free space.

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };

async function samples(name: string): Promise<Sample[]> {
  const metric = register.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values as Sample[];
}

/** The number of requests the histogram counted with these labels. */
async function requestCount(labels: Record<string, string>): Promise<number> {
  const counts = (await samples('reelboard_http_request_duration_seconds')).filter(
    (s) => s.metricName === 'reelboard_http_request_duration_seconds_count' && Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v),
  );
  return counts.reduce((sum, s) => sum + s.value, 0);
}

describe('gateway operations metrics', () => {
  let redis: Redis;
  let gw: Gateway;

  beforeAll(async () => {
    redis = connectRedis(infra.REDIS_URL ?? '', 'gw-ops-metrics-test');
    gw = await startGateway(redis);
  });

  afterAll(async () => {
    await gw?.close();
    await redis?.quit();
  });

  it("counts requests by the route table's row name and status, never by the raw path", async () => {
    const id = randomUUID();
    const before = await requestCount({ route: 'getListing', method: 'GET', status: '404' });
    const res = await fetch(`${gw.base}/v1/listings/${id}`);
    expect(res.status).toBe(404);
    expect(await requestCount({ route: 'getListing', method: 'GET', status: '404' })).toBe(before + 1);
    const text = await register.getSingleMetricAsString('reelboard_http_request_duration_seconds');
    expect(text).not.toContain(id);
  });

  it('names the row when its guard refuses the request', async () => {
    const before = await requestCount({ route: 'listMyUploads', status: '401' });
    const res = await fetch(`${gw.base}/v1/me/uploads`);
    expect(res.status).toBe(401);
    expect(await requestCount({ route: 'listMyUploads', status: '401' })).toBe(before + 1);
  });

  it('puts requests no route serves under one label', async () => {
    const path = `/v1/no-such-thing-${randomUUID()}`;
    const before = await requestCount({ route: 'unmatched', status: '404' });
    expect((await fetch(`${gw.base}${path}`)).status).toBe(404);
    expect(await requestCount({ route: 'unmatched', status: '404' })).toBe(before + 1);
    expect(await register.getSingleMetricAsString('reelboard_http_request_duration_seconds')).not.toContain('no-such-thing');
  });

  it("reports the staging volume's free and total bytes", async () => {
    watchStagingSpace(gw.stagingDir);
    const [free] = await samples('reelboard_staging_free_bytes');
    const [size] = await samples('reelboard_staging_size_bytes');
    const stats = await statfs(gw.stagingDir);
    expect(size?.value).toBe(stats.blocks * stats.bsize);
    // Free space moves with other writers on the machine: within 1% of what statfs says now.
    expect(free?.value).toBeGreaterThan(0);
    expect(Math.abs((free?.value ?? 0) - stats.bavail * stats.bsize)).toBeLessThan(size!.value / 100);
  });
});
