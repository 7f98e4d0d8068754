export * from './knex.js';
export * from './listings.js';
export type { Knex } from 'knex';
