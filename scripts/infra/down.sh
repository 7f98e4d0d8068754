#!/usr/bin/env bash
# Stops what scripts/infra/up.sh started (and nothing else); data stays in .data/.
# Usage: scripts/infra/down.sh [--purge] [COMPONENT...]
#   COMPONENTs (redis postgres s3rver anvil anvil2) limit what is stopped; default all of them.
#   --purge also deletes .data/ (all local data).
set -euo pipefail
# shellcheck source=scripts/infra/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

purge=0
only=()
for arg in "$@"; do
  case "$arg" in
    --purge) purge=1 ;;
    redis | postgres | s3rver | anvil | anvil2) only+=("$arg") ;;
    -h | --help)
      sed -n '2,5p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) die "unknown argument: $arg" ;;
  esac
done

stop_component() {
  local name=$1 pattern=$2 pidfile
  pidfile="$(pidfile_for "$name")"
  if ! started_by_us "$name"; then
    return 0
  fi
  if pid_alive "$pidfile" "$pattern"; then
    # anvil writes its state file on SIGTERM, so give it time.
    stop_pidfile "$pidfile" "$name" 30
    log "$name stopped"
  else
    rm -f "$pidfile"
    log "$name was not running"
  fi
  unmark_started "$name"
}

stop_postgres() {
  local base pgdata bin
  started_by_us postgres || return 0
  base="$(pg_base_dir)"
  pgdata="$base/postgres"
  if [[ -f "$pgdata/PG_VERSION" ]] && bin="$(pg_bin_dir)" &&
    as_pg_user "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    as_pg_user "$bin/pg_ctl" -D "$pgdata" -m fast -w -t 60 stop >/dev/null
    log "postgres stopped"
  else
    log "postgres was not running"
  fi
  unmark_started postgres
}

wanted() { ((${#only[@]} == 0)) || [[ " ${only[*]} " == *" $1 "* ]]; }

if wanted anvil; then stop_component anvil anvil; fi
if wanted anvil2; then stop_component anvil2 anvil; fi
if wanted s3rver; then stop_component s3rver s3rver; fi
if wanted redis; then stop_component redis redis-server; fi
if wanted postgres; then stop_postgres; fi

if ((purge)); then
  pg_base="$(pg_base_dir)"
  if [[ "$pg_base" != "$DATA_DIR" && "$pg_base" == /var/tmp/reelboard-* ]]; then
    as_root rm -rf -- "$pg_base"
  fi
  if [[ -d "$DATA_DIR" ]]; then
    # Postgres files belong to the postgres user.
    if is_root || [[ -z "$(find "$DATA_DIR" ! -user "$(id -u)" -print -quit 2>/dev/null)" ]]; then
      rm -rf -- "$DATA_DIR"
    else
      as_root rm -rf -- "$DATA_DIR"
    fi
  fi
  log "purged local data"
fi
log "down"
