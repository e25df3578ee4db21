#!/usr/bin/env bash
# Install Debian packages for the tests, the way every scripts/install-*.sh does it:
#
#   scripts/apt-install.sh NAME PACKAGE... -- BINARY...
#
# Idempotent: does nothing (says so) when every BINARY is executable. Runs `apt-get update` only
# when the package lists lack a candidate for a PACKAGE, or once when an install attempt fails on
# stale lists (404 on an old version). Packages' services must NOT start (the tests run the
# binaries themselves, on free loopback ports): service start-up is blocked with a policy-rc.d
# (invoke-rc.d honours exit 101) for the duration of the install, unless one is already there.
# --no-install-recommends keeps out extras (and the services and listeners they would bring).
# Fails when a BINARY is still missing afterwards. Must run as root (or with sudo available).
# NAME prefixes the messages.
set -euo pipefail

usage() {
    echo "usage: $0 NAME PACKAGE... -- BINARY..." >&2
    exit 2
}

[ "$#" -ge 1 ] || usage
NAME=$1
shift
PKGS=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
    PKGS+=("$1")
    shift
done
[ "$#" -gt 0 ] || usage
shift
BINS=("$@")
[ "${#PKGS[@]}" -gt 0 ] && [ "${#BINS[@]}" -gt 0 ] || usage

missing=0
for b in "${BINS[@]}"; do
    [ -x "$b" ] || missing=1
done
if [ "$missing" -eq 0 ]; then
    echo "$NAME: ${BINS[*]} already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "$NAME: must run as root (or have sudo)" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive

# Keep the packages' postinst from starting services (systemd or sysv).
POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# temporary, from scripts/apt-install.sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 755 "$POLICY"
    created_policy=1
fi
cleanup() {
    if [ "$created_policy" -eq 1 ]; then
        $SUDO rm -f "$POLICY"
    fi
}
trap cleanup EXIT

have_candidates() {
    local p cand
    for p in "${PKGS[@]}"; do
        cand=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ {print $2}')
        if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
            return 1
        fi
    done
    return 0
}

install() {
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${PKGS[@]}"
}

updated=0
if ! have_candidates; then
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

for b in "${BINS[@]}"; do
    if [ ! -x "$b" ]; then
        echo "$NAME: $b still missing after install" >&2
        exit 1
    fi
done
