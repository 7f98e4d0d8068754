import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type RequestHandler, type Response, Router } from 'express';
import { api } from '@reelboard/api';
import { STAGED_FILES } from '@reelboard/contracts';
import type { Knex } from '@reelboard/db';
import type { PipelineBus, Uploads } from '@reelboard/lifecycle';
import { listingKeys, type ObjectStorage } from '@reelboard/storage';
import type { GatewayConfig } from '../config.js';
import { HttpError } from '../infra/http-error.js';
import { allocateStaging, intakeLimits, parseListingForm, receiveMultipart } from '../infra/intake.js';
import type { ResumableUploads } from '../infra/resumable.js';
import type { StagingGuard } from '../infra/staging-guard.js';
import type { StatusHub } from '../infra/status-hub.js';
import { type AcceptUploadDeps, acceptUpload } from '../use-cases/accept-upload.js';
import type { PriceQuoter } from '../use-cases/quote-price.js';
import { submitPayment } from '../use-cases/submit-payment.js';
import type { Bind } from './bind.js';

export interface UploadRoutesDeps {
  bind: Bind;
  bus: PipelineBus;
  uploads: Uploads;
  db: Knex;
  hub: StatusHub;
  config: GatewayConfig;
  /** Limits new uploads per signed-in wallet (runs after the session is checked). */
  limitUploads?: RequestHandler;
  /** Open SSE responses, so shutdown can end them. */
  streams: Set<Response>;
  /** Where the preview and poster are stored; without it the preview route is not mounted. */
  storage?: ObjectStorage;
  /** Unpaid staging limits and the free-space reserve. */
  guard: StagingGuard;
  /** Resumable (tus) uploads. */
  resumable: ResumableUploads;
  /** How quotes are priced (PRICE in fiat); unset: the configured base-unit amounts. */
  quotePrice?: PriceQuoter | undefined;
}

/** The listing form, the payment submission and the upload's status (latest and live). */
export function uploadRoutes({ bind, bus, uploads, db, storage, hub, config, limitUploads, streams, guard, resumable, quotePrice }: UploadRoutesDeps): Router {
  const router = Router();
  const limits = intakeLimits(config);
  const accept: AcceptUploadDeps = { db, uploads, bus, config, limits, quotePrice };

  /** Only the owner may see an upload; to anyone else it does not exist (404, not 403). */
  const ownedUpload = async (uploadId: string, address: string) => {
    if ((await uploads.owner(uploadId)) !== address) throw new HttpError(404, 'upload_not_found', 'no such upload');
    return uploadId;
  };

  bind(router, api.createUpload, { before: limitUploads ? [limitUploads] : [] }).to(async ({ query, req, res, caller }) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limits.maxVideoBytes + limits.maxLogoBytes + 1024 * 1024) {
      throw new HttpError(413, 'request_too_large', `request is ${declared} bytes; the video limit is ${limits.maxVideoBytes}`);
    }
    if (!req.is('multipart/form-data')) throw new HttpError(415, 'expected_multipart', 'send the listing as multipart/form-data');
    if (query.videoUpload) return { status: 202, body: await acceptResumable(query.videoUpload, caller.address, req, res) };

    const uploadId = randomUUID();
    // Counted against the wallet's unpaid limits and the reserve before a byte is stored.
    await guard.admit(caller.address, uploadId, declared);
    const staging = await allocateStaging(config.STAGING_DIR, uploadId);
    try {
      await receiveMultipart(req, res, staging.dir, limits);
      const files = (req.files ?? {}) as Record<string, Express.Multer.File[] | undefined>;
      const video = files.video?.[0];
      const form = parseListingForm(req.body);
      if (!video)
        throw new HttpError(400, 'invalid_form', 'invalid fields: video', {
          fields: { video: 'video file is required (or name a finished resumable upload with ?videoUpload=)' },
        });
      const body = await acceptUpload(accept, { uploadId, owner: caller.address, form, videoBytes: video.size, logo: !!files.logo?.[0] });
      return { status: 202, body };
    } catch (error) {
      // Nothing of a refused form stays on disk.
      await staging.discard();
      await guard.release(caller.address, uploadId);
      // The rest of a refused body is not read; close rather than keep a half-read connection.
      if (!req.complete) res.setHeader('connection', 'close');
      throw error;
    }
  });

  /** The form of a finished resumable upload: its staging folder is the upload's, the logo joins the video there. */
  const acceptResumable = async (uploadId: string, owner: `0x${string}`, req: Parameters<typeof receiveMultipart>[0], res: Response) => {
    const finished = await resumable.finished(uploadId, owner);
    const dir = join(config.STAGING_DIR, uploadId);
    try {
      await receiveMultipart(req, res, dir, limits, { video: false });
      const files = (req.files ?? {}) as Record<string, Express.Multer.File[] | undefined>;
      const form = parseListingForm(req.body);
      const release = await resumable.claim(uploadId);
      try {
        const accepted = await acceptUpload(accept, { uploadId, owner, form, videoBytes: finished.bytes, logo: !!files.logo?.[0] });
        await resumable.taken(uploadId);
        return accepted;
      } catch (error) {
        await release();
        throw error;
      }
    } catch (error) {
      // The video stays for a corrected form; only what this form brought goes.
      await Promise.all([STAGED_FILES.logoOriginal, STAGED_FILES.logo].map((file) => rm(join(dir, file), { force: true })));
      if (!req.complete) res.setHeader('connection', 'close');
      throw error;
    }
  };

  // Resumable uploads: tus answers these itself, after the row's session check and validation.
  const tus = async ({ req, res }: { req: Parameters<typeof receiveMultipart>[0]; res: Response }) => {
    await resumable.handle(req, res);
    return undefined;
  };
  bind(router, api.createResumableUpload, { before: limitUploads ? [limitUploads] : [] }).to(tus);
  bind(router, api.getResumableUploadOffset).to(tus);
  bind(router, api.appendResumableUpload).to(tus);
  // Termination here rather than in tus: the staging folder and the wallet's count go with the bytes.
  bind(router, api.cancelResumableUpload).to(async ({ params, caller }) => {
    await resumable.cancel(params.id, caller.address);
    return { status: 204, headers: { 'tus-resumable': '1.0.0' }, body: undefined };
  });

  bind(router, api.submitPayment).to(async ({ params, body, caller }) => {
    const { id: uploadId } = params;
    const { txHash, chainId } = body;
    const outcome = await submitPayment({ uploads, bus, maxHints: config.MAX_PAYMENT_HINTS }, { uploadId, owner: caller.address, txHash, chainId });
    if (outcome.followed) return { status: 202, body: { uploadId, txHash, state: outcome.state } };
    return { status: 200, body: { uploadId, txHash, state: outcome.state, status: outcome.status } };
  });

  bind(router, api.getUpload).to(async ({ params, caller }) => {
    const uploadId = await ownedUpload(params.id, caller.address);
    // An upload's quote, or a renewal's (renewals are followed through the same routes).
    const [subject, latest] = await Promise.all([uploads.quoteOf(uploadId), uploads.latest(uploadId)]);
    return { status: 200, body: { uploadId, status: latest ?? null, payment: subject?.quote ?? null } };
  });

  if (storage) {
    // The owner's status page shows the loop and poster as soon as they are stored (`preview.ready`),
    // long before the listing is saved and readable through the public API.
    bind(router, api.getUploadPreview).to(async ({ params, caller }) => {
      const uploadId = await ownedUpload(params.id, caller.address);
      const keys = listingKeys(uploadId);
      const [preview, poster] = await Promise.all([storage.head(keys.preview), storage.head(keys.poster)]);
      if (!preview || !poster) throw new HttpError(404, 'preview_not_ready', 'the preview and poster are not stored yet; wait for the preview.ready event');
      const [previewUrl, posterUrl] = await Promise.all([storage.urlFor(keys.preview), storage.urlFor(keys.poster)]);
      return { status: 200, headers: { 'cache-control': 'private, no-store' }, body: { uploadId, previewUrl, posterUrl } };
    });
  }

  bind(router, api.listMyUploads).to(async ({ caller }) => {
    const ids = await uploads.uploadsOf(caller.address);
    const items = await Promise.all(ids.map(async (uploadId) => ({ uploadId, status: (await bus.status.latest(uploadId)) ?? null })));
    return { status: 200, body: { items } };
  });

  bind(router, api.followUpload).to(async ({ params, headers, caller, req, res }) => {
    const uploadId = await ownedUpload(params.id, caller.address);
    const afterSeq = Number(headers['last-event-id'] || 0);
    let closed = false;
    let stop = () => {};
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), config.SSE_HEARTBEAT_MS);
    const end = () => {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      streams.delete(res);
      stop();
      res.end();
    };
    streams.add(res);
    req.on('close', end);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    stop = await hub.stream(uploadId, afterSeq, {
      send: (event) => res.write(`id: ${event.seq}\nevent: ${event.event}\ndata: ${JSON.stringify(event)}\n\n`),
      end,
    });
    if (closed) stop();
    return undefined;
  });

  return router;
}
