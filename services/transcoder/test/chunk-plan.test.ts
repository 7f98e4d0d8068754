import { describe, expect, it } from 'vitest';
import { type PlannedChunk, planChunks } from '../src/chunk-plan.js';
import { partKey, partWeights } from '../src/chunk-progress.js';

const base = { fps: 30, keyframeSeconds: [] as number[], chunkSeconds: 2, thresholdSeconds: 3 };
const frameCount = (chunks: PlannedChunk[], total: number) => chunks.reduce((sum, c) => sum + (c.frames ?? total - c.startFrame), 0);

describe('planChunks', () => {
  it('encodes a source up to the threshold in one piece', () => {
    expect(planChunks({ ...base, durationSeconds: 3 })).toEqual({ kind: 'single' });
    expect(planChunks({ ...base, durationSeconds: 90, thresholdSeconds: 90, chunkSeconds: 20 })).toEqual({ kind: 'single' });
    // Longer than the threshold but not worth two chunks.
    expect(planChunks({ ...base, durationSeconds: 2.9, thresholdSeconds: 0 })).toEqual({ kind: 'single' });
  });

  it('cuts a long source on the plain frame grid when it has no keyframes to follow', () => {
    const plan = planChunks({ ...base, durationSeconds: 8 });
    expect(plan).toEqual({
      kind: 'chunked',
      fps: 30,
      totalFrames: 240,
      chunks: [
        { index: 0, startFrame: 0, frames: 60 },
        { index: 1, startFrame: 60, frames: 60 },
        { index: 2, startFrame: 120, frames: 60 },
        { index: 3, startFrame: 180 },
      ],
    });
  });

  it('moves each boundary to the nearest source keyframe within a quarter of a chunk', () => {
    // Keyframes every 1.5 s: 2 -> 1.5, 4 -> 4.5 (0.5 away, the limit), 6 -> 6.
    const plan = planChunks({ ...base, durationSeconds: 8, keyframeSeconds: [0, 1.5, 3, 4.5, 6, 7.5] });
    expect(plan.kind === 'chunked' && plan.chunks.map((c) => c.startFrame)).toEqual([0, 45, 135, 180]);
    // A keyframe too far from the grid point is ignored: the grid point (a whole frame) is used.
    const far = planChunks({ ...base, durationSeconds: 8, keyframeSeconds: [0, 5] });
    expect(far.kind === 'chunked' && far.chunks.map((c) => c.startFrame)).toEqual([0, 60, 120, 180]);
  });

  it('puts boundaries on whole frames of the output rate and covers every frame once', () => {
    const plan = planChunks({ ...base, fps: 29.97, durationSeconds: 61.3, chunkSeconds: 7, keyframeSeconds: [0, 6.9069, 14.014, 21.1211] });
    if (plan.kind !== 'chunked') throw new Error('expected chunks');
    for (const chunk of plan.chunks) expect(Number.isInteger(chunk.startFrame)).toBe(true);
    expect(plan.chunks[1]?.startFrame).toBe(Math.round(6.9069 * 29.97));
    expect(frameCount(plan.chunks, plan.totalFrames)).toBe(plan.totalFrames);
    expect(plan.chunks.every((c, i) => i === 0 || c.startFrame > (plan.chunks[i - 1]?.startFrame ?? 0))).toBe(true);
  });

  it('merges a last piece shorter than half a chunk into the one before', () => {
    const plan = planChunks({ ...base, durationSeconds: 8.5 });
    if (plan.kind !== 'chunked') throw new Error('expected chunks');
    expect(plan.chunks.map((c) => c.startFrame)).toEqual([0, 60, 120, 180]);
    expect(plan.chunks.at(-1)?.frames).toBeUndefined();
  });

  it('cuts the end of a long video finer, so the last round of chunks is short', () => {
    // 600 s in 10 s chunks, keyframes every 2 s: whole chunks, then halves over the last 40 s of
    // source, quarters over the last 20 s (each boundary on a keyframe).
    const plan = planChunks({
      ...base,
      durationSeconds: 600,
      chunkSeconds: 10,
      thresholdSeconds: 10,
      keyframeSeconds: Array.from({ length: 300 }, (_, i) => 2 * i),
    });
    if (plan.kind !== 'chunked') throw new Error('expected chunks');
    const seconds = plan.chunks.map((c) => (c.frames ?? plan.totalFrames - c.startFrame) / 30);
    expect(seconds.slice(0, 56)).toEqual(Array.from({ length: 56 }, () => 10));
    const tail = seconds.slice(56);
    expect(tail.reduce((a, b) => a + b, 0)).toBe(40);
    expect(Math.max(...tail)).toBeLessThanOrEqual(6);
    // The last 20 s: quarter pieces (2.5 s on the grid, 2 to 4 s once on keyframes 2 s apart).
    const lastTwenty = seconds.slice(plan.chunks.findIndex((c) => c.startFrame >= 580 * 30));
    expect(lastTwenty.reduce((a, b) => a + b, 0)).toBe(20);
    expect(lastTwenty.length).toBeGreaterThanOrEqual(6);
    expect(Math.max(...lastTwenty)).toBeLessThanOrEqual(4);
    expect(Math.min(...tail)).toBeGreaterThanOrEqual(2);
    expect(plan.chunks.every((c) => c.startFrame % 60 === 0)).toBe(true);
    expect(frameCount(plan.chunks, plan.totalFrames)).toBe(plan.totalFrames);
    // Fewer than 12 chunks' worth: equal chunks, nothing tapered.
    const short = planChunks({ ...base, durationSeconds: 110, chunkSeconds: 10, thresholdSeconds: 10 });
    expect(short.kind === 'chunked' && short.chunks.map((c) => c.frames ?? 'end')).toEqual([...Array.from({ length: 10 }, () => 300), 'end']);
  });

  it('refuses a nonsense rate or chunk length', () => {
    expect(() => planChunks({ ...base, durationSeconds: 8, fps: 0 })).toThrow(RangeError);
    expect(() => planChunks({ ...base, durationSeconds: 8, chunkSeconds: 0 })).toThrow(RangeError);
  });
});

describe('progress weights', () => {
  it('weighs video chunks by their frames and the audio track as a tenth of an average chunk', () => {
    expect(partWeights({ chunks: 3, totalFrames: 900, starts: [0, 300, 600] }, true)).toEqual({ 'video-0': 1, 'video-1': 1, 'video-2': 1, audio: 0.1 });
    // A tapered plan: the short last pieces weigh less.
    expect(partWeights({ chunks: 3, totalFrames: 600, starts: [0, 300, 450] }, false)).toEqual({ 'video-0': 1.5, 'video-1': 0.75, 'video-2': 0.75 });
    // A job planned before chunks carried their starts: equal weights.
    expect(partWeights({ chunks: 2, totalFrames: 600 }, false)).toEqual({ 'video-0': 1, 'video-1': 1 });
    expect(partKey({ kind: 'video', index: 4, startFrame: 0 })).toBe('video-4');
    expect(partKey({ kind: 'audio' })).toBe('audio');
  });

  it('a ladder: the lowest rung per chunk, and one part per chunk for every rung above it, weighed by their pixels', () => {
    const rung = (name: number, width: number, height: number) => ({ name, width, height, bitrateKbps: 1 });
    const ladder = [rung(240, 426, 240), rung(360, 640, 360), rung(480, 852, 480)];
    const top = 852 * 480;
    expect(partWeights({ chunks: 2, totalFrames: 600, starts: [0, 300], ladder }, true)).toEqual({
      'video-240p-0': (426 * 240) / top,
      'video-360-480p-0': (640 * 360 + top) / top,
      'video-240p-1': (426 * 240) / top,
      'video-360-480p-1': (640 * 360 + top) / top,
      audio: 0.1,
    });
    expect(partKey({ kind: 'video', index: 1, startFrame: 300, rungs: [360, 480] })).toBe('video-360-480p-1');
    expect(partKey({ kind: 'video', index: 1, startFrame: 300, rung: 240 })).toBe('video-240p-1');
  });
});
