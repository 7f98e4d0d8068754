export * from './knex.js';
export * from './listings.js';
export * from './payments.js';
export * from './hashtags.js';
export * from './read.js';
export * from './moderation.js';
export * from './notifications.js';
export type { Knex } from 'knex';
