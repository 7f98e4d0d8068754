import { h, mount } from '../dom.js';
import { type FiatPrice, findOffer, formatFiat, offerKey, offerLabel, type PaymentOffer } from '../offers.js';
import { formatAmount } from '../seller.js';

/** The sell form's choice of how to pay: one radio per (chain, asset) when there is more than one. */
export interface OfferPicker {
  /** The group (hidden while there is one offer or none). */
  element: HTMLFieldSetElement;
  /**
   * Shows `offers` (the pricing's before the form is sent, the quote's locked amounts after), keeping
   * the person's choice when it is still offered; resolves false when it is not (then the first is chosen).
   */
  show(offers: readonly PaymentOffer[]): boolean;
  chosen(): PaymentOffer | undefined;
  offers(): readonly PaymentOffer[];
  /** Once money arrived in one offer, the others are closed: paying the rest elsewhere would not add up. */
  lock(locked: boolean): void;
}

/** `Fee: $5.00, paid as 5 USDC on Base …`: the fee line for the chosen offer (the fiat price first when there is one). */
export function feeText(offer: PaymentOffer | undefined, price: FiatPrice | null | undefined, offerCount: number, ttlSeconds: number): string {
  const holds = `The quote holds for ${Math.round(ttlSeconds / 60)} minutes.`;
  if (!offer) return price ? `Fee: ${formatFiat(price)}. ${holds}` : `Fee: unknown. ${holds}`;
  // One offer and no fiat price: the coin alone, as before chains could be chosen.
  const coin = offerCount > 1 || price ? offerLabel(offer) : formatAmount(offer.amount, offer);
  return price
    ? `Fee: ${formatFiat(price)}, paid as ${coin} from your wallet when you press PAY. ${holds}`
    : `Fee: ${coin}, paid from your wallet when you press PAY. ${holds}`;
}

/** A radio group of the offers: the browser's own keyboard handling (arrows move the choice), one label per radio. */
export function offerPicker(onChange: (offer: PaymentOffer) => void): OfferPicker {
  const choices = h('div', { class: 'offer-choices' });
  const element = h('fieldset', { class: 'offer-picker', id: 'offer-picker', hidden: true }, h('legend', {}, 'Pay with'), choices);
  let current: PaymentOffer[] = [];
  let chosenKey: string | undefined;
  let locked = false;

  const draw = () => {
    mount(
      choices,
      ...current.map((offer, index) => {
        const key = offerKey(offer);
        const id = `offer-${index}`;
        const radio = h('input', {
          type: 'radio',
          name: 'offer',
          id,
          value: key,
          checked: key === chosenKey,
          disabled: locked && key !== chosenKey,
          onchange: () => {
            chosenKey = key;
            onChange(offer);
          },
        });
        return h(
          'div',
          { class: 'offer-choice' },
          radio,
          h(
            'label',
            { for: id },
            h('span', { class: 'offer-amount' }, formatAmount(offer.amount, offer)),
            ' ',
            h('span', { class: 'offer-chain' }, `on ${offer.chainName}`),
          ),
        );
      }),
    );
    element.hidden = current.length < 2;
  };

  return {
    element,
    show(offers) {
      current = [...offers];
      const had = chosenKey;
      if (!findOffer(current, chosenKey)) chosenKey = current[0] ? offerKey(current[0]) : undefined;
      const kept = had === undefined || had === chosenKey;
      draw();
      return kept;
    },
    chosen: () => findOffer(current, chosenKey),
    offers: () => current,
    lock(value) {
      locked = value;
      draw();
    },
  };
}
