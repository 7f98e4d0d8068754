import { afterAll, describe, expect, it } from 'vitest';
import { infraEnv } from '@reelboard/testkit/infra-env';
import { connectRedis, guardPaymentSettings, type PaymentSettings, PaymentSettingsMismatchError } from '../src/index.js';

const redis = connectRedis(infraEnv().REDIS_URL ?? '', 'payment-settings-test');
const prefix = `payment-settings-test-${Date.now().toString(36)}`;
const settings: PaymentSettings = {
  chainId: 31337,
  merchant: '0x00000000000000000000000000000000000000aa',
  token: null,
  sweeperCodeHash: `0x${'11'.repeat(32)}`,
};

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

describe("the gateway's and the watcher's payment settings", () => {
  it('refuse to start apart, naming each setting that differs; the same settings (any case) start; a stopped service no longer holds the other back', async () => {
    const watcher = await guardPaymentSettings(redis, prefix, 'payment-watcher', settings);
    const changed = { ...settings, merchant: '0x00000000000000000000000000000000000000bb', token: '0x00000000000000000000000000000000000000cc' };
    const refused = await guardPaymentSettings(redis, prefix, 'api-gateway', changed).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(PaymentSettingsMismatchError);
    expect((refused as Error).message).toMatch(/MERCHANT_ADDRESS is 0x0+bb here, 0x0+aa there/);
    expect((refused as Error).message).toMatch(/PAYMENT_TOKEN is 0x0+cc here, native there/);
    expect((refused as Error).message).not.toMatch(/CHAIN_ID/);
    // The refused one left nothing behind that would hold the watcher back on its next start.
    expect(await redis.get(`${prefix}:payment:settings:api-gateway`)).toBeNull();

    const gateway = await guardPaymentSettings(redis, prefix, 'api-gateway', { ...settings, merchant: settings.merchant.toUpperCase().replace('0X', '0x') });
    await gateway.stop();
    await watcher.stop();
    // Both stopped: the new settings start on both.
    const newWatcher = await guardPaymentSettings(redis, prefix, 'payment-watcher', changed);
    await expect(guardPaymentSettings(redis, prefix, 'api-gateway', settings)).rejects.toThrow(/api-gateway refuses to start.*MERCHANT_ADDRESS/);
    await (await guardPaymentSettings(redis, prefix, 'api-gateway', changed)).stop();
    await newWatcher.stop();
  });

  it("a peer that died without stopping holds nobody back past its settings' TTL", async () => {
    const own = `${prefix}-ttl`;
    // What a watcher that crashed left: its settings, never refreshed again.
    await redis.set(`${own}:payment:settings:payment-watcher`, JSON.stringify(settings), 'PX', 300);
    await expect(guardPaymentSettings(redis, own, 'api-gateway', { ...settings, chainId: 1 })).rejects.toThrow(/CHAIN_ID is 1 here, 31337 there/);
    await new Promise((resolve) => setTimeout(resolve, 400));
    await (await guardPaymentSettings(redis, own, 'api-gateway', { ...settings, chainId: 1 })).stop();
  });
});
