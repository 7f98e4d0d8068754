import { describe, expect, it } from 'vitest';
import { Gazetteer, type GazetteerSource, placeKey } from '../src/places/gazetteer.js';

const city = (name: string, country: string, population: number, altName = ''): GazetteerSource => ({
  name,
  altName,
  country,
  adminCode: '01',
  population,
  loc: { coordinates: [13.4, 52.5] },
});

const gazetteer = new Gazetteer([
  city('Berlin', 'DE', 3_426_354),
  city('Berlin', 'US', 9_367),
  city('Berlare', 'BE', 13_853),
  city('Zürich', 'CH', 341_730),
  city('München', 'DE', 1_260_391, 'Munich,Muenchen'),
  city('Bern', 'CH', 121_631),
]);
const names = (query: string, limit?: number) => gazetteer.search(query, limit).map((place) => `${place.name} ${place.country}`);

describe('the place-name index', () => {
  it('answers names starting with the words, the most populous first', () => {
    expect(names('Ber')).toEqual(['Berlin DE', 'Bern CH', 'Berlare BE', 'Berlin US']);
    expect(names('ber', 2)).toEqual(['Berlin DE', 'Bern CH']);
  });

  it('ignores case and accents, and knows alternative names', () => {
    expect(names('zurich')).toEqual(['Zürich CH']);
    expect(names('ZÜR')).toEqual(['Zürich CH']);
    expect(names('munich')).toEqual(['München DE']);
    expect(placeKey('  São   Paulo ')).toBe('sao paulo');
  });

  it('narrows by country code or English country name after a comma', () => {
    expect(names('Berlin, us')).toEqual(['Berlin US']);
    expect(names('berlin, Germ')).toEqual(['Berlin DE']);
    expect(gazetteer.search('Berlin, DE')[0]).toEqual({
      name: 'Berlin',
      country: 'DE',
      countryName: 'Germany',
      adminCode: '01',
      latitude: 52.5,
      longitude: 13.4,
      population: 3_426_354,
    });
  });

  it('answers nothing, not an error, for words no place has', () => {
    expect(names('😀')).toEqual([]);
    expect(names(',')).toEqual([]);
    expect(names("'; DROP TABLE")).toEqual([]);
  });
});
