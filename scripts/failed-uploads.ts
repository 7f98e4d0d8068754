// Uploads that failed for good, for operators:
//   pnpm failed-uploads list            the failed uploads, newest first (stage, reason, paid or not)
//   pnpm failed-uploads retry <id>...   runs each upload's failed stage again with the same input
// Reads REDIS_URL (or REDIS_SENTINELS and REDIS_SENTINEL_MASTER) and REDIS_PREFIX from the environment (beside `pnpm dev`, with none set: the stack's own, .data/dev.env).
import { connectRedis } from '@reelboard/bus';
import { loadConfig, redisEnvSchema } from '@reelboard/config';
import { createBus, listFailedUploads, retryFailedUpload, Uploads } from '@reelboard/lifecycle';
import { createLogger } from '@reelboard/logger';
import { loadDevStackEnv } from './dev-stack-env.js';

const devStackEnv = loadDevStackEnv();
if (devStackEnv) process.stderr.write(`using the development stack's settings from ${devStackEnv} (scripts/dev.sh)\n`);
const config = loadConfig(redisEnvSchema);
const [command = 'list', ...ids] = process.argv.slice(2);
const redis = connectRedis(config, 'failed-uploads-cli');
const bus = createBus(redis, config.REDIS_PREFIX, 'operator', createLogger('failed-uploads', 'warn'));
const uploads = new Uploads(redis, config.REDIS_PREFIX, bus.status);

try {
  if (command === 'list') {
    const failed = await listFailedUploads(bus, 500);
    if (failed.length === 0) process.stdout.write('no failed uploads\n');
    for (const f of failed) {
      process.stdout.write(`${f.failedAt}  ${f.uploadId}  ${f.stage.padEnd(17)} ${f.paid ? 'PAID  ' : 'unpaid'}  ${f.reason}\n`);
    }
  } else if (command === 'retry' && ids.length > 0) {
    let missing = 0;
    for (const id of ids) {
      const retried = await retryFailedUpload(bus, uploads, id);
      if (retried.length === 0) missing += 1;
      process.stdout.write(retried.length ? `${id}: retrying ${retried.map((r) => r.stage).join(', ')}\n` : `${id}: no failed stage found\n`);
    }
    process.exitCode = missing > 0 ? 1 : 0;
  } else {
    process.stderr.write('usage: pnpm failed-uploads list | pnpm failed-uploads retry <uploadId>...\n');
    process.exitCode = 2;
  }
} finally {
  await bus.close(1_000);
  await redis.quit();
}
