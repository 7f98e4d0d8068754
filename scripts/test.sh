#!/usr/bin/env bash
# The whole test suite, on a fresh Debian/Ubuntu machine: brings the pinned Node LTS when the machine's
# node is older (scripts/infra/lib.sh, use_node_lts), installs what is
# missing, starts the local infrastructure (and afterwards stops only what this run started, once no
# other run uses it), lints (Biome: format, imports and lint rules, biome.jsonc), type-checks, and runs
# the test lanes: the unit lane (tests that need no infrastructure, files in parallel), then the
# integration lane (the real stack, one file at a time) with its side lane beside it (one file at a time).
# Extra arguments go to vitest in both lanes (e.g. a file filter: scripts/test.sh test/e2e).
set -euo pipefail
root="$(cd "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
trap 'printf "ERROR: %s, line %s: \"%s\" failed (exit %s)\n" "${BASH_SOURCE[0]:-$0}" "$LINENO" "$BASH_COMMAND" "$?" >&2' ERR

# shellcheck source=scripts/infra/session.sh
source scripts/infra/session.sh
trap stop_started_infra EXIT

echo "== lint"
pnpm lint
echo "== typecheck"
pnpm exec tsc -p tsconfig.json
pnpm exec tsc -p packages/web/tsconfig.json
# A filter may match files of one lane only; without a filter an empty lane is an error.
filtered=()
if (($# > 0)); then filtered=(--passWithNoTests); fi
echo "== unit tests"
pnpm exec vitest run --project unit "${filtered[@]}" "$@"
echo "== build"
# The integration lane starts the services from the compiled bundles the images run (STACK_RUNTIME,
# packages/testkit/src/stack.ts), so it tests what ships.
pnpm build
export STACK_RUNTIME=dist
echo "== integration tests (the side lane runs beside them; its report follows theirs)"
# The side lane (vitest.config.ts, sideLaneTests): files that mostly wait, isolated from the serial lane's
# by ports, database and keys, so they run in a second vitest on the CPU the serial lane leaves idle.
side_log="$(mktemp)"
pnpm exec vitest run --project integration-side "${filtered[@]}" "$@" >"$side_log" 2>&1 &
side_pid=$!
serial_status=0
pnpm exec vitest run --project integration "${filtered[@]}" "$@" || serial_status=$?
side_status=0
wait "$side_pid" || side_status=$?
echo "== integration tests, side lane"
cat "$side_log"
rm -f "$side_log"
if ((serial_status != 0 || side_status != 0)); then
  printf 'ERROR: integration tests failed (serial lane exit %s, side lane exit %s)\n' "$serial_status" "$side_status" >&2
  exit 1
fi
