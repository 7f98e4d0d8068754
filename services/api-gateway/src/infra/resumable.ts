import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import { IoRedisKvStore, type Upload } from '@tus/utils';
import type { Redis } from 'ioredis';
import { STAGED_FILES } from '@reelboard/contracts';
import type { Logger } from '@reelboard/logger';
import { errorFields } from '@reelboard/logger';
import type { GatewayConfig } from '../config.js';
import { HttpError } from './http-error.js';
import { checkVideoContainer } from './intake.js';
import { RedisLocker } from './redis-locker.js';
import { StagingGuard, type StagingGuardDeps } from './staging-guard.js';

/** Where the tus endpoints are. */
export const RESUMABLE_PATH = '/v1/resumable-uploads';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The tus store's key of an upload: its staged source file, relative to the staging directory (the layout of packages/contracts). */
const fileIdOf = (uploadId: string) => `${uploadId}/${STAGED_FILES.source}`;
const uploadIdOf = (fileId: string) => fileId.split('/')[0] ?? '';

/** @tus/utils' ioredis store lists its keys with the prefix still on; the store reads them back without. */
class UploadRecords extends IoRedisKvStore<Upload> {
  constructor(
    redis: Redis,
    private readonly keyPrefix: string,
  ) {
    super(redis, keyPrefix);
  }

  override async list(): Promise<string[]> {
    return (await super.list()).map((key) => key.slice(this.keyPrefix.length));
  }
}

export interface ResumableDeps {
  redis: Redis;
  prefix: string;
  stagingDir: string;
  locker: RedisLocker;
  guard: StagingGuard;
  log: Logger;
  maxVideoBytes: number;
  expirySeconds: number;
  /** The signed-in wallet of a request (the session check ran before tus sees it). */
  ownerOf: (req: IncomingMessage) => string | undefined;
}

export interface FinishedUpload {
  uploadId: string;
  bytes: number;
}

/** The node request behind a tus (web) request. */
const nodeRequest = (req: Request): IncomingMessage | undefined => (req as unknown as { runtime?: { node?: { req: IncomingMessage } } }).runtime?.node?.req;

/** A tus refusal with the gateway's JSON error body. */
const refusal = (status: number, error: string, message: string, extra: Record<string, unknown> = {}) => ({
  status_code: status,
  body: JSON.stringify({ error, message, ...extra }),
});

/**
 * Resumable uploads (the tus protocol, @tus/server): each upload's bytes go straight to its staging
 * folder's source file, its record is in Redis and its lock is the Redis locker, so any replica can
 * take any chunk. Creation is refused before a byte is stored over MAX_VIDEO_BYTES (413), over the
 * wallet's unpaid limits (429) or below the free-space reserve (507); chunks are refused below the
 * reserve (507). A finished upload is sniffed (415 and removed if it is not a video container) and
 * waits for the listing form to refer to it (`take`); unfinished ones expire and their bytes go.
 */
export class ResumableUploads {
  readonly server: Server;
  private readonly records: UploadRecords;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ResumableDeps) {
    this.records = new UploadRecords(deps.redis, `${deps.prefix}:tus:upload:`);
    const store = new FileStore({ directory: deps.stagingDir, configstore: this.records, expirationPeriodInMilliseconds: deps.expirySeconds * 1000 });
    this.server = new Server({
      path: RESUMABLE_PATH,
      datastore: store,
      locker: deps.locker,
      maxSize: deps.maxVideoBytes,
      relativeLocation: true,
      namingFunction: () => fileIdOf(randomUUID()),
      generateUrl: (_req, { path, id }) => `${path}/${uploadIdOf(id)}`,
      getFileIdFromRequest: (_req, lastPath) => (lastPath && UUID.test(lastPath) ? fileIdOf(lastPath) : undefined),
      onUploadCreate: async (req, upload) => {
        const owner = this.owner(req);
        // A deferred length is counted as the largest video until it is declared.
        await this.deps.guard.admit(owner, uploadIdOf(upload.id), upload.size ?? deps.maxVideoBytes).catch(asTusError);
        return { metadata: { ...upload.metadata, owner } };
      },
      onIncomingRequest: async (req, fileId) => {
        if (req.method === 'POST') return;
        const record = await this.records.get(fileId);
        // Someone else's upload does not exist for this wallet.
        if (!record || record.metadata?.owner !== this.owner(req)) throw refusal(404, 'upload_not_found', 'no such resumable upload');
        if (req.method === 'PATCH') await this.deps.guard.checkSpace().catch(asTusError);
      },
      onUploadFinish: async (_req, upload) => {
        try {
          await checkVideoContainer(join(deps.stagingDir, upload.id));
        } catch (error) {
          await this.remove(uploadIdOf(upload.id));
          throw asTusError(error, true);
        }
        return {};
      },
      onResponseError: (req, error) => {
        if (error instanceof Error) {
          deps.log.error('resumable upload failed', { method: req.method, url: req.url, ...errorFields(error) });
          return refusal(500, 'internal', 'internal error');
        }
        const { status_code, body } = error;
        if (body.startsWith('{')) return { status_code, body };
        return refusal(status_code, tusCode(status_code, body), body.trim());
      },
    });
  }

  private owner(req: Request): string {
    const node = nodeRequest(req);
    const owner = node ? this.deps.ownerOf(node) : undefined;
    if (!owner) throw refusal(401, 'unauthenticated', 'sign in first');
    return owner;
  }

  /** Hands an Express request to tus; its refusals become JSON `{error, message}` like the rest of the API. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const writeHead = res.writeHead.bind(res) as (status: number, headers?: unknown) => ServerResponse;
    const end = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
    let failed: { status: number; headers: unknown; chunks: Buffer[] } | undefined;
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      if (status < 400) return writeHead(status, ...(rest as [unknown]));
      failed = { status, headers: rest.find((item) => typeof item === 'object'), chunks: [] };
      return res;
    }) as typeof res.writeHead;
    res.write = ((chunk: unknown) => {
      if (!failed) throw new Error('tus wrote before its head');
      failed.chunks.push(Buffer.from(chunk as Buffer));
      return true;
    }) as typeof res.write;
    res.end = ((chunk?: unknown) => {
      if (!failed) return end(chunk);
      if (chunk && typeof chunk !== 'function') failed.chunks.push(Buffer.from(chunk as Buffer));
      const text = Buffer.concat(failed.chunks).toString('utf8');
      const body = text.startsWith('{') ? text : JSON.stringify({ error: tusCode(failed.status, text), message: text.trim() || 'refused' });
      const headers: Record<string, string> = {};
      const given = failed.headers;
      // srvx passes raw headers, a flat [name, value, ...] list.
      if (Array.isArray(given)) for (let i = 0; i + 1 < given.length; i += 2) headers[String(given[i]).toLowerCase()] = String(given[i + 1]);
      else Object.assign(headers, given);
      Object.assign(headers, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
      writeHead(failed.status, headers);
      return end(body);
    }) as typeof res.end;
    await this.server.handle(req, res);
  }

  /** A finished upload of this wallet, for the listing form; refused (400, 409) otherwise. Changes nothing. */
  async finished(uploadId: string, owner: string): Promise<FinishedUpload> {
    const fileId = fileIdOf(uploadId);
    const record = await this.records.get(fileId);
    if (!record || record.metadata?.owner !== owner) {
      const taken = await this.deps.redis.exists(this.takenKey(uploadId));
      if (taken) throw new HttpError(409, 'upload_taken', 'this resumable upload already belongs to a listing');
      throw new HttpError(400, 'invalid_form', 'invalid fields: videoUpload', { fields: { videoUpload: 'no such resumable upload of yours (or it expired)' } });
    }
    const upload = await this.server.datastore.getUpload(fileId);
    if (upload.size === undefined || upload.offset !== upload.size) {
      throw new HttpError(409, 'upload_incomplete', `the resumable upload has ${upload.offset} of ${upload.size ?? '?'} bytes; finish it first`);
    }
    return { uploadId, bytes: upload.offset };
  }

  private takenKey(uploadId: string): string {
    return `${this.deps.prefix}:tus:taken:${uploadId}`;
  }

  /** Claims a finished upload for one form (two forms at once: one wins, 409); returns the undo. */
  async claim(uploadId: string): Promise<() => Promise<void>> {
    const claimed = await this.deps.redis.set(this.takenKey(uploadId), '1', 'EX', 7 * 24 * 3600, 'NX');
    if (claimed !== 'OK') throw new HttpError(409, 'upload_taken', 'this resumable upload already belongs to a listing');
    return async () => void (await this.deps.redis.del(this.takenKey(uploadId)));
  }

  /** The form was accepted: the upload is the pipeline's now; its record goes (expiry no longer looks at it), its file stays as the source. */
  async taken(uploadId: string): Promise<void> {
    await this.records.delete(fileIdOf(uploadId));
  }

  /** Abandons an upload of this wallet (tus termination): its bytes, record and place in the wallet's count go. */
  async cancel(uploadId: string, owner: string): Promise<void> {
    const record = await this.records.get(fileIdOf(uploadId));
    if (!record || record.metadata?.owner !== owner) throw new HttpError(404, 'upload_not_found', 'no such resumable upload');
    await this.remove(uploadId);
  }

  /** Removes an upload's bytes and record. */
  async remove(uploadId: string): Promise<void> {
    const record = await this.records.get(fileIdOf(uploadId));
    await rm(join(this.deps.stagingDir, uploadId), { recursive: true, force: true });
    await this.records.delete(fileIdOf(uploadId));
    const owner = record?.metadata?.owner;
    if (owner) await this.deps.guard.release(owner, uploadId);
  }

  /** Removes unfinished uploads older than the expiry, bytes and all; returns how many. */
  async sweepExpired(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const fileId of await this.records.list()) {
      const record = await this.records.get(fileId);
      if (!record?.creation_date) continue;
      if (new Date(record.creation_date).getTime() + this.deps.expirySeconds * 1000 > now) continue;
      await this.remove(uploadIdOf(fileId));
      removed += 1;
    }
    if (removed) this.deps.log.info('expired resumable uploads removed', { removed });
    return removed;
  }

  /** Sweeps every `seconds` (each replica; removing twice is harmless). */
  startSweeping(seconds: number): void {
    this.sweeper = setInterval(() => {
      this.sweepExpired().catch((error: unknown) => this.deps.log.error('resumable sweep failed', errorFields(error)));
    }, seconds * 1000);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
  }
}

/** An HttpError as a tus refusal (tus hooks throw `{status_code, body}`). */
function asTusError(error: unknown, returnOnly = false): never | { status_code: number; body: string } {
  const mapped = error instanceof HttpError ? refusal(error.status, error.code, error.message, error.extra) : error;
  if (returnOnly) return mapped as { status_code: number; body: string };
  throw mapped;
}

/** Stable codes for tus's own refusals. */
function tusCode(status: number, body: string): string {
  if (status === 413) return 'file_too_large';
  if (status === 404) return 'upload_not_found';
  if (status === 409) return 'offset_mismatch';
  if (status === 410) return 'upload_gone';
  if (status === 412) return 'tus_version';
  if (status === 423) return 'upload_locked';
  if (status === 460) return 'checksum_mismatch';
  return /lock/i.test(body) ? 'upload_locked' : 'bad_request';
}

/** The staging guard and the resumable uploads of a gateway, from its configuration. */
export function createStaging({
  config,
  redis,
  stateOf,
  log,
  ownerOf,
}: {
  config: GatewayConfig;
  redis: Redis;
  stateOf: StagingGuardDeps['stateOf'];
  log: Logger;
  ownerOf: ResumableDeps['ownerOf'];
}): { guard: StagingGuard; resumable: ResumableUploads; close: () => Promise<void> } {
  const guard = new StagingGuard({
    redis,
    prefix: config.REDIS_PREFIX,
    stagingDir: config.STAGING_DIR,
    stateOf,
    limits: {
      maxUnpaidBytesPerWallet: config.STAGING_MAX_UNPAID_BYTES_PER_WALLET,
      maxUnpaidUploadsPerWallet: config.STAGING_MAX_UNPAID_UPLOADS_PER_WALLET,
      reserveBytes: config.STAGING_RESERVE_BYTES,
    },
  });
  const subscriber = redis.duplicate();
  const locker = new RedisLocker(redis, subscriber, { prefix: config.REDIS_PREFIX });
  const resumable = new ResumableUploads({
    redis,
    prefix: config.REDIS_PREFIX,
    stagingDir: config.STAGING_DIR,
    locker,
    guard,
    log,
    maxVideoBytes: config.MAX_VIDEO_BYTES,
    expirySeconds: config.RESUMABLE_EXPIRY_SECONDS,
    ownerOf,
  });
  resumable.startSweeping(config.RESUMABLE_SWEEP_SECONDS);
  return {
    guard,
    resumable,
    close: async () => {
      resumable.stop();
      await locker.close();
      subscriber.disconnect();
    },
  };
}
