import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import express from 'express';
import { domainErrors, InvalidInput } from '@reelboard/api';
import * as db from '@reelboard/db';
import { createLogger } from '@reelboard/logger';
import { errorHandler, HttpError } from '../src/infra/http-error.js';
import * as submitPayment from '../src/use-cases/submit-payment.js';

/** Every error class a module exports. */
const errorClassesOf = (module: Record<string, unknown>) =>
  Object.entries(module).filter(([, value]) => typeof value === 'function' && value.prototype instanceof Error) as [string, new (...args: never[]) => Error][];
/** The refusals the database's functions and the gateway's use-cases throw. */
const domainErrorClasses = [...errorClassesOf(db), ...errorClassesOf(submitPayment)];

/** What each route of the test app throws, and the answer the domain-error table gives it. */
const cases: { name: string; error: Error; status: number; body: Record<string, unknown> }[] = [
  { name: 'ListingNotFoundError', error: new db.ListingNotFoundError('l1'), status: 404, body: { error: 'listing_not_found', message: 'no listing l1' } },
  {
    name: 'ListingRemovedError',
    error: new db.ListingRemovedError('l1'),
    status: 404,
    body: { error: 'listing_not_found', message: 'listing l1 was removed' },
  },
  {
    name: 'ListingStateError',
    error: new db.ListingStateError('l1', 'sold', 'edited'),
    status: 409,
    body: { error: 'listing_state', message: 'listing l1 is sold: it cannot be edited', state: 'sold' },
  },
  { name: 'RevisionNotFoundError', error: new db.RevisionNotFoundError('r1'), status: 404, body: { error: 'revision_not_found', message: 'no revision r1' } },
  {
    name: 'RevisionDecidedError',
    error: new db.RevisionDecidedError('r1', 'approved'),
    status: 409,
    body: { error: 'revision_decided', message: 'revision r1 is approved, not pending', status: 'approved' },
  },
  {
    name: 'InvalidCursorError',
    error: new db.InvalidCursorError(),
    status: 400,
    body: { error: 'invalid_cursor', message: 'cursor is not valid for this search; start again without it', field: 'cursor' },
  },
  {
    name: 'InvalidPaymentCursorError',
    error: new db.InvalidPaymentCursorError(),
    status: 400,
    body: { error: 'invalid_cursor', message: 'cursor is not valid for this list; start again without it', field: 'cursor' },
  },
  { name: 'PaymentNotFoundError', error: new db.PaymentNotFoundError(7), status: 404, body: { error: 'payment_not_found', message: 'no payment 7' } },
  {
    name: 'RefundConflictError',
    error: new db.RefundConflictError('already_refunded', 7, 'payment 7 was refunded by another transaction', `0x${'ab'.repeat(32)}`),
    status: 409,
    body: { error: 'already_refunded', message: 'payment 7 was refunded by another transaction', refundTxHash: `0x${'ab'.repeat(32)}` },
  },
  {
    name: 'not_refundable',
    error: new db.RefundConflictError('not_refundable', 7, 'nothing is due back on payment 7'),
    status: 409,
    body: { error: 'not_refundable', message: 'nothing is due back on payment 7' },
  },
  {
    name: 'InvalidInput',
    error: new InvalidInput(400, 'invalid_query', 'limit must be an integer from 1 to 100', { field: 'limit' }),
    status: 400,
    body: { error: 'invalid_query', message: 'limit must be an integer from 1 to 100', field: 'limit' },
  },
  {
    name: 'UploadNotFoundError',
    error: new submitPayment.UploadNotFoundError('u1'),
    status: 404,
    body: { error: 'upload_not_found', message: 'no such upload' },
  },
  {
    name: 'PaymentHintLimitError',
    error: new submitPayment.PaymentHintLimitError('u1', 3),
    status: 429,
    body: { error: 'too_many_hashes', message: '3 other transactions are already being checked for this upload; wait for their verdicts' },
  },
  {
    name: 'HttpError',
    error: new HttpError(415, 'expected_multipart', 'send multipart'),
    status: 415,
    body: { error: 'expected_multipart', message: 'send multipart' },
  },
  // Not in the table: a failure, answered 500 without its message.
  { name: 'Error', error: new Error('connection reset by db'), status: 500, body: { error: 'internal', message: 'internal error' } },
  // A name alone does not make a domain error: only Errors are looked up, and only the table's own keys.
  { name: 'toString', error: Object.assign(new Error('x'), { name: 'toString' }), status: 500, body: { error: 'internal', message: 'internal error' } },
];

let base: string;
let close: () => Promise<void>;

beforeAll(async () => {
  const app = express();
  for (const [index, { error }] of cases.entries()) {
    app.get(`/throw/${index}`, async () => {
      throw error;
    });
  }
  app.use(errorHandler(createLogger('domain-errors-test', 'silent')));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((resolve) => server.close(() => resolve()));
});

afterAll(() => close?.());

describe('the domain-error table', () => {
  it('has a row for every error class the database package and the use-cases export', () => {
    expect(domainErrorClasses.length).toBeGreaterThanOrEqual(11);
    const missing = domainErrorClasses.map(([name]) => name).filter((name) => !Object.hasOwn(domainErrors, name));
    expect(missing).toEqual([]);
  });

  it('is how the gateway answers each refusal: status, stable code, message and fields', async () => {
    for (const [index, { name, status, body }] of cases.entries()) {
      const res = await fetch(`${base}/throw/${index}`);
      expect({ name, status: res.status, body: await res.json() }).toEqual({ name, status, body });
    }
  });
});
