#!/usr/bin/env bash
# Install the real Prometheus and Alertmanager binaries used by the
# end-to-end monitoring tests (tests/monitoring.py, marker "monitoring").
#
#   /usr/bin/prometheus               <- Debian package "prometheus"
#   /usr/bin/prometheus-alertmanager  <- Debian package "prometheus-alertmanager"
#
# Idempotent: does nothing when both binaries are present. Runs
# `apt-get update` only when the package lists lack a candidate or an install
# attempt fails. The tests run the binaries directly on free loopback ports;
# the packages' systemd/init services must NOT start, so service start-up is
# blocked with a policy-rc.d (invoke-rc.d honours exit 101) for the duration
# of the install. Must run as root (or with sudo available).
set -euo pipefail

PKGS=(prometheus prometheus-alertmanager)
BINS=(/usr/bin/prometheus /usr/bin/prometheus-alertmanager)

missing=0
for b in "${BINS[@]}"; do
    [ -x "$b" ] || missing=1
done

if [ "$missing" -eq 0 ]; then
    echo "install-monitoring: prometheus and prometheus-alertmanager already installed"
else
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            SUDO="sudo"
        else
            echo "install-monitoring: must run as root (or have sudo)" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive

    # Keep the packages' postinst from starting services (systemd or sysv).
    POLICY=/usr/sbin/policy-rc.d
    created_policy=0
    if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\n# temporary, from scripts/install-monitoring.sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
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
        # --no-install-recommends: avoids prometheus-node-exporter & co., which
        # would bring more services (and listeners) we do not need.
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends \
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
        # Stale package lists (404 on an old version) -> refresh once and retry.
        $SUDO apt-get update -q
        install
    fi

    for b in "${BINS[@]}"; do
        if [ ! -x "$b" ]; then
            echo "install-monitoring: $b still missing after install" >&2
            exit 1
        fi
    done
fi

/usr/bin/prometheus --version 2>&1 | head -n 1
/usr/bin/prometheus-alertmanager --version 2>&1 | head -n 1

# The tests pick free ports, but a service left running on the default ports
# would be a surprise (and on a machine with systemd the units are enabled).
busy=""
for port in 9090 9093 9094; do
    if command -v ss >/dev/null 2>&1; then
        if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
            busy="$busy $port"
        fi
    elif (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        busy="$busy $port"
    fi
done
if [ -n "$busy" ]; then
    echo "install-monitoring: NOTE: something is listening on port(s):$busy" >&2
    echo "  (on a systemd host: systemctl disable --now prometheus prometheus-alertmanager)" >&2
    echo "  The tests use free ports, so this does not break them." >&2
else
    echo "install-monitoring: nothing listening on 9090/9093/9094"
fi
