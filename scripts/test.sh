#!/usr/bin/env bash
# The whole test suite, on a fresh Debian/Ubuntu machine with Node >= 20: installs what is
# missing, starts the local infrastructure (and afterwards stops only what this run started),
# type-checks, and runs every test: unit tests, the compose check and the end-to-end chain.
# Extra arguments go to vitest (e.g. a file filter: scripts/test.sh test/e2e).
set -euo pipefail
root="$(cd "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

bash scripts/infra/install.sh
up_log="$(mktemp)"
bash scripts/infra/up.sh | tee "$up_log"
mapfile -t started < <(awk '$2 == "started" { print $1 }' "$up_log")
rm -f "$up_log"
cleanup() {
  if ((${#started[@]} > 0)); then bash scripts/infra/down.sh "${started[@]}"; fi
}
trap cleanup EXIT

echo "== typecheck"
pnpm exec tsc -p tsconfig.json
pnpm exec tsc -p services/api-gateway/web/tsconfig.json
echo "== tests"
pnpm exec vitest run "$@"
