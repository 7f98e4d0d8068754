/**
 * Builds docs/benchmarks.md: one row per benchmark part with its latest headline figure, when and
 * where it was measured, the command that reproduces it and its dated report; older reports of the
 * same part are listed as its history. Reads only docs/benchmarks/<part>.json and reports/.
 * `--check`: write nothing, exit 1 when docs/benchmarks.md is not what the JSON files make (a test runs it).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './report.js';

interface Latest {
  part: string;
  title: string;
  command: string;
  when: string;
  headline?: string;
  report?: string;
  machine: { cpu: string; cores: number; memoryGiB: number };
}

const dir = join(repoRoot, 'docs', 'benchmarks');
const reports = readdirSync(join(dir, 'reports')).filter((name) => name.endsWith('.md'));
const latest = readdirSync(dir)
  .filter((name) => name.endsWith('.json'))
  .map((name) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as Latest)
  .sort((a, b) => a.title.localeCompare(b.title));

const missing = latest.filter((part) => !part.headline || !part.report);
if (missing.length > 0) {
  process.stderr.write(`no headline or report in: ${missing.map((part) => `docs/benchmarks/${part.part}.json`).join(', ')} (run the part again)\n`);
  process.exit(1);
}

const cell = (text: string) => text.replaceAll('|', '\\|');
const rows = latest.map((part) => {
  const history = reports
    .filter((name) => name.endsWith(`-${part.part}.md`) && `reports/${name}` !== part.report && /^\d{4}-\d{2}-\d{2}-/.test(name))
    .sort()
    .reverse()
    .map((name) => `[${name.slice(0, 10)}](benchmarks/reports/${name})`);
  return `| [${cell(part.title)}](benchmarks/${part.report}) | ${cell(part.headline ?? '')} | ${part.when.slice(0, 10)}, ${part.machine.cores} cores | \`${cell(part.command)}\` | ${history.join(', ') || '-'} |`;
});

const page = `# Benchmarks

The latest figure of every benchmark, measured on the real local stack by \`pnpm bench [part...]\`
(\`bash scripts/bench.sh\`; the parts are \`scripts/bench/<part>.ts\`). Each title links to that run's
report: the machine, the versions, the command, the tables and what they mean. Earlier runs keep
their dated reports (history). The raw numbers of the latest run are in \`docs/benchmarks/<part>.json\`.
This page is generated (\`bash scripts/bench.sh --report\`); do not edit it by hand.

| benchmark | latest figure | measured | command | earlier runs |
|---|---|---|---|---|
${rows.join('\n')}
`;
const target = join(repoRoot, 'docs', 'benchmarks.md');
const missingReports = latest.filter((part) => !existsSync(join(dir, part.report ?? '')));
if (missingReports.length > 0) {
  process.stderr.write(`report missing for: ${missingReports.map((part) => `${part.part} (${part.report})`).join(', ')}\n`);
  process.exit(1);
}
if (process.argv.includes('--check')) {
  if (!existsSync(target) || readFileSync(target, 'utf8') !== page) {
    process.stderr.write('docs/benchmarks.md is stale: run `bash scripts/bench.sh --report`\n');
    process.exit(1);
  }
  process.stdout.write('docs/benchmarks.md is current\n');
} else {
  writeFileSync(target, page);
  process.stdout.write('wrote docs/benchmarks.md\n');
}
