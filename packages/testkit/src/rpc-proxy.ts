import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A JSON-RPC provider in front of a real node (anvil), behaving like a hosted one: it serves only
 * under `/v3/<key>` (the key in the path, as Infura-style providers do), can be switched to refuse
 * everything (an outage, or a revoked key: 401 whose body repeats the URL), and can refuse
 * `eth_getLogs` over more than `maxLogRange` blocks with the provider's "limit exceeded" error.
 * It counts JSON-RPC calls by method, each call of a batch on its own, as such a provider bills them.
 */
export interface RpcProxy {
  /** The URL clients are given, key included. */
  url: string;
  /** When true, every request is answered 401 naming the URL it was sent to. */
  refuse: boolean;
  /** eth_getLogs spanning more blocks than this is refused (-32005); undefined: no limit. */
  maxLogRange: number | undefined;
  /** Block spans of every eth_getLogs request, and whether it was refused. */
  logRequests: { from: bigint; to: bigint; refused: boolean }[];
  /** JSON-RPC calls received, by method (a batch of 500 counts 500); reset by assigning a new object. */
  calls: Record<string, number>;
  /**
   * Holds every request with a call of `method` until `release()` (a node that stalls mid-pass):
   * `arrived` resolves when the first such request comes in.
   */
  hold(method: string): { arrived: Promise<void>; release(): void };
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

type RpcCall = { id: number | string; method: string; params?: unknown[] };

/** How the proxy reaches the node: global fetch, or a stand-in in the proxy's own unit test. */
export type FetchUpstream = (
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; body: string },
) => Promise<{ status: number; text(): Promise<string> }>;

/**
 * Sends the body upstream, once more if the first try fails before an answer (a reset connection: seen
 * once from anvil under a day's worth of balance reads); the second failure is returned, not thrown.
 */
export async function forward(
  upstream: string,
  body: string,
  fetchUpstream: FetchUpstream,
): Promise<{ answer: { status: number; text: string } } | { error: unknown }> {
  let error: unknown;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const answer = await fetchUpstream(upstream, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return { answer: { status: answer.status, text: await answer.text() } };
    } catch (failure) {
      error = failure;
    }
  }
  return { error };
}

/** A fetch failure's message with its cause (undici puts ECONNRESET and the like there). */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause as { code?: string; message?: string } | undefined;
  return cause ? `${error.message}: ${cause.code ?? cause.message ?? String(cause)}` : error.message;
}

export async function startRpcProxy(upstream: string, key: string, port = 0, fetchUpstream: FetchUpstream = fetch): Promise<RpcProxy> {
  let server: Server;
  const holds: { method: string; arrive: () => void; released: Promise<void> }[] = [];
  const proxy: RpcProxy = {
    url: '',
    refuse: false,
    maxLogRange: undefined,
    logRequests: [],
    calls: {},
    hold(method) {
      let arrive = () => {};
      let release = () => {};
      const arrived = new Promise<void>((resolve) => {
        arrive = resolve;
      });
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const entry = { method, arrive, released };
      holds.push(entry);
      return {
        arrived,
        release: () => {
          holds.splice(holds.indexOf(entry), 1);
          release();
        },
      };
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const tooWide = (call: RpcCall): boolean => {
    if (call.method !== 'eth_getLogs') return false;
    const filter = (call.params?.[0] ?? {}) as { fromBlock?: string; toBlock?: string };
    if (!filter.fromBlock?.startsWith('0x') || !filter.toBlock?.startsWith('0x')) return false;
    const from = BigInt(filter.fromBlock);
    const to = BigInt(filter.toBlock);
    const refused = proxy.maxLogRange !== undefined && to - from + 1n > BigInt(proxy.maxLogRange);
    proxy.logRequests.push({ from, to, refused });
    return refused;
  };
  server = createServer(async (req, res) => {
    const text = await body(req);
    if (req.url !== `/v3/${key}`) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unknown project' }));
      return;
    }
    if (proxy.refuse) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `invalid project id ${key} for ${proxy.url}` }));
      return;
    }
    let parsed: RpcCall | RpcCall[];
    try {
      parsed = JSON.parse(text) as RpcCall | RpcCall[];
    } catch {
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } }));
      return;
    }
    const calls = Array.isArray(parsed) ? parsed : [parsed];
    for (const call of calls) proxy.calls[call.method] = (proxy.calls[call.method] ?? 0) + 1;
    for (const held of holds.filter((h) => calls.some((call) => call.method === h.method))) {
      held.arrive();
      await held.released;
    }
    const refused = calls.find(tooWide);
    if (refused) {
      const error = { jsonrpc: '2.0', id: refused.id, error: { code: -32005, message: `query exceeds max block range ${proxy.maxLogRange}` } };
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(Array.isArray(parsed) ? calls.map((c) => ({ ...error, id: c.id })) : error));
      return;
    }
    const forwarded = await forward(upstream, text, fetchUpstream);
    if ('answer' in forwarded) {
      res.writeHead(forwarded.answer.status, { 'content-type': 'application/json' }).end(forwarded.answer.text);
      return;
    }
    // The node reset or refused the connection twice: the client gets a JSON-RPC error for each of its
    // calls (its own retry policy decides what next) instead of the proxy's process dying on the rejection.
    const reason = describeFailure(forwarded.error);
    process.stderr.write(`rpc-proxy ${key}: upstream ${upstream} failed twice (${reason}); answered ${calls.length} call(s) with a JSON-RPC error\n`);
    const error = (id: RpcCall['id'] | null) => ({ jsonrpc: '2.0', id, error: { code: -32603, message: `upstream node failed: ${reason}` } });
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify(Array.isArray(parsed) ? calls.map((c) => error(c.id)) : error(calls[0]?.id ?? null)));
  });
  // A client that hangs up mid-answer must not take the proxy down either.
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v3/${key}`;
  return proxy;
}
