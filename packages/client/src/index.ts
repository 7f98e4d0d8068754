import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { EventSource } from 'eventsource';
import { createWalletClient, defineChain, type Hex, http, type PrivateKeyAccount } from 'viem';
import { createSiweMessage } from 'viem/siwe';
// The API's shapes come from its route table (type-only).
import type { AcceptedUpload, Answer, PaymentRequest, Session, StatusEvent, UploadView } from '@reelboard/api';
import { statusEventNames, terminalEvents } from '@reelboard/contracts';

export type { AcceptedUpload, Answer, Body, ErrorBody, Listing, ListingPage, StatusEvent, UploadView } from '@reelboard/api';

/** The payment the gateway asks for a listing. */
export type Quote = PaymentRequest;

/** An error answer of the gateway, with its stable code. */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(`${status} ${code}: ${message}`);
  }
}

async function answer<T>(res: Response): Promise<T> {
  const text = await res.text();
  const body = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const { error = 'http_error', message = res.statusText } = (body ?? {}) as { error?: string; message?: string };
    throw new GatewayError(res.status, error, message, body);
  }
  return body as T;
}

/**
 * A typed client of the gateway's public API, for scripts, tests and operators: sign in with a
 * wallet key (SIWE), post a listing, submit its payment, follow its status.
 */
export class GatewayClient {
  private token: string | undefined;

  constructor(readonly baseUrl: string) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  /** The session token (after signIn). */
  get sessionToken(): string | undefined {
    return this.token;
  }

  /** Signs in with Ethereum (EIP-4361) as `account`; the session is used by every later call. */
  async signIn(account: PrivateKeyAccount, chainId: number): Promise<Session> {
    const { nonce } = await answer<Answer<'getNonce', 200>>(await fetch(`${this.baseUrl}/v1/auth/nonce`));
    const url = new URL(this.baseUrl);
    const message = createSiweMessage({
      address: account.address,
      chainId,
      domain: url.host,
      nonce,
      uri: url.origin,
      version: '1',
      issuedAt: new Date(),
      expirationTime: new Date(Date.now() + 10 * 60_000),
      statement: 'Sign in to Reelboard',
    });
    const signature = await account.signMessage({ message });
    const session = await answer<Session>(
      await fetch(`${this.baseUrl}/v1/auth/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ message, signature }),
      }),
    );
    this.token = session.token;
    return session;
  }

  /**
   * Posts the listing form (multipart) and returns the upload id and the quote to pay.
   * `onProgress` is called with the bytes of the request body sent so far.
   */
  async createListing(
    files: { video: string; logo?: string | undefined },
    fields: Record<string, string>,
    onProgress?: (sentBytes: number) => void,
  ): Promise<AcceptedUpload> {
    const body = await multipartBody(fields, [{ name: 'video', path: files.video }, ...(files.logo ? [{ name: 'logo', path: files.logo }] : [])]);
    let sent = 0;
    const counted = async function* () {
      for await (const chunk of body.chunks()) {
        sent += chunk.byteLength;
        onProgress?.(sent);
        yield chunk;
      }
    };
    const init: RequestInit & { duplex: 'half' } = {
      method: 'POST',
      headers: this.headers({ 'content-type': body.contentType, 'content-length': String(body.length) }),
      body: Readable.toWeb(Readable.from(counted())) as ReadableStream<Uint8Array>,
      duplex: 'half',
    };
    const res = await fetch(`${this.baseUrl}/v1/uploads`, init);
    return answer(res);
  }

  /** Tells the gateway which transaction pays for an upload; the verdict arrives on the status stream. */
  async submitPayment(uploadId: string, txHash: Hex): Promise<void> {
    await answer(
      await fetch(`${this.baseUrl}/v1/uploads/${uploadId}/payment`, {
        method: 'POST',
        headers: this.headers({ 'content-type': 'application/json' }),
        body: JSON.stringify({ txHash }),
      }),
    );
  }

  /** The latest status of an upload. */
  async status(uploadId: string): Promise<UploadView> {
    return answer(await fetch(`${this.baseUrl}/v1/uploads/${uploadId}`, { headers: this.headers() }));
  }

  /** Follows an upload's status stream until it ends; `onEvent` sees each event with its SSE name and id. */
  followEvents(
    uploadId: string,
    onEvent: (event: StatusEvent, name: string, id: string) => void,
    timeoutMs = 30 * 60_000,
  ): { done: Promise<StatusEvent>; close: () => void } {
    const token = this.token;
    const source = new EventSource(`${this.baseUrl}/v1/uploads/${uploadId}/events`, {
      fetch: (input, init) =>
        fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), ...(token ? { authorization: `Bearer ${token}` } : {}) } }),
    });
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<StatusEvent>((resolve, reject) => {
      timer = setTimeout(() => {
        source.close();
        reject(new Error(`upload ${uploadId} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      for (const name of statusEventNames) {
        source.addEventListener(name, (message) => {
          const event = JSON.parse(message.data) as StatusEvent;
          onEvent(event, name, message.lastEventId);
          if (terminalEvents.has(name)) {
            clearTimeout(timer);
            source.close();
            resolve(event);
          }
        });
      }
    });
    return {
      done,
      close: () => {
        clearTimeout(timer);
        source.close();
      },
    };
  }
}

/** Pays a quote in the chain's native coin from `account`; returns the transaction hash. */
export async function payQuote(rpcUrl: string, account: PrivateKeyAccount, quote: Pick<Quote, 'chainId' | 'to' | 'amount'>): Promise<Hex> {
  const chain = defineChain({
    id: quote.chainId,
    name: `chain-${quote.chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
  const wallet = createWalletClient({ account, chain, transport: http(rpcUrl) });
  return wallet.sendTransaction({ to: quote.to, value: BigInt(quote.amount) });
}

// Reads of 1 MiB: with fetch's own FormData encoding of a file Blob the client, not the
// gateway, limited a local 1 GiB upload to about half the speed (docs/benchmarks/reports/2026-11-24-ingest.md).
const FILE_READ_BYTES = 1024 * 1024;

/** A multipart/form-data body streamed from disk, with its exact length so the gateway can refuse an oversized one at once. */
export async function multipartBody(
  fields: Record<string, string>,
  files: { name: string; path: string }[],
): Promise<{ contentType: string; length: number; chunks: () => AsyncGenerator<Buffer> }> {
  const boundary = `----reelboard-${randomBytes(16).toString('hex')}`;
  const quoted = (value: string) => value.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  const fieldParts = Object.entries(fields).map(([name, value]) =>
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"\r\n\r\n${value}\r\n`),
  );
  const fileParts = await Promise.all(
    files.map(async ({ name, path }) => ({
      path,
      size: (await stat(path)).size,
      head: Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${quoted(name)}"; filename="${quoted(basename(path))}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      ),
    })),
  );
  const crlf = Buffer.from('\r\n');
  const end = Buffer.from(`--${boundary}--\r\n`);
  const length =
    fieldParts.reduce((sum, part) => sum + part.byteLength, 0) +
    fileParts.reduce((sum, part) => sum + part.head.byteLength + part.size + crlf.byteLength, 0) +
    end.byteLength;
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length,
    chunks: async function* () {
      yield* fieldParts;
      for (const part of fileParts) {
        yield part.head;
        yield* createReadStream(part.path, { highWaterMark: FILE_READ_BYTES }) as AsyncIterable<Buffer>;
        yield crlf;
      }
      yield end;
    },
  };
}
