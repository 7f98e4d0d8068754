#!/usr/bin/env bash
# The whole test suite, on a fresh Debian/Ubuntu machine with Node >= 20: installs what is
# missing, starts the local infrastructure (and afterwards stops only what this run started, once no
# other run uses it), type-checks, and runs every test: unit tests, the compose check and the end-to-end chain.
# Extra arguments go to vitest (e.g. a file filter: scripts/test.sh test/e2e).
set -euo pipefail
root="$(cd "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
trap 'printf "ERROR: %s, line %s: \"%s\" failed (exit %s)\n" "${BASH_SOURCE[0]:-$0}" "$LINENO" "$BASH_COMMAND" "$?" >&2' ERR

# shellcheck source=scripts/infra/session.sh
source scripts/infra/session.sh
trap stop_started_infra EXIT

echo "== typecheck"
pnpm exec tsc -p tsconfig.json
pnpm exec tsc -p services/api-gateway/web/tsconfig.json
echo "== tests"
pnpm exec vitest run "$@"
