import { connectPipeline } from '@reelboard/lifecycle';
import { createMediaAdapter } from '@reelboard/media';
import { runService } from '@reelboard/runtime';
import { loadTranscoderConfig } from './config.js';
import { handlePaymentConfirmed } from './handle-payment-confirmed.js';

await runService({
  name: 'transcoder',
  loadConfig: () => loadTranscoderConfig(),
  start: async (config, log) => {
    const media = createMediaAdapter({ niceness: config.FFMPEG_NICENESS, timeoutSeconds: config.FFMPEG_TIMEOUT_SECONDS });
    const health = await media.health();
    if (!health.ok) throw new Error(`ffmpeg is not usable: ${JSON.stringify(health)}`);
    const { redis, bus, uploads } = connectPipeline(config, 'transcoder', log);
    bus.consume(
      'payment.confirmed',
      async (upload, context) => {
        await uploads.transition(upload.uploadId, 'start', { stage: 'transcoder', message: 'processing started' });
        await handlePaymentConfirmed(media, config, upload, context);
      },
      {
      concurrency: config.TRANSCODE_CONCURRENCY,
    });
    return {
      readiness: {
        redis: async () => void (await redis.ping()),
        ffmpeg: async () => {
          const result = await media.health();
          if (!result.ok) throw new Error('ffmpeg unusable');
        },
      },
      closers: [() => bus.close(config.SHUTDOWN_GRACE_MS), async () => void (await redis.quit())],
    };
  },
});
