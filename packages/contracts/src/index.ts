export * from './channels.js';
export * from './hashtags.js';
export * from './limits.js';
export * from './notifications.js';
export * from './payloads.js';
export * from './reports.js';
export * from './staging.js';
export * from './status.js';
