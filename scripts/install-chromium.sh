#!/usr/bin/env bash
# Debian's Chromium at /usr/bin/chromium, for the browser test of the demo page (tests/test_demo_page.py).
# Playwright drives it directly: no `playwright install`, no browser download.
# Idempotent, `apt-get update` only when needed, root or sudo: see scripts/apt-install.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

# fonts-noto-color-emoji: Steward's messages use emoji (severity and status marks).
"$here/apt-install.sh" install-chromium chromium fonts-liberation fonts-noto-color-emoji -- /usr/bin/chromium
/usr/bin/chromium --version 2>/dev/null || true
