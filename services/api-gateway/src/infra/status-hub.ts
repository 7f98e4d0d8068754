import { Gauge } from 'prom-client';
import { type StatusEvent, terminalEvents } from '@reelboard/contracts';
import type { StatusStore } from '@reelboard/lifecycle';

type Listener = (event: StatusEvent) => void;
/** Called when the status subscription came back after a reconnect: events may have been missed. */
type Resume = () => void;

/** One client of a status stream (an SSE response, or a test's array). */
export interface StreamClient {
  send(event: StatusEvent): void;
  /** The stream ended (a terminal event); close the client. */
  end(): void;
}

const hubs = new Set<StatusHub>();
new Gauge({
  name: 'reelboard_sse_clients',
  help: 'Status streams (SSE) open on this gateway replica',
  collect() {
    let clients = 0;
    for (const hub of hubs) clients += hub.clients;
    this.set(clients);
  },
});

/**
 * Fans the one Redis status subscription out to the SSE clients of this replica, by upload id,
 * so an event costs one map lookup however many clients are connected.
 */
export class StatusHub {
  private readonly byUpload = new Map<string, Set<Listener>>();
  private readonly resumes = new Set<Resume>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly store: StatusStore) {
    hubs.add(this);
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.store.subscribe(
      (event) => {
        for (const listener of this.byUpload.get(event.uploadId) ?? []) listener(event);
      },
      () => {
        for (const resume of this.resumes) resume();
      },
    );
  }

  /**
   * Follows one upload's events; `onResume` runs when the subscription is back after a Redis
   * reconnect (read the history: events in between were not delivered). Returns the function that
   * stops following.
   */
  follow(uploadId: string, listener: Listener, onResume?: Resume): () => void {
    let listeners = this.byUpload.get(uploadId);
    if (!listeners) {
      listeners = new Set();
      this.byUpload.set(uploadId, listeners);
    }
    listeners.add(listener);
    if (onResume) this.resumes.add(onResume);
    return () => {
      if (onResume) this.resumes.delete(onResume);
      listeners.delete(listener);
      if (listeners.size === 0) this.byUpload.delete(uploadId);
    };
  }

  /**
   * Streams one upload's events to one client: the stored ones after `afterSeq` (or, for a new
   * client, the latest), then every live one, in order, with no gap and no repeat; ends the client
   * after a terminal event. Live events are followed before the stored ones are read, so nothing
   * published in between is missed; a gap in the live sequence (events published while the
   * subscription was down, e.g. across a Redis failover) and a resubscription are filled from the
   * history. Returns the function that stops (idempotent).
   */
  async stream(uploadId: string, afterSeq: number, client: StreamClient): Promise<() => void> {
    let sentSeq = afterSeq > 0 ? afterSeq : 0;
    let replaying = true;
    let stopped = false;
    const pending: StatusEvent[] = [];
    const stop = () => {
      if (stopped) return;
      stopped = true;
      unfollow();
      client.end();
    };
    const send = (event: StatusEvent) => {
      if (stopped || event.seq <= sentSeq) return;
      sentSeq = event.seq;
      client.send(event);
      if (terminalEvents.has(event.event)) stop();
    };
    // Catch-ups read the history after the last event sent; they and live events go out in order.
    let sending: Promise<void> = Promise.resolve();
    const catchUp = () => {
      sending = sending
        .then(async () => {
          for (const event of await this.store.history(uploadId, sentSeq)) send(event);
        })
        .catch(() => {
          // Redis unreachable again: the next live event or resubscription catches up.
        });
    };
    const live = (event: StatusEvent) => {
      if (replaying) return void pending.push(event);
      // The history has the missing events, this one included.
      if (event.seq > sentSeq + 1) return catchUp();
      sending = sending.then(() => send(event));
    };
    const unfollow = this.follow(uploadId, live, () => {
      if (!replaying) catchUp();
    });
    const stored = sentSeq > 0 ? await this.store.history(uploadId, sentSeq) : [await this.store.latest(uploadId)].filter((e): e is StatusEvent => !!e);
    for (const event of stored) send(event);
    replaying = false;
    for (const event of pending) live(event);
    return stop;
  }

  /** Connected SSE clients on this replica. */
  get clients(): number {
    let count = 0;
    for (const listeners of this.byUpload.values()) count += listeners.size;
    return count;
  }

  stop(): void {
    hubs.delete(this);
    this.unsubscribe?.();
    this.byUpload.clear();
    this.resumes.clear();
  }
}
