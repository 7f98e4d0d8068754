import { execFileSync } from 'node:child_process';
import { createECDH, type ECDH, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ece from 'http_ece';

/** One request a receiver got, and what it answered. */
export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  answered: number;
  at: number;
}

/** A real HTTP(S) server that records every request and answers from a per-path script (then 2xx). */
export class Receiver {
  readonly requests: Received[] = [];
  private readonly scripts = new Map<string, { status: number; headers?: Record<string, string> }[]>();
  private readonly waiters: (() => void)[] = [];
  private constructor(
    private readonly server: Server,
    readonly origin: string,
    private readonly okStatus: number,
  ) {}

  /** Starts an HTTP receiver (webhooks) or an HTTPS one with the given certificate (a push service). */
  static async start(options: { tls?: { key: Buffer; cert: Buffer }; okStatus: number }): Promise<Receiver> {
    let receiver: Receiver | undefined;
    const handler = (req: IncomingMessage, res: ServerResponse) => void receiver?.handle(req, res);
    const server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createHttpServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    receiver = new Receiver(server, `${options.tls ? 'https' : 'http'}://localhost:${port}`, options.okStatus);
    return receiver;
  }

  /** The next answers on `path`, in order; after them the receiver answers okStatus. */
  script(path: string, answers: { status: number; headers?: Record<string, string> }[]): void {
    this.scripts.set(path, [...answers]);
  }

  on(path: string): Received[] {
    return this.requests.filter((request) => request.path === path);
  }

  /** Resolves once `predicate` holds over the requests; rejects after `timeoutMs`. */
  async until(predicate: (requests: Received[]) => boolean, timeoutMs = 15_000, what = 'requests'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.requests)) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`receiver: ${what} did not arrive within ${timeoutMs} ms (got ${this.requests.map((r) => `${r.path}:${r.answered}`).join(', ')})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = req.url ?? '/';
    const answer = this.scripts.get(path)?.shift() ?? { status: this.okStatus };
    this.requests.push({ path, headers: req.headers, body: Buffer.concat(chunks), answered: answer.status, at: Date.now() });
    res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers }).end(answer.status < 300 ? 'ok' : `answer ${answer.status}`);
    for (const wake of this.waiters.splice(0)) wake();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A self-signed certificate for localhost (openssl), for a receiver standing in for a push service. */
export function selfSignedCertificate(): { key: Buffer; cert: Buffer; certPath: string } {
  const dir = mkdtempSync(join(tmpdir(), 'push-tls-'));
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyPath), cert: readFileSync(certPath), certPath };
}

/** A browser's side of a push subscription: its P-256 key pair and auth secret, as a browser makes them. */
export class BrowserKeys {
  readonly ecdh: ECDH = createECDH('prime256v1');
  readonly auth = randomBytes(16);
  constructor() {
    this.ecdh.generateKeys();
  }
  /** The `keys` of the PushSubscription JSON a browser sends. */
  get keys(): { p256dh: string; auth: string } {
    return { p256dh: this.ecdh.getPublicKey().toString('base64url'), auth: this.auth.toString('base64url') };
  }
  /** Decrypts an aes128gcm push message body with this browser's private key (http_ece, RFC 8291). */
  decrypt(body: Buffer): unknown {
    return JSON.parse(ece.decrypt(body, { version: 'aes128gcm', privateKey: this.ecdh, authSecret: this.auth }).toString('utf8'));
  }
}
