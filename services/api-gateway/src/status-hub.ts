import { Gauge } from 'prom-client';
import type { StatusStore } from '@reelboard/bus';
import { terminalEvents, type StatusEvent } from '@reelboard/contracts';

type Listener = (event: StatusEvent) => void;

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
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly store: StatusStore) {
    hubs.add(this);
  }

  async start(): Promise<void> {
    this.unsubscribe = await this.store.subscribe((event) => {
      for (const listener of this.byUpload.get(event.uploadId) ?? []) listener(event);
    });
  }

  /** Follows one upload's events; returns the function that stops following. */
  follow(uploadId: string, listener: Listener): () => void {
    let listeners = this.byUpload.get(uploadId);
    if (!listeners) {
      listeners = new Set();
      this.byUpload.set(uploadId, listeners);
    }
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) this.byUpload.delete(uploadId);
    };
  }

  /**
   * Streams one upload's events to one client: the stored ones after `afterSeq` (or, for a new
   * client, the latest), then every live one, in order, with no gap and no repeat; ends the client
   * after a terminal event. Live events are followed before the stored ones are read, so nothing
   * published in between is missed. Returns the function that stops (idempotent).
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
    const unfollow = this.follow(uploadId, (event) => (replaying ? pending.push(event) : send(event)));
    const stored = sentSeq > 0 ? await this.store.history(uploadId, sentSeq) : [await this.store.latest(uploadId)].filter((e): e is StatusEvent => !!e);
    for (const event of stored) send(event);
    replaying = false;
    for (const event of pending) send(event);
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
  }
}
