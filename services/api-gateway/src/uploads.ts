import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Router, type RequestHandler, type Response } from 'express';
import type { Bus } from '@reelboard/bus';
import { depositAddressOf } from '@reelboard/chain';
import type { Knex } from '@reelboard/db';
import type { Uploads } from '@reelboard/lifecycle';
import { acceptUpload } from './accept-upload.js';
import { listingKeys, type ObjectStorage } from '@reelboard/storage';
import { mediaBytes } from '@reelboard/runtime';
import { stagedPaths, STAGED_FILES, terminalEvents, txHashSchema, type StatusEvent, type UploadReceived } from '@reelboard/contracts';
import { quotedPrice, type GatewayConfig } from './config.js';
import { HttpError } from './http-error.js';
import { allocateStaging, checkVideoContainer, normaliseLogo, parseListingForm, receiveMultipart, type IntakeLimits } from './intake.js';
import type { StatusHub } from './status-hub.js';

export interface UploadRoutesDeps {
  bus: Bus;
  uploads: Uploads;
  db: Knex;
  hub: StatusHub;
  config: GatewayConfig;
  requireSession: RequestHandler;
  /** Limits new uploads per signed-in wallet (runs after the session is checked). */
  limitUploads?: RequestHandler;
  /** Open SSE responses, so shutdown can end them. */
  streams: Set<Response>;
  /** Where the preview and poster are stored; without it the preview route is not mounted. */
  storage?: ObjectStorage;
}

const uploadIdPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The listing form, the payment submission and the upload's status (latest and live). */
export function uploadRoutes({ bus, uploads, db, storage, hub, config, requireSession, limitUploads, streams }: UploadRoutesDeps): Router {
  const router = Router();
  const limits: IntakeLimits = {
    maxVideoBytes: config.MAX_VIDEO_BYTES,
    maxLogoBytes: config.MAX_LOGO_BYTES,
    maxLogoSide: config.MAX_LOGO_SIDE,
    logoSize: config.LOGO_SIZE,
  };

  /** Only the owner may see an upload; to anyone else it does not exist (404, not 403). */
  const ownedUpload = async (param: string | string[] | undefined, address: string) => {
    const uploadId = typeof param === 'string' ? param : undefined;
    if (!uploadId || !uploadIdPattern.test(uploadId)) throw new HttpError(404, 'upload_not_found', 'no such upload');
    const owner = await uploads.owner(uploadId);
    if (owner !== address) throw new HttpError(404, 'upload_not_found', 'no such upload');
    return uploadId;
  };

  router.post('/v1/uploads', requireSession, ...(limitUploads ? [limitUploads] : []), async (req, res) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limits.maxVideoBytes + limits.maxLogoBytes + 1024 * 1024) {
      throw new HttpError(413, 'request_too_large', `request is ${declared} bytes; the video limit is ${limits.maxVideoBytes}`);
    }
    if (!req.is('multipart/form-data')) throw new HttpError(415, 'expected_multipart', 'send the listing as multipart/form-data');
    const owner = res.locals.address as `0x${string}`;
    const uploadId = randomUUID();
    const staging = await allocateStaging(config.STAGING_DIR, uploadId);
    try {
      await receiveMultipart(req, res, staging.dir, limits);
      const files = (req.files ?? {}) as Record<string, Express.Multer.File[] | undefined>;
      const video = files.video?.[0];
      const logo = files.logo?.[0];
      const form = parseListingForm(req.body);
      if (!video) throw new HttpError(400, 'invalid_form', 'invalid fields: video', { fields: { video: 'video file is required' } });
      if (video.size === 0) throw new HttpError(400, 'invalid_form', 'invalid fields: video', { fields: { video: 'video file is empty' } });
      await checkVideoContainer(video.path);
      if (logo) await normaliseLogo(logo.path, join(staging.dir, STAGED_FILES.logo), limits);

      const now = new Date();
      const upload: UploadReceived = {
        uploadId,
        owner,
        form,
        quote: {
          chainId: config.CHAIN_ID,
          // The quote's own deposit address: whatever reaches it pays this upload, from any wallet, by any route.
          to: depositAddressOf({ merchant: config.MERCHANT_ADDRESS, token: config.PAYMENT_TOKEN ?? null }, uploadId),
          ...quotedPrice(config),
          createdAt: now.toISOString(),
          expiresAt: new Date(now.getTime() + config.QUOTE_TTL_SECONDS * 1000).toISOString(),
        },
        staged: {
          source: stagedPaths(uploadId).source,
          sourceBytes: video.size,
          ...(logo ? { logo: stagedPaths(uploadId).logo } : {}),
        },
        receivedAt: now.toISOString(),
      };
      await acceptUpload({ db, uploads, bus }, upload);
      mediaBytes.inc({ stage: 'api-gateway', direction: 'in' }, video.size + (logo?.size ?? 0));
      const { chainId, to, amount, token, expiresAt } = upload.quote;
      res.status(202).json({
        uploadId,
        payment: { chainId, to, amount, token, expiresAt },
        links: { status: `/v1/uploads/${uploadId}`, events: `/v1/uploads/${uploadId}/events`, payment: `/v1/uploads/${uploadId}/payment` },
      });
    } catch (error) {
      // Nothing of a refused form stays on disk.
      await staging.discard();
      // The rest of a refused body is not read; close rather than keep a half-read connection.
      if (!req.complete) res.setHeader('connection', 'close');
      throw error;
    }
  });

  // A hint, not a claim: the deposit address's balance decides what was paid. Sending the same hash
  // again (or after the watcher found the payment) answers with the current state, never an error.
  router.post('/v1/uploads/:id/payment', requireSession, async (req, res) => {
    const uploadId = await ownedUpload(req.params.id, res.locals.address as string);
    const parsed = txHashSchema.safeParse((req.body as { txHash?: unknown } | undefined)?.txHash);
    if (!parsed.success) throw new HttpError(400, 'invalid_tx_hash', 'txHash must be a 0x-prefixed 32-byte hex string');
    const txHash = parsed.data;
    const state = await uploads.state(uploadId);
    if (state !== 'awaiting_payment') {
      res.status(200).json({ uploadId, txHash, state: state ?? null, status: (await uploads.latest(uploadId)) ?? null });
      return;
    }
    const followed = await uploads.followHint(uploadId, txHash, config.MAX_PAYMENT_HINTS);
    if (followed === 'limit') {
      throw new HttpError(429, 'too_many_hashes', `${config.MAX_PAYMENT_HINTS} other transactions are already being checked for this upload; wait for their verdicts`);
    }
    await bus.publish('payment.submitted', { uploadId, txHash, round: followed.round });
    res.status(202).json({ uploadId, txHash, state });
  });

  router.get('/v1/uploads/:id', requireSession, async (req, res) => {
    const uploadId = await ownedUpload(req.params.id, res.locals.address as string);
    // An upload's quote, or a renewal's (renewals are followed through the same routes).
    const [subject, latest] = await Promise.all([uploads.quoteOf(uploadId), uploads.latest(uploadId)]);
    res.json({ uploadId, status: latest ?? null, payment: subject?.quote ?? null });
  });

  if (storage) {
    // The owner's status page shows the loop and poster as soon as they are stored (`preview.ready`),
    // long before the listing is saved and readable through the public API.
    router.get('/v1/uploads/:id/preview', requireSession, async (req, res) => {
      const uploadId = await ownedUpload(req.params.id, res.locals.address as string);
      const keys = listingKeys(uploadId);
      const [preview, poster] = await Promise.all([storage.head(keys.preview), storage.head(keys.poster)]);
      if (!preview || !poster) throw new HttpError(404, 'preview_not_ready', 'the preview and poster are not stored yet; wait for the preview.ready event');
      const [previewUrl, posterUrl] = await Promise.all([storage.urlFor(keys.preview), storage.urlFor(keys.poster)]);
      res.set('cache-control', 'private, no-store').json({ uploadId, previewUrl, posterUrl });
    });
  }

  router.get('/v1/me/uploads', requireSession, async (_req, res) => {
    const ids = await uploads.uploadsOf(res.locals.address as string);
    const items = await Promise.all(ids.map(async (uploadId) => ({ uploadId, status: (await bus.status.latest(uploadId)) ?? null })));
    res.json({ items });
  });

  router.get('/v1/uploads/:id/events', requireSession, async (req, res) => {
    const uploadId = await ownedUpload(req.params.id, res.locals.address as string);
    const lastEventId = Number(req.headers['last-event-id'] ?? 0);
    let sentSeq = Number.isInteger(lastEventId) && lastEventId > 0 ? lastEventId : 0;
    let replaying = true;
    const pending: StatusEvent[] = [];
    let stop = () => {};

    const send = (event: StatusEvent) => {
      if (event.seq <= sentSeq) return;
      sentSeq = event.seq;
      res.write(`id: ${event.seq}\nevent: ${event.event}\ndata: ${JSON.stringify(event)}\n\n`);
      if (terminalEvents.has(event.event)) stop();
    };
    // Follow live events before reading the stored ones, so nothing published in between is missed.
    const unfollow = hub.follow(uploadId, (event) => (replaying ? pending.push(event) : send(event)));
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), config.SSE_HEARTBEAT_MS);
    stop = () => {
      clearInterval(heartbeat);
      unfollow();
      streams.delete(res);
      res.end();
    };
    streams.add(res);
    req.on('close', stop);

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write('retry: 2000\n\n');
    // A reconnecting client gets everything after its last event; a new one gets the current status.
    const stored = sentSeq > 0 ? await bus.status.history(uploadId, sentSeq) : [await bus.status.latest(uploadId)].filter((e): e is StatusEvent => !!e);
    for (const event of stored) send(event);
    replaying = false;
    for (const event of pending) send(event);
  });

  return router;
}
