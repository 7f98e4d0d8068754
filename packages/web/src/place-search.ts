import { requestJson } from './api.js';
import { h, mount } from './dom.js';

/** A place the person picked or typed: a name (empty for raw coordinates) and its point. */
export interface PlacePoint {
  label: string;
  latitude: number;
  longitude: number;
}

interface PlaceAnswer {
  places: { name: string; country: string; countryName: string; adminCode: string; latitude: number; longitude: number }[];
}

const COORDINATES = /^\s*(-?\d{1,2}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$/;

/** `52.52,13.405` as a point, when it is one (in range). */
export function parseCoordinates(text: string): PlacePoint | undefined {
  const match = COORDINATES.exec(text);
  const latitude = Number(match?.[1]);
  const longitude = Number(match?.[2]);
  if (!match || Math.abs(latitude) > 90 || Math.abs(longitude) > 180) return undefined;
  return { label: '', latitude, longitude };
}

/**
 * A text field that takes a town's name (suggested from the gateway's gazetteer as you type, in a
 * native `<datalist>`, so keyboard and screen readers work as with any input) or `latitude,longitude`.
 * `resolve()` turns what is typed into a point: a picked suggestion, coordinates, or the most
 * populous place of that name.
 */
export function placeSearch(options: {
  id: string;
  value?: string;
  placeholder?: string;
  describedBy?: string;
  /** Called with the point once the field names one (a picked suggestion, or typed text on change). */
  onPick?: (place: PlacePoint) => void;
  /** Called when typed text names no known place. */
  onError?: (message: string) => void;
}) {
  const list = h('datalist', { id: `${options.id}-places` });
  const input = h('input', {
    type: 'text',
    id: options.id,
    name: options.id,
    value: options.value ?? '',
    list: `${options.id}-places`,
    autocomplete: 'off',
    placeholder: options.placeholder ?? 'Berlin, or 52.52,13.405',
    'aria-describedby': options.describedBy,
  });
  const known = new Map<string, PlacePoint>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let asked = '';

  const suggest = async (text: string) => {
    asked = text;
    const answer = await requestJson<PlaceAnswer>(`/v1/places?${new URLSearchParams({ q: text, limit: '8' })}`).catch(() => undefined);
    if (!answer || asked !== text) return;
    const labels = new Map<string, number>();
    const options = answer.places.map((place) => {
      let label = `${place.name}, ${place.countryName}`;
      // Several places of one name in one country: the region code tells them apart.
      if (labels.has(label) || answer.places.filter((other) => other.name === place.name && other.country === place.country).length > 1)
        label = `${place.name}, ${place.adminCode ? `${place.adminCode}, ` : ''}${place.countryName}`;
      labels.set(label, 1);
      known.set(label, { label, latitude: place.latitude, longitude: place.longitude });
      return h('option', { value: label });
    });
    mount(list, ...options);
  };

  input.addEventListener('input', () => {
    const text = input.value.trim();
    const picked = known.get(input.value);
    if (picked) {
      options.onPick?.(picked);
      return;
    }
    clearTimeout(timer);
    if (text.length < 2 || parseCoordinates(text)) return;
    timer = setTimeout(() => void suggest(text), 200);
  });

  const field = {
    input,
    list,
    /** What the field holds as a point; undefined when it is empty; throws when no place has that name. */
    async resolve(): Promise<PlacePoint | undefined> {
      const text = input.value.trim();
      if (!text) return undefined;
      const point = known.get(input.value) ?? parseCoordinates(text);
      if (point) return point;
      const answer = await requestJson<PlaceAnswer>(`/v1/places?${new URLSearchParams({ q: text, limit: '1' })}`);
      const first = answer.places[0];
      if (!first) throw new Error(`No town called “${text}” is known: try another spelling, or latitude,longitude`);
      const found = { label: `${first.name}, ${first.countryName}`, latitude: first.latitude, longitude: first.longitude };
      known.set(found.label, found);
      return found;
    },
  };
  // Typed and left without picking a suggestion: resolve it, so the point is never stale.
  input.addEventListener('change', () => {
    if (known.has(input.value)) return;
    field.resolve().then(
      (place) => place && options.onPick?.(place),
      (error: Error) => options.onError?.(error.message),
    );
  });
  return field;
}
