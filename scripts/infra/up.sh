#!/usr/bin/env bash
# Starts the local stack (Redis, Postgres+PostGIS, s3rver, anvil) on project-specific
# ports with data under <repo>/.data, reusing instances an earlier run started.
# Writes .data/infra.env for the services and tests.
# Ports: REDIS_PORT (6390), PG_PORT (5440), S3_PORT (4569), ANVIL_PORT (8546), ANVIL2_PORT
# (ANVIL_PORT+1: a second chain, id 31338, so several chains are watched at once locally).
set -euo pipefail
# shellcheck source=scripts/infra/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

CHAIN_ID=31337
SECOND_CHAIN_ID=31338
ANVIL_MNEMONIC="${ANVIL_MNEMONIC:-test test test test test test test test test test test junk}"
S3_BUCKETS=(reelboard reelboard-test)

mkdir -p "$DATA_DIR" "$RUN_DIR" "$MARK_DIR"
summary=()
failed=0

report() { summary+=("$(printf '%-9s %-8s %s' "$1" "$2" "$3")"); }

# http_ok URL [JSON_BODY]: a 2xx answer (POST when a body is given). Node, not curl,
# because node is the one thing every machine running this project has.
# shellcheck disable=SC2317
http_ok() {
  node -e '
    const [url, body] = process.argv.slice(1);
    const init = body ? { method: "POST", headers: { "content-type": "application/json" }, body } : {};
    fetch(url, { ...init, signal: AbortSignal.timeout(2000) })
      .then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));
  ' "$@"
}

# Readiness probes, called through wait_for_cmd (shellcheck can't see indirect calls).
# shellcheck disable=SC2317
redis_ping() { [[ "$(redis-cli -h "$BIND_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }
# shellcheck disable=SC2317
pg_ready() { "$1/pg_isready" -q -h "$BIND_HOST" -p "$PG_PORT"; }
# shellcheck disable=SC2317
anvil_ready() { http_ok "$1" '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'; }

start_redis() {
  local pidfile dir
  pidfile="$(pidfile_for redis)"
  dir="$DATA_DIR/redis"
  command -v redis-server >/dev/null 2>&1 || die "redis-server not installed (run scripts/infra/install.sh)"

  if pid_alive "$pidfile" redis-server; then
    pid_cmdline "$pidfile" | grep -q ":$REDIS_PORT " || die_port_changed redis "$REDIS_PORT"
    # It may still be replaying its append-only file.
    wait_for_cmd 60 redis_ping || die "redis (pid $(read_pid "$pidfile")) runs but does not answer on $REDIS_PORT; see $DATA_DIR/redis.log"
    report redis reused "$BIND_HOST:$REDIS_PORT (pid $(read_pid "$pidfile"))"
    return
  fi
  port_open "$BIND_HOST" "$REDIS_PORT" &&
    die "port $REDIS_PORT is taken by a process this project did not start; set REDIS_PORT"

  mkdir -p "$dir"
  redis-server --bind "$BIND_HOST" --port "$REDIS_PORT" --dir "$dir" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
    --daemonize yes --pidfile "$pidfile" --logfile "$DATA_DIR/redis.log"
  wait_for_cmd 30 redis_ping || die "redis did not answer on $REDIS_PORT; see $DATA_DIR/redis.log"
  mark_started redis
  report redis started "$BIND_HOST:$REDIS_PORT (pid $(read_pid "$pidfile"))"
}

start_postgres() {
  local bin base pgdata sockdir logfile locale_opt
  bin="$(pg_bin_dir)"
  base="$(pg_base_dir)"
  if [[ "$base" != "$DATA_DIR" ]]; then
    log "postgres user cannot reach $REPO_ROOT; keeping the Postgres cluster in $base instead"
  fi
  pgdata="$base/postgres"
  logfile="$base/postgres.log"
  # Unix socket paths are limited to ~107 bytes.
  sockdir="$base/pg-socket"
  if ((${#sockdir} > 80)); then
    sockdir="/tmp/reelboard-$(short_repo_hash)-pg"
  fi
  printf '%s\n' "$base" >"$PG_DIR_RECORD"

  local reused=0
  if [[ -f "$pgdata/PG_VERSION" ]] && as_pg_user "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
    # Line 4 of postmaster.pid is the port the running server listens on.
    [[ "$(sed -n 4p "$pgdata/postmaster.pid" 2>/dev/null)" == "$PG_PORT" ]] || die_port_changed postgres "$PG_PORT"
    wait_for_cmd 60 pg_ready "$bin" || die "postgres runs from $pgdata but does not answer on $PG_PORT; see $logfile"
    reused=1
  else
    port_open "$BIND_HOST" "$PG_PORT" &&
      die "port $PG_PORT is taken by a process this project did not start; set PG_PORT"

    mkdir -p "$base" "$pgdata" "$sockdir"
    touch "$logfile"
    if is_root; then
      chmod 755 "$base"
      chown postgres:postgres "$pgdata" "$sockdir" "$logfile"
    fi
    chmod 700 "$pgdata"

    if [[ ! -f "$pgdata/PG_VERSION" ]]; then
      # C.UTF-8 so lower()/ILIKE work on non-ASCII hashtags; C collation keeps sorting stable.
      if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
        locale_opt=(--locale=C.UTF-8)
      else
        locale_opt=(--no-locale)
      fi
      log "initialising Postgres cluster in $pgdata"
      # Trust over the local socket (admin tasks), passwords over TCP (what the services use).
      as_pg_user "$bin/initdb" -D "$pgdata" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 "${locale_opt[@]}" >>"$logfile" 2>&1 ||
        die "initdb failed; see $logfile"
    fi
    as_pg_user "$bin/pg_ctl" -D "$pgdata" -l "$logfile" -w -t 60 \
      -o "-p $PG_PORT -k $sockdir -c listen_addresses=$BIND_HOST" start >/dev/null ||
      die "postgres did not start; see $logfile"
    wait_for_cmd 30 pg_ready "$bin" || die "postgres did not answer on $PG_PORT; see $logfile"
    mark_started postgres
  fi

  # Superuser because migrations run CREATE EXTENSION postgis; local development only.
  as_pg_user "$bin/psql" -h "$sockdir" -p "$PG_PORT" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL' ||
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reelboard') THEN
    CREATE ROLE reelboard LOGIN SUPERUSER PASSWORD 'reelboard';
  ELSE
    ALTER ROLE reelboard LOGIN SUPERUSER PASSWORD 'reelboard';
  END IF;
END
$$;
SELECT format('CREATE DATABASE %I OWNER reelboard', d)
FROM unnest(ARRAY['reelboard', 'reelboard_test']) AS d
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d)
\gexec
SQL
    die "could not create the reelboard role/databases; see $logfile"

  local pid
  pid="$(head -n1 "$pgdata/postmaster.pid" 2>/dev/null || echo '?')"
  if ((reused)); then
    report postgres reused "$BIND_HOST:$PG_PORT (pid $pid, data $pgdata)"
  else
    report postgres started "$BIND_HOST:$PG_PORT (pid $pid, data $pgdata)"
  fi
}

start_s3() {
  local pidfile dir entry pid
  pidfile="$(pidfile_for s3rver)"
  dir="$DATA_DIR/s3"
  entry="$REPO_ROOT/node_modules/s3rver/bin/s3rver.js"

  if pid_alive "$pidfile" s3rver; then
    pid_cmdline "$pidfile" | grep -q -- "-p $S3_PORT " || die_port_changed s3rver "$S3_PORT"
    wait_for_port "$BIND_HOST" "$S3_PORT" 30 || die "s3rver runs but does not answer on $S3_PORT; see $DATA_DIR/s3rver.log"
    report s3rver reused "http://$BIND_HOST:$S3_PORT (pid $(read_pid "$pidfile"))"
    return
  fi
  port_open "$BIND_HOST" "$S3_PORT" &&
    die "port $S3_PORT is taken by a process this project did not start; set S3_PORT"
  [[ -f "$entry" ]] || die "s3rver not found in node_modules (run pnpm install)"

  mkdir -p "$dir"
  local args=(-d "$dir" -a "$BIND_HOST" -p "$S3_PORT" --silent)
  local bucket
  # --configure-bucket only creates the bucket directory if missing; objects survive restarts. Each
  # bucket gets the CORS rule the browser's adaptive player needs (Range GETs from another origin).
  for bucket in "${S3_BUCKETS[@]}"; do
    args+=(--configure-bucket "$bucket" "$INFRA_DIR/s3-cors.xml")
  done
  # Node on the entry point directly, so the pidfile holds the server, not a shell shim.
  spawn_detached "$pidfile" "$DATA_DIR/s3rver.log" node "$entry" "${args[@]}"
  pid="$(read_pid "$pidfile")"
  wait_for_port "$BIND_HOST" "$S3_PORT" 30 || die "s3rver did not start; see $DATA_DIR/s3rver.log"
  mark_started s3rver
  report s3rver started "http://$BIND_HOST:$S3_PORT (pid $pid, buckets ${S3_BUCKETS[*]})"
}

# start_anvil NAME PORT CHAIN_ID: one local chain, its state kept under .data/NAME.
start_anvil() {
  local name=$1 port=$2 chain_id=$3 pidfile dir bin pid url
  pidfile="$(pidfile_for "$name")"
  dir="$DATA_DIR/$name"
  url="http://$BIND_HOST:$port"

  if pid_alive "$pidfile" anvil; then
    pid_cmdline "$pidfile" | grep -q -- "--port $port " || die_port_changed "$name" "$port"
    wait_for_cmd 30 anvil_ready "$url" || die "$name runs but does not answer on $port; see $DATA_DIR/$name.log"
    report "$name" reused "$url (pid $(read_pid "$pidfile"), chain $chain_id)"
    return
  fi
  port_open "$BIND_HOST" "$port" &&
    die "port $port is taken by a process this project did not start; set ANVIL_PORT (the second chain takes ANVIL_PORT+1, or ANVIL2_PORT)"
  bin="$(find_anvil)"
  [[ -n "$bin" ]] || die "anvil binary not found under node_modules/.pnpm (run pnpm install)"

  mkdir -p "$dir"
  # --state persists the chain across restarts (so nonces and tx hashes stay unique);
  # the interval dump limits what a hard kill loses.
  spawn_detached "$pidfile" "$DATA_DIR/$name.log" "$bin" --host "$BIND_HOST" --port "$port" \
    --chain-id "$chain_id" --block-time "${ANVIL_BLOCK_TIME:-1}" --mnemonic "$ANVIL_MNEMONIC" \
    --state "$dir/state.json" --state-interval 5
  pid="$(read_pid "$pidfile")"
  if ! wait_for_cmd 60 anvil_ready "$url"; then
    die "$name did not answer eth_chainId on $port; see $DATA_DIR/$name.log (a corrupt $dir/state.json can cause this)"
  fi
  mark_started "$name"
  report "$name" started "$url (pid $pid, chain $chain_id)"
}

check_ffmpeg() {
  if ! command -v ffmpeg >/dev/null 2>&1 || ! ffmpeg -hide_banner -version >/dev/null 2>&1; then
    report ffmpeg MISSING "install it with scripts/infra/install.sh"
    failed=1
    return
  fi
  local encoders enc missing=()
  encoders="$(ffmpeg -hide_banner -encoders 2>/dev/null)"
  for enc in libvpx-vp9 libopus libwebp; do
    grep -qw -- "$enc" <<<"$encoders" || missing+=("$enc")
  done
  if ((${#missing[@]})); then
    report ffmpeg MISSING "encoders not built in: ${missing[*]}"
    failed=1
    return
  fi
  report ffmpeg ok "$(ffmpeg -hide_banner -version | head -n1 | cut -d' ' -f1-3)"
}

write_env() {
  local tmp="$DATA_DIR/infra.env.tmp"
  cat >"$tmp" <<EOF
REDIS_URL=redis://$BIND_HOST:$REDIS_PORT
DATABASE_URL=postgres://reelboard:reelboard@$BIND_HOST:$PG_PORT/reelboard
TEST_DATABASE_URL=postgres://reelboard:reelboard@$BIND_HOST:$PG_PORT/reelboard_test
S3_ENDPOINT=http://$BIND_HOST:$S3_PORT
S3_REGION=us-east-1
S3_BUCKET=reelboard
TEST_S3_BUCKET=reelboard-test
S3_ACCESS_KEY_ID=S3RVER
S3_SECRET_ACCESS_KEY=S3RVER
S3_FORCE_PATH_STYLE=true
RPC_URL=http://$BIND_HOST:$ANVIL_PORT
CHAIN_ID=$CHAIN_ID
SECOND_RPC_URL=http://$BIND_HOST:$ANVIL2_PORT
SECOND_CHAIN_ID=$SECOND_CHAIN_ID
EOF
  mv "$tmp" "$DATA_DIR/infra.env"
}

start_redis
start_postgres
start_s3
start_anvil anvil "$ANVIL_PORT" "$CHAIN_ID"
start_anvil anvil2 "$ANVIL2_PORT" "$SECOND_CHAIN_ID"
check_ffmpeg
write_env

printf '%s\n' "${summary[@]}"
printf 'env       written  %s\n' "$DATA_DIR/infra.env"
exit "$failed"
