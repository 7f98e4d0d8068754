// Writes docs/configuration.md and .env.example from the schemas the services validate their
// environment against: names, defaults, required, and each variable's meaning from its schema
// (`.describe()` or `.meta({ description })`). A variable without one stops the generator.
// `--check` fails when the files are stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { chainEnvSchema, commonSchema, databaseEnvSchema, descriptionOf, redisEnvSchema } from '@reelboard/config';
import { s3EnvSchema } from '@reelboard/storage';
import { mediaEnvSchema } from '../packages/media/src/config.js';
import { gatewaySchema } from '../services/api-gateway/src/config.js';
import { notifierSchema } from '../services/notifier/src/config.js';
import { paymentWatcherSchema } from '../services/payment-watcher/src/config.js';
import { previewSchema } from '../services/preview-extractor/src/config.js';
import { profileWriterSchema } from '../services/profile-writer/src/config.js';
import { transcoderSchema } from '../services/transcoder/src/config.js';
import { uploaderSchema } from '../services/uploader/src/config.js';

const root = new URL('..', import.meta.url).pathname;

export type ServiceSchemas = [string, z.ZodObject][];

const SERVICES: ServiceSchemas = [
  ['api-gateway', gatewaySchema],
  ['payment-watcher', paymentWatcherSchema],
  ['transcoder', transcoderSchema],
  ['preview-extractor', previewSchema],
  ['uploader', uploaderSchema],
  ['profile-writer', profileWriterSchema],
  ['notifier', notifierSchema],
];

/** The variable groups defined once and extended by the services (shown once, before the services). */
const GROUPS: [string, z.ZodObject][] = [
  ['Redis', redisEnvSchema],
  ['Common', commonSchema.omit(Object.fromEntries(Object.keys(redisEnvSchema.shape).map((key) => [key, true])) as never)],
  ['Database', databaseEnvSchema],
  ['Chain', chainEnvSchema],
  ['Media (ffmpeg)', mediaEnvSchema],
  ['Object storage', s3EnvSchema],
];

/**
 * What docker-compose.yml reads besides the services' variables (no service schema has them): the
 * ones without a default stop `docker compose` with their name when unset or empty, as they are
 * in a copied .env.example.
 */
const COMPOSE_ONLY = [
  '# --- docker compose (docker-compose.yml; S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY and MERCHANT_ADDRESS above are required there too)',
  '# The database password (percent-encode @ : / ? # in it); required.',
  'POSTGRES_PASSWORD=',
  '# Where the gateway is published on the host: loopback, behind a TLS proxy; 0.0.0.0 only where TLS is terminated in front of the host.',
  '# GATEWAY_BIND=127.0.0.1',
  '# GATEWAY_HOST_PORT=8080',
  "# Redis's memory cap; above it writes are refused (noeviction), never queue keys evicted.",
  '# REDIS_MAXMEMORY=512mb',
  '',
];

/** A schema variable with no explanation: the reference would be silent about it. */
export class UndescribedVariableError extends Error {
  override readonly name = 'UndescribedVariableError';
  constructor(readonly variables: string[]) {
    super(`no description for ${variables.join(', ')}: give each variable .describe('what it means') in its zod schema`);
  }
}

interface Variable {
  name: string;
  required: boolean;
  default: string;
  meaning: string;
}

/** Default as a string (after the schema's own transforms), or required if the schema has none. */
function describeField(where: string, name: string, field: z.ZodType, missing: string[]): Variable {
  const parsed = field.safeParse(undefined);
  const show = (value: unknown): string => {
    if (value === undefined) return '';
    // Lists (comma-separated variables parse to arrays or sets) are shown as they are written.
    if (Array.isArray(value) || value instanceof Set) return [...value].map(show).join(',');
    if (value instanceof Map) return [...value.keys()].map(show).join(',');
    if (typeof value === 'object' && value !== null) return JSON.stringify(value);
    return String(value);
  };
  const meaning = descriptionOf(field)?.trim() ?? '';
  if (!meaning) missing.push(`${name} (${where})`);
  return {
    name,
    required: !parsed.success,
    default: parsed.success ? show(parsed.data) : '',
    meaning,
  };
}

const escapeCell = (text: string) => text.replace(/\|/g, '\\|');

/**
 * The reference for the given services. Group variables are listed once under their group; a
 * service's section lists what it defines itself (including a group variable it redefines, such
 * as its own PORT default). Throws UndescribedVariableError naming every variable without a description.
 */
export function generateConfigReference(services: ServiceSchemas = SERVICES): { markdown: string; envExample: string } {
  const missing: string[] = [];
  const groupFields = new Set<z.ZodType>(GROUPS.flatMap(([, schema]) => Object.values(schema.shape) as z.ZodType[]));
  const variablesOf = (where: string, entries: [string, z.ZodType][]) => entries.map(([name, field]) => describeField(where, name, field, missing));
  const table = (vars: Variable[]) =>
    [
      '| variable | default | meaning |',
      '|---|---|---|',
      ...vars.map(
        (v) => `| \`${v.name}\` | ${v.required ? '**required**' : v.default === '' ? '(empty)' : `\`${escapeCell(v.default)}\``} | ${escapeCell(v.meaning)} |`,
      ),
    ].join('\n');

  const sections = [
    '# Configuration reference',
    '',
    'Every environment variable of every service, generated by `pnpm config-reference` from the',
    'schemas the services validate their environment against at start-up (a missing or bad variable',
    'stops the service, naming it). A test fails when this page is out of date. Groups of variables',
    "read by several services are defined once and listed first; each service's section lists the",
    'groups it reads and the variables of its own.',
  ];
  const env: string[] = [
    '# Reelboard configuration: every variable with its default; required ones are uncommented.',
    "# Generated by `pnpm config-reference` from the services' schemas (see docs/configuration.md).",
    '',
  ];
  const emitted = new Set<string>();
  const emit = (vars: Variable[], title: string) => {
    const fresh = vars.filter((v) => !emitted.has(v.name));
    if (fresh.length === 0) return;
    env.push(`# --- ${title}`);
    for (const v of fresh) {
      emitted.add(v.name);
      env.push(`# ${v.meaning}`);
      env.push(v.required ? `${v.name}=` : `# ${v.name}=${v.default}`);
    }
    env.push('');
  };
  // A service reads a group when it has all of its variables, some of them perhaps redefined
  // (a PORT or pool size default of its own).
  const usesGroup = (service: z.ZodObject, group: z.ZodObject) =>
    Object.keys(group.shape).every((name) => name in service.shape) && Object.entries(group.shape).some(([name, field]) => service.shape[name] === field);

  for (const [title, group] of GROUPS) {
    const users = services.filter(([, schema]) => usesGroup(schema, group)).map(([name]) => name);
    if (users.length === 0) continue;
    const vars = variablesOf(title, Object.entries(group.shape) as [string, z.ZodType][]);
    const who = users.length === services.length ? 'every service' : users.join(', ');
    sections.push('', `## ${title} (${who})`, '', table(vars));
    emit(vars, `${title.toLowerCase()} (${who})`);
  }
  for (const [name, schema] of services) {
    const groups = GROUPS.filter(([, group]) => usesGroup(schema, group)).map(([title]) => title.toLowerCase());
    const own = variablesOf(
      name,
      (Object.entries(schema.shape) as [string, z.ZodType][]).filter(([, field]) => !groupFields.has(field)),
    );
    sections.push('', `## ${name}`, '', `Reads the groups: ${groups.join('; ')}.`, '', table(own));
    // Ports differ per service and are shown in each service's table only.
    emit(
      own.filter((v) => v.name !== 'PORT' && v.name !== 'INTERNAL_PORT'),
      name,
    );
  }
  env.push(...COMPOSE_ONLY);
  if (missing.length) throw new UndescribedVariableError(missing);
  return { markdown: `${sections.join('\n')}\n`, envExample: `${env.join('\n').trimEnd()}\n` };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { markdown, envExample } = generateConfigReference();
  const targets: [string, string][] = [
    [join(root, 'docs', 'configuration.md'), markdown],
    [join(root, '.env.example'), envExample],
  ];
  if (process.argv.includes('--check')) {
    const stale = targets.filter(([path, text]) => {
      try {
        return readFileSync(path, 'utf8') !== text;
      } catch {
        return true;
      }
    });
    if (stale.length) {
      process.stderr.write(`stale: ${stale.map(([path]) => path).join(', ')}; run pnpm config-reference\n`);
      process.exit(1);
    }
  } else {
    for (const [path, text] of targets) writeFileSync(path, text);
    process.stdout.write('wrote docs/configuration.md and .env.example\n');
  }
}
