import type { Redis } from 'ioredis';

/** What the gateway quotes under and the watcher watches and sweeps under; both must agree. */
export interface PaymentSettings {
  chainId: number;
  merchant: string;
  /** null: the chain's native coin. */
  token: string | null;
  /** The sweeper's code hash: deposit addresses derive from it, so both must run the same contract build. */
  sweeperCodeHash: string;
}

type Service = 'api-gateway' | 'payment-watcher';

// Each field by the setting an operator changes to fix it.
const variables: Record<keyof PaymentSettings, string> = {
  chainId: 'CHAIN_ID',
  merchant: 'MERCHANT_ADDRESS',
  token: 'PAYMENT_TOKEN',
  sweeperCodeHash: "the sweeper's code (packages/chain deposit-artifacts.json)",
};

/** The gateway and the watcher run with different payment settings: the one starting refuses, naming each. */
export class PaymentSettingsMismatchError extends Error {
  override readonly name = 'PaymentSettingsMismatchError';
  constructor(
    readonly service: Service,
    readonly peer: Service,
    readonly differences: { variable: string; here: string; there: string }[],
  ) {
    super(
      `${service} refuses to start: its payment settings differ from the running ${peer}'s: ${differences
        .map((d) => `${d.variable} is ${d.here} here, ${d.there} there`)
        .join(
          '; ',
        )}. Quotes issued under one would be watched or swept under the other: set the same values on both (stop both to change them; a stopped ${peer}'s settings expire within a minute)`,
    );
  }
}

const normalise = (s: PaymentSettings): PaymentSettings => ({
  chainId: s.chainId,
  merchant: s.merchant.toLowerCase(),
  token: s.token?.toLowerCase() ?? null,
  sweeperCodeHash: s.sweeperCodeHash.toLowerCase(),
});

/**
 * Publishes this service's payment settings in Redis while it runs (a key with a TTL, refreshed) and
 * refuses to start when the other service's running settings differ. A key of a service that stopped
 * uncleanly expires after `ttlMs`, so a changed configuration never waits on a dead peer for long.
 */
export async function guardPaymentSettings(
  redis: Redis,
  prefix: string,
  service: Service,
  settings: PaymentSettings,
  { ttlMs = 60_000 }: { ttlMs?: number } = {},
): Promise<{ stop(): Promise<void> }> {
  const peer: Service = service === 'api-gateway' ? 'payment-watcher' : 'api-gateway';
  const key = (name: Service) => `${prefix}:payment:settings:${name}`;
  const own = JSON.stringify(normalise(settings));
  const check = async () => {
    const raw = await redis.get(key(peer));
    if (!raw) return;
    const there = JSON.parse(raw) as PaymentSettings;
    const here = normalise(settings);
    const differences = (Object.keys(variables) as (keyof PaymentSettings)[])
      .filter((field) => String(here[field]) !== String(there[field]))
      .map((field) => ({ variable: variables[field], here: String(here[field] ?? 'native'), there: String(there[field] ?? 'native') }));
    if (differences.length > 0) throw new PaymentSettingsMismatchError(service, peer, differences);
  };
  await check();
  await redis.set(key(service), own, 'PX', ttlMs);
  // Checked again after publishing: of two services starting at once with different settings, neither runs.
  try {
    await check();
  } catch (error) {
    if ((await redis.get(key(service))) === own) await redis.del(key(service));
    throw error;
  }
  const timer = setInterval(() => void redis.set(key(service), own, 'PX', ttlMs).catch(() => undefined), Math.max(1_000, Math.floor(ttlMs / 3)));
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      // Another replica of the same service with the same settings keeps refreshing it.
      if ((await redis.get(key(service))) === own) await redis.del(key(service));
    },
  };
}
