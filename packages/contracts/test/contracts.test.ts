import { describe, expect, it } from 'vitest';
import { ContractError, HashtagError, normalizeHashtag, parseHashtags, parsePayload } from '../src/index.js';

describe('hashtags', () => {
  it('normalises to one form: no #, NFC, lower case', () => {
    expect(normalizeHashtag('#Berlin')).toBe('berlin');
    // "é" as e + combining accent becomes the single code point.
    expect(normalizeHashtag('#Cafe\u0301')).toBe('caf\u00e9');
    expect(normalizeHashtag('##São_Paulo2')).toBe('são_paulo2');
  });

  it('parses text, merging duplicates', () => {
    expect(parseHashtags('#cars #Berlin, #cars  travel')).toEqual(['cars', 'berlin', 'travel']);
    expect(parseHashtags('   ')).toEqual([]);
  });

  it('refuses tags that are not words, naming them', () => {
    expect(() => parseHashtags("#ok #drop'table")).toThrow(HashtagError);
    expect(() => parseHashtags('#<script>')).toThrow(/"#<script>"/);
    expect(() => normalizeHashtag(`#${'a'.repeat(41)}`)).toThrow(HashtagError);
  });

  it('allows at most ten', () => {
    const eleven = Array.from({ length: 11 }, (_, i) => `#t${i}`).join(' ');
    expect(() => parseHashtags(eleven)).toThrow(/at most 10/);
  });
});

describe('channel contracts', () => {
  it('accepts a valid payload and normalises addresses', () => {
    const payload = parsePayload('payment.submitted', { uploadId: '5f0c6b56-8a52-4bb5-9b7e-3f0b3f1f1a11', txHash: `0x${'AB'.repeat(32)}` });
    expect(payload.txHash).toBe(`0x${'ab'.repeat(32)}`);
  });

  it('names what breaks the contract', () => {
    expect(() => parsePayload('payment.submitted', { uploadId: 'not-a-uuid', txHash: '0x1' })).toThrow(ContractError);
    try {
      parsePayload('payment.submitted', { uploadId: 'not-a-uuid', txHash: '0x1' });
    } catch (error) {
      expect((error as ContractError).issues.join(' ')).toMatch(/uploadId/);
      expect((error as ContractError).issues.join(' ')).toMatch(/txHash/);
    }
  });
});
