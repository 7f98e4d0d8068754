export * from './payloads.js';
export * from './channels.js';
export * from './status.js';
export * from './hashtags.js';
export * from './notifications.js';
export * from './staging.js';
export * from './limits.js';
