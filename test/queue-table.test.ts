import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { channels, queues, serviceQueues } from '@reelboard/contracts';
import { repoRoot } from '@reelboard/testkit/infra-env';

// Every queue is a row of one table (packages/contracts/src/channels.ts) and only the bus turns rows
// into BullMQ queues and workers: a service that made its own would have retries, retention and a
// give-up policy nobody can find in the table, and bull-board would not show it.
/** The bus's files that make BullMQ queues and workers (the shared-slot worker is a Worker too). */
const BUS = new Set(['packages/bus/src/bus.ts', 'packages/bus/src/shared-slots.ts']);
/** BullMQ's classes that create or consume a queue. */
const QUEUE_MAKERS = new Set(['Queue', 'Worker', 'FlowProducer', 'QueueEvents', 'JobScheduler']);

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const files = await Promise.all(
    entries.map(async (entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
      return /\.(ts|tsx|mts)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [path] : [];
    }),
  );
  return files.flat();
}

/** The queue-making BullMQ classes a file imports as values (type-only imports make nothing). */
function bullmqMakersImported(source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s*from\s*['"]bullmq['"]/g)) {
    if (match[1]) continue;
    for (const member of match[2]!.split(',').map((part) => part.trim())) {
      if (!member || member.startsWith('type ')) continue;
      const name = member.split(/\s+as\s+/)[0]!.trim();
      if (QUEUE_MAKERS.has(name)) found.push(name);
    }
  }
  if (/import\s+\*\s+as\s+\w+\s+from\s*['"]bullmq['"]|require\(\s*['"]bullmq['"]\s*\)/.test(source)) found.push('*');
  return found;
}

describe('one queue table', () => {
  it('has one row per queue name, and the queues beside the chain never take an upload down with them', () => {
    expect(Object.keys(queues)).toHaveLength(Object.keys(channels).length + Object.keys(serviceQueues).length);
    for (const row of Object.values(serviceQueues)) expect(['log-only', 'keep-for-operator']).toContain(row.giveUp);
  });

  it('reads a file that makes its own BullMQ queue as one', () => {
    expect(bullmqMakersImported("import { Queue, Worker } from 'bullmq';")).toEqual(['Queue', 'Worker']);
    expect(bullmqMakersImported("import { DelayedError, Queue as Q, type Job } from 'bullmq';")).toEqual(['Queue']);
    expect(bullmqMakersImported("import type { Queue } from 'bullmq';")).toEqual([]);
    expect(bullmqMakersImported("import { UnrecoverableError, type Job } from 'bullmq';")).toEqual([]);
  });

  it('has no service, package or script but the bus make a BullMQ queue or worker', async () => {
    const roots = ['services', 'packages', 'scripts'].map((dir) => join(repoRoot, dir));
    const offenders: string[] = [];
    for (const root of roots) {
      for (const file of await sourceFiles(root)) {
        const path = relative(repoRoot, file);
        // Tests may drive BullMQ directly (a stand-in worker); the services they test may not.
        if (BUS.has(path) || /(^|\/)test\//.test(path)) continue;
        const makers = bullmqMakersImported(await readFile(file, 'utf8'));
        if (makers.length) offenders.push(`${path}: ${makers.join(', ')}`);
      }
    }
    expect(offenders, 'make queues through the bus from a row of packages/contracts/src/channels.ts').toEqual([]);
  });
});
