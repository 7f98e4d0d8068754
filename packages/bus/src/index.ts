export * from './bus.js';
export * from './errors.js';
export { type QueueSource, register as metricsRegistry, unwatchQueues, watchQueues } from './metrics.js';
export * from './payment-settings.js';
export * from './redis.js';
export { SharedSlots, SharedSlotWorker } from './shared-slots.js';
