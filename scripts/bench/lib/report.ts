import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem, platform, release } from 'node:os';
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
  /** File stem: docs/benchmarks/<part>.md and .json. */
  part: string;
  title: string;
  /** The command that reproduces it. */
  command: string;
  /** Markdown body: tables and what they mean, including goals met or missed and why. */
  markdown: string;
  /** Raw numbers for the JSON file. */
  data: unknown;
}

/** Writes one benchmark part's markdown and JSON (machine, versions, command, numbers) and prints the markdown. */
export function writeReport(report: BenchReport): void {
  const dir = join(repoRoot, 'docs', 'benchmarks');
  mkdirSync(dir, { recursive: true });
  const machine = machineFacts();
  const when = new Date().toISOString();
  const header = `## ${report.title}\n\nMeasured ${when} on ${machine.cpu} (${machine.cores} cores, ${machine.memoryGiB} GiB), ${machine.os}, Node ${machine.node}, ${machine.ffmpeg}.\nCommand: \`${report.command}\`\n\n`;
  const markdown = `${header}${report.markdown.trim()}\n`;
  writeFileSync(join(dir, `${report.part}.md`), markdown);
  writeFileSync(join(dir, `${report.part}.json`), `${JSON.stringify({ part: report.part, title: report.title, command: report.command, when, machine, data: report.data }, null, 2)}\n`);
  process.stdout.write(`${markdown}\n`);
}

/** p-th percentile (0-100) of a list of numbers, nearest-rank. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
