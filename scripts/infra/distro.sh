#!/usr/bin/env bash
# What this distribution calls the parts the local stack needs: which Postgres major and PostGIS
# package to install, and which Chromium the browser test can drive. Pure functions of their
# inputs (an os-release file, a list of package names), so test/infra-distro.test.ts drives them
# with the os-release files of Debian 12/13 and Ubuntu 22.04/24.04. Source it, don't run it.
# shellcheck shell=bash

# os_release_field FILE KEY: the value of KEY in an os-release file, unquoted (empty if absent).
os_release_field() {
  local file=$1 key=$2 line value
  [[ -r "$file" ]] || return 0
  line="$(grep -E "^${key}=" "$file" | tail -n1)" || return 0
  value="${line#*=}"
  value="${value#\"}"
  value="${value%\"}"
  value="${value#\'}"
  value="${value%\'}"
  printf '%s\n' "$value"
}

# postgres_major_for_os_release FILE: the Postgres major the distribution ships as its default
# (the one its PostGIS package is built for). Knows Debian and Ubuntu by release and codename,
# and derivatives by their ID_LIKE/UBUNTU_CODENAME; fails (prints nothing) for anything else.
postgres_major_for_os_release() {
  local file=$1 id like version codename ubuntu_codename
  id="$(os_release_field "$file" ID)"
  like="$(os_release_field "$file" ID_LIKE)"
  version="$(os_release_field "$file" VERSION_ID)"
  codename="$(os_release_field "$file" VERSION_CODENAME)"
  ubuntu_codename="$(os_release_field "$file" UBUNTU_CODENAME)"
  # Ubuntu and its derivatives (Mint, Pop!_OS) name the Ubuntu base they follow.
  case "${ubuntu_codename:-}" in
    jammy) echo 14; return 0 ;;
    noble) echo 16; return 0 ;;
    plucky | questing) echo 17; return 0 ;;
  esac
  if [[ "$id" == ubuntu ]]; then
    case "$version" in
      22.04) echo 14; return 0 ;;
      24.04) echo 16; return 0 ;;
      25.04 | 25.10) echo 17; return 0 ;;
    esac
  fi
  if [[ "$id" == debian || " $like " == *" debian "* ]]; then
    case "$codename" in
      bookworm) echo 15; return 0 ;;
      trixie) echo 17; return 0 ;;
    esac
    case "$version" in
      12) echo 15; return 0 ;;
      13) echo 17; return 0 ;;
    esac
  fi
  return 1
}

# postgres_major_from_packages: reads package names (one a line, e.g. `apt-cache pkgnames
# postgresql-`) and prints the highest major N for which both postgresql-N and
# postgresql-N-postgis-3 are listed; fails when there is none.
postgres_major_from_packages() {
  local names
  names="$(cat)"
  local best=''
  local major
  for major in $(grep -oE '^postgresql-[0-9]+-postgis-3$' <<<"$names" | sed -E 's/^postgresql-([0-9]+)-postgis-3$/\1/' | sort -n); do
    if grep -qx "postgresql-$major" <<<"$names"; then best=$major; fi
  done
  [[ -n "$best" ]] || return 1
  printf '%s\n' "$best"
}

# postgres_packages MAJOR: the apt packages of that major's server and PostGIS.
postgres_packages() {
  printf 'postgresql-%s\npostgresql-%s-postgis-3\n' "$1" "$1"
}

# is_snap_wrapper PATH: Ubuntu's `chromium`/`chromium-browser` debs are shell scripts that hand
# over to the snap (or only say the snap is needed); a snap-confined browser cannot be driven
# by playwright (it cannot read the profile and pipes it is given). True for those and for
# anything that resolves into /snap.
is_snap_wrapper() {
  local path=$1 real
  real="$(readlink -m -- "$path" 2>/dev/null || printf "%s" "$path")"
  [[ "$real" == /snap/* ]] && return 0
  # A launcher script (Debian's own /usr/bin/chromium is one too) is a wrapper only if it speaks of snap.
  if [[ -f "$real" ]] && [[ "$(head -c2 -- "$real" 2>/dev/null)" == '#!' ]]; then
    grep -qiE '(^|[^a-z])snap([^a-z]|$)|/snap/' -- "$real" && return 0
  fi
  return 1
}

# chromium_candidates: where a usable Chromium or Chrome may be, most preferred first.
# CHROMIUM_PATH (an explicit choice) first, then distribution packages, Google's .deb, and a
# browser playwright-core itself installed (`pnpm exec playwright-core install chromium`).
chromium_candidates() {
  [[ -n "${CHROMIUM_PATH:-}" ]] && printf '%s\n' "$CHROMIUM_PATH"
  printf '%s\n' /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome-stable /usr/bin/google-chrome /opt/google/chrome/chrome
  local cache="${PLAYWRIGHT_BROWSERS_PATH:-${HOME:-/root}/.cache/ms-playwright}"
  if [[ -d "$cache" ]]; then
    find "$cache" -maxdepth 3 -type f \( -path '*/chrome-linux/chrome' -o -path '*/chrome-linux64/chrome' \) 2>/dev/null | sort -r
  fi
}

# find_chromium: prints the first usable browser; fails, printing nothing, when there is none.
find_chromium() {
  local candidate
  while IFS= read -r candidate; do
    [[ -n "$candidate" && -x "$candidate" && ! -d "$candidate" ]] || continue
    is_snap_wrapper "$candidate" && continue
    printf '%s\n' "$candidate"
    return 0
  done < <(chromium_candidates)
  return 1
}

# The one line the browser test and install.sh print when no usable browser is found.
NO_CHROMIUM_MESSAGE="no usable Chromium or Chrome for the browser test: install Debian's 'chromium' or Google Chrome's .deb, or run 'pnpm exec playwright-core install chromium', or set CHROMIUM_PATH (Ubuntu's chromium/chromium-browser is a snap wrapper playwright cannot drive)"
