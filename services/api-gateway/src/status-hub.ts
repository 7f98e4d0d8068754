import { Gauge } from 'prom-client';
import type { StatusStore } from '@reelboard/bus';
import type { StatusEvent } from '@reelboard/contracts';

type Listener = (event: StatusEvent) => void;
/** Called when the status subscription came back after a reconnect: events may have been missed. */
type Resume = () => void;

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
