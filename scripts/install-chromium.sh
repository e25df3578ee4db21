#!/usr/bin/env bash
# Debian's Chromium at /usr/bin/chromium, for the browser test of the demo page (tests/test_demo_page.py).
# Playwright drives it directly: no `playwright install`, no browser download.
# Idempotent: does nothing when /usr/bin/chromium is there. Runs `apt-get update` only when the package
# lists have no candidate or the install fails on stale lists. Must run as root (or with sudo available).
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "install-chromium: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium) already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-chromium: must run as root (or have sudo)" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive

have_candidate() {
    local cand
    cand=$(apt-cache policy chromium 2>/dev/null | awk '/Candidate:/ {print $2}')
    [ -n "$cand" ] && [ "$cand" != "(none)" ]
}

install() {
    # fonts-noto-color-emoji: Steward's messages use emoji (severity and status marks).
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        chromium fonts-liberation fonts-noto-color-emoji
}

updated=0
if ! have_candidate; then
    $SUDO apt-get update -q
    updated=1
fi
if ! install; then
    if [ "$updated" -eq 1 ]; then
        exit 1
    fi
    # Stale package lists (404 on an old version): refresh once and retry.
    $SUDO apt-get update -q
    install
fi

if [ ! -x /usr/bin/chromium ]; then
    echo "install-chromium: /usr/bin/chromium still missing after install" >&2
    exit 1
fi
/usr/bin/chromium --version 2>/dev/null || true
