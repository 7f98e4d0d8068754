import { describe, expect, it } from 'vitest';
import { contactParts } from '../src/contact.js';
import { APP_PATHS, navSection, pathForHash, resolveRoute } from '../src/router.js';

const id = '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
const wallet = '0xAbCdEf0123456789aBcDeF0123456789AbCdEf01';

describe('the client’s paths', () => {
  it('routes each path to its view', () => {
    expect(resolveRoute('/', '?tags=bikes')).toMatchObject({ view: 'browse' });
    expect((resolveRoute('/', '?tags=bikes') as { params: URLSearchParams }).params.get('tags')).toBe('bikes');
    expect(resolveRoute(`/listings/${id}`)).toEqual({ view: 'listing', id });
    expect(resolveRoute(`/listings/${id}/`)).toEqual({ view: 'listing', id });
    expect(resolveRoute(`/sellers/${wallet}`)).toEqual({ view: 'seller', wallet: wallet.toLowerCase() });
    expect(resolveRoute(`/uploads/${id}`)).toEqual({ view: 'upload', id });
    for (const view of ['sell', 'mine', 'favourites', 'saved-searches'] as const) expect(resolveRoute(`/${view}`)).toEqual({ view });
    expect(resolveRoute('/sellers/not-a-wallet')).toEqual({ view: 'not-found', path: '/sellers/not-a-wallet' });
    expect(resolveRoute('/listings/%E0%A4%A')).toMatchObject({ view: 'not-found' });
    expect(resolveRoute('/anything')).toMatchObject({ view: 'not-found' });
    // Every path the gateway serves the page at is one the client routes.
    for (const path of APP_PATHS) expect(resolveRoute(path.replace(':id', id).replace(':wallet', wallet)).view, path).not.toBe('not-found');
  });

  it('moves every old hash address to its path', () => {
    expect(pathForHash(`#/listing/${id}`)).toBe(`/listings/${id}`);
    expect(pathForHash(`#/upload/${id}`)).toBe(`/uploads/${id}`);
    expect(pathForHash('#/browse?tags=bikes&near=52.5,13.4')).toBe('/?tags=bikes&near=52.5,13.4');
    expect(pathForHash('#/browse')).toBe('/');
    expect(pathForHash(`#/browse?owner=${wallet}`)).toBe(`/sellers/${wallet.toLowerCase()}`);
    expect(pathForHash('#/sell')).toBe('/sell');
    expect(pathForHash('#/mine')).toBe('/mine');
    expect(pathForHash('#contact')).toBeUndefined();
    expect(pathForHash('')).toBeUndefined();
    expect(navSection(resolveRoute(`/listings/${id}`))).toBe('browse');
  });
});

describe('contact links', () => {
  const links = (text: string) => contactParts(text).filter((part): part is { text: string; href: string } => 'href' in part);

  it('links e-mail, https and phone numbers, and keeps the rest as text', () => {
    const text = 'Mail anna@example.com, call +49 30 1234567 or see https://shop.example/bikes?id=1 (evenings)';
    expect(links(text).map((part) => part.href)).toEqual(['mailto:anna@example.com', 'tel:+49301234567', 'https://shop.example/bikes?id=1']);
    // Nothing is lost or reordered.
    expect(
      contactParts(text)
        .map((part) => part.text)
        .join(''),
    ).toBe(text);
    expect(links('(030) 123-4567')).toEqual([{ text: '(030) 123-4567', href: 'tel:0301234567' }]);
  });

  it('never links another scheme: javascript:, data:, plain http and bare domains stay text', () => {
    for (const text of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(document.cookie)',
      'data:text/html,<script>alert(1)</script>',
      'http://shop.example',
      'shop.example',
      'vbscript:x',
      'year 2024',
    ]) {
      expect(links(text), text).toEqual([]);
      expect(
        contactParts(text)
          .map((part) => part.text)
          .join(''),
        text,
      ).toBe(text);
    }
  });
});
