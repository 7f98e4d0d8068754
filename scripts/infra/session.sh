# Sourced by scripts/dev.sh, test.sh and bench.sh (with $root set to the repo): installs what is
# missing, starts the local infrastructure, and defines stop_started_infra, which stops only the
# components this run started (infrastructure that was already running is left as it was).
# shellcheck shell=bash disable=SC2154
bash "$root/scripts/infra/install.sh"
up_log="$(mktemp)"
bash "$root/scripts/infra/up.sh" | tee "$up_log"
mapfile -t started < <(awk '$2 == "started" { print $1 }' "$up_log")
rm -f "$up_log"

stop_started_infra() {
  if ((${#started[@]} > 0)); then bash "$root/scripts/infra/down.sh" "${started[@]}"; fi
}
