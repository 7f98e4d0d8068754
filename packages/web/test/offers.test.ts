import { describe, expect, it } from 'vitest';
import { ChainSwitchError, switchToOfferChain } from '../src/chain-switch.js';
import { chainToAdd, formatFiat, offerKey, offersOf, offerToFinish, type PaymentOffer, refundsDueText, remainingIn } from '../src/offers.js';
import { feeText } from '../src/views/offer-picker.js';
import type { Eip1193Provider } from '../src/wallet.js';

const USDC = '0x5fbdb2315678afecb367f032d93f642f64180aa3' as const;
const usdcOnTwo: PaymentOffer = { chainId: 31338, chainName: 'Two', token: USDC, symbol: 'USDC', decimals: 6, amount: '5000000' };
const ethOnTwo: PaymentOffer = { chainId: 31338, chainName: 'Two', token: null, symbol: 'ETH', decimals: 18, amount: '2500000000000000' };
const ethOnOne: PaymentOffer = { chainId: 31337, chainName: 'One', token: null, symbol: 'ETH', decimals: 18, amount: '2500000000000000' };
const ETH = { symbol: 'ETH', decimals: 18 };

describe('the offers of a pricing or a quote', () => {
  it('reads the list when the gateway gives one, else makes the top-level asset the only offer', () => {
    const listed = offersOf({ chainId: 31337, token: null, amount: ethOnOne.amount, offers: [ethOnOne, usdcOnTwo] }, ETH);
    expect(listed.map(offerKey)).toEqual(['31337/native', `31338/${USDC}`]);
    expect(offersOf({ chainId: 31337, token: null, amount: '10000000000000000' }, ETH)).toEqual([
      { chainId: 31337, chainName: 'chain 31337', token: null, symbol: 'ETH', decimals: 18, amount: '10000000000000000' },
    ]);
    // The pricing's own ticker wins over the coin passed for quotes (which carry none).
    expect(offersOf({ chainId: 1, token: USDC, amount: '5000000', symbol: 'USDC', decimals: 6, offers: [] }, ETH)[0]).toMatchObject({
      symbol: 'USDC',
      decimals: 6,
    });
  });

  it('tells an offer by its chain and asset, whatever the case of the token address', () => {
    expect(offerKey({ chainId: 31338, token: USDC.toUpperCase().replace('0X', '0x') as `0x${string}` })).toBe(offerKey(usdcOnTwo));
    expect(offerKey(ethOnTwo)).not.toBe(offerKey(ethOnOne));
  });

  it('says the fiat price in the reader’s locale', () => {
    expect(formatFiat({ amount: '5.00', currency: 'USD' }, 'en-US')).toBe('$5.00');
    expect(formatFiat({ amount: '5.00', currency: 'EUR' }, 'de-DE')).toMatch(/^5,00\s€$/);
    expect(formatFiat({ amount: '5.00', currency: 'XX' }, 'en-US')).toBe('5.00 XX');
  });

  it('says the fee as the fiat price paid in the chosen coin, or the coin alone as before offers', () => {
    expect(feeText(usdcOnTwo, { amount: '5.00', currency: 'USD' }, 2, 1800)).toBe(
      'Fee: $5.00, paid as 5 USDC on Two from your wallet when you press PAY. The quote holds for 30 minutes.',
    );
    expect(feeText({ ...ethOnOne, amount: '10000000000000000' }, null, 1, 1800)).toBe(
      'Fee: 0.01 ETH, paid from your wallet when you press PAY. The quote holds for 30 minutes.',
    );
  });

  it('adds a chain only with public RPC URLs and its native coin (its own, or a native offer on the same chain)', () => {
    expect(chainToAdd(usdcOnTwo, [usdcOnTwo, ethOnTwo])).toBeUndefined();
    const withRpc = {
      ...usdcOnTwo,
      rpcUrls: ['https://rpc.example.org', 'wss://not-for-wallets.example.org'],
      blockExplorerUrls: ['https://scan.example.org'],
    };
    expect(chainToAdd(withRpc, [withRpc, ethOnTwo])).toEqual({
      chainId: '0x7a6a',
      chainName: 'Two',
      nativeCurrency: { name: 'ETH', symbol: 'ETH', decimals: 18 },
      rpcUrls: ['https://rpc.example.org'],
      blockExplorerUrls: ['https://scan.example.org'],
    });
    // A quote's offer has no RPC URLs: the pricing's offer on the same chain tells them.
    expect(chainToAdd(usdcOnTwo, [usdcOnTwo, { ...ethOnTwo, rpcUrls: ['http://127.0.0.1:8567'] }])?.rpcUrls).toEqual(['http://127.0.0.1:8567']);
    expect(chainToAdd(usdcOnTwo, [{ ...ethOnOne, rpcUrls: ['http://127.0.0.1:8566'] }, ethOnTwo])).toBeUndefined();
    // A token-only chain without the native coin named cannot be described to the wallet.
    expect(chainToAdd(withRpc, [withRpc, ethOnOne])).toBeUndefined();
    expect(chainToAdd({ ...withRpc, nativeCurrency: { name: 'POL', symbol: 'POL', decimals: 18 } })?.nativeCurrency).toEqual({
      name: 'POL',
      symbol: 'POL',
      decimals: 18,
    });
  });

  it('asks the rest of the chosen offer only: per offer when the ledger tells it, the top level for the first offer, else nothing', () => {
    const standing = { received: '1000000', remaining: '4000000', payment: { chainId: 31338, token: USDC } };
    expect(remainingIn(usdcOnTwo, standing)).toEqual({ received: 1_000_000n, remaining: 4_000_000n });
    // The top level is the first offer's: it says nothing of another asset.
    expect(remainingIn(ethOnTwo, standing)).toBeUndefined();
    const perOffer = { ...standing, offers: [{ chainId: 31338, token: null, received: '500', remaining: '2499999999999500' }] };
    expect(remainingIn(ethOnTwo, perOffer)).toEqual({ received: 500n, remaining: 2_499_999_999_999_500n });
  });

  it('finishes an unpaid upload in the offer money arrived in (its rest only), else in the first offer', () => {
    const to = '0x00000000000000000000000000000000000000aa' as const;
    const payment = { chainId: 31337, token: null, amount: ethOnOne.amount, to };
    const untouched = { received: '0', remaining: ethOnOne.amount, payment };
    const withOffers = (usdcReceived: string) => ({
      ...untouched,
      offers: [
        { ...ethOnOne, received: '0', remaining: ethOnOne.amount },
        { ...usdcOnTwo, received: usdcReceived, remaining: String(5_000_000n - BigInt(usdcReceived)) },
      ],
    });
    expect(offerToFinish(withOffers('0'), ETH)).toMatchObject({ offer: { chainId: 31337, token: null }, received: 0n, remaining: 2_500_000_000_000_000n });
    // 1 USDC arrived on Two: the rest is 4 USDC there, never the first offer's ETH.
    expect(offerToFinish(withOffers('1000000'), ETH)).toMatchObject({ offer: { chainId: 31338, token: USDC }, received: 1_000_000n, remaining: 4_000_000n });
    // A gateway without offers: the top level is the first (only) offer.
    expect(offerToFinish({ ...untouched, received: '4', remaining: '6' }, ETH)).toMatchObject({
      offer: { chainId: 31337, symbol: 'ETH' },
      received: 4n,
      remaining: 6n,
    });
  });
});

/** A wallet as EIP-1193 describes it, knowing `known` chains, on `current`; it records each request. */
function fakeWallet(options: { current: number; known: number[]; refuse?: string[]; wrap4902?: boolean; addSwitches?: boolean }) {
  const calls: { method: string; params?: unknown[] }[] = [];
  let current = options.current;
  const known = new Set(options.known);
  const provider: Eip1193Provider = {
    async request({ method, params }) {
      calls.push({ method, params });
      if (options.refuse?.includes(method)) throw Object.assign(new Error('User rejected the request.'), { code: 4001 });
      if (method === 'eth_chainId') return `0x${current.toString(16)}`;
      const chainId = Number.parseInt((params?.[0] as { chainId?: string } | undefined)?.chainId ?? '', 16);
      if (method === 'wallet_switchEthereumChain') {
        if (!known.has(chainId))
          throw options.wrap4902
            ? Object.assign(new Error('Internal JSON-RPC error.'), { code: -32603, data: { originalError: { code: 4902 } } })
            : Object.assign(new Error(`Unrecognized chain ID "0x${chainId.toString(16)}".`), { code: 4902 });
        current = chainId;
        return null;
      }
      if (method === 'wallet_addEthereumChain') {
        known.add(chainId);
        if (options.addSwitches) current = chainId;
        return null;
      }
      throw Object.assign(new Error(`unsupported ${method}`), { code: 4200 });
    },
  };
  return { provider, calls, chain: () => current };
}

describe('moving the wallet to the offer’s chain', () => {
  const addable = { ...usdcOnTwo, rpcUrls: ['http://127.0.0.1:8567'] };

  it('does nothing when the wallet is on it already', async () => {
    const wallet = fakeWallet({ current: 31338, known: [31338] });
    expect(await switchToOfferChain({ provider: wallet.provider, offer: usdcOnTwo })).toBe('already');
    expect(wallet.calls.map((call) => call.method)).toEqual(['eth_chainId']);
  });

  it('switches to a chain the wallet knows', async () => {
    const wallet = fakeWallet({ current: 31337, known: [31337, 31338] });
    expect(await switchToOfferChain({ provider: wallet.provider, offer: usdcOnTwo })).toBe('switched');
    expect(wallet.calls[1]).toEqual({ method: 'wallet_switchEthereumChain', params: [{ chainId: '0x7a6a' }] });
    expect(wallet.chain()).toBe(31338);
  });

  it('adds an unknown chain (4902) with its name, coin and RPC URLs, then switches', async () => {
    const wallet = fakeWallet({ current: 31337, known: [31337] });
    expect(await switchToOfferChain({ provider: wallet.provider, offer: addable, offers: [addable, ethOnTwo] })).toBe('added');
    expect(wallet.calls.map((call) => call.method)).toEqual([
      'eth_chainId',
      'wallet_switchEthereumChain',
      'wallet_addEthereumChain',
      'eth_chainId',
      'wallet_switchEthereumChain',
    ]);
    expect(wallet.calls[2]?.params).toEqual([
      { chainId: '0x7a6a', chainName: 'Two', nativeCurrency: { name: 'ETH', symbol: 'ETH', decimals: 18 }, rpcUrls: ['http://127.0.0.1:8567'] },
    ]);
    expect(wallet.chain()).toBe(31338);
  });

  it('reads 4902 inside MetaMask Mobile’s internal error, and does not switch twice when adding moved the wallet', async () => {
    const wallet = fakeWallet({ current: 31337, known: [31337], wrap4902: true, addSwitches: true });
    expect(await switchToOfferChain({ provider: wallet.provider, offer: addable, offers: [addable, ethOnTwo] })).toBe('added');
    expect(wallet.calls.filter((call) => call.method === 'wallet_switchEthereumChain')).toHaveLength(1);
  });

  it('names the chain when the wallet does not know it and there is nothing to add it with', async () => {
    const wallet = fakeWallet({ current: 31337, known: [31337] });
    const refused = switchToOfferChain({ provider: wallet.provider, offer: usdcOnTwo, offers: [usdcOnTwo, ethOnTwo] });
    await expect(refused).rejects.toBeInstanceOf(ChainSwitchError);
    await expect(refused).rejects.toMatchObject({
      reason: 'unknown',
      message: 'Your wallet does not know Two (chain 31338). Add that network in your wallet, then press PAY again.',
    });
    expect(wallet.calls.some((call) => call.method === 'wallet_addEthereumChain')).toBe(false);
  });

  it('says so when the person declines the switch or the addition', async () => {
    const declinedSwitch = switchToOfferChain({
      provider: fakeWallet({ current: 31337, known: [31338], refuse: ['wallet_switchEthereumChain'] }).provider,
      offer: usdcOnTwo,
    });
    await expect(declinedSwitch).rejects.toMatchObject({
      reason: 'refused',
      code: 4001,
      message: 'The wallet did not switch to Two (chain 31338): the request was declined.',
    });
    const declinedAdd = switchToOfferChain({
      provider: fakeWallet({ current: 31337, known: [], refuse: ['wallet_addEthereumChain'] }).provider,
      offer: addable,
      offers: [ethOnTwo],
    });
    await expect(declinedAdd).rejects.toMatchObject({ reason: 'refused' });
  });
});

describe('what a cancel owes back', () => {
  it('names each asset in its own coin, apart, and one the quote never offered by its chain and units', () => {
    const EURC = '0x1111111111111111111111111111111111111111' as const;
    const text = refundsDueText(
      [
        { chainId: 31338, token: USDC, amount: '1000000' },
        { chainId: 31337, token: null, amount: '0' },
        { chainId: 31338, token: EURC, amount: '250' },
      ],
      [ethOnOne, usdcOnTwo],
    );
    expect(text).toBe(`1 USDC on Two, 250 base units of ${EURC} on chain 31338`);
    expect(refundsDueText([{ chainId: 31337, token: null, amount: '0' }], [ethOnOne])).toBe('');
  });
});
