import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Histogram, register } from 'prom-client';
import { ConfigError } from '@reelboard/config';
import { createLogger, errorFields, type Logger } from '@reelboard/logger';

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
  /** An HTTP server the service already runs (the gateway); probes are then mounted by the service. */
  server?: Server;
}

/** The settings every service's configuration has (packages/config's commonSchema). */
export interface ServiceBasics {
  /** Port for `/healthz`, `/readyz` and `/metrics`. */
  PORT: number;
  LOG_LEVEL: string;
  SHUTDOWN_GRACE_MS: number;
}

export interface RunServiceOptions<C extends ServiceBasics> {
  name: string;
  /** Reads and validates configuration; a ConfigError stops the service with the variable's name. */
  loadConfig: () => C;
  start: (config: C, log: Logger) => Promise<ServiceHandle>;
}

/** What `/readyz` answers: `ok` from the gating checks only; `checks` has every check's result. */
export interface ReadinessResult {
  /** Every gating check passed (the HTTP status is 200 exactly then). */
  ok: boolean;
  /** `ok` or the error, for gating and reported checks alike. */
  checks: Record<string, string>;
  /** A reported (non-gating) check failed: still ready, but something is degraded. */
  degraded: boolean;
}

async function runChecks(checks: Record<string, ReadinessCheck>): Promise<Record<string, string>> {
  const results: Record<string, string> = {};
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await check();
        results[name] = 'ok';
      } catch (error) {
        results[name] = error instanceof Error ? error.message : String(error);
      }
    }),
  );
  return results;
}

/**
 * Answers probes for `/readyz`: 200 when every gating check passes, else 503 naming what failed.
 * Reported checks run alongside and appear in `checks`, but only set `degraded`.
 */
export async function checkReadiness(gating: Record<string, ReadinessCheck>, reported: Record<string, ReadinessCheck> = {}): Promise<ReadinessResult> {
  const [gatingResults, reportedResults] = await Promise.all([runChecks(gating), runChecks(reported)]);
  const passed = (results: Record<string, string>) => Object.values(results).every((value) => value === 'ok');
  return { ok: passed(gatingResults), checks: { ...reportedResults, ...gatingResults }, degraded: !passed(reportedResults) };
}

function startProbeServer(port: number, readiness: Record<string, ReadinessCheck>, reported: Record<string, ReadinessCheck>): Promise<Server> {
  const server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.url === '/healthz') return reply(200, { status: 'ok' });
    if (req.url === '/metrics') {
      register.metrics().then(
        (text) => res.writeHead(200, { 'content-type': register.contentType }).end(text),
        (error: unknown) => reply(500, { error: 'metrics_failed', message: String(error) }),
      );
      return;
    }
    if (req.url === '/readyz') {
      checkReadiness(readiness, reported).then(
        (result) => reply(result.ok ? 200 : 503, result),
        (error: unknown) => reply(503, { ok: false, error: String(error) }),
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
  const server = handle.server ?? (await startProbeServer(config.PORT, handle.readiness ?? {}, handle.reported ?? {}));
  const address = server.address();
  log.info('started', { port: typeof address === 'object' && address ? address.port : address });

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

/** Prometheus text for the process's metrics (for services that serve their own HTTP, like the gateway). */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: register.contentType, body: await register.metrics() };
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
