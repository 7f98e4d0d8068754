#!/usr/bin/env bash
# Runs a command in another Debian release, built here with debootstrap, to prove the installers
# and the suite where a new user runs them (another Postgres, ffmpeg and Node than this machine's).
# Not part of the suite: it needs root and takes minutes.
#
# Usage: scripts/infra/try-distro.sh [--suite SUITE] [--dir DIR] [--fresh] [--keep-running] [--] COMMAND...
#   scripts/infra/try-distro.sh -- bash scripts/test.sh                 # the README's test command on Debian 13
#   scripts/infra/try-distro.sh -- bash scripts/test.sh packages/media  # only some test files
#   scripts/infra/try-distro.sh -- bash scripts/dev.sh                  # the development stack (Ctrl-C stops it)
#   scripts/infra/try-distro.sh -- bash                                 # a shell in the root
#
#   --suite SUITE    Debian release to build (default trixie, Debian 13: ffmpeg 7.1, Postgres 17, Node 20.19).
#   --dir DIR        where the root lives (default /var/tmp/reelboard-<checkout hash>-<suite>); it is kept
#                    and reused, so only the first run pays for debootstrap, apt and pnpm install.
#   --fresh          delete DIR and build it again.
#   --keep-running   leave the infrastructure the command started running (default: down.sh in the root).
#
# The root gets the base system, nodejs and npm (what the README asks a machine to have), this
# machine's CA bundle and npm configuration (a registry behind a TLS proxy works in the root too),
# and a copy of this checkout in /repo: the files git tracks or would track (uncommitted changes
# included; node_modules and .data are the root's own). The root shares this machine's network, so
# REDIS_PORT, PG_PORT, S3_PORT, ANVIL_PORT, TEST_BASE_PORT, GATEWAY_PORT and INTERNAL_BASE_PORT are
# passed in: set them to keep off another checkout's ports. The command's exit code is this script's.
set -euo pipefail
# shellcheck source=scripts/infra/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

suite=trixie
dir=''
fresh=0
keep_running=0
while (($#)); do
  case "$1" in
    --suite) suite=${2:?--suite needs a Debian release name (e.g. trixie)}; shift 2 ;;
    --dir) dir=${2:?--dir needs a directory}; shift 2 ;;
    --fresh) fresh=1; shift ;;
    --keep-running) keep_running=1; shift ;;
    -h | --help) sed -n '2,24p' "${BASH_SOURCE[0]}"; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) break ;;
  esac
done
(($#)) || die "no command given (e.g. scripts/infra/try-distro.sh -- bash scripts/test.sh); see --help"
[[ "$suite" =~ ^[a-z]+$ ]] || die "--suite must be a Debian release name such as trixie, not '$suite'"
dir="${dir:-/var/tmp/reelboard-$(short_repo_hash)-$suite}"
[[ "$dir" == /* && "$dir" != / ]] || die "--dir must be an absolute path other than /, not '$dir'"
is_root || die "try-distro.sh needs root (debootstrap, mount and chroot); run it as root"

MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
BUILT_MARK="$dir/.reelboard-root"
PASSED_VARS=(REDIS_PORT PG_PORT S3_PORT ANVIL_PORT TEST_BASE_PORT GATEWAY_PORT INTERNAL_BASE_PORT PG_MAJOR CHROMIUM_PATH)

mounted=()
# shellcheck disable=SC2317  # called by the EXIT trap
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[$i]}" 2>/dev/null || umount -lR "${mounted[$i]}" ||
      warn "could not unmount ${mounted[$i]}; unmount it by hand before deleting $dir"
  done
  mounted=()
}
trap unmount_all EXIT

mount_into_root() {
  local target
  for target in proc sys dev; do
    mkdir -p "$dir/$target"
    mountpoint -q "$dir/$target" && continue
    case "$target" in
      proc) mount -t proc proc "$dir/proc" ;;
      sys) mount -t sysfs sysfs "$dir/sys" ;;
      # rslave: unmounting the root's /dev later must not reach this machine's /dev/pts or /dev/shm.
      dev) mount --rbind /dev "$dir/dev" && mount --make-rslave "$dir/dev" ;;
    esac
    mounted+=("$dir/$target")
  done
}

in_root() {
  local env_args=(HOME=/root LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin TERM="${TERM:-dumb}")
  local name
  for name in "${PASSED_VARS[@]}"; do
    if [[ -n "${!name:-}" ]]; then env_args+=("$name=${!name}"); fi
  done
  chroot "$dir" /usr/bin/env -i "${env_args[@]}" "$@"
}

# This machine's view of the network and the registry: the CA bundle (a TLS-intercepting proxy's
# certificate included; without it npm fails with "self-signed certificate") and npm's settings.
copy_host_config() {
  cp -L /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || warn "no /etc/resolv.conf to copy; names may not resolve in the root"
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    mkdir -p "$dir/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
  fi
  local file
  for file in /etc/npmrc /usr/etc/npmrc /root/.npmrc; do
    if [[ -f "$file" ]]; then
      mkdir -p "$dir$(dirname -- "$file")"
      cp "$file" "$dir$file"
    fi
  done
}

build_root() {
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap ||
      die "could not install debootstrap (apt-get install debootstrap)"
  fi
  if [[ -d "$dir" ]]; then
    # A half-built root from an interrupted run: debootstrap refuses to reuse it reliably.
    log "removing the unfinished root in $dir"
    rm -rf --one-file-system -- "$dir"
  fi
  log "building Debian $suite in $dir (debootstrap, a few minutes)"
  debootstrap --variant=minbase "$suite" "$dir" "$MIRROR" >"$dir.debootstrap.log" 2>&1 ||
    die "debootstrap $suite failed; see $dir.debootstrap.log"
  mount_into_root
  copy_host_config
  log "installing nodejs and npm in the root"
  in_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || die "apt-get update failed in the root"
  in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ca-certificates nodejs npm git >"$dir.apt.log" 2>&1 ||
    die "apt-get install nodejs npm failed in the root; see $dir.apt.log"
  # ca-certificates rebuilt the bundle from Debian's list; put this machine's back.
  copy_host_config
  date -u +%Y-%m-%dT%H:%M:%SZ >"$BUILT_MARK"
}

# The checkout as git sees it (tracked and untracked files, nothing ignored), over the previous
# copy; the root's own node_modules and .data are kept so a second run installs and starts faster.
copy_checkout() {
  mkdir -p "$dir/repo"
  find "$dir/repo" -mindepth 1 -maxdepth 1 ! -name node_modules ! -name .data -exec rm -rf -- {} +
  (cd "$REPO_ROOT" && git ls-files -z --cached --others --exclude-standard) |
    tar -C "$REPO_ROOT" --null --files-from=- --ignore-failed-read -cf - 2>/dev/null |
    tar -C "$dir/repo" -xf - ||
    die "could not copy the checkout into $dir/repo"
}

if ((fresh)) && [[ -d "$dir" ]]; then
  log "removing $dir (--fresh)"
  rm -rf --one-file-system -- "$dir"
fi
[[ -f "$BUILT_MARK" ]] || build_root
mount_into_root
copy_host_config
copy_checkout
# shellcheck disable=SC2016  # $PRETTY_NAME belongs to the root's shell
log "Debian $suite in $dir: $(in_root sh -c '. /etc/os-release; echo "$PRETTY_NAME"'), node $(in_root node --version)"
log "running in /repo: $*"

status=0
in_root bash -c 'cd /repo && exec "$@"' try-distro "$@" || status=$?
if ((!keep_running)) && [[ -f "$dir/repo/scripts/infra/down.sh" ]]; then
  in_root bash -c 'cd /repo && bash scripts/infra/down.sh' || warn "down.sh in the root failed; its infrastructure may still run (scripts/infra/try-distro.sh -- bash scripts/infra/down.sh)"
fi
log "$* exited with $status"
exit "$status"
