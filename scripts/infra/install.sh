#!/usr/bin/env bash
# Installs what the local stack needs on Debian, skipping whatever is already there.
# Usage: scripts/infra/install.sh [--skip-node-deps]
#   --skip-node-deps (or SKIP_NODE_DEPS=1): don't run `pnpm install`.
set -euo pipefail
# shellcheck source=scripts/infra/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

PNPM_VERSION="${PNPM_VERSION:-12.21.0}"
# chromium (with a font, for legible screenshots) runs the web client's browser test: playwright-core
# drives this one and never downloads a browser of its own.
APT_PACKAGES=(redis-server postgresql-15-postgis-3 ffmpeg docker-compose chromium fonts-liberation)
skip_node_deps="${SKIP_NODE_DEPS:-0}"

for arg in "$@"; do
  case "$arg" in
    --skip-node-deps) skip_node_deps=1 ;;
    -h | --help)
      sed -n '2,4p' "${BASH_SOURCE[0]}"
      exit 0
      ;;
    *) die "unknown argument: $arg" ;;
  esac
done

apt_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  apt_installed "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]})); then
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install by hand: ${missing[*]}"
  log "installing apt packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  # Debian starts the packaged services on install; ours run on their own ports, so
  # the system ones are left alone either way.
else
  log "apt packages present: ${APT_PACKAGES[*]}"
fi

command -v node >/dev/null 2>&1 || die "node (>= 20) is required"
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
