import { describe, expect, it } from 'vitest';
import { buildDashManifestCommand, buildProgressiveRemuxCommand, buildRungJoinCommand, planLadder, rungFileName, VP9_LADDER } from '../src/index.js';

// The ladder's plan and its packaging commands, pure: no ffmpeg.

const names = (rungs: ReturnType<typeof planLadder>) => rungs.map((rung) => rung.name);

describe('planLadder', () => {
  it('a 4K source: 2160p at 4K bitrate, then 1080p down to 240p, lowest first', () => {
    const rungs = planLadder({ width: 3840, height: 2160 }, 2160);
    expect(names(rungs)).toEqual([240, 360, 480, 720, 1080, 2160]);
    expect(rungs.at(-1)).toMatchObject({ width: 3840, height: 2160 });
    expect(rungs.at(-1)?.bitrateKbps).toBeGreaterThanOrEqual(5000);
    expect(rungs[0]).toMatchObject({ width: 426, height: 240 });
    // Bitrates climb with the rungs.
    const kbps = rungs.map((rung) => rung.bitrateKbps);
    expect([...kbps].sort((a, b) => a - b)).toEqual(kbps);
  });

  it('never upscales: a 1080p source tops at 1080p, a 480p one at 480p, a tiny one has its own size only', () => {
    expect(names(planLadder({ width: 1920, height: 1080 }, 2160))).toEqual([240, 360, 480, 720, 1080]);
    expect(names(planLadder({ width: 854, height: 480 }, 2160))).toEqual([240, 360, 480]);
    expect(planLadder({ width: 320, height: 180 }, 2160)).toEqual([expect.objectContaining({ name: 180, width: 320, height: 180 })]);
  });

  it('portrait and rotated sources are measured by their short side and keep their orientation', () => {
    const rungs = planLadder({ width: 1080, height: 1920 }, 2160);
    expect(names(rungs)).toEqual([240, 360, 480, 720, 1080]);
    expect(rungs[0]).toMatchObject({ width: 240, height: 426 });
    expect(rungs.at(-1)).toMatchObject({ width: 1080, height: 1920 });
  });

  it('a source between rungs gets a top rung of its own size with that size’s bitrate; a few lines over a rung is that rung', () => {
    const rungs = planLadder({ width: 2560, height: 1440 }, 2160);
    expect(names(rungs)).toEqual([240, 360, 480, 720, 1080, 1440]);
    expect(rungs.at(-1)?.bitrateKbps).toBe(3500);
    expect(names(planLadder({ width: 1920, height: 1088 }, 2160))).toEqual([240, 360, 480, 720, 1088]);
  });

  it('the top rung is the single encode at its size, whatever the table says of that size: good mode, cpu-used 5, the single bitrate', () => {
    expect(planLadder({ width: 1280, height: 720 }, 2160).map((rung) => [rung.name, rung.bitrateKbps, rung.speed.deadline, rung.speed.cpuUsed])).toEqual([
      [240, 402, 'realtime', 6],
      [360, 805, 'realtime', 6],
      [480, 1150, 'realtime', 6],
      [720, 1800, 'good', 5],
    ]);
  });

  it('the output cap limits the top rung', () => {
    expect(names(planLadder({ width: 3840, height: 2160 }, 720))).toEqual([240, 360, 480, 720]);
  });

  it("the rungs below 1080p are encoded in realtime mode at 15 % more bits; 1080p and 2160p keep the single encode's settings", () => {
    expect(VP9_LADDER.map((step) => [step.shortSide, step.kbps, step.speed.deadline, step.speed.cpuUsed])).toEqual([
      [240, 402, 'realtime', 6],
      [360, 805, 'realtime', 6],
      [480, 1150, 'realtime', 6],
      [720, 2070, 'realtime', 6],
      [1080, 2500, 'good', 5],
      [2160, 5000, 'good', 5],
    ]);
  });
});

describe('packaging commands', () => {
  it('a rung is joined by stream copy, video only, as DASH WebM (a cluster and a cue on every keyframe)', () => {
    const command = buildRungJoinCommand({ list: '/s/u/chunks/240p.ffconcat', output: '/s/u/dash/video-240p.webm', durationSeconds: 4 });
    expect(command.outputOptions.join(' ')).toContain('-c copy');
    expect(command.outputOptions.join(' ')).toContain('-f webm -dash 1');
    expect(command.outputOptions).not.toContain('-an');
    expect(command.outputOptions).not.toContain('libvpx-vp9');
  });

  it('the manifest puts every rung in one adaptation set and the audio in another', () => {
    const command = buildDashManifestCommand({ videos: ['/d/video-240p.webm', '/d/video-360p.webm'], audio: '/d/audio.webm', output: '/d/manifest.mpd' });
    expect(command.input).toBe('/d/video-240p.webm');
    expect(command.extraInputs?.map((input) => input.input)).toEqual(['/d/video-360p.webm', '/d/audio.webm']);
    expect(command.outputOptions.join(' ')).toContain('-adaptation_sets id=0,streams=0,1 id=1,streams=2');
    expect(command.inputOptions).toContain('webm_dash_manifest');
    expect(() => buildDashManifestCommand({ videos: [], output: '/d/manifest.mpd' })).toThrow(/at least one video rung/);
  });

  it('the progressive fallback is a remux (stream copy) of a rung and the audio, cues at the front', () => {
    const command = buildProgressiveRemuxCommand({ video: '/d/video-1080p.webm', audio: '/d/audio.webm', output: '/s/video.webm', durationSeconds: 60 });
    const options = command.outputOptions.join(' ');
    expect(options).toContain('-map 0:v:0 -map 1:a:0 -c copy');
    expect(options).toContain('-cues_to_front 1');
  });

  it('names a rung file by its rung', () => {
    expect(rungFileName({ name: 720 })).toBe('video-720p.webm');
  });
});
