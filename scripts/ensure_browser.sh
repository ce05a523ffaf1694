#!/usr/bin/env bash
# Makes sure Debian's chromium is present for the dashboard's browser smoke test.
# Idempotent: does nothing when /usr/bin/chromium exists. Playwright's own browser download
# (`playwright install`) is not used: it fails on this network, the distro package works.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

bash "$(dirname "$0")/apt_install.sh" ensure_browser "the browser tests" \
    chromium fonts-noto-color-emoji
if [ -x /usr/bin/chromium ]; then
    echo "ensure_browser: installed $(/usr/bin/chromium --version)"
fi
