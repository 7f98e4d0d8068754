// Uploads a video for a wallet on the dev chain, pays for it, and follows the stages live:
//   pnpm upload --video clip.mp4 --title "Bike" [--logo logo.png] [--hashtags "#bikes #berlin"]
//               [--lat 52.52 --lng 13.405] [--gateway http://localhost:8080] [--rpc http://127.0.0.1:8546]
//   (beside `pnpm dev`, the gateway and chain default to the stack's, read from .data/dev.env)
//               [--key 0x…] (default: anvil's public test account 1, the demo wallet)
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { privateKeyToAccount } from 'viem/accounts';
import { GatewayClient, GatewayError, payQuote } from '@reelboard/client';
import type { StatusEvent } from '@reelboard/contracts';
import { loadDevStackEnv } from './dev-stack-env.js';

const DEMO_KEY = '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d';
const STAGES = ['upload.received', 'payment.confirmed', 'video.transcoded', 'preview.extracted', 'assets.stored', 'profile.saved'];

// Beside `pnpm dev`, its gateway (PUBLIC_URL) and chain (RPC_URL) are the defaults, as for the other
// operators' commands; the environment and the options still win.
const devStack = loadDevStackEnv();

const { values: args } = parseArgs({
  options: {
    video: { type: 'string' },
    logo: { type: 'string' },
    title: { type: 'string' },
    description: { type: 'string', default: '' },
    hashtags: { type: 'string', default: '' },
    lat: { type: 'string', default: '52.52' },
    lng: { type: 'string', default: '13.405' },
    name: { type: 'string' },
    contact: { type: 'string' },
    gateway: { type: 'string', default: process.env.GATEWAY_URL ?? process.env.PUBLIC_URL ?? 'http://localhost:8080' },
    rpc: { type: 'string', default: process.env.RPC_URL ?? 'http://127.0.0.1:8546' },
    key: { type: 'string', default: process.env.WALLET_KEY ?? DEMO_KEY },
    help: { type: 'boolean', short: 'h' },
  },
});

if (args.help || !args.video || !args.title) {
  process.stderr.write(
    'usage: pnpm upload --video FILE --title TEXT [--logo FILE] [--hashtags "#a #b"] [--lat N --lng N] [--gateway URL] [--rpc URL] [--key 0x…]\n',
  );
  process.exit(args.help ? 0 : 2);
}

const account = privateKeyToAccount(args.key as `0x${string}`);
const client = new GatewayClient(args.gateway);
const bars = new cliProgress.MultiBar({ hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic);

async function main(): Promise<number> {
  const chainId = Number(
    await (
      (await fetch(args.rpc, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      }).then((r) => r.json())) as { result: string }
    ).result,
  );
  const session = await client.signIn(account, chainId);
  bars.log(`signed in as ${session.address}\n`);

  const total = statSync(args.video as string).size + (args.logo ? statSync(args.logo).size : 0);
  const upload = bars.create(total, 0, { note: '' }, { format: ' upload   [{bar}] {percentage}% {note}' });
  const fields: Record<string, string> = {
    title: args.title as string,
    description: args.description ?? '',
    hashtags: args.hashtags ?? '',
    latitude: args.lat ?? '',
    longitude: args.lng ?? '',
  };
  if (args.name) fields.displayName = args.name;
  if (args.contact) fields.contact = args.contact;
  const { uploadId, payment } = await client.createListing({ video: args.video as string, logo: args.logo }, fields, (sent) =>
    upload.update(Math.min(sent, total)),
  );
  upload.update(total, { note: uploadId });
  upload.stop();

  const pipeline = bars.create(100, 0, { note: 'waiting for payment' }, { format: ' pipeline [{bar}] {percentage}% {note}' });
  const follow = client.followEvents(uploadId, (event: StatusEvent, name: string) => {
    const done = STAGES.indexOf(name);
    if (done >= 0) pipeline.update(Math.round(((done + 1) / STAGES.length) * 100), { note: name });
    else if (name === 'progress' && event.progress !== undefined) {
      // Transcoding is the long stage: its percent fills the slice between payment and transcoded.
      pipeline.update(Math.round(((2 + event.progress / 100) / STAGES.length) * 100), { note: `${event.message ?? 'working'} ${event.progress}%` });
    } else if (name === 'progress') pipeline.update({ note: event.message ?? '' });
    else bars.log(`${name}: ${event.reason ?? ''}\n`);
  });

  const txHash = await payQuote(args.rpc, account, payment);
  bars.log(`paid ${payment.amount} wei to ${payment.to}: ${txHash}\n`);
  await client.submitPayment(uploadId, txHash);
  const end = await follow.done;
  pipeline.stop();
  bars.stop();
  process.stdout.write(`${end.event}${end.reason ? `: ${end.reason}` : ''}\nupload ${uploadId}\n`);
  return end.event === 'profile.saved' ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    bars.stop();
    process.stderr.write(`${describeFailure(error)}\n`);
    process.exit(1);
  },
);

/** What failed, in words: a gateway refusal with its body, or which address could not be reached. */
function describeFailure(error: unknown): string {
  if (error instanceof GatewayError) return `${error.message} ${JSON.stringify(error.body)}`;
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined;
  if (error instanceof TypeError && error.message === 'fetch failed') {
    return `could not reach the gateway (${args.gateway}) or the chain (${args.rpc})${cause ? `: ${cause}` : ''}; is the stack up? set --gateway and --rpc${devStack ? '' : ' (no .data/dev.env from pnpm dev was found)'}`;
  }
  return String(error);
}
