// What a probe says about a file: plain data that the builders, the runner's callers and the services
// all read. In a module of its own so the pure builders need not import the probe (which needs the
// runner, which needs the builders: that was an import cycle).

/** The video stream as a viewer sees it. */
export interface VideoStreamInfo {
  /** Codec name as ffprobe names it (h264, hevc, vp9, av1...). */
  codec: string;
  /** Display width: after rotation and non-square pixels. */
  width: number;
  /** Display height: after rotation and non-square pixels. */
  height: number;
  /** Rotation the player must apply, normalised to 0, 90, 180 or 270 degrees. */
  rotation: number;
  /** Average frames per second (0 when unknown). */
  fps: number;
  /** Pixel format (yuv420p, yuv420p10le...). */
  pixelFormat: string;
  /** Bits per sample: 8, 10, 12. */
  bitDepth: number;
  /** Transfer characteristic (smpte2084 = HDR10/PQ, arib-std-b67 = HLG), when tagged. */
  colorTransfer?: string;
}

/** The first audio stream. */
export interface AudioStreamInfo {
  /** Codec name as ffprobe names it (aac, opus, mp3...). */
  codec: string;
  /** Channel count. */
  channels: number;
  /** Samples per second. */
  sampleRate: number;
}

/** What probeMedia learns about a file. */
export interface MediaInfo {
  /** Container as ffprobe names it (e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"). */
  formatName: string;
  /** Duration in seconds (0 when ffprobe cannot tell). */
  durationSeconds: number;
  /** File size in bytes. */
  sizeBytes: number;
  /** First real video stream (cover art is not video); absent for audio-only files. */
  video?: VideoStreamInfo;
  /** First audio stream; absent for silent videos. */
  audio?: AudioStreamInfo;
}
