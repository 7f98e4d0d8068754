import { createHash, randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import type { PublicClient } from 'viem';
import { parseSiweMessage } from 'viem/siwe';
import { HttpError } from './http-error.js';

export interface AuthConfig {
  /** The gateway's public origin: a SIWE message must name its host as domain and this origin as URI. */
  publicUrl: string;
  chainId: number;
  /**
   * The other chains payments are taken on (CHAINS): a wallet on any of them signs in without being
   * moved to the home chain first (the page moves it to the chain of the asset paid with, later).
   */
  otherChainIds?: readonly number[];
  nonceTtlSeconds: number;
  sessionTtlSeconds: number;
  prefix: string;
}

/** Tolerated clock difference between the wallet's device and the gateway. */
const CLOCK_SKEW_MS = 60_000;

const refuse = (code: string, message: string) => new HttpError(401, code, message);

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Sign-In with Ethereum (EIP-4361): single-use nonces and sessions in Redis (so any gateway
 * replica can verify), every field of the message checked against this deployment.
 */
export class SiweAuth {
  private readonly domain: string;
  private readonly origin: string;

  constructor(
    private readonly redis: Redis,
    private readonly chain: PublicClient,
    private readonly config: AuthConfig,
  ) {
    const url = new URL(config.publicUrl);
    this.domain = url.host;
    this.origin = url.origin;
  }

  private nonceKey(nonce: string) {
    return `${this.config.prefix}:siwe:nonce:${nonce}`;
  }
  private sessionKey(token: string) {
    return `${this.config.prefix}:session:${hashToken(token)}`;
  }

  /** A fresh nonce from the OS's CSPRNG (96 bits, alphanumeric as EIP-4361 requires), valid once. */
  async issueNonce(): Promise<string> {
    const nonce = randomBytes(12).toString('hex');
    await this.redis.set(this.nonceKey(nonce), '1', 'EX', this.config.nonceTtlSeconds);
    return nonce;
  }

  /** Verifies a signed SIWE message; on success opens a session for the proven address. */
  async verify(message: string, signature: `0x${string}`): Promise<{ address: `0x${string}`; token: string; expiresAt: string }> {
    let fields: ReturnType<typeof parseSiweMessage>;
    try {
      fields = parseSiweMessage(message);
    } catch {
      throw refuse('siwe_malformed', 'message is not an EIP-4361 message');
    }
    const { address, domain, uri, chainId, nonce, issuedAt, expirationTime, notBefore, version } = fields;
    if (!address || !domain || !uri || !chainId || !nonce || !issuedAt || version !== '1') {
      throw refuse('siwe_malformed', 'message lacks address, domain, uri, version 1, chain id, nonce or issued-at');
    }
    if (domain !== this.domain) throw refuse('siwe_wrong_domain', `message is for ${domain}, not ${this.domain}`);
    let uriOrigin: string;
    try {
      uriOrigin = new URL(uri).origin;
    } catch {
      throw refuse('siwe_wrong_uri', 'message URI is not a URL');
    }
    if (uriOrigin !== this.origin) throw refuse('siwe_wrong_uri', `message URI ${uri} is not on ${this.origin}`);
    const chains = [this.config.chainId, ...(this.config.otherChainIds ?? []).filter((id) => id !== this.config.chainId)];
    if (!chains.includes(chainId)) throw refuse('siwe_wrong_chain', `message is for chain ${chainId}, not ${chains.join(' or ')}`);
    const now = Date.now();
    if (issuedAt.getTime() > now + CLOCK_SKEW_MS) throw refuse('siwe_not_yet_issued', 'message is issued in the future');
    if (!expirationTime) throw refuse('siwe_no_expiration', 'message must have an expiration time');
    if (expirationTime.getTime() <= now) throw refuse('siwe_expired', 'message has expired');
    if (notBefore && notBefore.getTime() > now + CLOCK_SKEW_MS) throw refuse('siwe_not_yet_valid', 'message is not valid yet');

    // Consume the nonce before checking the signature: one nonce, one attempt, whatever happens.
    const known = await this.redis.getdel(this.nonceKey(nonce));
    if (!known) throw refuse('siwe_bad_nonce', 'nonce is unknown, expired or already used');

    // Through the public client so smart-contract wallets (ERC-1271, ERC-6492) verify too.
    const valid = await this.chain.verifySiweMessage({ message, signature, domain: this.domain, nonce }).catch(() => false);
    if (!valid) throw refuse('siwe_bad_signature', 'signature does not match the message and address');

    const token = randomBytes(32).toString('base64url');
    const lower = address.toLowerCase() as `0x${string}`;
    await this.redis.set(this.sessionKey(token), lower, 'EX', this.config.sessionTtlSeconds);
    return { address: lower, token, expiresAt: new Date(now + this.config.sessionTtlSeconds * 1000).toISOString() };
  }

  /** The address a session token proves, or undefined. */
  async addressOf(token: string): Promise<`0x${string}` | undefined> {
    return ((await this.redis.get(this.sessionKey(token))) as `0x${string}` | null) ?? undefined;
  }

  /** Ends a session; the token stops working on every replica at once. */
  async revoke(token: string): Promise<void> {
    await this.redis.del(this.sessionKey(token));
  }

  /** Requires `Authorization: Bearer <token>`; puts the proven address on `res.locals.address`. */
  requireSession(): RequestHandler {
    return async (req, res, next) => {
      const header = req.headers.authorization ?? '';
      const match = /^Bearer ([A-Za-z0-9_-]{20,100})$/.exec(header);
      if (!match?.[1]) throw refuse('unauthenticated', 'sign in first: Authorization: Bearer <token> is missing or malformed');
      const address = await this.addressOf(match[1]);
      if (!address) throw refuse('session_expired', 'session is unknown, expired or signed out');
      res.locals.address = address;
      res.locals.token = match[1];
      next();
    };
  }
}
