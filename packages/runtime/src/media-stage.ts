import { type BusSettings, SharedSlots, type StageHandler } from '@reelboard/bus';
import type { Channel, QueueName } from '@reelboard/contracts';
import { connectPipeline, type Uploads } from '@reelboard/lifecycle';
import { createMediaAdapter, describeFfmpegProblem, type MediaAdapter, type MediaEnv, runnerOptionsFrom } from '@reelboard/media';
import { runService, type ServiceBasics } from './index.js';

/** What a stage that runs ffmpeg is: a channel it consumes and a handler built from its media adapter and config. */
export interface MediaStageOptions<C extends Channel, Config extends ServiceBasics & BusSettings & MediaEnv> {
  /** Service name (logs, metrics, Redis client name). */
  name: string;
  /** The work channel this stage consumes (it owns the queue). */
  channel: C;
  /** Reads and validates the configuration. */
  loadConfig: () => Config;
  /** Jobs one replica runs at once, across the channel and every `alsoConsume` queue without its own concurrency. */
  concurrency: (config: Config) => number;
  /** The stage's logic, given the media adapter, the configuration and the upload lifecycle. */
  handler: (media: MediaAdapter, config: Config, uploads: Uploads) => StageHandler<C>;
  /** More queues this stage consumes, sharing the stage's slots unless one says its own concurrency (the transcoder's chunks and joins; its speculative previews). */
  alsoConsume?: (media: MediaAdapter, config: Config, uploads: Uploads) => MediaStageConsumer[];
}

/** One more queue a media stage consumes, its handler, and its own concurrency when it has one. */
export type MediaStageConsumer = { [K in QueueName]: { channel: K; handler: StageHandler<K>; concurrency?: number } }[QueueName];

/**
 * How a stage that runs ffmpeg starts: one runner from the media variables, ffmpeg checked before
 * any job is taken (fail fast), the channel consumed, readiness answering for Redis and ffmpeg.
 */
export function runMediaStage<C extends Channel, Config extends ServiceBasics & BusSettings & MediaEnv>(options: MediaStageOptions<C, Config>): Promise<void> {
  return runService({
    name: options.name,
    loadConfig: options.loadConfig,
    start: async (config, log) => {
      const media = createMediaAdapter(runnerOptionsFrom(config));
      let health = await media.health();
      // ffmpeg that could not be run in time (a start on a busy machine: each probe has 10 s) is
      // asked again; one that ran (it has a version) and lacks an encoder or is outside the supported range is not.
      for (let retry = 1; !health.ok && health.version === undefined && retry <= 2; retry++) {
        log.warn('ffmpeg check failed; trying again', { error: health.error, retry });
        await new Promise((resolve) => setTimeout(resolve, 1_000 * retry));
        health = await media.health();
      }
      if (!health.ok) throw new Error(`ffmpeg is not usable (FFMPEG_PATH): ${describeFfmpegProblem(health)}`);
      const { redis, bus, uploads } = await connectPipeline(config, options.name, log);
      // One limit for the stage's queues together (BullMQ's concurrency is per queue): a replica
      // consuming four queues with concurrency 1 runs one encode, not four. A queue with its own
      // concurrency (the transcoder's speculative previews) keeps it, apart from these slots.
      const slots = new SharedSlots(options.concurrency(config));
      bus.consume(options.channel, options.handler(media, config, uploads), { concurrency: slots.limit, slots });
      for (const extra of options.alsoConsume?.(media, config, uploads) ?? []) {
        const handler = extra.handler as StageHandler<typeof extra.channel>;
        bus.consume(extra.channel, handler, extra.concurrency === undefined ? { concurrency: slots.limit, slots } : { concurrency: extra.concurrency });
      }
      return {
        readiness: {
          redis: async () => void (await redis.ping()),
          ffmpeg: async () => {
            const now = await media.health();
            if (!now.ok) throw new Error(`ffmpeg unusable: ${describeFfmpegProblem(now)}`);
          },
        },
        closers: [() => bus.close(config.SHUTDOWN_GRACE_MS), async () => void (await redis.quit())],
      };
    },
  });
}
