import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { depositAddressOf } from '@reelboard/chain';
import { type Anvil, MERCHANT, startAnvil } from '@reelboard/testkit/anvil';
import { type RpcProxy, startRpcProxy } from '@reelboard/testkit/rpc-proxy';
import { watchedQuoteOf } from '../src/watch-list.js';
import { makeUpload, type WatcherRig, watcherRig } from './support/harness.js';

// Balances of quotes past their deadline are read once an interval (hourly by default), each at a
// point of the hour set by a hash of its address, on the passes that read the open quotes' balances
// anyway: the calls a pass makes stay flat through the hour instead of one pass reading them all.
const ANVIL_PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 213;
const OPEN = 300_000;
const EXPIRED = 3_600_000;
const QUOTES = 120;

let anvil: Anvil;
let proxy: RpcProxy;
let rig: WatcherRig | undefined;

beforeAll(async () => {
  anvil = await startAnvil(ANVIL_PORT);
  proxy = await startRpcProxy(anvil.rpcUrl, 'expired-spread');
});

afterAll(async () => {
  await rig?.close();
  await proxy?.close();
  await anvil?.stop();
});

describe('expired quotes', () => {
  it('are read once an hour each, a slice per pass: no pass reads them all', async () => {
    rig = await watcherRig('pw-expired-spread', proxy.url, { merchant: MERCHANT, token: null }, { openReadIntervalMs: OPEN, expiredReadIntervalMs: EXPIRED });
    const now = Number((await anvil.client.getBlock()).timestamp) * 1000;
    for (let i = 0; i < QUOTES; i++) {
      const upload = makeUpload(MERCHANT, { createdAt: new Date(now - 7_200_000).toISOString(), expiresAt: new Date(now - 3_600_000).toISOString() });
      await rig.watchList.watch(
        watchedQuoteOf({ ...upload, quote: { ...upload.quote, to: depositAddressOf(rig.deposits, upload.uploadId) } }),
        Date.now() + 86_400_000,
      );
    }
    let time = Number((await anvil.client.getBlock()).timestamp) + 1;
    /** Stamps the next confirmed block OPEN after the last (its confirming block a second later) and runs a pass: its balance reads. */
    const pass = async () => {
      time += OPEN / 1000;
      for (const at of [time, time + 1]) {
        await anvil.test.setNextBlockTimestamp({ timestamp: BigInt(at) });
        await anvil.test.mine({ blocks: 1 });
      }
      proxy.calls = {};
      await rig?.watcher.scanOnce();
      return proxy.calls.eth_getBalance ?? 0;
    };
    // A pass that reads the open quotes' balances starts the hour; then the hour in passes of OPEN.
    await pass();
    const perPass: number[] = [];
    for (let i = 0; i < EXPIRED / OPEN; i++) perPass.push(await pass());
    // Each expired quote once in the hour, and the reads spread over its passes (12 of them, 10 quotes each on average).
    expect(
      perPass.reduce((a, b) => a + b, 0),
      JSON.stringify(perPass),
    ).toBe(QUOTES);
    expect(Math.max(...perPass), JSON.stringify(perPass)).toBeLessThanOrEqual(QUOTES / 4);
    expect(perPass.filter((n) => n > 0).length, JSON.stringify(perPass)).toBeGreaterThanOrEqual(8);
  });
});
