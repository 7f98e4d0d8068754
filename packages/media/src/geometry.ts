/** A frame size in pixels. */
export interface FrameSize {
  width: number;
  height: number;
}

/**
 * Scales a display size so its short side is at most `maxShortSide` ("720p" means 720 on the short
 * side, so a portrait phone video keeps its 1280 height). Keeps aspect, never upscales, and rounds
 * both sides to even numbers because 4:2:0 chroma needs them.
 */
export function fitShortSide(source: FrameSize, maxShortSide: number): FrameSize {
  const shortSide = Math.min(source.width, source.height);
  const scale = shortSide > maxShortSide ? maxShortSide / shortSide : 1;
  return {
    width: evenFloor(source.width * scale),
    height: evenFloor(source.height * scale),
  };
}

/** Scales so the width is at most `maxWidth`, keeping aspect, never upscaling, even sides. */
export function fitWidth(source: FrameSize, maxWidth: number): FrameSize {
  const scale = source.width > maxWidth ? maxWidth / source.width : 1;
  return { width: evenFloor(source.width * scale), height: evenFloor(source.height * scale) };
}

function evenFloor(value: number): number {
  // Round first so 359.9999 from float math does not become 358.
  return Math.max(2, Math.floor(Math.round(value * 1000) / 1000 / 2) * 2);
}
