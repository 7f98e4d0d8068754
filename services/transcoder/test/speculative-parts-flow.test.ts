import { describe, expect, it } from 'vitest';
import type { FlowStep } from '@reelboard/bus';
import type { Channel, VideoChunk } from '@reelboard/contracts';
import type { MediaInfo, VideoStreamInfo } from '@reelboard/media';
import { fakeContext, paymentConfirmed } from '@reelboard/testkit/stage';
import { type AdoptedRung, startLadderEncode } from '../src/ladder-flow.js';

// The ladder's flow when the speculative encode of the same plan was cut short by the payment:
// which jobs are told where its finished parts are (the lowest rung's chunks and the audio only).

const UPLOAD = '6f1c2a4e-8d3b-4c7a-9e5f-1a2b3c4d5e6f';
const SETTINGS = { MAX_OUTPUT_HEIGHT: 2160, CHUNK_SECONDS: 10, CHUNK_THRESHOLD_SECONDS: 15, FFMPEG_TIMEOUT_SECONDS: 600, ENCODE_MIN_MEGAPIXELS_PER_SECOND: 4 };
const video: VideoStreamInfo = { codec: 'h264', width: 1280, height: 720, rotation: 0, fps: 30, pixelFormat: 'yuv420p', bitDepth: 8 };
const source: MediaInfo & { video: VideoStreamInfo } = {
  formatName: 'mov',
  durationSeconds: 30,
  sizeBytes: 1,
  video,
  audio: { codec: 'aac', channels: 2, sampleRate: 48000 },
};
const early = { preview: { path: `${UPLOAD}/preview.webm`, bytes: 1, durationSeconds: 2 }, poster: { path: `${UPLOAD}/poster.webp`, bytes: 1 } };

async function chunkJobs(adopted: AdoptedRung): Promise<Array<[string, string | undefined]>> {
  let children: FlowStep<Channel>[] = [];
  const { context } = fakeContext();
  await startLadderEncode(
    SETTINGS,
    paymentConfirmed(UPLOAD, 'source.mp4'),
    [],
    source,
    early,
    {
      ...context,
      emitFlow: async (_parent, added) => {
        children = added as FlowStep<Channel>[];
      },
    },
    async () => adopted,
  );
  const jobs: Array<[string, string | undefined]> = [];
  const walk = (step: FlowStep<Channel>) => {
    if (step.channel === 'video.chunk') {
      const { part } = step.payload as VideoChunk;
      jobs.push([part.kind === 'audio' ? 'audio' : `${part.rung ?? part.rungs?.join('-')}p.${part.index}`, part.takeFrom]);
    }
    for (const child of step.children ?? []) walk(child);
  };
  for (const child of children) walk(child);
  return jobs;
}

describe('the ladder flow after a speculative encode cut short', () => {
  it("points the lowest rung's chunks and the audio at the speculative parts, never a higher rung's", async () => {
    const jobs = await chunkJobs({
      reused: false,
      reason: 'none',
      partial: { chunks: ['s/c0.webm', 's/c1.webm', 's/c2.webm'], audio: 's/audio.webm' },
    });
    expect(jobs.filter(([, takeFrom]) => takeFrom !== undefined)).toEqual([
      ['audio', 's/audio.webm'],
      ['240p.0', 's/c0.webm'],
      ['240p.1', 's/c1.webm'],
      ['240p.2', 's/c2.webm'],
    ]);
    expect(jobs.filter(([id]) => !id.startsWith('240p') && id !== 'audio').every(([, takeFrom]) => takeFrom === undefined)).toBe(true);
  });

  it('no speculative folder for this plan: no job is told to take anything', async () => {
    const jobs = await chunkJobs({ reused: false, reason: 'plan-changed' });
    // 3 chunks of 240p, 3 of 360p-720p together (one decode each), the audio.
    expect(jobs.length).toBe(7);
    expect(jobs.every(([, takeFrom]) => takeFrom === undefined)).toBe(true);
  });
});
