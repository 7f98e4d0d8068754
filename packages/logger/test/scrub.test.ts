import { describe, expect, it } from 'vitest';
import { publicErrorText, scrubSecrets } from '../src/scrub.js';

describe('scrubSecrets', () => {
  it('reduces URLs to their origin: no key in the path, no query, no credentials', () => {
    expect(scrubSecrets('HTTP request failed. URL: https://mainnet.infura.io/v3/0a1b2c3d4e5f Status: 401')).toBe(
      'HTTP request failed. URL: https://mainnet.infura.io Status: 401',
    );
    expect(scrubSecrets('fetch https://eth.example.com:8443/rpc?apikey=abc&x=1#frag')).toBe('fetch https://eth.example.com:8443');
    expect(scrubSecrets('connect redis://:hunter2@cache.internal:6379/0 refused')).toBe('connect redis://cache.internal:6379 refused');
    expect(scrubSecrets('postgres://app:s3cret@db:5432/reelboard is down')).toBe('postgres://db:5432 is down');
    expect(scrubSecrets('(https://user:pw@host.example/path)')).toBe('(https://host.example)');
  });

  it('redacts secrets in name=value pairs, authorization headers and bare tokens', () => {
    expect(scrubSecrets('request with apikey=ABCDEF123 failed')).toBe('request with apikey=[redacted] failed');
    expect(scrubSecrets('password: "p@ss word" rejected')).toBe('password: [redacted] rejected');
    expect(scrubSecrets('sent Authorization: Bearer eyJhbGciOi.payload.sig')).toBe('sent Authorization: Bearer [redacted]');
    expect(scrubSecrets('project id 9aa3d95b3bc440fa88ea12eaa4456161 unknown')).toBe('project id [redacted] unknown');
  });

  it('keeps what a person needs: transaction hashes, addresses, upload ids, plain words', () => {
    const hash = `0x${'ab12'.repeat(16)}`;
    const text = `transaction ${hash} to 0xa0Ee7A142d267C1f36714E4a8F75612F20a79720 for upload 3f2b8c1e-8d4a-4c1f-9a7e-2b5d6c7e8f90 was not found`;
    expect(scrubSecrets(text)).toBe(text);
    expect(scrubSecrets('ffmpeg: Invalid data found when processing input')).toBe('ffmpeg: Invalid data found when processing input');
  });
});

describe('publicErrorText', () => {
  it("prefers an error's short message and scrubs it onto one line", () => {
    // The shape of viem's HttpRequestError: the long message repeats the request body.
    const error = Object.assign(
      new Error('HTTP request failed.\n\nStatus: 401\nURL: https://rpc.example.org/key/SECRETKEY123\nRequest body: {"method":"eth_blockNumber"}'),
      {
        shortMessage: 'HTTP request failed.',
        metaMessages: ['Status: 401', 'URL: https://rpc.example.org/key/SECRETKEY123', 'Request body: {"method":"eth_blockNumber"}'],
        details: '{"error":"invalid project id 9aa3d95b3bc440fa88ea12eaa4456161"}',
      },
    );
    expect(publicErrorText(error)).toBe('HTTP request failed. Status: 401 URL: https://rpc.example.org Details: {"error":"invalid project id [redacted]"}');
    expect(publicErrorText(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toBe('connect ECONNREFUSED 127.0.0.1:5432');
    expect(publicErrorText('https://a.example/b?token=1')).toBe('https://a.example');
  });
});
