// Writes docs/openapi.json: the OpenAPI 3.1 document the gateway serves at /openapi.json, rendered from
// the route table (@reelboard/api), for readers and client generators without a running gateway.
// The server URL is the local development gateway's. `--check` writes nothing and fails when the file
// is stale (a test runs it).
import { readFileSync, writeFileSync } from 'node:fs';
import { openApiDocument } from '../services/api-gateway/src/routes/openapi.js';

const target = new URL('../docs/openapi.json', import.meta.url);
const text = `${JSON.stringify(openApiDocument('http://localhost:8080'), null, 2)}\n`;
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing: stale
  }
  if (current !== text) {
    process.stderr.write('docs/openapi.json is stale: run `pnpm openapi`\n');
    process.exit(1);
  }
  process.stdout.write('docs/openapi.json is current\n');
} else {
  writeFileSync(target, text);
  process.stdout.write('wrote docs/openapi.json\n');
}
