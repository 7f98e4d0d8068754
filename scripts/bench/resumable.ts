/**
 * Resumable uploads: a 1 GiB video (a real MP4) sent to one gateway with the tus protocol
 * (tus-js-client in Node, 8 MiB chunks, as the web client sends) against the plain multipart form
 * (@reelboard/client), in the same run on the same machine; then the same resumable upload through a
 * TCP relay that cuts every connection three times (at 25, 50 and 75 % of the file), counting the
 * bytes that crossed it: what goes beyond the file's size is what was sent again. Goals: resumable
 * throughput >= 0.8x multipart; at most one chunk sent again per disconnect.
 *
 *   node --import tsx scripts/bench/resumable.ts
 *   BENCH_RESUMABLE_MIB=256 node --import tsx scripts/bench/resumable.ts   # smaller file
 */
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as tus from 'tus-js-client';
import { newSeller, postListing, round, type Seller, startBenchStack } from './lib/chain-run.js';
import { writeReport } from './lib/report.js';

const execFileAsync = promisify(execFile);
const TARGET_BYTES = Number(process.env.BENCH_RESUMABLE_MIB ?? 1024) * 1024 * 1024;
const CHUNK = 8 * 1024 * 1024;

/** A real H.264 MP4 of about `bytes`: a short noisy clip looped with stream copy. */
async function makeLargeMp4(dir: string, bytes: number): Promise<string> {
  const seed = join(dir, 'seed.mp4');
  await execFileAsync('ffmpeg', [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc2=s=1280x720:r=30,noise=alls=30:allf=t',
    '-t',
    '4',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-qp',
    '8',
    '-pix_fmt',
    'yuv420p',
    seed,
  ]);
  const loops = Math.ceil(bytes / (await stat(seed)).size);
  const big = join(dir, 'large.mp4');
  await execFileAsync('ffmpeg', ['-v', 'error', '-y', '-stream_loop', String(loops), '-i', seed, '-c', 'copy', '-fs', String(bytes), big]);
  await rm(seed);
  return big;
}

/** Sends a file with tus-js-client from disk; resolves with the upload id. */
function tusUpload(endpoint: string, token: string, file: string, size: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(createReadStream(file, { highWaterMark: 1024 * 1024 }), {
      endpoint,
      uploadSize: size,
      chunkSize: CHUNK,
      headers: { authorization: `Bearer ${token}` },
      retryDelays: [0, 200, 500, 1000, 2000],
      onSuccess: () => resolve(String(upload.url).split('/').pop() ?? ''),
      onError: reject,
    });
    upload.start();
  });
}

/** A TCP relay to the gateway that counts client-to-server bytes and can cut every connection. */
async function startRelay(target: URL) {
  const sockets = new Set<Socket>();
  let upstreamBytes = 0;
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (data: Buffer) => {
      upstreamBytes += data.length;
      if (!upstream.write(data)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get bytes() {
      return upstreamBytes;
    },
    cutAll: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await work();
  return [value, (performance.now() - started) / 1000];
}

async function nameInForm(seller: Seller, gatewayUrl: string, uploadId: string): Promise<void> {
  const form = new FormData();
  for (const [key, value] of Object.entries({ title: 'Benchmark listing', latitude: '52.52', longitude: '13.405' })) form.append(key, value);
  const res = await fetch(`${gatewayUrl}/v1/uploads?videoUpload=${uploadId}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${seller.client.sessionToken}` },
    body: form,
  });
  if (res.status !== 202) throw new Error(`the form naming ${uploadId} was answered ${res.status}: ${await res.text()}`);
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'reelboard-bench-resumable-'));
  // Room for three unpaid gigabytes of one wallet; the reserve stays the default.
  const bench = await startBenchStack({
    QUOTE_TTL_SECONDS: '60',
    STAGING_MAX_UNPAID_BYTES_PER_WALLET: String(16 * 1024 ** 3),
    STAGING_MAX_UNPAID_UPLOADS_PER_WALLET: '10',
  });
  try {
    const file = await makeLargeMp4(work, TARGET_BYTES);
    const bytes = (await stat(file)).size;
    const seller = await newSeller(bench);
    const gateway = bench.stack.gatewayUrl;
    const token = seller.client.sessionToken ?? '';
    const loadBefore = loadavg();

    const [, multipartSeconds] = await timed(() => postListing(seller, file));
    const [, resumableSeconds] = await timed(async () => nameInForm(seller, gateway, await tusUpload(`${gateway}/v1/resumable-uploads`, token, file, bytes)));

    // Three forced disconnects, at a quarter, half and three quarters of the file through the relay.
    const relay = await startRelay(new URL(gateway));
    const cuts: number[] = [];
    const watcher = setInterval(() => {
      const next = [0.25, 0.5, 0.75][cuts.length];
      if (next !== undefined && relay.bytes >= bytes * next) {
        cuts.push(relay.bytes);
        relay.cutAll();
      }
    }, 5);
    const [, cutSeconds] = await timed(() => tusUpload(`${relay.url}/v1/resumable-uploads`, token, file, bytes)).finally(() => clearInterval(watcher));
    await relay.close();
    const resent = relay.bytes - bytes;
    const loadAfter = loadavg();

    const mbps = (seconds: number) => round(bytes / 1e6 / seconds, 1);
    const ratio = multipartSeconds / resumableSeconds;
    const perCut = cuts.length ? resent / cuts.length : 0;
    const mib = (value: number) => round(value / 1024 ** 2, 2);
    const data = {
      bytes,
      chunkBytes: CHUNK,
      multipartSeconds: round(multipartSeconds, 3),
      resumableSeconds: round(resumableSeconds, 3),
      ratio: round(ratio, 3),
      disconnects: cuts.length,
      cutAtBytes: cuts,
      cutRunSeconds: round(cutSeconds, 3),
      bytesThroughRelay: relay.bytes,
      bytesSentAgain: resent,
      loadAverage: { before: loadBefore.map((v) => round(v, 2)), after: loadAfter.map((v) => round(v, 2)) },
    };
    process.stderr.write(`${JSON.stringify(data)}\n`);
    const markdown = `
A ${mib(bytes)} MiB H.264 MP4 sent to one gateway on the same machine, one after the other in the same run:
as the plain listing form (multipart, \`GatewayClient.createListing\`, streamed from disk) until its 202, and
resumably (tus-js-client 4 in Node, ${CHUNK / 1024 ** 2} MiB chunks from a file stream, as the web client sends)
until the last chunk's answer plus the form that names the upload (202). Load average (1/5/15 min) before:
${loadBefore.map((v) => round(v, 2)).join(' / ')}, after: ${loadAfter.map((v) => round(v, 2)).join(' / ')} (the machine is shared).

| upload | seconds | MB/s |
|---|---|---|
| multipart form | ${round(multipartSeconds)} | ${mbps(multipartSeconds)} |
| resumable (tus) + form | ${round(resumableSeconds)} | ${mbps(resumableSeconds)} |

Throughput ratio, resumable / multipart: **${ratio.toFixed(2)}** (goal >= 0.8: ${ratio >= 0.8 ? 'met' : 'MISSED'}).

Then the same resumable upload through a TCP relay that cut every connection ${cuts.length} times (at
${cuts.map((at) => `${mib(at)} MiB`).join(', ')} relayed); tus-js-client asked for the offset (HEAD) and went on from it.
Bytes from the client through the relay: ${relay.bytes} for a ${bytes}-byte file: **${mib(resent)} MiB sent again in
all, ${mib(perCut)} MiB per disconnect** (request headers included; goal at most one chunk, ${CHUNK / 1024 ** 2} MiB, per disconnect:
${perCut <= CHUNK ? 'met' : 'MISSED'}). The cut run took ${round(cutSeconds)} s.
`;
    writeReport({
      part: 'resumable',
      title: 'Resumable uploads: tus vs multipart, and three disconnects',
      command: 'node --import tsx scripts/bench/resumable.ts',
      headline: `tus / multipart throughput ${ratio.toFixed(2)} (goal >= 0.8: ${ratio >= 0.8 ? 'met' : 'missed'}); ${mib(perCut)} MiB sent again per disconnect (goal <= one 8 MiB chunk: ${perCut <= CHUNK ? 'met' : 'missed'})`,
      markdown,
      data,
    });
  } finally {
    await bench.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
