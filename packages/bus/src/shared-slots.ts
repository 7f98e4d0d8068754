import { Semaphore } from 'async-mutex';
import { type Job, type Processor, Worker, type WorkerOptions } from 'bullmq';

/**
 * Job slots shared by several workers of one replica: BullMQ's `concurrency` is per worker (per
 * queue), so a stage consuming four queues with concurrency 1 would run four jobs at once. Workers
 * given the same SharedSlots never run more than `limit` jobs together.
 */
export class SharedSlots {
  private readonly semaphore: Semaphore;
  private taken = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`shared slots need a whole limit of at least 1 (got ${limit})`);
    this.semaphore = new Semaphore(limit);
  }

  /** Waits for a free slot; the returned function gives it back (once). */
  async take(): Promise<() => void> {
    const [, release] = await this.semaphore.acquire();
    this.taken += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.taken -= 1;
      release();
    };
  }

  /** Slots held now (jobs running, or being fetched, across the workers). */
  inUse(): number {
    return this.taken;
  }
}

/**
 * A worker that takes a shared slot before it moves a job to active, not after: a job waiting for
 * a slot stays in its queue (another replica may take it; KEDA sees it waiting), instead of
 * sitting active, locked, on a replica that cannot run it yet. The slot is held until the job has
 * left active (completed, failed, handed back).
 */
export class SharedSlotWorker<Data = unknown, Result = unknown> extends Worker<Data, Result> {
  private readonly held = new Map<string, () => void>();
  private slots: SharedSlots | undefined;

  constructor(name: string, processor: Processor<Data, Result>, options: WorkerOptions, slots: SharedSlots) {
    // Not autorun: the main loop must not fetch before `slots` is set below.
    super(name, processor, { ...options, autorun: false });
    this.slots = slots;
    if (options.autorun !== false) this.run().catch((error: unknown) => this.emit('error', error instanceof Error ? error : new Error(String(error))));
  }

  protected override async moveToActive(token: string, name?: string): Promise<Job<Data, Result>> {
    const release = await (this.slots as SharedSlots).take();
    if (this.closing) {
      release();
      return undefined as unknown as Job<Data, Result>;
    }
    try {
      const job = await super.moveToActive(token, name);
      if (job) this.held.set(token, release);
      else release();
      return job;
    } catch (error) {
      release();
      throw error;
    }
  }

  override async processJob(job: Job<Data, Result>, token: string): ReturnType<Worker<Data, Result>['processJob']> {
    try {
      // Never fetch the next job in the same call as finishing this one: that would take it
      // without a slot. The main loop fetches it through moveToActive.
      return await super.processJob(job, token, () => false);
    } finally {
      this.held.get(token)?.();
      this.held.delete(token);
    }
  }
}
