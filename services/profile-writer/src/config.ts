import { commonSchema, env, loadConfig, z } from '@reelboard/config';

export const profileWriterSchema = commonSchema.extend({
  PORT: env.port(8085),
  DATABASE_URL: env.url(['postgres', 'postgresql']),
  /** Postgres connections this replica may open. */
  DATABASE_POOL_MAX: env.positiveInt(10),
  /** Listings this replica saves at once. */
  WRITE_CONCURRENCY: env.positiveInt(4),
  /** Bring the schema up to date at start (knex's lock makes it safe with replicas). */
  MIGRATE_ON_START: env.boolean(true),
});

export type ProfileWriterConfig = z.infer<typeof profileWriterSchema>;
export const loadProfileWriterConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(profileWriterSchema, source);
