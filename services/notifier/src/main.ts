import { hostname } from 'node:os';
import { DelayedError, Worker, type Job } from 'bullmq';
import { notificationQueue, notificationQueues, sweepFinishedJobs, sweepIntervalMs, unwatchQueues, watchQueues, type PushJob, type WebhookJob } from '@reelboard/bus';
import { connectDatabase } from '@reelboard/db';
import { errorFields, type Logger } from '@reelboard/logger';
import { connectPipeline } from '@reelboard/lifecycle';
import { runService } from '@reelboard/runtime';
import { loadNotifierConfig } from './config.js';
import { deliverWebhook } from './deliver-webhook.js';
import { handleStatusEvent } from './handle-status-event.js';
import { readStatusLog } from './read-status-log.js';
import { pushBackoff, sendPush } from './send-push.js';

await runService({
  name: 'notifier',
  loadConfig: () => loadNotifierConfig(),
  start: async (config, log) => {
    const db = connectDatabase(config.DATABASE_URL, { min: 0, max: config.DATABASE_POOL_MAX });
    const { redis, bus, uploads } = await connectPipeline(config, 'notifier', log);
    const connection = { connection: redis, prefix: config.REDIS_PREFIX };
    const pushQueue = notificationQueue(redis, config.REDIS_PREFIX, notificationQueues.push, { attempts: config.PUSH_ATTEMPTS, backoffMs: config.PUSH_FIRST_RETRY_MS, custom: true }, bus.retention);
    const webhookQueue = notificationQueue(redis, config.REDIS_PREFIX, notificationQueues.webhook, undefined, bus.retention);
    // Their depths on /metrics like the work channels'.
    const notifierQueues = { watchedQueues: () => [pushQueue, webhookQueue] };
    watchQueues(notifierQueues);
    const vapid = config.VAPID_PUBLIC_KEY && config.VAPID_PRIVATE_KEY ? { subject: config.VAPID_SUBJECT, publicKey: config.VAPID_PUBLIC_KEY, privateKey: config.VAPID_PRIVATE_KEY } : undefined;
    if (!vapid) log.warn('no VAPID keys configured: Web Push is off, webhooks still run');

    const workers: Worker[] = [];
    if (vapid) {
      const pushWorker = new Worker<PushJob>(notificationQueues.push, async (job) => sendPush(db, job.data, { vapid, ttlSeconds: config.PUSH_TTL_SECONDS }, log), {
        ...connection,
        concurrency: config.SEND_CONCURRENCY,
        settings: { backoffStrategy: pushBackoff(config.PUSH_FIRST_RETRY_MS) },
      });
      workers.push(pushWorker);
    }
    const webhookWorker = new Worker<WebhookJob>(
      notificationQueues.webhook,
      async (job: Job<WebhookJob>, token?: string) => {
        const step = await deliverWebhook(db, job.data, { retryForMs: config.WEBHOOK_RETRY_FOR_SECONDS * 1000, firstRetryMs: config.WEBHOOK_FIRST_RETRY_MS, timeoutMs: config.WEBHOOK_TIMEOUT_MS }, log);
        if (step.next === 'done') return step.outcome;
        // The delivery keeps its own retry count and schedule; the job waits without using a BullMQ attempt.
        await job.updateData(step.job);
        await job.moveToDelayed(Date.now() + step.delayMs, token);
        throw new DelayedError();
      },
      { ...connection, concurrency: config.SEND_CONCURRENCY },
    );
    workers.push(webhookWorker);
    // BullMQ drops old finished jobs only when another one finishes: sweep quiet queues too.
    const sweeper = setInterval(() => {
      sweepFinishedJobs([pushQueue, webhookQueue], bus.retention).catch((error: unknown) => log.warn('sweeping finished notification jobs failed', errorFields(error)));
    }, sweepIntervalMs(bus.retention));
    sweeper.unref();
    for (const worker of workers) worker.on('error', (error) => log.error('notification worker error', { queue: worker.name, ...errorFields(error) }));
    logFailedJobs(workers, log);

    // The blocking read holds its connection: one of its own.
    const logConnection = redis.duplicate({ connectionName: `${config.REDIS_PREFIX}-notifier-log` });
    const reader = await readStatusLog({
      redis: logConnection,
      key: bus.status.logKey,
      group: 'notifier',
      consumer: `${hostname()}-${process.pid}`,
      log,
      handle: async (event) => void (await handleStatusEvent(event, { db, uploads, pushQueue, webhookQueue, log, publicUrl: config.PUBLIC_URL, pushEnabled: vapid !== undefined })),
    });

    return {
      readiness: { redis: async () => void (await redis.ping()), postgres: async () => void (await db.raw('select 1')) },
      closers: [
        async () => clearInterval(sweeper),
        () => reader.stop(),
        async () => void (await logConnection.quit()),
        async () => void (await Promise.all(workers.map((worker) => worker.close()))),
        async () => {
          unwatchQueues(notifierQueues);
          await Promise.all([pushQueue.close(), webhookQueue.close()]);
        },
        () => bus.close(config.SHUTDOWN_GRACE_MS),
        async () => void (await redis.quit()),
        () => db.destroy(),
      ],
    };
  },
});

/** Logs a notification job that failed (to be retried, or for good) with its reason. */
function logFailedJobs(workers: Worker[], log: Logger): void {
  for (const worker of workers) {
    worker.on('failed', (job, error) => {
      if (error instanceof DelayedError || error.name === 'DelayedError') return;
      log.warn('notification job failed', { queue: worker.name, jobId: job?.id, attemptsMade: job?.attemptsMade, ...errorFields(error) });
    });
  }
}
