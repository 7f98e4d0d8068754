#!/usr/bin/env bash
# Benchmarks on the real local stack. Each part is scripts/bench/<part>.ts; it writes
# docs/benchmarks/<part>.md and .json (machine, versions, command, numbers). This script runs the
# parts given (default: all), then joins every part's markdown into docs/benchmarks.md.
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

{
  echo "# Benchmarks"
  echo
  echo "Produced by \`pnpm bench\` (\`bash scripts/bench.sh [part...]\`). Each section names the machine,"
  echo "the versions and the command; the raw numbers are in \`docs/benchmarks/<part>.json\`."
  echo "Figures are ratios against a reference measured in the same run, or absolute numbers with"
  echo "their conditions. Goals are stated beside the numbers; a missed goal says why."
  echo
  for md in docs/benchmarks/*.md; do
    [[ -f "$md" ]] || continue
    cat "$md"
    echo
  done
} > docs/benchmarks.md
echo "wrote docs/benchmarks.md"
