#!/usr/bin/env bash
# Debian packages the tests and benchmarks start for real: Prometheus, Alertmanager, Chromium and wrk.
# Idempotent: installs only what is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/install-monitoring.sh"
"$here/install-chromium.sh"
if ! command -v wrk >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] && sudo="" || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi
