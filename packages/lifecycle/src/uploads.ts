import type { Redis } from 'ioredis';
import type { Payment, Quote, RenewalQuoted, StatusCode, StatusEvent, UploadReceived, UploadState } from '@reelboard/contracts';
import type { StatusStore } from './status-store.js';
import { type TransitionName, transitions } from './transitions.js';

/** How long an upload's record and its owner index are kept by default (as long as its status history; REDIS_UPLOAD_TTL_SECONDS). */
const RETENTION_SECONDS = 30 * 24 * 3600;
/** How long the set of hashes followed for an upload is kept. */
const HINTS_SECONDS = 24 * 3600;

// Atomic, so two sends of one hash at once start one round: a followed hash keeps its round; a new
// (or decided) one gets the next round, unless `max` hashes are followed already (then 0).
const FOLLOW_HINT_SCRIPT = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then return tonumber(current) end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
local round = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('HSET', KEYS[1], ARGV[1], round)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return round
`;

/** What a transition's event says besides its name. */
export interface TransitionDetails {
  /** The service making the change. */
  stage: string;
  reason?: string;
  /** The event's typed code, where it has codes (statusEventCodes). */
  code?: StatusCode;
  message?: string;
  progress?: number;
}

/** What every quote has, whatever it pays for: what the payment-watcher watches, hints and expires. */
export interface QuoteSubject {
  /** The lifecycle id: the upload's id, or the renewal's. */
  uploadId: string;
  owner: `0x${string}`;
  quote: Quote;
  purpose: 'upload' | 'renewal';
  /** The listing a renewal renews. */
  listingId?: string;
}

/** The outcome of a transition: whether this call moved the upload, and where it stands now. */
export interface TransitionResult {
  moved: boolean;
  state: UploadState | undefined;
}

/**
 * One upload's lifecycle in Redis: its record (owner, form, quote, staged files), its state, and the
 * guarded transitions between states (transitions.ts). Every reader of "is it payable, paid, done"
 * asks here; status events come from the transitions, so they never announce a state out of order.
 */
export class Uploads {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly status: StatusStore,
    /** How long the record and owner index are kept after registration (the status store renews the record with each event). */
    private readonly retentionSeconds = RETENTION_SECONDS,
  ) {}

  private ownerKey(owner: string): string {
    return `${this.prefix}:owner:${owner.toLowerCase()}:uploads`;
  }
  private hintsKey(uploadId: string): string {
    return `${this.prefix}:upload:${uploadId}:hints`;
  }

  /** Records a new upload and its owner, and moves it to awaiting_payment (the first status event). */
  async register(upload: UploadReceived, stage: string): Promise<void> {
    const key = this.status.uploadKey(upload.uploadId);
    await this.redis
      .multi()
      .hset(key, { owner: upload.owner, record: JSON.stringify(upload), createdAt: upload.receivedAt })
      .expire(key, this.retentionSeconds)
      .zadd(this.ownerKey(upload.owner), Date.parse(upload.receivedAt), upload.uploadId)
      // The index forgets uploads whose records have expired, so a wallet that keeps uploading does not grow it forever.
      .zremrangebyscore(this.ownerKey(upload.owner), '-inf', Date.parse(upload.receivedAt) - this.retentionSeconds * 1000)
      .expire(this.ownerKey(upload.owner), this.retentionSeconds)
      .exec();
    await this.transition(upload.uploadId, 'register', { stage, message: 'waiting for payment' });
  }

  /**
   * Records a renewal's quote under its own id and moves it to awaiting_payment: from there it is
   * paid, expired and refunded through the same transitions as an upload, without media work.
   */
  async registerRenewal(renewal: RenewalQuoted, stage: string): Promise<void> {
    const key = this.status.uploadKey(renewal.uploadId);
    await this.redis
      .multi()
      .hset(key, { owner: renewal.owner, renewal: JSON.stringify(renewal), createdAt: renewal.receivedAt })
      .expire(key, RETENTION_SECONDS)
      .exec();
    await this.transition(renewal.uploadId, 'register', { stage, message: `renewal of listing ${renewal.listingId} quoted; waiting for payment` });
  }

  /** A renewal by its id, or undefined (an upload, unknown, or long gone). */
  async renewal(uploadId: string): Promise<RenewalQuoted | undefined> {
    const raw = await this.redis.hget(this.status.uploadKey(uploadId), 'renewal');
    return raw ? (JSON.parse(raw) as RenewalQuoted) : undefined;
  }

  /** The quote behind an id, an upload's or a renewal's, or undefined if unknown. */
  async quoteOf(uploadId: string): Promise<QuoteSubject | undefined> {
    const [record, renewal] = await this.redis.hmget(this.status.uploadKey(uploadId), 'record', 'renewal');
    if (record) {
      const upload = JSON.parse(record) as UploadReceived;
      return { uploadId, owner: upload.owner, quote: upload.quote, purpose: 'upload' };
    }
    if (renewal) {
      const parsed = JSON.parse(renewal) as RenewalQuoted;
      return { uploadId, owner: parsed.owner, quote: parsed.quote, purpose: 'renewal', listingId: parsed.listingId };
    }
    return undefined;
  }

  /** The upload as the gateway received it, or undefined if unknown (or long gone, or a renewal). */
  async get(uploadId: string): Promise<UploadReceived | undefined> {
    const record = await this.redis.hget(this.status.uploadKey(uploadId), 'record');
    return record ? (JSON.parse(record) as UploadReceived) : undefined;
  }

  async owner(uploadId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.status.uploadKey(uploadId), 'owner')) ?? undefined;
  }

  async state(uploadId: string): Promise<UploadState | undefined> {
    return this.status.state(uploadId);
  }

  async latest(uploadId: string): Promise<StatusEvent | undefined> {
    return this.status.latest(uploadId);
  }

  /** Upload ids of one wallet, newest first. */
  async uploadsOf(owner: string, limit = 50): Promise<string[]> {
    return this.redis.zrevrange(this.ownerKey(owner), 0, limit - 1);
  }

  /** Uploads in an in-flight state, for the watcher (paid ones whose work must be queued) and the staging sweep. */
  async inState(state: 'awaiting_payment' | 'paid' | 'processing'): Promise<string[]> {
    return this.status.inState(state);
  }

  /** Applies a transition if the upload is in one of its `from` states; its event is published in the same step. */
  async transition(uploadId: string, name: TransitionName, details: TransitionDetails, fields?: Record<string, string>): Promise<TransitionResult> {
    const { from, to, event } = transitions[name];
    const seq = await this.status.publish({ uploadId, event, ...details }, { from, to, ...(fields ? { fields } : {}) });
    return { moved: seq > 0, state: seq > 0 ? to : await this.state(uploadId) };
  }

  /**
   * Marks the upload paid by `payment`, atomically with the state change: only one payment ever
   * makes an upload paid, however many watchers saw it. False if the upload was no longer awaiting payment.
   */
  async pay(uploadId: string, payment: Payment, stage: string): Promise<boolean> {
    // A renewal says so (its code), so the person is not told a video is being converted.
    const renewal = await this.redis.hexists(this.status.uploadKey(uploadId), 'renewal');
    const message = `${renewal ? 'renewal ' : ''}paid ${payment.amount} to ${payment.address}`;
    const code = renewal ? 'renewal' : 'upload';
    const result = await this.transition(uploadId, 'pay', { stage, code, message }, { payment: JSON.stringify(payment) });
    return result.moved;
  }

  /**
   * The upload's state and the payment that covered it, read together (one HMGET): a judge of a new
   * credit must never see the state after a concurrent `pay` and the payment from before it.
   */
  async paymentAndState(uploadId: string): Promise<{ payment: Payment | undefined; state: UploadState | undefined }> {
    const [payment, state] = await this.redis.hmget(this.status.uploadKey(uploadId), 'payment', 'state');
    return { payment: payment ? (JSON.parse(payment) as Payment) : undefined, state: (state as UploadState | null) ?? undefined };
  }

  /** The payment that covered the upload, if one did. */
  async payment(uploadId: string): Promise<Payment | undefined> {
    const raw = await this.redis.hget(this.status.uploadKey(uploadId), 'payment');
    return raw ? (JSON.parse(raw) as Payment) : undefined;
  }

  /**
   * Follows a client's tx hash for the upload: returns the round, which names the one job checking it
   * (a hash sent again while it is being checked is the same round, so the same job; sent again after
   * its verdict or after the check gave up, a new round), or 'limit' when `max` other hashes are followed.
   */
  async followHint(uploadId: string, txHash: string, max: number): Promise<{ round: number } | 'limit'> {
    const round = Number(
      await this.redis.eval(
        FOLLOW_HINT_SCRIPT,
        2,
        this.hintsKey(uploadId),
        `${this.hintsKey(uploadId)}:rounds`,
        txHash.toLowerCase(),
        String(max),
        String(HINTS_SECONDS),
      ),
    );
    return round === 0 ? 'limit' : { round };
  }

  /** Counts one more look at a followed hash's transaction; returns how many there have been (its check backs off with it). */
  async countHintCheck(uploadId: string, txHash: string): Promise<number> {
    const key = `${this.hintsKey(uploadId)}:checks`;
    const count = await this.redis.hincrby(key, txHash.toLowerCase(), 1);
    await this.redis.expire(key, HINTS_SECONDS);
    return count;
  }

  /** How many hashes are being checked for the upload now. */
  async followedHints(uploadId: string): Promise<number> {
    return this.redis.hlen(this.hintsKey(uploadId));
  }

  /** Stops following a hash (decided, or given up on), freeing its place. */
  async unfollowHint(uploadId: string, txHash: string): Promise<void> {
    // Its checks are forgotten with it: a later round starts polling quickly again.
    await this.redis
      .multi()
      .hdel(this.hintsKey(uploadId), txHash.toLowerCase())
      .hdel(`${this.hintsKey(uploadId)}:checks`, txHash.toLowerCase())
      .exec();
  }
}
