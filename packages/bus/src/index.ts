export * from './bus.js';
export * from './errors.js';
export * from './redis.js';
export * from './status-store.js';
export { register as metricsRegistry, watchQueue, unwatchQueue } from './metrics.js';
export * from './failed-uploads.js';
export * from './notification-queues.js';
