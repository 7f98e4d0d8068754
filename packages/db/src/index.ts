export * from './knex.js';
export * from './listings.js';
export * from './payments.js';
export type { Knex } from 'knex';
