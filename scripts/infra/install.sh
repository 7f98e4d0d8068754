#!/usr/bin/env bash
# Installs what the local stack needs on Debian or Ubuntu, skipping whatever is already there.
# Usage: scripts/infra/install.sh [--skip-node-deps]
#   --skip-node-deps (or SKIP_NODE_DEPS=1): don't run `pnpm install`.
#   PG_MAJOR=N: install and run Postgres N (default: the distribution's, see scripts/infra/distro.sh).
#   Runs as root, or as a user with sudo (only apt-get and a global npm install use it).
set -euo pipefail
# shellcheck source=scripts/infra/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

PNPM_VERSION="${PNPM_VERSION:-12.21.0}"
skip_node_deps="${SKIP_NODE_DEPS:-0}"

for arg in "$@"; do
  case "$arg" in
    --skip-node-deps) skip_node_deps=1 ;;
    -h | --help)
      sed -n '2,6p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) die "unknown argument: $arg" ;;
  esac
done

apt_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}
# apt_installable PKG: apt has a candidate version of PKG (after apt-get update).
apt_installable() {
  local candidate
  candidate="$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')"
  [[ -n "$candidate" && "$candidate" != "(none)" ]]
}

apt_updated=0
apt_update_once() {
  ((apt_updated)) && return 0
  apt_updated=1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || warn "apt-get update failed; installing from the package lists already on this machine"
}

# Postgres: keep a major that is installed with PostGIS; otherwise the distribution's own (from
# /etc/os-release: Debian 12 -> 15, 13 -> 17, Ubuntu 22.04 -> 14, 24.04 -> 16), and when apt cannot
# install that one (another distribution, the PGDG repository), the highest it can with PostGIS.
postgres_wanted=()
installed_pg="$(installed_postgres_majors | head -n1)"
if [[ -n "${PG_BIN:-}" ]]; then
  log "Postgres: using PG_BIN=$PG_BIN"
elif [[ -n "$installed_pg" && -z "${PG_MAJOR:-}" ]]; then
  log "Postgres $installed_pg with PostGIS present"
else
  pg_major="$(postgres_major)" || pg_major=''
  if [[ -z "$pg_major" ]] || ! apt_installable "postgresql-$pg_major-postgis-3"; then
    command -v apt-get >/dev/null 2>&1 && apt_update_once
    if [[ -z "$pg_major" ]] || ! apt_installable "postgresql-$pg_major-postgis-3"; then
      fallback="$(apt-cache pkgnames postgresql- 2>/dev/null | postgres_major_from_packages)" || fallback=''
      [[ -n "$fallback" ]] && log "Postgres ${pg_major:-?} with PostGIS is not installable here; using Postgres $fallback"
      pg_major="${fallback:-$pg_major}"
    fi
  fi
  if [[ -n "$pg_major" ]]; then
    mapfile -t postgres_wanted < <(postgres_packages "$pg_major")
  else
    postgres_wanted=(postgresql-postgis)
    warn "no Postgres major known for $(os_release_field "$OS_RELEASE_FILE" PRETTY_NAME) and none with PostGIS in apt; set PG_MAJOR"
  fi
fi

# Without these the stack does not start.
REQUIRED_PACKAGES=(redis-server ffmpeg "${postgres_wanted[@]}")
# docker-compose validates docker-compose.yml (test/compose.test.ts); chromium (with a font, for
# legible screenshots) runs the web client's browser test: playwright-core drives the one found
# by find_chromium and never downloads a browser of its own.
OPTIONAL_PACKAGES=(docker-compose fonts-liberation)
if ! find_chromium >/dev/null; then
  if [[ "$(os_release_field "$OS_RELEASE_FILE" ID)" == debian ]]; then
    OPTIONAL_PACKAGES+=(chromium)
  else
    # Ubuntu's apt `chromium` only installs the snap, which playwright cannot drive.
    warn "$NO_CHROMIUM_MESSAGE"
  fi
fi

missing=()
for pkg in "${REQUIRED_PACKAGES[@]}" "${OPTIONAL_PACKAGES[@]}"; do
  apt_installed "$pkg" || missing+=("$pkg")
done
# redis-server and ffmpeg may come from elsewhere (a source build, another package name).
command -v redis-server >/dev/null 2>&1 && missing=("${missing[@]/redis-server/}")
command -v ffmpeg >/dev/null 2>&1 && missing=("${missing[@]/ffmpeg/}")
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sed '/^$/d')

failed_required=()
failed_optional=()
if ((${#missing[@]})); then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"
  apt_update_once
  # One at a time, so a package this release lacks does not stop the others.
  for pkg in "${missing[@]}"; do
    log "installing $pkg"
    if as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg"; then
      continue
    fi
    if [[ " ${REQUIRED_PACKAGES[*]} " == *" $pkg "* ]]; then failed_required+=("$pkg"); else failed_optional+=("$pkg"); fi
  done
  # Debian starts the packaged services on install; ours run on their own ports, so
  # the system ones are left alone either way.
else
  log "apt packages present: ${REQUIRED_PACKAGES[*]} ${OPTIONAL_PACKAGES[*]}"
fi
if ((${#failed_optional[@]})); then
  warn "could not install (optional): ${failed_optional[*]}; $(
    [[ " ${failed_optional[*]} " == *" docker-compose "* ]] && printf 'test/compose.test.ts needs docker-compose; '
    [[ " ${failed_optional[*]} " == *" chromium "* ]] && printf '%s' "$NO_CHROMIUM_MESSAGE"
  )"
fi
if ((${#failed_required[@]})); then
  die "could not install: ${failed_required[*]} (see apt's message above; on Ubuntu enable the universe component; for Postgres set PG_MAJOR to a major apt has, or PG_BIN to your own binaries)"
fi

use_node_lts
check_node_version
command -v npm >/dev/null 2>&1 || die "npm is required to install pnpm"

current_pnpm="$(pnpm --version 2>/dev/null | tail -n1 || true)"
if [[ "$current_pnpm" != "$PNPM_VERSION" ]]; then
  log "installing pnpm $PNPM_VERSION (found: ${current_pnpm:-none})"
  npm_prefix="$(npm prefix -g)"
  if [[ -w "$npm_prefix/lib" || -w "$npm_prefix" ]]; then
    npm install -g "pnpm@$PNPM_VERSION"
  else
    as_root npm install -g "pnpm@$PNPM_VERSION"
  fi
  hash -r
else
  log "pnpm $PNPM_VERSION present"
fi

if [[ "$skip_node_deps" == 1 ]]; then
  log "skipping pnpm install"
elif [[ -f "$REPO_ROOT/pnpm-lock.yaml" ]]; then
  (cd "$REPO_ROOT" && pnpm install --frozen-lockfile)
else
  (cd "$REPO_ROOT" && pnpm install)
fi

log "install done"
