import { runMediaStage } from '@reelboard/runtime/media-stage';
import { loadPreviewConfig } from './config.js';
import { handleVideoTranscoded } from './handle-video-transcoded.js';

await runMediaStage({
  name: 'preview-extractor',
  channel: 'video.transcoded',
  loadConfig: () => loadPreviewConfig(),
  concurrency: (config) => config.PREVIEW_CONCURRENCY,
  handler: (media, config) => (upload, context) => handleVideoTranscoded(media, config, upload, context),
});
