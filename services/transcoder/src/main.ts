import { hostname } from 'node:os';
import { runMediaStage } from '@reelboard/runtime/media-stage';
import { storageFromEnv } from '@reelboard/storage';
import { loadTranscoderConfig } from './config.js';
import { handlePaymentConfirmed } from './handle-payment-confirmed.js';
import { handlePreviewSpeculative } from './handle-preview-speculative.js';
import { handleRenditionJoin } from './handle-rendition-join.js';
import { handleVideoAssemble } from './handle-video-assemble.js';
import { handleVideoChunk } from './handle-video-chunk.js';

/** Names this replica in the chunks it encodes (logs, job values). */
const replica = `${hostname()}:${process.pid}`;

await runMediaStage({
  name: 'transcoder',
  channel: 'payment.confirmed',
  loadConfig: () => loadTranscoderConfig(),
  concurrency: (config) => config.TRANSCODE_CONCURRENCY,
  handler: (media, config, uploads) => async (upload, context) => {
    await uploads.transition(upload.uploadId, 'start', { stage: 'transcoder', message: 'processing started' });
    await handlePaymentConfirmed(media, config, upload, context);
  },
  // A long video's chunks go to every replica's free slot; the join runs where the last one finished.
  alsoConsume: (media, config, uploads) => {
    const storage = storageFromEnv(config);
    return [
      { channel: 'video.chunk', handler: (job, context) => handleVideoChunk(media, config, job, context, replica) },
      { channel: 'rendition.join', handler: (job, context) => handleRenditionJoin(media, config, job, context) },
      { channel: 'video.assemble', handler: (job, context) => handleVideoAssemble(media, config, job, context) },
      // Unpaid uploads' previews on their own queue and slots: a burst of them never waits a paid job.
      {
        channel: 'preview.speculative',
        handler: (upload, context) => handlePreviewSpeculative({ media, storage, stateOf: (id) => uploads.state(id) }, config, upload, context),
        concurrency: config.SPECULATIVE_CONCURRENCY,
      },
    ];
  },
});
