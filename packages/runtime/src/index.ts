import { createServer, type Server } from 'node:http';
import { Counter, collectDefaultMetrics, Histogram, register } from 'prom-client';
import { ConfigError } from '@reelboard/config';
import { createLogger, errorFields, type Logger, publicErrorText } from '@reelboard/logger';

export { countRpcError, watchStagingSpace } from './ops-metrics.js';

/** Something a service must close on shutdown, in the order given. */
export type Closer = () => Promise<void>;

/** A dependency probe for `/readyz`: resolves when the dependency answers. */
export type ReadinessCheck = () => Promise<void>;

export interface ServiceHandle {
  /** Closed in order on SIGTERM/SIGINT: stop taking work first, connections last. */
  closers: Closer[];
  /** Named probes answered by `/readyz`: a failing one makes it 503 (what serving needs). */
  readiness?: Record<string, ReadinessCheck>;
  /**
   * Probes `/readyz` runs and reports without gating on them: a dependency whose outage should be
   * visible but must not take every replica out of its Service (the gateway's RPC and S3).
   */
  reported?: Record<string, ReadinessCheck>;
}

/** The settings every service's configuration has (packages/config's commonSchema). */
export interface ServiceBasics {
  /** Port for `/healthz`, `/readyz` and `/metrics`, kept off the public network (the gateway's public PORT serves none of them). */
  INTERNAL_PORT: number;
  LOG_LEVEL: string;
  SHUTDOWN_GRACE_MS: number;
}

export interface RunServiceOptions<C extends ServiceBasics> {
  name: string;
  /** Reads and validates configuration; a ConfigError stops the service with the variable's name. */
  loadConfig: () => C;
  start: (config: C, log: Logger) => Promise<ServiceHandle>;
}

/** The state of one dependency on `/readyz`: its name and this, never the upstream's error text. */
export type CheckState = 'ok' | 'down';

/** Called with each failing check's error, for the service's own log (scrubbed there too). */
export type CheckFailureListener = (name: string, error: unknown) => void;

/** What `/readyz` answers: `ok` from the gating checks only; `checks` has every check's state. */
export interface ReadinessResult {
  /** Every gating check passed (the HTTP status is 200 exactly then). */
  ok: boolean;
  /**
   * `ok` or `down` per dependency, gating and reported alike. Never the error itself: upstream
   * errors carry URLs with API keys and passwords; the reason goes to the service's log.
   */
  checks: Record<string, CheckState>;
  /** A reported (non-gating) check failed: still ready, but something is degraded. */
  degraded: boolean;
}

async function runChecks(checks: Record<string, ReadinessCheck>, onFailure?: CheckFailureListener): Promise<Record<string, CheckState>> {
  const results: Record<string, CheckState> = {};
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await check();
        results[name] = 'ok';
      } catch (error) {
        results[name] = 'down';
        onFailure?.(name, error);
      }
    }),
  );
  return results;
}

/**
 * Answers probes for `/readyz`: 200 when every gating check passes, else 503 naming what failed.
 * Reported checks run alongside and appear in `checks`, but only set `degraded`.
 */
export async function checkReadiness(
  gating: Record<string, ReadinessCheck>,
  reported: Record<string, ReadinessCheck> = {},
  onFailure?: CheckFailureListener,
): Promise<ReadinessResult> {
  const [gatingResults, reportedResults] = await Promise.all([runChecks(gating, onFailure), runChecks(reported, onFailure)]);
  const passed = (results: Record<string, CheckState>) => Object.values(results).every((value) => value === 'ok');
  return { ok: passed(gatingResults), checks: { ...reportedResults, ...gatingResults }, degraded: !passed(reportedResults) };
}

/**
 * The internal HTTP server: `/healthz`, `/readyz` and `/metrics` on their own port, for the
 * orchestrator's probes and Prometheus only (a public listener never serves them).
 */
export function startInternalServer(
  port: number,
  readiness: Record<string, ReadinessCheck>,
  reported: Record<string, ReadinessCheck>,
  log: Logger,
): Promise<Server> {
  const onFailure: CheckFailureListener = (name, error) => log.warn('readiness check failed', { check: name, error: publicErrorText(error) });
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.url === '/healthz') return reply(200, { status: 'ok' });
    if (req.url === '/metrics') {
      register.metrics().then(
        (text) => res.writeHead(200, { 'content-type': register.contentType }).end(text),
        (error: unknown) => reply(500, { error: 'metrics_failed', message: publicErrorText(error) }),
      );
      return;
    }
    if (req.url === '/readyz') {
      checkReadiness(readiness, reported, onFailure).then(
        (result) => reply(result.ok ? 200 : 503, result),
        (error: unknown) => {
          log.warn('readiness failed', errorFields(error));
          reply(503, { ok: false, checks: {}, degraded: false });
        },
      );
      return;
    }
    reply(404, { error: 'not_found', message: `no route ${req.url}` });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve(server));
  });
}

/**
 * Runs one service process: validated config, JSON logs, probes, and a graceful shutdown on
 * SIGTERM/SIGINT (stop taking work, let running work finish within the grace period, exit 0).
 */
export async function runService<C extends ServiceBasics>(options: RunServiceOptions<C>): Promise<void> {
  let config: C;
  try {
    config = options.loadConfig();
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : String(error);
    process.stderr.write(`${JSON.stringify({ level: 'error', service: options.name, message })}\n`);
    process.exit(78); // EX_CONFIG
  }
  const log = createLogger(options.name, config.LOG_LEVEL);
  register.setDefaultLabels({ service: options.name });
  collectDefaultMetrics();
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', errorFields(reason)));

  let handle: ServiceHandle;
  try {
    handle = await options.start(config, log);
  } catch (error) {
    log.error('start-up failed', errorFields(error));
    process.exit(1);
  }
  const server = await startInternalServer(config.INTERNAL_PORT, handle.readiness ?? {}, handle.reported ?? {}, log);
  const address = server.address();
  log.info('started', { internalPort: typeof address === 'object' && address ? address.port : address });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    const deadline = setTimeout(() => {
      log.error('shutdown took longer than the grace period; exiting');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS + 5_000);
    deadline.unref();
    try {
      for (const close of handle.closers) await close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      log.info('stopped');
      process.exit(0);
    } catch (error) {
      log.error('shutdown failed', errorFields(error));
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/**
 * Bytes of media a stage took in or put out (`direction`: in, out), by stage: upload sizes at the
 * gateway, source and output sizes at the transcoder and preview-extractor, objects stored by
 * the uploader.
 */
export const mediaBytes = new Counter({
  name: 'reelboard_media_bytes_total',
  help: 'Bytes of media taken in or put out, per stage and direction',
  labelNames: ['stage', 'direction'] as const,
});

/** Wall seconds ffmpeg ran per job, by stage and kind (transcode, preview, poster). */
export const encodeSeconds = new Histogram({
  name: 'reelboard_encode_seconds',
  help: 'Wall seconds ffmpeg ran per job, by stage and kind',
  labelNames: ['stage', 'kind'] as const,
  buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
});

/** Frames encoded per wall second, per transcode (how fast this replica's encodes run). */
export const encodeFps = new Histogram({
  name: 'reelboard_encode_fps',
  help: 'Frames per wall second achieved by each transcode',
  labelNames: ['stage'] as const,
  buckets: [1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120],
});
