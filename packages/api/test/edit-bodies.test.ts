import { describe, expect, it } from 'vitest';
import { LISTING_LIMITS } from '@reelboard/contracts';
import { api, InvalidInput, parseRequest, type RouteSpec } from '../src/index.js';

const listingId = '0b7e2c1a-3f4d-4e5f-8a9b-0c1d2e3f4a5b';

/** The body a route's handler receives, or the refusal it answers. */
function read(route: RouteSpec, body: unknown) {
  try {
    return { body: parseRequest(route, { params: { id: listingId }, body }).body };
  } catch (error) {
    if (error instanceof InvalidInput) return { refused: { status: error.status, code: error.code, message: error.message, ...error.extra } };
    throw error;
  }
}

describe('the listing edit body (PATCH /v1/listings/:id)', () => {
  const edit = (body: unknown) => read(api.editListing, body);

  it('gives the handler the changes as the database takes them: trimmed, normalised, a location from both coordinates', () => {
    expect(
      edit({
        title: '  Red bike ',
        hashtags: '#Bikes red',
        latitude: '48.1',
        longitude: 11.6,
        price: { amount: 120, currency: 'eur' },
        contact: ' +49 30 1234 ',
      }),
    ).toEqual({
      body: {
        title: 'Red bike',
        hashtags: ['bikes', 'red'],
        location: { latitude: 48.1, longitude: 11.6 },
        price: { amount: '120.00', currency: 'EUR' },
        contact: '+49 30 1234',
      },
    });
    expect(edit({ hashtags: ['#a', 'b'] })).toEqual({ body: { hashtags: ['a', 'b'] } });
    expect(edit({ price: null, contact: '' })).toEqual({ body: { price: null, contact: null } });
    expect(edit({ contact: null, description: '' })).toEqual({ body: { contact: null, description: '' } });
  });

  it("names every bad field in one invalid_form, with the form's messages", () => {
    const { refused } = edit({ title: '', latitude: 91, price: { amount: '1.234', currency: 'EUR' }, video: 'x', colour: 'red' });
    expect(refused).toMatchObject({ status: 400, code: 'invalid_form', message: 'invalid fields: title, latitude, price, video, colour, longitude' });
    expect((refused as { fields?: unknown }).fields).toEqual({
      title: 'title is required',
      latitude: 'latitude must be between -90 and 90',
      longitude: 'longitude is required',
      price: 'amount must be a decimal number with at most 12 digits before the point and 2 after',
      video: 'the video cannot be changed: upload a new listing',
      colour: 'colour cannot be edited (editable: title, description, hashtags, latitude, longitude, price, contact)',
    });
  });

  it('refuses each field on its own terms', () => {
    const fields = (body: unknown) => (edit(body).refused as { fields?: Record<string, string> } | undefined)?.fields;
    expect(fields({ title: 'x'.repeat(LISTING_LIMITS.title + 1) })).toEqual({ title: `title must be at most ${LISTING_LIMITS.title} characters` });
    expect(fields({ description: 'a\u0007b' })).toEqual({ description: 'description contains control characters' });
    expect(fields({ description: 5 })).toEqual({ description: 'description must be text' });
    expect(fields({ hashtags: 5 })).toEqual({ hashtags: 'hashtags must be text ("#cars #berlin") or a list' });
    expect(fields({ hashtags: '#ok #not-a-tag!' })?.hashtags).toMatch(/^hashtag "#not-a-tag!"/);
    expect(fields({ latitude: 'north', longitude: 1 })).toEqual({ latitude: 'latitude must be a decimal number' });
    expect(fields({ price: 'free' })).toEqual({ price: 'price must be {amount, currency} or null' });
    expect(fields({ price: { amount: '10' } })).toEqual({ price: 'a price needs both an amount and a currency' });
    expect(fields({ contact: 'x'.repeat(LISTING_LIMITS.contact + 1) })).toEqual({ contact: `contact must be at most ${LISTING_LIMITS.contact} characters` });
    expect(fields({ contact: 42 })).toEqual({ contact: 'contact must be text or null' });
    expect(fields({})).toEqual({ form: 'nothing to change: send at least one of title, description, hashtags, latitude, longitude, price, contact' });
    expect(fields({ price: {} })?.form).toMatch(/^nothing to change/);
    expect(fields([1, 2])).toEqual({ form: 'send the changes as a JSON object' });
  });
});

describe('the profile edit body (PATCH /v1/me/profile)', () => {
  const edit = (body: unknown) => read(api.editMyProfile, body);

  it('gives the handler trimmed changes; null or empty clears a field', () => {
    expect(edit({ displayName: '  Anna K. ', contact: '' })).toEqual({ body: { displayName: 'Anna K.', contact: null } });
    expect(edit({ contact: null })).toEqual({ body: { contact: null } });
  });

  it('names every bad field in one invalid_form', () => {
    const { refused } = edit({ displayName: 'x'.repeat(LISTING_LIMITS.displayName + 1), contact: 'a\u0000b', logo: 'x' });
    expect(refused).toMatchObject({ status: 400, code: 'invalid_form', message: 'invalid fields: displayName, contact, logo' });
    expect((refused as { fields?: unknown }).fields).toEqual({
      displayName: `displayName must be at most ${LISTING_LIMITS.displayName} characters`,
      contact: 'contact contains control characters',
      logo: 'logo cannot be edited here (displayName, contact; the logo comes with a listing)',
    });
    // The limit counts what is kept: surrounding spaces do not.
    expect(edit({ displayName: ` ${'x'.repeat(LISTING_LIMITS.displayName)} ` })).toEqual({ body: { displayName: 'x'.repeat(LISTING_LIMITS.displayName) } });
    expect((edit({}).refused as { fields?: Record<string, string> }).fields).toEqual({ form: 'nothing to change: send displayName or contact' });
  });
});
