import { describe, expect, it } from 'vitest';
import { parseCoordinates } from '../src/place-search.js';
import { addressQuery, type BrowseFilters, filtersFrom, formatAge, formatPrice, listingsQuery } from '../src/views/browse.js';

const none: BrowseFilters = { q: '', tags: '', near: '', place: '', radiusKm: '', priceMin: '', priceMax: '', currency: '', sort: '' };

describe("the browse view's address and API query", () => {
  it('round-trips every filter through the address, leaving empty ones out', () => {
    const filters = {
      ...none,
      q: 'red bike',
      tags: '#bikes berlin',
      near: '52.52,13.405',
      place: 'Berlin, Germany',
      radiusKm: '25',
      priceMax: '300',
      sort: 'price_asc',
    };
    const query = addressQuery(filters);
    expect(query).toBe('q=red+bike&tags=%23bikes+berlin&near=52.52%2C13.405&place=Berlin%2C+Germany&radiusKm=25&priceMax=300&sort=price_asc');
    expect(filtersFrom(new URLSearchParams(query))).toEqual({ ...filters, owner: undefined });
  });

  it("asks the API with normalised tags, the reader's language with words, and only sorts that apply", () => {
    expect(listingsQuery({ ...none, q: ' bike ', tags: '#a, #b', sort: 'relevance' }, undefined, 'de-AT')).toBe('q=bike&language=de&tags=a%2Cb&sort=relevance');
    // Relevance without words and nearest without a point are left to the API's default.
    expect(listingsQuery({ ...none, sort: 'relevance' }, undefined, 'en')).toBe('');
    expect(listingsQuery({ ...none, sort: 'nearest', radiusKm: '5' }, undefined, 'en')).toBe('');
    expect(listingsQuery({ ...none, near: '52.5, 13.4', radiusKm: '5', sort: 'nearest', currency: 'eur' }, 'abc', 'en')).toBe(
      'near=52.5%2C13.4&radiusKm=5&currency=EUR&sort=nearest&cursor=abc',
    );
  });
});

describe('cards', () => {
  it('say the age in the reader’s words', () => {
    const now = Date.parse('2026-12-07T12:00:00Z');
    expect(formatAge('2026-12-04T11:00:00Z', now, 'en')).toBe('3 days ago');
    expect(formatAge('2026-12-06T11:00:00Z', now, 'en')).toBe('yesterday');
    expect(formatAge('2026-12-07T11:59:30Z', now, 'en')).toBe('now');
    expect(formatAge('2026-12-04T11:00:00Z', now, 'de')).toBe('vor 3 Tagen');
    expect(formatAge('2025-11-01T00:00:00Z', now, 'en')).toBe('last year');
  });

  it('show the price in the reader’s format', () => {
    expect(formatPrice({ amount: '120.50', currency: 'EUR' }, 'en-GB')).toBe('€120.50');
    expect(formatPrice({ amount: '120.50', currency: 'EUR' }, 'de-DE')).toBe('120,50\u00a0€');
    expect(formatPrice({ amount: '5.00', currency: 'XQQ' }, 'en')).toMatch(/XQQ/);
  });
});

describe('coordinates typed in a place field', () => {
  it('are a point only when in range', () => {
    expect(parseCoordinates(' 52.52 , 13.405 ')).toEqual({ label: '', latitude: 52.52, longitude: 13.405 });
    expect(parseCoordinates('91,0')).toBeUndefined();
    expect(parseCoordinates('Berlin')).toBeUndefined();
  });
});
