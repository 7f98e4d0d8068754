import { runMediaStage } from '@reelboard/runtime/media-stage';
import { loadTranscoderConfig } from './config.js';
import { handlePaymentConfirmed } from './handle-payment-confirmed.js';

await runMediaStage({
  name: 'transcoder',
  channel: 'payment.confirmed',
  loadConfig: () => loadTranscoderConfig(),
  concurrency: (config) => config.TRANSCODE_CONCURRENCY,
  handler: (media, config, uploads) => async (upload, context) => {
    await uploads.transition(upload.uploadId, 'start', { stage: 'transcoder', message: 'processing started' });
    await handlePaymentConfirmed(media, config, upload, context);
  },
});
