// Creates S3_BUCKET if it is missing, with the uploader's S3 variables; exits non-zero naming the
// problem otherwise. docker-compose.yml runs it once (`s3-init`) before the services start:
//   node --import tsx src/ensure-bucket.ts
import { loadConfig } from '@reelboard/config';
import { s3EnvSchema, storageFromEnv } from '@reelboard/storage';

const config = loadConfig(s3EnvSchema);
const storage = storageFromEnv(config);
try {
  await storage.ensureBucket();
  await storage.checkBucket();
  process.stdout.write(`bucket ${config.S3_BUCKET} ready at ${config.S3_ENDPOINT ?? 'AWS S3'}\n`);
} catch (error) {
  process.stderr.write(
    `could not create or reach bucket ${config.S3_BUCKET} at ${config.S3_ENDPOINT ?? 'AWS S3'}: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 1;
} finally {
  storage.close();
}
