import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';

export const repoRoot = new URL('../../..', import.meta.url).pathname;

/** The machine and versions a benchmark ran on, so numbers are never quoted without them. */
export function machineFacts(): Record<string, string | number> {
  const first = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0] ?? '';
    } catch {
      return 'unavailable';
    }
  };
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Number((totalmem() / 1024 ** 3).toFixed(1)),
    freeMemoryGiB: Number((freemem() / 1024 ** 3).toFixed(1)),
    os: `${platform()} ${release()}`,
    node: process.version,
    ffmpeg: first('ffmpeg', ['-version']),
    redis: first('redis-server', ['--version']),
    postgres: first('psql', ['--version']),
  };
}

export interface BenchReport {
  /** File stem: docs/benchmarks/<part>.json (the latest run) and docs/benchmarks/reports/<date>-<part>.md. */
  part: string;
  title: string;
  /** One sentence for the summary table: the figure that matters, its goal, and met or missed. */
  headline: string;
  /** The command that reproduces it. */
  command: string;
  /** Markdown body: tables and what they mean, including goals met or missed and why. */
  markdown: string;
  /** Raw numbers for the JSON file. */
  data: unknown;
}

/**
 * Writes one benchmark run: its dated report (docs/benchmarks/reports/<YYYY-MM-DD>-<part>.md, kept as
 * the part's history) and the part's latest figures (docs/benchmarks/<part>.json: machine, versions,
 * command, headline, numbers, and which report they come from), then prints the report.
 * `bash scripts/bench.sh --report` builds the summary table docs/benchmarks.md from the JSON files.
 */
export function writeReport(report: BenchReport): void {
  const dir = join(repoRoot, 'docs', 'benchmarks');
  mkdirSync(join(dir, 'reports'), { recursive: true });
  const machine = machineFacts();
  const when = new Date().toISOString();
  const reportFile = `reports/${when.slice(0, 10)}-${report.part}.md`;
  const header = `# ${report.title}\n\nMeasured ${when} on ${machine.cpu} (${machine.cores} cores, ${machine.memoryGiB} GiB), ${machine.os}, Node ${machine.node}, ${machine.ffmpeg}.\nCommand: \`${report.command}\`\n\n**${report.headline}**\n\n`;
  const markdown = `${header}${report.markdown.trim()}\n`;
  writeFileSync(join(dir, reportFile), markdown);
  const latest = {
    part: report.part,
    title: report.title,
    command: report.command,
    when,
    headline: report.headline,
    report: reportFile,
    machine,
    data: report.data,
  };
  writeFileSync(join(dir, `${report.part}.json`), `${JSON.stringify(latest, null, 2)}\n`);
  process.stdout.write(`${markdown}\n`);
}

/** p-th percentile (0-100) of a list of numbers, nearest-rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
