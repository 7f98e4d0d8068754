import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FetchUpstream, type RpcProxy, startRpcProxy } from '@reelboard/testkit/rpc-proxy';

/** What undici throws when the node resets the connection mid-request. */
const reset = () => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });
const answered = (body: unknown) => ({ status: 200, text: async () => JSON.stringify(body) });

let proxy: RpcProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  vi.restoreAllMocks();
});

const post = async (body: unknown) => {
  // Bounded: a proxy that dropped the request must fail the test, not hang it.
  const res = await fetch(proxy?.url ?? '', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as unknown };
};

describe('rpc-proxy in front of a node that fails', () => {
  it('sends a call again when the node reset the first try, and the client never sees the reset', async () => {
    const upstream = vi
      .fn<FetchUpstream>()
      .mockRejectedValueOnce(reset())
      .mockResolvedValueOnce(answered({ jsonrpc: '2.0', id: 1, result: '0x10' }));
    proxy = await startRpcProxy('http://node.invalid', 'retry', 0, upstream);
    expect(await post({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber' })).toEqual({ status: 200, body: { jsonrpc: '2.0', id: 1, result: '0x10' } });
    expect(upstream).toHaveBeenCalledTimes(2);
    expect(proxy.calls).toEqual({ eth_blockNumber: 1 });
  });

  it('answers every call of a batch with a JSON-RPC error naming the reset when the node fails twice, says so on stderr, and keeps serving', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const upstream = vi
      .fn<FetchUpstream>()
      .mockRejectedValueOnce(reset())
      .mockRejectedValueOnce(reset())
      .mockResolvedValueOnce(answered({ jsonrpc: '2.0', id: 7, result: '0x1' }));
    proxy = await startRpcProxy('http://node.invalid', 'fails', 0, upstream);
    const batch = [
      { jsonrpc: '2.0', id: 3, method: 'eth_getBalance', params: ['0x0000000000000000000000000000000000000001', 'latest'] },
      { jsonrpc: '2.0', id: 4, method: 'eth_getBalance', params: ['0x0000000000000000000000000000000000000002', 'latest'] },
    ];
    const failed = await post(batch);
    expect(failed.status).toBe(200);
    expect(failed.body).toEqual(
      [3, 4].map((id) => ({ jsonrpc: '2.0', id, error: { code: -32603, message: expect.stringMatching(/upstream node failed: fetch failed: ECONNRESET/) } })),
    );
    expect(stderr.mock.calls.map(([line]) => String(line)).join('')).toMatch(
      /rpc-proxy fails: upstream http:\/\/node\.invalid failed twice \(fetch failed: ECONNRESET\); answered 2 call/,
    );
    // The proxy is still up: the next request reaches the node.
    expect(await post({ jsonrpc: '2.0', id: 7, method: 'eth_chainId' })).toEqual({ status: 200, body: { jsonrpc: '2.0', id: 7, result: '0x1' } });
  });

  it('answers a body that is not JSON with a JSON-RPC parse error instead of dying on it', async () => {
    const upstream = vi.fn<FetchUpstream>();
    proxy = await startRpcProxy('http://node.invalid', 'parse', 0, upstream);
    const res = await fetch(proxy.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"jsonrpc":',
      signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
    expect(upstream).not.toHaveBeenCalled();
  });
});
