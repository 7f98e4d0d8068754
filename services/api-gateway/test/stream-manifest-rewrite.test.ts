import { describe, expect, it } from 'vitest';
import { ManifestLayoutError, rewriteManifest } from '../src/use-cases/stream-manifest.js';

const mpd = (names: string[]) =>
  `<?xml version="1.0"?><MPD><Period>${names.map((name, index) => `<Representation id="${index}"><BaseURL>${name}</BaseURL><SegmentBase indexRange="10-20"><Initialization range="0-9" /></SegmentBase></Representation>`).join('')}</Period></MPD>`;
const presign = async (key: string) => `https://s3.example/bucket/${key}?X-Amz-Credential=a%2Fb&X-Amz-Signature=abc`;

describe('rewriteManifest', () => {
  it("resolves each BaseURL in the manifest's folder and escapes the URL for XML, leaving the rest alone", async () => {
    const out = await rewriteManifest({ mpd: mpd(['video-240p.webm', 'audio.webm']), key: 'listings/x/dash/manifest.mpd', urlFor: presign });
    expect(out).toBe(
      mpd([
        'https://s3.example/bucket/listings/x/dash/video-240p.webm?X-Amz-Credential=a%2Fb&amp;X-Amz-Signature=abc',
        'https://s3.example/bucket/listings/x/dash/audio.webm?X-Amz-Credential=a%2Fb&amp;X-Amz-Signature=abc',
      ]),
    );
  });

  it('asks for each file once, however many times the MPD names it', async () => {
    const asked: string[] = [];
    await rewriteManifest({ mpd: mpd(['a.webm', 'a.webm']), key: 'k/manifest.mpd', urlFor: async (key) => (asked.push(key), key) });
    expect(asked).toEqual(['k/a.webm']);
  });

  it('refuses a BaseURL that is not a file name beside the manifest (a path, a URL, a climb out), naming it', async () => {
    for (const name of ['../other/video.webm', 'https://elsewhere.example/v.webm', 'sub/video.webm', '']) {
      const attempt = rewriteManifest({ mpd: mpd([name]), key: 'listings/x/dash/manifest.mpd', urlFor: presign });
      await expect(attempt).rejects.toBeInstanceOf(ManifestLayoutError);
      await expect(attempt).rejects.toThrow(`names "${name}"`);
    }
  });
});
