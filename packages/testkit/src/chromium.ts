import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './infra-env.js';

const distroScript = join(repoRoot, 'scripts', 'infra', 'distro.sh');

/**
 * The Chromium or Chrome the browser test drives (scripts/infra/distro.sh's find_chromium, the
 * same search install.sh makes): CHROMIUM_PATH, Debian's chromium, Google Chrome, a browser
 * playwright-core installed; never Ubuntu's snap wrapper. Throws one line saying what to do when
 * there is none.
 */
export function findChromium(): string {
  const script = `source "$1"; if find_chromium; then exit 0; fi; printf '%s\\n' "$NO_CHROMIUM_MESSAGE" >&2; exit 1`;
  try {
    return execFileSync('bash', ['-c', script, 'find-chromium', distroScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (error) {
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(stderr || `could not run ${distroScript}: ${String(error)}`);
  }
}
