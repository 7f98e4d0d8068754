#!/usr/bin/env bash
# Benchmarks on the real local stack. Each part is scripts/bench/<part>.ts; it writes its dated
# report docs/benchmarks/reports/<date>-<part>.md and its latest figures docs/benchmarks/<part>.json
# (machine, versions, command, headline, numbers). This script runs the parts given (default: all),
# then builds the summary table docs/benchmarks.md from the latest figures.
# Benchmarks never fail on time: they report, with the goal beside the number.
# `bash scripts/bench.sh --report` only rebuilds docs/benchmarks.md from the parts' last results.
set -euo pipefail
root="$(cd "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
trap 'printf "ERROR: %s, line %s: \"%s\" failed (exit %s)\n" "${BASH_SOURCE[0]:-$0}" "$LINENO" "$BASH_COMMAND" "$?" >&2' ERR

if [[ "${1:-}" != --report ]]; then
  # shellcheck source=scripts/infra/session.sh
  source scripts/infra/session.sh
  trap stop_started_infra EXIT

  parts=("$@")
  if ((${#parts[@]} == 0)); then
    mapfile -t parts < <(find scripts/bench -maxdepth 1 -name '*.ts' -printf '%f\n' | sed 's/\.ts$//' | sort)
  fi
  for part in "${parts[@]}"; do
    echo "== bench: $part"
    node --import tsx "scripts/bench/$part.ts"
  done
fi

node --import tsx scripts/bench/lib/summary.ts
