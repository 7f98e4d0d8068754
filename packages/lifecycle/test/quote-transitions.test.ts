import { describe, expect, it } from 'vitest';
import {
  closesQuote,
  type QuoteEvent,
  type QuoteState,
  QuoteTransitionError,
  quoteMay,
  quoteNext,
  quoteStates,
  quoteTransitions,
  type TransitionName,
  transitions,
} from '../src/transitions.js';

const events = Object.keys(quoteTransitions) as QuoteEvent[];

describe("the lifecycle's quote transitions", () => {
  it('every (state, event) pair the table does not list is refused with an error naming the quote, its state and the event', () => {
    const refused: string[] = [];
    for (const event of events) {
      for (const state of quoteStates) {
        if (state in quoteTransitions[event]) continue;
        refused.push(`${state}:${event}`);
        expect(quoteMay(event, state)).toBe(false);
        const attempt = () => quoteNext(state, event, 'q-1');
        expect(attempt).toThrow(QuoteTransitionError);
        expect(attempt).toThrow(`quote q-1 is ${state}: it cannot take '${event}'`);
      }
    }
    // The one renewal rule on the quote's side: a renewal is applied once.
    expect(refused).toEqual(['paid:renew']);
  });

  it('the listed pairs move as the ledger expects', () => {
    const moves = Object.fromEntries(
      events.flatMap((event) => quoteStates.filter((s) => quoteMay(event, s)).map((s) => [`${s}:${event}`, quoteNext(s, event)])),
    );
    expect(moves).toEqual({
      'open:cover': 'paid',
      'expired:cover': 'paid',
      'paid:cover': 'paid',
      'open:renew': 'paid',
      'expired:renew': 'paid',
      'open:close': 'expired',
      'expired:close': 'expired',
      'paid:close': 'paid',
      'open:reverse': 'open',
      'paid:reverse': 'paid',
      'expired:reverse': 'expired',
    } satisfies Record<string, QuoteState>);
  });

  it('every upload transition that ends an unpaid upload closes its quote, so no quote stays open after its upload ended', () => {
    const names = Object.keys(transitions) as TransitionName[];
    const ending = names.filter((name) => {
      const row = transitions[name];
      return (row.from as readonly string[]).includes('awaiting_payment') && row.to !== 'paid';
    });
    expect(ending.sort()).toEqual(['cancel', 'cancelOwingRefund', 'expire', 'expireOwingRefund', 'fail']);
    for (const name of ending) expect(closesQuote(name), name).toBe(true);
    // Nothing else closes a quote: a saved listing's or a refunded upload's quote was settled already.
    expect(names.filter(closesQuote).sort()).toEqual(ending.sort());
    expect(transitions.pay.quote).toBe('cover');
    expect(transitions.renew.quote).toBe('renew');
  });
});
