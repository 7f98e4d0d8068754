import type { StatusEvent } from './status-stream.js';

/** Where the pipeline stands, for one progress bar: a percent of the whole and a sentence. */
export interface PipelineProgress {
  percent: number;
  text: string;
}

/** Each milestone's place on the bar (percent of the whole once it is reached) and what comes next. */
const MILESTONES: Record<string, { percent: number; text: string }> = {
  'upload.received': { percent: 0, text: 'Waiting for the payment…' },
  'payment.confirmed': { percent: 10, text: 'Payment confirmed. Converting the video…' },
  'video.transcoded': { percent: 70, text: 'Video converted. Cutting the preview…' },
  'preview.extracted': { percent: 80, text: 'Preview ready. Storing the files…' },
  'assets.stored': { percent: 90, text: 'Files stored. Saving the listing…' },
  'profile.saved': { percent: 100, text: 'Your listing is saved. It will appear once a moderator approves it.' },
};

/** Transcoding spans the bar from payment.confirmed to video.transcoded. */
const TRANSCODE_FROM = 10;
const TRANSCODE_SPAN = 60;

/**
 * The bar's new state after `event`, or undefined when the event does not move it (a payment
 * note, a failure: those are shown elsewhere). Never moves backwards.
 */
export function pipelineProgress(event: StatusEvent, current: number): PipelineProgress | undefined {
  const milestone = MILESTONES[event.event];
  if (milestone) return { percent: Math.max(current, milestone.percent), text: milestone.text };
  if (event.event === 'progress' && event.stage === 'transcoder' && typeof event.progress === 'number') {
    const percent = Math.round(event.progress);
    return { percent: Math.max(current, TRANSCODE_FROM + (TRANSCODE_SPAN * percent) / 100), text: `Converting the video… ${percent}%` };
  }
  return undefined;
}
