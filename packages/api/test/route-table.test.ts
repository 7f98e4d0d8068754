import { describe, expect, it } from 'vitest';
import { InvalidInput, parseRequest, type RouteSpec } from '../src/route.js';
import { api } from '../src/routes.js';

/** The refusal parseRequest throws for a request, as the client would see it. */
function refusal(route: RouteSpec, raw: Parameters<typeof parseRequest>[1]) {
  try {
    parseRequest(route, raw);
  } catch (error) {
    if (error instanceof InvalidInput) return { status: error.status, code: error.code, message: error.message, ...error.extra };
    throw error;
  }
  throw new Error('the request was accepted');
}

describe('the route table', () => {
  it('declares each route once, with path parameters its params schema names', () => {
    const seen = new Set<string>();
    for (const [name, route] of Object.entries(api) as [string, RouteSpec][]) {
      const key = `${route.method} ${route.path}`;
      expect(seen.has(key), `${name}: ${key} twice`).toBe(false);
      seen.add(key);
      const inPath = [...route.path.matchAll(/:(\w+)/g)].map((match) => match[1]).sort();
      expect(Object.keys(route.params?.shape ?? {}).sort(), name).toEqual(inPath);
      expect(Object.keys(route.responses).length, name).toBeGreaterThan(0);
    }
  });

  it('reads a query into typed values, with defaults', () => {
    const { query } = parseRequest(api.searchListings, {
      query: { tags: 'Cars,#berlin cars', near: '52.5, 13.4', radiusKm: '5', owner: '0xAbCdEf0123456789abcdef0123456789ABCDEF01' },
    });
    expect(query).toEqual({
      tags: ['cars', 'berlin'],
      match: 'all',
      near: { latitude: 52.5, longitude: 13.4 },
      radiusKm: 5,
      owner: '0xabcdef0123456789abcdef0123456789abcdef01',
      limit: 20,
    });
  });

  it('refuses bad input with the status, code and field the row names', () => {
    expect(refusal(api.searchListings, { query: { radiusKm: '5' } })).toMatchObject({
      status: 400,
      code: 'invalid_query',
      field: 'radiusKm',
      message: 'radiusKm needs near',
    });
    expect(refusal(api.searchListings, { query: { limit: '500' } })).toMatchObject({
      status: 400,
      code: 'invalid_query',
      field: 'limit',
      message: 'limit must be an integer from 1 to 100',
    });
    expect(refusal(api.searchListings, { query: { near: ['1,1', '2,2'] } })).toMatchObject({
      code: 'invalid_query',
      field: 'near',
      message: 'near must be given once',
    });
    expect(refusal(api.searchListings, { query: { tags: 'ok,no-dash' } })).toMatchObject({
      status: 400,
      code: 'invalid_hashtag',
      field: 'tags',
      tag: 'no-dash',
    });
    expect(refusal(api.getUpload, { params: { id: 'nope' } })).toMatchObject({ status: 404, code: 'upload_not_found', message: 'no such upload' });
    expect(refusal(api.getUser, { params: { wallet: 'bob' } })).toMatchObject({ status: 400, code: 'invalid_query', field: 'wallet' });
    expect(refusal(api.submitPayment, { params: { id: '00000000-0000-4000-8000-000000000000' }, body: { txHash: '0x12' } })).toMatchObject({
      status: 400,
      code: 'invalid_tx_hash',
      field: 'txHash',
    });
    expect(refusal(api.rejectListing, { params: { id: '00000000-0000-4000-8000-000000000000' }, body: { reason: '  ' } })).toMatchObject({
      code: 'invalid_body',
      field: 'reason',
    });
    expect(refusal(api.updateWebhook, { params: { id: '00000000-0000-4000-8000-000000000000' }, body: { colour: 'red' } })).toMatchObject({
      code: 'invalid_body',
    });
  });

  it('normalises what it reads (a tx hash in lower case, a ledger id as a number)', () => {
    const hash = `0x${'AB'.repeat(32)}`;
    expect(parseRequest(api.submitPayment, { params: { id: '00000000-0000-4000-8000-000000000000' }, body: { txHash: hash } }).body.txHash).toBe(
      hash.toLowerCase(),
    );
    expect(parseRequest(api.refundPayment, { params: { id: '42' }, body: { txHash: hash } }).params.id).toBe(42);
  });
});
