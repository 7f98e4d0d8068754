import { commonSchema, databaseEnvSchema, env, internalPort, loadConfig, type z } from '@reelboard/config';

export const profileWriterSchema = commonSchema.extend(databaseEnvSchema.shape).extend({
  INTERNAL_PORT: internalPort(9085),
  WRITE_CONCURRENCY: env.positiveInt(4).describe('Listings this replica saves at once.'),
  MIGRATE_ON_START: env.boolean(true).describe("Bring the schema up to date at start (knex's lock makes it safe with replicas)."),
});

export type ProfileWriterConfig = z.infer<typeof profileWriterSchema>;
export const loadProfileWriterConfig = (source: NodeJS.ProcessEnv = process.env) => loadConfig(profileWriterSchema, source);
