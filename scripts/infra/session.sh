# Sourced by scripts/dev.sh, test.sh and bench.sh (with $root set to the repo): checks Node, installs
# what is missing, starts the local infrastructure, and defines stop_started_infra (also set as the
# EXIT trap here, so a run that fails before setting its own trap still cleans up).
#
# Runs share the infrastructure (`pnpm dev` in one terminal, `pnpm test` in another): each run holds
# a lease (.data/run/leases/<pid>) while it lives, and what a run started is recorded as started by a
# run (.data/run/run-started/<component>). The last run to leave stops those; a run never stops what
# another run still uses, nor what `scripts/infra/up.sh` started by hand. What a run that died
# without its exit trap (SIGKILL, a crash) started is not trusted by the next run: it is stopped
# and started afresh.
# shellcheck shell=bash disable=SC2154
# shellcheck source=scripts/infra/lib.sh
source "$root/scripts/infra/lib.sh"

use_node_lts
check_node_version
bash "$root/scripts/infra/install.sh"

lease_dir="$RUN_DIR/leases"
run_started_dir="$RUN_DIR/run-started"
mkdir -p "$lease_dir" "$run_started_dir"
exec {infra_lock_fd}>"$RUN_DIR/session.lock"

# A pid plus its start time (field 22 of /proc/PID/stat): a recycled pid does not hold a lease.
proc_start_time() { sed -E 's/^.*\) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
lease_alive() {
  local pid=${1##*/} want
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  want="$(head -n1 "$1" 2>/dev/null)"
  [[ -n "$want" && "$(proc_start_time "$pid")" == "$want" ]]
}
# live_leases: the pids of the other runs that hold a lease; dead runs' leases are removed.
live_leases() {
  local lease
  for lease in "$lease_dir"/*; do
    [[ -e "$lease" && "${lease##*/}" != "$$" ]] || continue
    if lease_alive "$lease"; then printf '%s\n' "${lease##*/}"; else rm -f -- "$lease"; fi
  done
}
run_started_components() {
  local mark
  for mark in "$run_started_dir"/*; do
    if [[ -e "$mark" ]]; then printf '%s\n' "${mark##*/}"; fi
  done
}

session_stopped=0
stop_started_infra() {
  ((session_stopped)) && return 0
  session_stopped=1
  flock "$infra_lock_fd"
  rm -f -- "$lease_dir/$$"
  local others components
  others="$(live_leases | tr '\n' ' ')"
  mapfile -t components < <(run_started_components)
  if [[ -n "$others" ]]; then
    ((${#components[@]} == 0)) || log "leaving ${components[*]} running: still used by the run(s) with pid ${others% }"
  elif ((${#components[@]})); then
    bash "$root/scripts/infra/down.sh" "${components[@]}" || warn "down.sh ${components[*]} failed; see above"
    rm -f -- "${components[@]/#/$run_started_dir/}"
  fi
  flock -u "$infra_lock_fd"
}
trap stop_started_infra EXIT

# One run at a time decides what to start or stop, so a run leaving never stops what one arriving
# is about to reuse.
flock "$infra_lock_fd"
proc_start_time $$ >"$lease_dir/$$"
if [[ -z "$(live_leases)" ]]; then
  mapfile -t orphans < <(run_started_components)
  if ((${#orphans[@]})); then
    log "${orphans[*]}: started by a run that ended without stopping them; restarting them rather than trusting their state"
    bash "$root/scripts/infra/down.sh" "${orphans[@]}"
    rm -f -- "${orphans[@]/#/$run_started_dir/}"
  fi
fi
started_log="$(mktemp)"
up_status=0
INFRA_STARTED_LOG="$started_log" bash "$root/scripts/infra/up.sh" || up_status=$?
while IFS= read -r component; do
  if [[ -n "$component" ]]; then touch "$run_started_dir/$component"; fi
done <"$started_log"
rm -f -- "$started_log"
flock -u "$infra_lock_fd"
((up_status == 0)) || die "scripts/infra/up.sh failed (exit $up_status); see its messages above"
