import type { Redis } from 'ioredis';
import { afterTerminalEvents, statusEventSchema, terminalEvents, type StatusEvent, type StatusEventName, type UploadReceived, type UploadState } from '@reelboard/contracts';

/** What a stage says about an upload; the store adds the sequence number and time. */
export interface StatusInput {
  uploadId: string;
  event: StatusEventName;
  stage: string;
  state: UploadState;
  progress?: number;
  reason?: string;
  message?: string;
}

/** How long an upload's record and status history are kept after its last event. */
const RETENTION_SECONDS = 30 * 24 * 3600;
/** Status events kept per upload for reconnecting clients (progress events included). */
const HISTORY_LENGTH = 500;
/** State changes kept in the durable log that consumers such as the notifier read (approximate: XADD MAXLEN ~). */
const LOG_LENGTH = 100_000;

// Sequence, latest status, history and fan-out in one atomic step, so a reader that takes the
// history and then follows the pub/sub channel sees every event exactly once, in order.
// Once an upload has reached a terminal event, later events are ignored (returns 0), except
// those meant for after the end (ARGV[6] = '1': moderation decisions on the saved listing).
// State changes (ARGV[7] = '1', not progress) are also appended to a capped stream, the durable
// log that consumers read with a consumer group: unlike pub/sub, nothing is lost while they restart.
const PUBLISH_SCRIPT = `
if redis.call('HGET', KEYS[1], 'terminal') == '1' and ARGV[6] ~= '1' then return 0 end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local event = '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2)
redis.call('HSET', KEYS[1], 'latest', event)
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'terminal', '1') end
redis.call('RPUSH', KEYS[2], event)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[4]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[2], event)
if ARGV[7] == '1' then redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[8], '*', 'event', event) end
return seq
`;

/**
 * The pipeline's memory of each upload, in Redis: who owns it, what was submitted, and its status
 * (latest, history, and live on pub/sub for every gateway replica). An unpaid upload lives only
 * here and in the staging directory.
 */
export class StatusStore {
  private subscriber: Redis | undefined;
  private readonly listeners = new Set<(event: StatusEvent) => void>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private uploadKey(uploadId: string): string {
    return `${this.prefix}:upload:${uploadId}`;
  }
  private historyKey(uploadId: string): string {
    return `${this.prefix}:upload:${uploadId}:events`;
  }
  private ownerKey(owner: string): string {
    return `${this.prefix}:owner:${owner.toLowerCase()}:uploads`;
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

  /** Records a new upload and its owner; called once by the gateway before anything is queued. */
  async registerUpload(upload: UploadReceived): Promise<void> {
    const key = this.uploadKey(upload.uploadId);
    await this.redis
      .multi()
      .hset(key, { owner: upload.owner, record: JSON.stringify(upload), createdAt: upload.receivedAt })
      .expire(key, RETENTION_SECONDS)
      .zadd(this.ownerKey(upload.owner), Date.parse(upload.receivedAt), upload.uploadId)
      .expire(this.ownerKey(upload.owner), RETENTION_SECONDS)
      .exec();
  }

  /** The upload as the gateway received it, or undefined if unknown (or long gone). */
  async getUpload(uploadId: string): Promise<UploadReceived | undefined> {
    const record = await this.redis.hget(this.uploadKey(uploadId), 'record');
    return record ? (JSON.parse(record) as UploadReceived) : undefined;
  }

  async getOwner(uploadId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.uploadKey(uploadId), 'owner')) ?? undefined;
  }

  /** Upload ids of one wallet, newest first. */
  async uploadsOf(owner: string, limit = 50): Promise<string[]> {
    return this.redis.zrevrange(this.ownerKey(owner), 0, limit - 1);
  }

  /** Publishes a status event; returns its sequence number, or 0 if the upload had already ended. */
  async publish(input: StatusInput): Promise<number> {
    const body = statusEventSchema.omit({ seq: true }).parse({ ...input, at: new Date().toISOString() });
    const seq = await this.redis.eval(
      PUBLISH_SCRIPT,
      3,
      this.uploadKey(input.uploadId),
      this.historyKey(input.uploadId),
      this.logKey,
      JSON.stringify(body),
      this.channel,
      terminalEvents.has(input.event) ? '1' : '0',
      String(HISTORY_LENGTH),
      String(RETENTION_SECONDS),
      afterTerminalEvents.has(input.event) ? '1' : '0',
      input.event === 'progress' ? '0' : '1',
      String(LOG_LENGTH),
    );
    return Number(seq);
  }

  /**
   * Lets an upload that ended `failed` move again (an operator retries it), reporting why.
   * Returns false if the upload is unknown.
   */
  async reopen(uploadId: string, stage: string, message: string): Promise<boolean> {
    const removed = await this.redis.hdel(this.uploadKey(uploadId), 'terminal');
    if (removed === 0 && !(await this.redis.exists(this.uploadKey(uploadId)))) return false;
    await this.publish({ uploadId, event: 'progress', stage, state: 'processing', message });
    return true;
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
   */
  async subscribe(listener: (event: StatusEvent) => void): Promise<() => void> {
    if (!this.subscriber) {
      this.subscriber = this.redis.duplicate({ connectionName: `${this.prefix}-status-subscriber` });
      this.subscriber.on('message', (_channel: string, message: string) => {
        const event = JSON.parse(message) as StatusEvent;
        for (const each of this.listeners) each(event);
      });
      await this.subscriber.subscribe(this.channel);
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.subscriber?.quit();
    this.subscriber = undefined;
  }
}
