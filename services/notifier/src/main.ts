import { hostname } from 'node:os';
import { connectDatabase } from '@reelboard/db';
import { connectPipeline } from '@reelboard/lifecycle';
import { runService } from '@reelboard/runtime';
import { alertSavedSearches } from './alert-saved-searches.js';
import { loadNotifierConfig } from './config.js';
import { handleWebhookJob } from './deliver-webhook.js';
import { handleStatusEvent } from './handle-status-event.js';
import { readStatusLog } from './read-status-log.js';
import { sendPush } from './send-push.js';

await runService({
  name: 'notifier',
  loadConfig: () => loadNotifierConfig(),
  start: async (config, log) => {
    const db = connectDatabase(config.DATABASE_URL, { min: 0, max: config.DATABASE_POOL_MAX });
    const { redis, bus, uploads } = await connectPipeline(config, 'notifier', log);
    // The push jobs this replica adds retry as its settings say (the row's Retry-After rule stays).
    bus.overridePolicy('notify.push', { attempts: config.PUSH_ATTEMPTS, backoffMs: config.PUSH_FIRST_RETRY_MS });
    const vapid =
      config.VAPID_PUBLIC_KEY && config.VAPID_PRIVATE_KEY
        ? { subject: config.VAPID_SUBJECT, publicKey: config.VAPID_PUBLIC_KEY, privateKey: config.VAPID_PRIVATE_KEY }
        : undefined;
    if (vapid) {
      bus.consume('notify.push', (job) => sendPush(db, job, { vapid, ttlSeconds: config.PUSH_TTL_SECONDS }, log), { concurrency: config.SEND_CONCURRENCY });
      bus.consume('notify.saved-searches', (job) => alertSavedSearches(job, { db, bus, log, publicUrl: config.PUBLIC_URL }), { concurrency: 1 });
    } else log.warn('no VAPID keys configured: Web Push is off, webhooks still run');
    const webhookSettings = {
      retryForMs: config.WEBHOOK_RETRY_FOR_SECONDS * 1000,
      firstRetryMs: config.WEBHOOK_FIRST_RETRY_MS,
      timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    };
    // The upload's earlier events, to wait for one another replica has not turned into a delivery yet.
    const earlierEvents = async (uploadId: string, beforeSeq: number) => (await bus.status.history(uploadId)).filter((event) => event.seq < beforeSeq);
    bus.consume('notify.webhook', (job) => handleWebhookJob(db, job, webhookSettings, log, earlierEvents), { concurrency: config.SEND_CONCURRENCY });

    // The blocking read holds its connection: one of its own.
    const logConnection = redis.duplicate({ connectionName: `${config.REDIS_PREFIX}-notifier-log` });
    const reader = await readStatusLog({
      redis: logConnection,
      key: bus.status.logKey,
      group: 'notifier',
      consumer: `${hostname()}-${process.pid}`,
      log,
      handle: async (event) =>
        void (await handleStatusEvent(event, { db, uploads, bus, log, publicUrl: config.PUBLIC_URL, pushEnabled: vapid !== undefined, chains: config.CHAINS })),
    });

    return {
      readiness: { redis: async () => void (await redis.ping()), postgres: async () => void (await db.raw('select 1')) },
      closers: [
        () => reader.stop(),
        async () => void (await logConnection.quit()),
        () => bus.close(config.SHUTDOWN_GRACE_MS),
        async () => void (await redis.quit()),
        () => db.destroy(),
      ],
    };
  },
});
