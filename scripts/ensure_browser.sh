#!/usr/bin/env bash
# Makes sure Debian's chromium is present for the dashboard's browser smoke test.
# Idempotent: does nothing when /usr/bin/chromium exists. Playwright's own browser download
# (`playwright install`) is not used: it fails on this network, the distro package works.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "ensure_browser: /usr/bin/chromium is missing and installing it needs root;" \
             "the dashboard's browser test will be skipped" >&2
        exit 0
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null
echo "ensure_browser: installed $(/usr/bin/chromium --version)"
