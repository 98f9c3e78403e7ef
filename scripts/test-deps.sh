#!/usr/bin/env bash
# Installs what the tests need beyond Rust, outside the clone, and prints the path of the S3
# server on stdout (everything else goes to stderr). `make test` runs it and exports that path
# as MOTO_SERVER. (Not SPANLAKE_MOTO_SERVER: SPANLAKE_* variables are config keys, and the
# spanlake processes the tests start would refuse an unknown one.)
#
# The S3 server is moto (https://github.com/getmoto/moto), a Python package, pinned below. It
# goes into a virtualenv at $MOTO_VENV, default /var/cache/spanlake/venv, or ./.venv when
# /var/cache is not writable; a venv that already holds the pinned version is reused, so only
# the first run pays for the install (about a minute, ~300 MB). An already-set
# MOTO_SERVER naming an executable is used as it is.
set -euo pipefail

MOTO_REQUIREMENT='moto[server]==5.2.5'

log() { printf 'test-deps: %s\n' "$*" >&2; }

if [ -n "${MOTO_SERVER:-}" ] && [ -x "$MOTO_SERVER" ]; then
  printf '%s\n' "$MOTO_SERVER"
  exit 0
fi

cd "$(dirname "$0")/.."

venv="${MOTO_VENV:-/var/cache/spanlake/venv}"
if ! mkdir -p "$(dirname "$venv")" 2>/dev/null || [ ! -w "$(dirname "$venv")" ]; then
  venv="$PWD/.venv"
  log "$(dirname "${MOTO_VENV:-/var/cache/spanlake/venv}") is not writable; using $venv"
fi
marker="$venv/.spanlake-requirement"

is_ready() {
  [ -x "$venv/bin/moto_server" ] && [ "$(cat "$marker" 2>/dev/null)" = "$MOTO_REQUIREMENT" ]
}

# Python 3 with venv: on a bare Debian/Ubuntu machine, install it when we can.
ensure_python() {
  if python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    return
  fi
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    log "installing python3 and python3-venv with apt-get"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >&2
    return
  fi
  log "python3 with the venv module is needed for the S3 test server (moto):"
  log "install it (e.g. 'apt-get install python3 python3-venv'), or set MOTO_SERVER"
  log "to a moto_server executable (pip install '$MOTO_REQUIREMENT')"
  exit 1
}

install() {
  ensure_python
  log "installing $MOTO_REQUIREMENT into $venv (first run only, about a minute)"
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$MOTO_REQUIREMENT" >&2
  # Written last: an interrupted install is redone next time.
  printf '%s\n' "$MOTO_REQUIREMENT" >"$marker"
}

if ! is_ready; then
  mkdir -p "$(dirname "$venv")"
  # Two test runs on one machine must not install into the same venv at once.
  exec 9>"$venv.lock"
  if command -v flock >/dev/null 2>&1; then
    flock 9
  fi
  is_ready || install
fi

printf '%s\n' "$venv/bin/moto_server"
