export * from './bus.js';
export * from './errors.js';
export * from './redis.js';
export * from './status-store.js';
export { register as metricsRegistry, watchQueues, unwatchQueues, type QueueSource } from './metrics.js';
