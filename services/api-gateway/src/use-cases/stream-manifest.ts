import { HttpError } from '../infra/http-error.js';

/** A stored MPD that does not follow the streaming contract (a BaseURL that is not a file name beside it). */
export class ManifestLayoutError extends Error {
  override readonly name = 'ManifestLayoutError';
  constructor(
    readonly key: string,
    readonly baseUrl: string,
  ) {
    super(`manifest ${key} names "${baseUrl}"; every BaseURL must be a file name in the manifest's folder`);
  }
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const XML_UNESCAPES: Record<string, string> = Object.fromEntries(Object.entries(XML_ESCAPES).map(([char, entity]) => [entity, char]));
const escapeXml = (text: string) => text.replace(/[&<>"']/g, (char) => XML_ESCAPES[char] ?? char);
const unescapeXml = (text: string) => text.replace(/&(amp|lt|gt|quot|apos);/g, (entity) => XML_UNESCAPES[entity] ?? entity);

/** A segment file's name as the contract writes it: no folder, no scheme, nothing to climb out with. */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface RewriteManifestParameters {
  /** The stored MPD's text. */
  mpd: string;
  /** Its object key (`listings/<id>/dash/manifest.mpd`): names are resolved in its folder. */
  key: string;
  /** The URL a client fetches an object at (`ObjectStorage.urlFor`). */
  urlFor: (key: string) => Promise<string>;
}

/**
 * Rewrites every `<BaseURL>` of a stored MPD, a file name relative to the MPD's folder, to the URL
 * the client fetches that object at. A presigned URL's signature covers one key, so relative
 * names cannot be resolved by the player against a presigned MPD URL; the gateway resolves them.
 * Only BaseURL text changes: the byte ranges (SegmentBase) stay valid for the same files.
 */
export async function rewriteManifest({ mpd, key, urlFor }: RewriteManifestParameters): Promise<string> {
  const folder = key.slice(0, key.lastIndexOf('/') + 1);
  const pattern = /(<BaseURL\b[^>]*>)([^<]*)(<\/BaseURL>)/g;
  const names = new Set<string>();
  for (const match of mpd.matchAll(pattern)) {
    const name = unescapeXml((match[2] ?? '').trim());
    if (!FILE_NAME.test(name)) throw new ManifestLayoutError(key, name);
    names.add(name);
  }
  const urls = new Map(await Promise.all([...names].map(async (name) => [name, await urlFor(`${folder}${name}`)] as const)));
  return mpd.replace(pattern, (_whole, open: string, text: string, close: string) => `${open}${escapeXml(urls.get(unescapeXml(text.trim())) ?? '')}${close}`);
}

/** What serving a stored manifest needs of the storage adapter. */
export interface ManifestStorage {
  getBytes(key: string): Promise<Buffer>;
  urlFor(key: string): Promise<string>;
}

const isMissing = (error: unknown) =>
  (error as { name?: string }).name === 'NoSuchKey' || (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404;

/** The stored MPD at `key` with its segment URLs resolved; 404 `manifest_not_ready` when none is stored yet. */
export async function servedManifest(storage: ManifestStorage, key: string | null): Promise<string> {
  const notReady = () => new HttpError(404, 'manifest_not_ready', 'no rendition is stored yet: play video.url, or wait for the rendition.ready event');
  if (!key) throw notReady();
  let mpd: string;
  try {
    mpd = (await storage.getBytes(key)).toString('utf8');
  } catch (error) {
    if (isMissing(error)) throw notReady();
    throw error;
  }
  return rewriteManifest({ mpd, key, urlFor: (name) => storage.urlFor(name) });
}
