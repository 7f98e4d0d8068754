import type { Redis } from 'ioredis';
import type { StatusInput, StatusSink } from '@reelboard/bus';
import { afterTerminalEvents, endedStates, type StatusEvent, statusCodeProblem, statusEventSchema, type UploadState } from '@reelboard/contracts';
import { scrubSecrets } from '@reelboard/logger';

export type { StatusInput } from '@reelboard/bus';

/** How long the store keeps what it writes (defaults: 30 days per upload, 7 days of status log). */
export interface StatusRetention {
  /** An upload's hash (state, record, latest event) and history, counted from its last event. */
  uploadSeconds?: number;
  /** Entries of the status log stream. */
  statusLogSeconds?: number;
}

/** A guarded change of the upload's state that the event announces (packages/lifecycle owns the table). */
export interface StateChange {
  /** States the upload may be in; '-' stands for "no state yet" (a new upload). */
  from: readonly (UploadState | '-')[];
  to: UploadState;
  /** Fields of the upload's hash written with the change, only if it applies (e.g. the payment that made it paid). */
  fields?: Record<string, string>;
}

/** How long an upload's record and status history are kept after its last event (REDIS_UPLOAD_TTL_SECONDS). */
const RETENTION_SECONDS = 30 * 24 * 3600;
/** How long status log entries are kept (REDIS_STATUS_LOG_TTL_SECONDS); LOG_LENGTH caps it too. */
const LOG_RETENTION_SECONDS = 7 * 24 * 3600;
/** Status events kept per upload for reconnecting clients (progress events included). */
const HISTORY_LENGTH = 500;
/** States kept in an index set (uploads in flight); ended states are not indexed (they would only grow). */
const INDEXED_STATES = ['awaiting_payment', 'paid', 'processing'] as const;
/** State changes kept in the durable log that consumers such as the notifier read (approximate: XADD MAXLEN ~). */
const LOG_LENGTH = 100_000;

// Guard, state change, sequence, latest status, history, fan-out and the durable log in one atomic
// step, so a reader that takes the history and then follows the pub/sub channel sees every event
// exactly once, in order, and no event can announce a state the upload did not reach.
// With a state change (ARGV[7] = target, ARGV[12] = fields to set with it as JSON, ARGV[14..] =
// allowed states), the event is published only if the upload is in one of the allowed states; it
// then moves to the target. Without one, the event is dropped once the upload has ended, except
// those meant for after the end (ARGV[6] = '1').
// Events other than progress (ARGV[10] = '1') are also appended to a capped stream (KEYS[3]), the
// durable log consumers read with a consumer group: unlike pub/sub, nothing is lost while they restart.
// Entries older than ARGV[13] (a stream id: milliseconds) are trimmed, so the log empties when idle.
// Returns the event's sequence number, or 0 if nothing was published.
const PUBLISH_SCRIPT = `
local ended = {${[...endedStates].map((state) => `['${state}'] = true`).join(', ')}}
local indexed = {${INDEXED_STATES.map((state) => `['${state}'] = true`).join(', ')}}
local state = redis.call('HGET', KEYS[1], 'state')
local target = ARGV[7]
if target ~= '' then
  local allowed = false
  for i = 14, #ARGV do
    if ARGV[i] == (state or '-') then allowed = true end
  end
  if not allowed then return 0 end
  if ARGV[12] ~= '' then
    for field, value in pairs(cjson.decode(ARGV[12])) do redis.call('HSET', KEYS[1], field, value) end
  end
  if state and indexed[state] then redis.call('SREM', ARGV[8] .. state, ARGV[9]) end
  redis.call('HSET', KEYS[1], 'state', target)
  if indexed[target] then redis.call('SADD', ARGV[8] .. target, ARGV[9]) end
  state = target
else
  if state and ended[state] and ARGV[6] ~= '1' then return 0 end
  state = state or ARGV[3]
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local event = '{"seq":' .. seq .. ',"state":"' .. state .. '",' .. string.sub(ARGV[1], 2)
redis.call('HSET', KEYS[1], 'latest', event)
redis.call('RPUSH', KEYS[2], event)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[2], event)
if ARGV[10] == '1' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[11], '*', 'event', event)
  redis.call('XTRIM', KEYS[3], 'MINID', '~', ARGV[13])
end
return seq
`;

/**
 * The status transport of each upload, in Redis: its state, latest event and history, and live on
 * pub/sub for every gateway replica. What the states mean and which changes are allowed is
 * packages/lifecycle's; this store only applies a change atomically with the event announcing it.
 */
export class StatusStore implements StatusSink {
  private subscriber: Redis | undefined;
  private closing = false;
  private readonly listeners = new Set<(event: StatusEvent) => void>();
  private readonly resumeListeners = new Set<() => void>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly retention: StatusRetention = {},
  ) {}

  /** The hash holding an upload's state, record and latest event (the lifecycle module writes its record fields). */
  uploadKey(uploadId: string): string {
    return `${this.prefix}:upload:${uploadId}`;
  }
  private historyKey(uploadId: string): string {
    return `${this.prefix}:upload:${uploadId}:events`;
  }
  /** The set of uploads currently in `state` (only in-flight states are indexed). */
  stateIndexKey(state: UploadState): string {
    return `${this.prefix}:uploads:state:${state}`;
  }
  /**
   * The durable log of state changes (a Redis stream, entries `{event: <status event JSON>}`):
   * every status event but `progress`, in publishing order, capped at about LOG_LENGTH entries.
   */
  get logKey(): string {
    return `${this.prefix}:status-log`;
  }
  /** The pub/sub channel every status event is fanned out on. */
  get channel(): string {
    return `${this.prefix}:status`;
  }

  /**
   * Publishes a status event; with `change`, only if the upload is in one of `change.from`, moving
   * it to `change.to` in the same step. Returns the event's sequence number, or 0 if nothing was
   * published (the upload had ended, or was not in an allowed state).
   */
  async publish(input: StatusInput, change?: StateChange): Promise<number> {
    const { state, ...fields } = input;
    // Readers branch on the code (notifications, the web client): an event that needs one never goes out without it.
    const problem = statusCodeProblem(input.event, input.code);
    if (problem) throw new Error(`status event for upload ${input.uploadId} refused: ${problem}`);
    // Reasons and notes reach the owner, webhooks and push messages: never with an upstream secret.
    if (fields.reason !== undefined) fields.reason = scrubSecrets(fields.reason);
    if (fields.message !== undefined) fields.message = scrubSecrets(fields.message);
    const body = statusEventSchema.omit({ seq: true, state: true }).parse({ ...fields, at: new Date().toISOString() });
    const seq = await this.redis.eval(
      PUBLISH_SCRIPT,
      3,
      this.uploadKey(input.uploadId),
      this.historyKey(input.uploadId),
      this.logKey,
      JSON.stringify(body),
      this.channel,
      state ?? 'awaiting_payment',
      String(HISTORY_LENGTH),
      String(this.retention.uploadSeconds ?? RETENTION_SECONDS),
      afterTerminalEvents.has(input.event) ? '1' : '0',
      change?.to ?? '',
      `${this.prefix}:uploads:state:`,
      input.uploadId,
      input.event === 'progress' ? '0' : '1',
      String(LOG_LENGTH),
      change?.fields ? JSON.stringify(change.fields) : '',
      String(Math.max(0, Date.now() - (this.retention.statusLogSeconds ?? LOG_RETENTION_SECONDS) * 1000)),
      ...(change?.from ?? []),
    );
    return Number(seq);
  }

  /** The upload's state, or undefined if it has none. */
  async state(uploadId: string): Promise<UploadState | undefined> {
    return ((await this.redis.hget(this.uploadKey(uploadId), 'state')) as UploadState | null) ?? undefined;
  }

  /** Uploads currently in an in-flight state (awaiting_payment, paid, processing). */
  async inState(state: (typeof INDEXED_STATES)[number]): Promise<string[]> {
    return this.redis.smembers(this.stateIndexKey(state));
  }

  /** Removes status log entries older than their retention (publishing trims too, but an idle deployment publishes nothing). */
  async trimLog(): Promise<void> {
    const minId = Math.max(0, Date.now() - (this.retention.statusLogSeconds ?? LOG_RETENTION_SECONDS) * 1000);
    await this.redis.xtrim(this.logKey, 'MINID', '~', minId);
  }

  /** The latest status event of an upload. */
  async latest(uploadId: string): Promise<StatusEvent | undefined> {
    const latest = await this.redis.hget(this.uploadKey(uploadId), 'latest');
    return latest ? (JSON.parse(latest) as StatusEvent) : undefined;
  }

  /** Status events with a sequence number above `afterSeq`, oldest first. */
  async history(uploadId: string, afterSeq = 0): Promise<StatusEvent[]> {
    const raw = await this.redis.lrange(this.historyKey(uploadId), 0, -1);
    return raw.map((line) => JSON.parse(line) as StatusEvent).filter((event) => event.seq > afterSeq);
  }

  /**
   * Calls `listener` with every status event of every upload, as published. One Redis subscriber
   * per process serves all listeners. Resolves once the subscription is active.
   *
   * Pub/sub is fire-and-forget: events published while the subscriber reconnects (a Redis restart,
   * a Sentinel failover) never arrive. `onResume` is called once the subscription is active again,
   * so a follower can read what it missed from the history.
   */
  async subscribe(listener: (event: StatusEvent) => void, onResume?: () => void): Promise<() => void> {
    if (!this.subscriber) {
      const subscriber = this.redis.duplicate({ connectionName: `${this.prefix}-status-subscriber` });
      this.subscriber = subscriber;
      subscriber.on('message', (_channel: string, message: string) => {
        const event = JSON.parse(message) as StatusEvent;
        for (const each of this.listeners) each(event);
      });
      await subscriber.subscribe(this.channel);
      // Every later 'ready' is a reconnect: once subscribed again (ioredis resubscribes; this waits
      // for the confirmation), followers catch up.
      subscriber.on('ready', () => {
        subscriber.subscribe(this.channel).then(
          () => {
            for (const resume of this.resumeListeners) resume();
          },
          () => {
            // closing, or lost again: the next 'ready' retries
          },
        );
      });
      // Only close() ends the subscriber. A client ioredis gave up on (it does in a few races, e.g.
      // a Sentinel failover announced in the middle of a reconnect) is connected again, or every
      // live status stream of this process would go silent for good.
      subscriber.on('end', () => {
        if (this.closing || this.subscriber !== subscriber) return;
        setTimeout(() => {
          if (!this.closing && this.subscriber === subscriber && subscriber.status === 'end') subscriber.connect().catch(() => {});
        }, 500).unref();
      });
    }
    this.listeners.add(listener);
    if (onResume) this.resumeListeners.add(onResume);
    return () => {
      this.listeners.delete(listener);
      if (onResume) this.resumeListeners.delete(onResume);
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    this.listeners.clear();
    this.resumeListeners.clear();
    await this.subscriber?.quit();
    this.subscriber = undefined;
  }
}
