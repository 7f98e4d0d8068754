import { connectPipeline } from '@reelboard/lifecycle';
import { createMediaAdapter } from '@reelboard/media';
import { runService } from '@reelboard/runtime';
import { loadPreviewConfig } from './config.js';
import { handleVideoTranscoded } from './handle-video-transcoded.js';

await runService({
  name: 'preview-extractor',
  loadConfig: () => loadPreviewConfig(),
  start: async (config, log) => {
    const media = createMediaAdapter({ niceness: config.FFMPEG_NICENESS, timeoutSeconds: config.FFMPEG_TIMEOUT_SECONDS });
    const health = await media.health();
    if (!health.ok) throw new Error(`ffmpeg is not usable: ${JSON.stringify(health)}`);
    const { redis, bus, uploads } = connectPipeline(config, 'preview-extractor', log);
    bus.consume('video.transcoded', (upload, context) => handleVideoTranscoded(media, config, upload, context), {
      concurrency: config.PREVIEW_CONCURRENCY,
    });
    return {
      readiness: {
        redis: async () => void (await redis.ping()),
        ffmpeg: async () => {
          if (!(await media.health()).ok) throw new Error('ffmpeg unusable');
        },
      },
      closers: [() => bus.close(config.SHUTDOWN_GRACE_MS), async () => void (await redis.quit())],
    };
  },
});
