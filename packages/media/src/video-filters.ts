import type { FrameSize } from './geometry.js';
import type { VideoStreamInfo } from './types.js';

// PQ (HDR10) and HLG: shown without tonemapping they look grey and washed out once made 8-bit.
const HDR_TRANSFERS = new Set(['smpte2084', 'arib-std-b67']);

/** True when the stream is tagged HDR and needs tonemapping to become 8-bit SDR. */
export function isHdr(video: VideoStreamInfo): boolean {
  return video.colorTransfer !== undefined && HDR_TRANSFERS.has(video.colorTransfer);
}

/**
 * The -vf chain for an output size: scale (after ffmpeg's own autorotation, which runs first),
 * square pixels, HDR to SDR when needed, then 8-bit 4:2:0.
 */
export function videoFilterChain(video: VideoStreamInfo, size: FrameSize): string {
  const filters = [`scale=${size.width}:${size.height}`, 'setsar=1'];
  if (isHdr(video)) {
    // Scale before tonemapping: the float conversion is the expensive part, do it on fewer pixels.
    filters.push('zscale=t=linear:npl=100', 'format=gbrpf32le', 'zscale=p=bt709', 'tonemap=tonemap=hable:desat=0', 'zscale=t=bt709:m=bt709:r=tv');
  }
  filters.push('format=yuv420p');
  return filters.join(',');
}

/** Output options that keep ffmpeg from copying what a public listing must not carry. */
export const STRIP_METADATA_OPTIONS: readonly string[] = [
  // Phone videos carry GPS location and device tags in container metadata; a public file should not.
  '-map_metadata',
  '-1',
  '-map_chapters',
  '-1',
  '-sn',
  '-dn',
];
