#!/usr/bin/env bash
# Installs what the tests need beyond Rust, outside the clone, and prints shell `export` lines
# naming it on stdout (everything else goes to stderr). `make test` evaluates them:
#   MOTO_SERVER    moto's S3 server (https://github.com/getmoto/moto) for the S3 tests
#   OTLP_PYTHON    a Python with the official OpenTelemetry SDK and OTLP exporters (gRPC, HTTP)
#   ZIPKIN_PYTHON  a Python with the official Zipkin exporters (JSON, protobuf over HTTP)
#   JAEGER_PYTHON  a Python with the official Jaeger Thrift exporter
# (Not SPANLAKE_*: those variables are config keys, and the spanlake processes the tests start
# would refuse an unknown one.)
#
# Each is a virtualenv under $SPANLAKE_VENVS (default /var/cache/spanlake, or ./.venvs when
# that is not writable) with pinned packages. They are separate because the pins conflict:
# the Zipkin protobuf exporter needs protobuf 3, the Jaeger exporter (its last release, 1.21)
# an SDK of the same age. A venv that already holds its pins is reused, so only the first run
# pays for the install (a minute or two). Already-set variables naming executables are kept.
set -euo pipefail

log() { printf 'test-deps: %s\n' "$*" >&2; }

cd "$(dirname "$0")/.."

root="${SPANLAKE_VENVS:-/var/cache/spanlake}"
if ! mkdir -p "$root" 2>/dev/null || [ ! -w "$root" ]; then
  log "$root is not writable; using $PWD/.venvs"
  root="$PWD/.venvs"
  mkdir -p "$root"
fi

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
  log "python3 with the venv module is needed (moto and the OpenTelemetry exporters):"
  log "install it, e.g. 'apt-get install python3 python3-venv'"
  exit 1
}

# venv NAME EXECUTABLE REQUIREMENT...: makes sure $root/NAME holds exactly these pins and
# prints the path of its EXECUTABLE.
venv() {
  local name="$1" executable="$2"
  shift 2
  local dir="$root/$name" wanted="$*"
  local marker="$dir/.spanlake-requirement"
  ready() { [ -x "$dir/bin/$executable" ] && [ "$(cat "$marker" 2>/dev/null)" = "$wanted" ]; }
  if ! ready; then
    # Two test runs on one machine must not install into the same venv at once.
    exec 9>"$dir.lock"
    if command -v flock >/dev/null 2>&1; then
      flock 9
    fi
    if ! ready; then
      ensure_python
      log "installing into $dir: $wanted (first run only)"
      rm -rf "$dir"
      python3 -m venv "$dir" >&2
      "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2
      # Written last: an interrupted install is redone next time.
      printf '%s\n' "$wanted" >"$marker"
    fi
    exec 9>&-
  fi
  printf '%s\n' "$dir/bin/$executable"
}

keep_or() {
  local variable="$1"
  shift
  local current="${!variable:-}"
  if [ -n "$current" ] && [ -x "$current" ]; then
    printf '%s\n' "$current"
  else
    "$@"
  fi
}

moto="$(keep_or MOTO_SERVER venv venv moto_server 'moto[server]==5.2.5')"
otlp="$(keep_or OTLP_PYTHON venv venv-otlp python \
  opentelemetry-sdk==1.45.2 \
  opentelemetry-exporter-otlp-proto-grpc==1.45.2 \
  opentelemetry-exporter-otlp-proto-http==1.45.2)"
zipkin="$(keep_or ZIPKIN_PYTHON venv venv-zipkin python \
  opentelemetry-sdk==1.45.2 \
  opentelemetry-exporter-zipkin-json==1.45.1 \
  opentelemetry-exporter-zipkin-proto-http==1.45.1)"
jaeger="$(keep_or JAEGER_PYTHON venv venv-jaeger python \
  opentelemetry-api==1.21.0 \
  opentelemetry-sdk==1.21.0 \
  opentelemetry-exporter-jaeger-thrift==1.21.0 \
  Deprecated==1.3.1)"

printf 'export MOTO_SERVER=%q\n' "$moto"
printf 'export OTLP_PYTHON=%q\n' "$otlp"
printf 'export ZIPKIN_PYTHON=%q\n' "$zipkin"
printf 'export JAEGER_PYTHON=%q\n' "$jaeger"
