import { runMediaStage } from '@reelboard/runtime/media-stage';
import { loadTranscoderConfig } from './config.js';
import { handlePaymentConfirmed } from './handle-payment-confirmed.js';

await runMediaStage({
  name: 'transcoder',
  channel: 'payment.confirmed',
  loadConfig: () => loadTranscoderConfig(),
  concurrency: (config) => config.TRANSCODE_CONCURRENCY,
  handler: (media, config) => (upload, context) => handlePaymentConfirmed(media, config, upload, context),
});
