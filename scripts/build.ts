/**
 * Compiles what the images run to plain JavaScript, so a container starts `node dist/main.js`
 * (no TypeScript loader at start, no tsx in the image):
 * - each service's `src/main.ts` to `services/<name>/dist/main.js` (and the uploader's bucket
 *   bootstrap to `services/uploader/dist/ensure-bucket.js`);
 * - the operators' commands the manifests run (migrations, `payments`, `failed-uploads`) to
 *   `dist/commands/<name>.js`.
 * The workspace packages (@reelboard/*) are bundled in; every other package stays an import resolved
 * from node_modules at run time (installed with `pnpm install --prod`), so native and CommonJS
 * dependencies load exactly as they do from source.
 *
 *   pnpm build                 # everything
 *   pnpm build api-gateway     # one service, and the commands (what its image builds)
 */
import { rm } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { join, relative } from 'node:path';
import { type BuildOptions, build, type Plugin } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;

export const SERVICES = ['api-gateway', 'payment-watcher', 'transcoder', 'preview-extractor', 'uploader', 'profile-writer', 'notifier'] as const;
/**
 * The operators' commands: `migrate` and `failed-uploads` need only the root project's dependencies
 * (in every image); `payments` runs the payment-watcher's code, so only its image has it.
 */
export const COMMANDS: Record<string, { source: string; image?: (typeof SERVICES)[number] }> = {
  migrate: { source: 'packages/db/src/migrate-cli.ts' },
  'failed-uploads': { source: 'scripts/failed-uploads.ts' },
  payments: { source: 'scripts/payments.ts', image: 'payment-watcher' },
};

const RESOLVING = Symbol('resolving');

/**
 * Bare imports outside the workspace stay imports, but of the exact file the importing package
 * resolves (an absolute path into node_modules/.pnpm): pnpm gives each package only its own
 * dependencies, so `knex` is found from @reelboard/db's folder, not from a service's, where the
 * bundle lives. The paths hold wherever the bundle is built in place (the image builds it at /app).
 */
const dependenciesExternal: Plugin = {
  name: 'dependencies-external',
  setup(builder) {
    builder.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.path.startsWith('@reelboard/') || args.pluginData === RESOLVING) return undefined;
      if (isBuiltin(args.path)) return { path: args.path, external: true };
      const found = await builder.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: RESOLVING });
      if (found.errors.length > 0) return { errors: found.errors };
      return { path: found.path, external: true };
    });
  },
};

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  sourcemap: 'linked',
  // Stack traces name the TypeScript files and lines (source maps are read by `node --enable-source-maps`).
  sourcesContent: false,
  logLevel: 'warning',
  plugins: [dependenciesExternal],
};

interface Entry {
  in: string;
  out: string;
}

function entriesFor(only: string | undefined): Entry[] {
  const services = SERVICES.filter((name) => !only || name === only).flatMap((name) => {
    const main = { in: `services/${name}/src/main.ts`, out: `services/${name}/dist/main` };
    return name === 'uploader' ? [main, { in: 'services/uploader/src/ensure-bucket.ts', out: 'services/uploader/dist/ensure-bucket' }] : [main];
  });
  // The commands come with a service's build: each image gets those its installed dependencies can run.
  const commands = Object.entries(COMMANDS)
    .filter(([, command]) => !only || !command.image || command.image === only)
    .map(([name, command]) => ({ in: command.source, out: `dist/commands/${name}` }));
  return [...services, ...commands];
}

/** One file written, with what it imports at run time (builtins and dependencies, never our sources). */
export interface BuiltFile {
  file: string;
  imports: string[];
}

/** Builds the bundles; returns the files written (relative to the repository) and their imports. */
export async function buildAll(only?: string): Promise<BuiltFile[]> {
  if (only && !(SERVICES as readonly string[]).includes(only)) {
    throw new Error(`unknown service '${only}' (one of: ${SERVICES.join(', ')})`);
  }
  const entries = entriesFor(only);
  // Each bundle is written next to where it is started from, so `import.meta.url`-relative lookups
  // (createRequire for @reelboard/web and swagger-ui-dist) resolve from the same node_modules as from source.
  await Promise.all(entries.map((entry) => rm(join(root, entry.out, '..'), { recursive: true, force: true }).catch(() => {})));
  const result = await build({
    ...common,
    absWorkingDir: root,
    entryPoints: entries,
    outdir: root,
    metafile: true,
  });
  return Object.entries(result.metafile.outputs).map(([file, output]) => ({
    file: relative(root, join(root, file)),
    imports: output.imports.map((entry) => entry.path),
  }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const only = process.argv[2];
  buildAll(only).then(
    (built) =>
      console.log(
        `built ${built
          .map(({ file }) => file)
          .filter((file) => file.endsWith('.js'))
          .join(', ')}`,
      ),
    (error: unknown) => {
      console.error(`build failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
