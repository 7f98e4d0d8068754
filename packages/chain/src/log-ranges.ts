// Hosted RPC providers cap eth_getLogs: some by blocks per query (a few thousand, or as few as
// ten on free tiers), some by results, each with its own words ("query exceeds max block range",
// "Log response size exceeded", "limit exceeded", code -32005). A log query is therefore cut into
// ranges of at most the configured span, and a range the provider still refuses is halved until it
// passes (down to one block).

/** Whether an error is a provider's refusal of a log query as too large (rather than a failure). */
export function isLogRangeLimitError(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let current: unknown = error; current && !seen.has(current); current = (current as { cause?: unknown }).cause) {
    seen.add(current);
    const { code, message, shortMessage, details } = current as { code?: unknown; message?: unknown; shortMessage?: unknown; details?: unknown };
    if (code === -32005) return true;
    const text = [message, shortMessage, details].filter((part) => typeof part === 'string').join(' ');
    if (
      /block range|range (is )?too (large|wide|big)|exceeds? (the )?(max|maximum|limit)|limit exceeded|exceeds? defined limit|too many (results|logs|blocks)|query returned more than|response size|max(imum)? (block )?range|more than \d+ (results|logs|blocks)|limited to (a )?[\d,]+ (block )?range/i.test(
        text,
      )
    ) {
      return true;
    }
  }
  return false;
}

export interface LogRangeOptions {
  /** Most blocks one query may span; undefined or 0: no cut beyond what the provider refuses. */
  maxRange?: number;
  /** Called with each range a provider refused before it is halved (metrics, tests). */
  onSplit?: (range: { fromBlock: bigint; toBlock: bigint }) => void;
}

/**
 * Reads logs of blocks fromBlock..toBlock (inclusive) with `read`, one range of at most
 * `maxRange` blocks at a time, in order; a range refused as too large is halved and each half read.
 */
export async function readLogsInRanges<T>(
  read: (range: { fromBlock: bigint; toBlock: bigint }) => Promise<T[]>,
  { fromBlock, toBlock }: { fromBlock: bigint; toBlock: bigint },
  options: LogRangeOptions = {},
): Promise<T[]> {
  if (toBlock < fromBlock) return [];
  const span = options.maxRange && options.maxRange > 0 ? BigInt(options.maxRange) : toBlock - fromBlock + 1n;
  const readRange = async (from: bigint, to: bigint): Promise<T[]> => {
    try {
      return await read({ fromBlock: from, toBlock: to });
    } catch (error) {
      if (to <= from || !isLogRangeLimitError(error)) throw error;
      options.onSplit?.({ fromBlock: from, toBlock: to });
      const middle = from + (to - from) / 2n;
      return [...(await readRange(from, middle)), ...(await readRange(middle + 1n, to))];
    }
  };
  const logs: T[] = [];
  for (let start = fromBlock; start <= toBlock; start += span) {
    const end = start + span - 1n < toBlock ? start + span - 1n : toBlock;
    logs.push(...(await readRange(start, end)));
  }
  return logs;
}
