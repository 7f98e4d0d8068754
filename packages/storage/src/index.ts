export * from './config.js';
export * from './errors.js';
export * from './integrity.js';
export * from './object-storage.js';
