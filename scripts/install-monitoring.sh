#!/usr/bin/env bash
# Install the real Prometheus and Alertmanager binaries used by the
# end-to-end monitoring tests (tests/monitoring.py, marker "monitoring").
#
#   /usr/bin/prometheus               <- Debian package "prometheus"
#   /usr/bin/prometheus-alertmanager  <- Debian package "prometheus-alertmanager"
#
# Idempotent, `apt-get update` only when needed, root or sudo, and the
# packages' systemd/init services kept from starting (the tests run the
# binaries directly on free loopback ports): see scripts/apt-install.sh.
# --no-install-recommends there keeps out prometheus-node-exporter & co.,
# which would bring more services (and listeners) we do not need.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

"$here/apt-install.sh" install-monitoring prometheus prometheus-alertmanager \
    -- /usr/bin/prometheus /usr/bin/prometheus-alertmanager

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
