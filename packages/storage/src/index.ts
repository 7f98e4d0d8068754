export * from './object-storage.js';
export * from './config.js';
