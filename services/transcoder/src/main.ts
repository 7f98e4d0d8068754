import { connectBus } from '@reelboard/bus';
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
    const { redis, bus } = connectBus(config, 'transcoder', log);
    bus.consume('payment.confirmed', (upload, context) => handlePaymentConfirmed(media, config, upload, context), {
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
