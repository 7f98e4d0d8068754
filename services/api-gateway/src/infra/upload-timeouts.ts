import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { GatewayConfig } from '../config.js';

/**
 * Node's default `requestTimeout` (300 s) cuts any upload slower than about 7 MB/s at 2 GiB. The
 * whole-request limit is sized for slow links instead (UPLOAD_REQUEST_TIMEOUT_SECONDS), and a
 * connection that sends nothing for UPLOAD_IDLE_TIMEOUT_SECONDS is closed (a resumable upload then
 * resumes where it stopped).
 */
export function sizeTimeoutsForUploads(server: Server, config: Pick<GatewayConfig, 'UPLOAD_REQUEST_TIMEOUT_SECONDS' | 'UPLOAD_IDLE_TIMEOUT_SECONDS'>): void {
  server.requestTimeout = config.UPLOAD_REQUEST_TIMEOUT_SECONDS * 1000;
  server.timeout = config.UPLOAD_IDLE_TIMEOUT_SECONDS * 1000;
}

/** The wallet the session check put on an Express response (tus sees only the node request). */
export function ownerOfRequest(req: IncomingMessage): string | undefined {
  return (req as IncomingMessage & { res?: ServerResponse & { locals?: { address?: string } } }).res?.locals?.address ?? undefined;
}
