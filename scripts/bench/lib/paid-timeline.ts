import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** Where the bench stack's services write their logs (testkit's startStack). */
const LOG_DIR = fileURLToPath(new URL('../../../test-artifacts/logs/', import.meta.url));

/** One job of an upload, from its service's log: when it ran, in seconds after `payment.confirmed`. */
export interface TimelineJob {
  /** The job id without the upload id: `video.chunk.240p.0`, `rendition.store.240`, ... */
  job: string;
  start: number;
  end: number;
}

/** Where the time went from `payment.confirmed` to the first manifest, read from the transcoder's and uploader's logs. */
export interface PaidTimeline {
  /** The jobs that started before the lowest rung was stored, in start order. */
  jobs: TimelineJob[];
  /** Milliseconds from the payment job's start to its probe, preview, keyframe read and flow add. */
  paymentJobSteps: Record<string, number>;
  /** The lowest rung's chunks in the plan, and how many the paid path took from the speculative encode. */
  lowestChunks: number;
  chunksTaken: number;
  audioTaken: boolean;
  /** Seconds each lowest-rung chunk's ffmpeg ran on the paid path (the ones encoded there). */
  chunkEncodeSeconds: number[];
}

interface LogLine {
  uploadId?: string;
  message?: string;
  timestamp?: string;
  jobId?: string;
  [key: string]: unknown;
}

async function linesOf(service: string, uploadId: string): Promise<LogLine[]> {
  const text = await readFile(`${LOG_DIR}${service}.log`, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.includes(uploadId))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    })
    .filter((line) => line.uploadId === uploadId);
}

/** The upload's paid path as its services logged it, relative to `paidAt` (ms since the epoch). */
export async function paidTimeline(uploadId: string, paidAt: number, lowestStoredAt: number): Promise<PaidTimeline> {
  const lines = [...(await linesOf('transcoder', uploadId)), ...(await linesOf('uploader', uploadId))];
  const seconds = (line: LogLine) => Math.round((Date.parse(line.timestamp ?? '') - paidAt) / 10) / 100;
  const starts = new Map<string, LogLine>();
  const jobs: TimelineJob[] = [];
  for (const line of lines) {
    const job = line.jobId?.replace(`${uploadId}.`, '');
    if (!job || job.startsWith('preview.speculative')) continue;
    if (line.message === 'stage started') starts.set(job, line);
    // A join that waited for its children ran again later: its last run is the one that counts.
    if (line.message === 'stage finished') {
      const start = starts.get(job);
      if (start && Date.parse(start.timestamp ?? '') <= lowestStoredAt) jobs.push({ job, start: seconds(start), end: seconds(line) });
    }
  }
  jobs.sort((a, b) => a.start - b.start);
  const planned = lines.find((line) => line.message === 'rendition ladder planned');
  // Rungs are logged lowest first as `WxH@kbps`; a rung's name is its short side.
  const size = /^(\d+)x(\d+)/.exec(String((planned?.rungs as string[] | undefined)?.[0] ?? ''));
  const lowest = size ? Math.min(Number(size[1]), Number(size[2])) : 0;
  const isLowest = (line: LogLine) => line.rung === lowest;
  return {
    jobs,
    paymentJobSteps: (planned?.msSinceStart as Record<string, number> | undefined) ?? {},
    lowestChunks: Number(planned?.chunks ?? 0),
    chunksTaken: lines.filter((line) => line.message === 'chunk taken from the speculative encode' && isLowest(line)).length,
    audioTaken: lines.some((line) => line.message === 'audio track taken from the speculative encode'),
    chunkEncodeSeconds: lines.filter((line) => line.message === 'chunk encoded' && isLowest(line)).map((line) => Number(line.wallSeconds)),
  };
}
