import { describe, expect, it } from 'vitest';
import type { FlowStep } from '@reelboard/bus';
import { type Channel, queues } from '@reelboard/contracts';
import type { MediaInfo, VideoStreamInfo } from '@reelboard/media';
import { fakeContext, paymentConfirmed } from '@reelboard/testkit/stage';
import { chunkWork, sideBySide, startLadderEncode } from '../src/ladder-flow.js';

// The ladder's flow as it is handed to BullMQ, without Redis: which jobs, nested how, at which priority.

const UPLOAD = '6f1c2a4e-8d3b-4c7a-9e5f-1a2b3c4d5e6f';
const SETTINGS = { MAX_OUTPUT_HEIGHT: 2160, CHUNK_SECONDS: 10, CHUNK_THRESHOLD_SECONDS: 15, FFMPEG_TIMEOUT_SECONDS: 600, ENCODE_MIN_MEGAPIXELS_PER_SECOND: 4 };
const video: VideoStreamInfo = { codec: 'h264', width: 1280, height: 720, rotation: 0, fps: 30, pixelFormat: 'yuv420p', bitDepth: 8 };
const early = { preview: { path: `${UPLOAD}/preview.webm`, bytes: 1, durationSeconds: 2 }, poster: { path: `${UPLOAD}/poster.webp`, bytes: 1 } };

async function plan(durationSeconds: number, withAudio = true, settings: typeof SETTINGS & { FFMPEG_THREADS?: number } = SETTINGS) {
  const source: MediaInfo & { video: VideoStreamInfo } = {
    formatName: 'mov',
    durationSeconds,
    sizeBytes: 1,
    video,
    ...(withAudio ? { audio: { codec: 'aac', channels: 2, sampleRate: 48000 } } : {}),
  };
  let added: { parent: FlowStep<Channel>; children: FlowStep<Channel>[] } | undefined;
  const { context } = fakeContext();
  await startLadderEncode(settings, paymentConfirmed(UPLOAD, 'source.mp4'), [], source, early, {
    ...context,
    emitFlow: async (parent, children) => {
      added = { parent: parent as FlowStep<Channel>, children: children as FlowStep<Channel>[] };
    },
  });
  if (!added) throw new Error('no flow added');
  return added;
}

/** Every job of the tree, depth first, as `jobId@priority` (the ids the channel rows give them). */
function jobsOf(step: FlowStep<Channel>): string[] {
  const id = (queues[step.channel].jobId as (payload: unknown) => string)(step.payload).replace(`${UPLOAD}.`, '');
  return [`${id}${step.priority ? `@${step.priority}` : ''}`, ...(step.children ?? []).flatMap(jobsOf)];
}

describe('the ladder flow', () => {
  it('nests rung stores and joins from the top rung down, the lowest rung and the audio at priority 1, one job per chunk for every rung above', async () => {
    const { parent, children } = await plan(30);
    expect(parent.channel).toBe('video.assemble');
    expect(children.flatMap(jobsOf)).toEqual([
      'rendition.store.720',
      'rendition.join.720',
      'rendition.store.480',
      'rendition.join.480',
      'rendition.store.360',
      'rendition.join.360',
      // One decode per chunk for 360p, 480p and 720p: under the first upper rung's join.
      'video.chunk.360-480-720p.0@2',
      'video.chunk.360-480-720p.1@2',
      'video.chunk.360-480-720p.2@2',
      'rendition.store.240',
      'rendition.join.240',
      'video.chunk.audio@1',
      'video.chunk.240p.0@1',
      'video.chunk.240p.1@1',
      'video.chunk.240p.2@1',
    ]);
  });

  it("puts the lowest rung's chunks side by side, as many to a job as a replica has ffmpeg threads; the rungs above keep one job per chunk", async () => {
    const { children } = await plan(50, true, { ...SETTINGS, FFMPEG_THREADS: 2 });
    const ids = children.flatMap(jobsOf);
    expect(ids.filter((id) => id.startsWith('video.chunk.'))).toEqual([
      ...[0, 1, 2, 3, 4].map((index) => `video.chunk.360-480-720p.${index}@2`),
      'video.chunk.audio@1',
      'video.chunk.240p.0+1@1',
      'video.chunk.240p.2+3@1',
      'video.chunk.240p.4@1',
    ]);
    const all: FlowStep<Channel>[] = [];
    const walk = (step: FlowStep<Channel>) => {
      all.push(step);
      for (const child of step.children ?? []) walk(child);
    };
    for (const child of children) walk(child);
    const lowest = all.flatMap((step) => {
      const part = (step.payload as { part?: { kind: string; rung?: number } }).part;
      return step.channel === 'video.chunk' && part?.kind === 'video' && part.rung === 240 ? [part] : [];
    });
    // Each chunk keeps its own frames: the second of a pair rides along with its start and length.
    expect(lowest).toEqual([
      { kind: 'video', index: 0, startFrame: 0, frames: 300, rung: 240, alongside: [{ index: 1, startFrame: 300, frames: 300 }] },
      { kind: 'video', index: 2, startFrame: 600, frames: 300, rung: 240, alongside: [{ index: 3, startFrame: 900, frames: 300 }] },
      { kind: 'video', index: 4, startFrame: 1200, rung: 240 },
    ]);
    // Four threads: four chunks to a job.
    const four = (await plan(50, true, { ...SETTINGS, FFMPEG_THREADS: 4 })).children.flatMap(jobsOf);
    expect(four.filter((id) => id.startsWith('video.chunk.240p'))).toEqual(['video.chunk.240p.0+1+2+3@1', 'video.chunk.240p.4@1']);
  });

  it('pairs chunks of like decoding work, most first, so no thread of a job idles beside a long chunk', () => {
    // Chunks of 250, 100, 240, 110 frames and the last to the end (1000 - 700 = 300); keyframes at
    // 0, 240 and 590 frames (30 fps): chunk 0 and 3 start on one, chunks 1, 2 and 4 decode 10, 110
    // and 110 frames before their first (work 110, 350, 410).
    const chunks = [
      { index: 0, startFrame: 0, frames: 250 },
      { index: 1, startFrame: 250, frames: 100 },
      { index: 2, startFrame: 350, frames: 240 },
      { index: 3, startFrame: 590, frames: 110 },
      { index: 4, startFrame: 700 },
    ];
    const keyframes = [0, 8, 590 / 30];
    const work = (chunk: (typeof chunks)[number]) => chunkWork(chunk, 1000, 30, keyframes);
    expect(chunks.map(work)).toEqual([250, 110, 350, 110, 410]);
    expect(sideBySide(chunks, 2, work).map((job) => job.map((chunk) => chunk.index))).toEqual([[2, 4], [0, 1], [3]]);
    // Equal chunks on keyframes (a phone's GOPs) stay in order; one thread: a job per chunk.
    const equal = [0, 1, 2, 3, 4].map((index) => ({ index, startFrame: index * 100, frames: 100 }));
    const onKeyframes = (chunk: (typeof equal)[number]) => chunkWork(chunk, 500, 30, [0, 100 / 30, 200 / 30, 300 / 30, 400 / 30]);
    expect(sideBySide(equal, 2, onKeyframes).map((job) => job.map((chunk) => chunk.index))).toEqual([[0, 1], [2, 3], [4]]);
    expect(sideBySide(chunks, 1, work)).toHaveLength(5);
  });

  it("marks the lowest rung to skip the source's deblocking only at a third of the source's size or less", async () => {
    const ladderOf = async (height: number) => {
      const width = Math.round((height * 16) / 9 / 2) * 2;
      const source = { formatName: 'mov', durationSeconds: 30, sizeBytes: 1, video: { ...video, width, height } };
      let ladder: Array<{ name: number; skipLoopFilter?: boolean }> = [];
      await startLadderEncode(SETTINGS, paymentConfirmed(UPLOAD, 'source.mp4'), [], source, early, {
        ...fakeContext().context,
        emitFlow: async (parent) => {
          ladder = (parent.payload as { chunked: { ladder: typeof ladder } }).chunked.ladder;
        },
      });
      return ladder.filter((rung) => rung.skipLoopFilter).map((rung) => rung.name);
    };
    expect(await ladderOf(1080)).toEqual([240]);
    expect(await ladderOf(720)).toEqual([240]);
    // 240p from 480p: half the size, the deblocking is kept; a 240p source is one rung, its own size.
    expect(await ladderOf(480)).toEqual([]);
    expect(await ladderOf(240)).toEqual([]);
  });

  it('every job carries the same chunk plan and the ladder; a store names its staged files, the audio only with the lowest rung', async () => {
    const { children } = await plan(30);
    const all: FlowStep<Channel>[] = [];
    const walk = (step: FlowStep<Channel>) => {
      all.push(step);
      for (const child of step.children ?? []) walk(child);
    };
    for (const child of children) walk(child);
    const stores = all
      .filter((step) => step.channel === 'rendition.store')
      .map((step) => step.payload as { rung: { name: number }; audio?: string; manifest: string; video: string });
    expect(
      stores.map((store) => [
        store.rung.name,
        store.audio !== undefined,
        store.video.split('/').slice(1).join('/'),
        store.manifest.split('/').slice(1).join('/'),
      ]),
    ).toEqual([
      [720, false, 'dash/video-720p.webm', 'dash/manifest-720p.mpd'],
      [480, false, 'dash/video-480p.webm', 'dash/manifest-480p.mpd'],
      [360, false, 'dash/video-360p.webm', 'dash/manifest-360p.mpd'],
      [240, true, 'dash/video-240p.webm', 'dash/manifest-240p.mpd'],
    ]);
    const chunk = all.find((step) => step.channel === 'video.chunk')?.payload as { chunked: { starts: number[]; ladder: { name: number }[] } };
    expect(chunk.chunked.starts).toEqual([0, 300, 600]);
    expect(chunk.chunked.ladder.map((rung) => rung.name)).toEqual([240, 360, 480, 720]);
  });

  it('a short source is one piece per rung; a silent one has no audio job', async () => {
    const { children } = await plan(8, false);
    expect(children.flatMap(jobsOf).filter((id) => id.startsWith('video.chunk'))).toEqual(['video.chunk.360-480-720p.0@2', 'video.chunk.240p.0@1']);
  });
});
