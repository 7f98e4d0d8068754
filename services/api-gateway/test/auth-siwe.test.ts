import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { createSiweMessage } from 'viem/siwe';
import { connectRedis } from '@reelboard/bus';
import { createChainClient } from '@reelboard/chain';
import { createLogger } from '@reelboard/logger';
import { SiweAuth } from '../src/infra/auth.js';
import { errorHandler } from '../src/infra/http-error.js';
import { authRoutes } from '../src/routes/auth.js';
import { binder } from '../src/routes/bind.js';

const repoRoot = new URL('../../..', import.meta.url).pathname;
const infra = Object.fromEntries(
  readFileSync(join(repoRoot, '.data', 'infra.env'), 'utf8')
    .split('\n')
    .map((line) => /^([A-Z0-9_]+)=(.*)$/.exec(line.trim()))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => [match[1], match[2]]),
) as Record<string, string>;

const CHAIN_ID = Number(infra.CHAIN_ID ?? 31337);
const PORT = Number(process.env.TEST_BASE_PORT ?? 19080) + 110;
const PUBLIC_URL = `http://localhost:${PORT}`;
/** Public anvil dev keys: never real money. */
const WALLET = privateKeyToAccount('0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d');
const OTHER = privateKeyToAccount('0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6');

let server: Server;
let redis: ReturnType<typeof connectRedis>;
let baseUrl: string;

beforeAll(async () => {
  redis = connectRedis(infra.REDIS_URL ?? '', 'auth-test');
  const log = createLogger('auth-test', 'error');
  const chain = createChainClient({ rpcUrl: infra.RPC_URL ?? '', chainId: CHAIN_ID });
  const auth = new SiweAuth(redis, chain, {
    publicUrl: PUBLIC_URL,
    chainId: CHAIN_ID,
    otherChainIds: [CHAIN_ID + 7],
    nonceTtlSeconds: 300,
    sessionTtlSeconds: 600,
    prefix: `test-auth-${Date.now().toString(36)}`,
  });
  const app = express();
  app.use(express.json());
  const session = auth.requireSession();
  app.use(authRoutes(auth, log, binder({ session, admin: session })));
  app.get('/v1/me', auth.requireSession(), (_req, res) => {
    res.json({ address: res.locals.address });
  });
  app.use(errorHandler(log));
  server = await new Promise<Server>((resolve) => {
    const listening = app.listen(PORT, '127.0.0.1', () => resolve(listening));
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await redis?.quit();
});

async function nonce(): Promise<string> {
  return ((await (await fetch(`${baseUrl}/v1/auth/nonce`)).json()) as { nonce: string }).nonce;
}

type MessageFields = Parameters<typeof createSiweMessage>[0];

/** A message as a wallet would sign it for this gateway, with any field overridden. */
async function message(overrides: Partial<MessageFields> = {}): Promise<string> {
  const url = new URL(PUBLIC_URL);
  return createSiweMessage({
    address: WALLET.address,
    chainId: CHAIN_ID,
    domain: url.host,
    nonce: await nonce(),
    uri: url.origin,
    version: '1',
    issuedAt: new Date(),
    expirationTime: new Date(Date.now() + 10 * 60_000),
    statement: 'Sign in to Reelboard',
    ...overrides,
  });
}

async function verify(text: string, signature: Hex): Promise<{ status: number; body: { error?: string; message?: string; token?: string; address?: string } }> {
  const res = await fetch(`${baseUrl}/v1/auth/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ message: text, signature }),
  });
  return { status: res.status, body: (await res.json()) as { error?: string; token?: string; address?: string } };
}

describe('Sign-In with Ethereum', () => {
  it('signs in with a valid message, opens a session for the proven address, and logout ends it', async () => {
    const text = await message();
    const { status, body } = await verify(text, await WALLET.signMessage({ message: text }));
    expect(status).toBe(200);
    expect(body.address).toBe(WALLET.address.toLowerCase());
    const headers = { authorization: `Bearer ${body.token}` };
    expect(await (await fetch(`${baseUrl}/v1/me`, { headers })).json()).toEqual({ address: WALLET.address.toLowerCase() });
    expect((await fetch(`${baseUrl}/v1/auth/logout`, { method: 'POST', headers })).status).toBe(204);
    const after = await fetch(`${baseUrl}/v1/me`, { headers });
    expect(after.status).toBe(401);
    expect(((await after.json()) as { error: string }).error).toBe('session_expired');
  });

  it('refuses a replayed nonce', async () => {
    const text = await message();
    const signature = await WALLET.signMessage({ message: text });
    expect((await verify(text, signature)).status).toBe(200);
    expect(await verify(text, signature)).toMatchObject({ status: 401, body: { error: 'siwe_bad_nonce' } });
  });

  it('refuses an expired message', async () => {
    const text = await message({ issuedAt: new Date(Date.now() - 20 * 60_000), expirationTime: new Date(Date.now() - 60_000) });
    expect(await verify(text, await WALLET.signMessage({ message: text }))).toMatchObject({ status: 401, body: { error: 'siwe_expired' } });
  });

  it('refuses a message for another domain', async () => {
    const text = await message({ domain: 'evil.example' });
    expect(await verify(text, await WALLET.signMessage({ message: text }))).toMatchObject({ status: 401, body: { error: 'siwe_wrong_domain' } });
  });

  it('refuses a message for a chain the deployment does not take payments on', async () => {
    const text = await message({ chainId: CHAIN_ID + 1 });
    expect(await verify(text, await WALLET.signMessage({ message: text }))).toMatchObject({
      status: 401,
      body: { error: 'siwe_wrong_chain', message: `message is for chain ${CHAIN_ID + 1}, not ${CHAIN_ID} or ${CHAIN_ID + 7}` },
    });
  });

  it('signs in a wallet on another chain of CHAINS, not only the home chain', async () => {
    const text = await message({ chainId: CHAIN_ID + 7 });
    expect(await verify(text, await WALLET.signMessage({ message: text }))).toMatchObject({ status: 200, body: { address: WALLET.address.toLowerCase() } });
  });

  it('refuses a message signed by another key than its address', async () => {
    const text = await message();
    expect(await verify(text, await OTHER.signMessage({ message: text }))).toMatchObject({ status: 401, body: { error: 'siwe_bad_signature' } });
  });

  it('refuses a message tampered with after signing', async () => {
    const text = await message();
    const signature = await WALLET.signMessage({ message: text });
    const tampered = text.replace('Sign in to Reelboard', 'Sign in to Reelboard and pay nothing');
    expect(tampered).not.toBe(text);
    expect(await verify(tampered, signature)).toMatchObject({ status: 401, body: { error: 'siwe_bad_signature' } });
  });

  it('refuses a message without an expiration time', async () => {
    const text = await message({ expirationTime: undefined });
    expect(await verify(text, await WALLET.signMessage({ message: text }))).toMatchObject({ status: 401, body: { error: 'siwe_no_expiration' } });
  });
});
