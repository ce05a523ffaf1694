#!/usr/bin/env bash
# Makes sure Debian's HAProxy binary is present for the replica tests and bench, which put two
# agent replicas (and two bridges in HTTP mode) behind it (tests/support/haproxy.py). Idempotent:
# does nothing when `haproxy` is on PATH or in /usr/sbin. No service: the tests run their own
# HAProxy with a generated configuration in a temporary directory; the package's own is not used.
set -euo pipefail

if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then
    exit 0
fi

bash "$(dirname "$0")/apt_install.sh" ensure_haproxy "the replica tests behind HAProxy" \
    --no-install-recommends haproxy
if [ -x /usr/sbin/haproxy ]; then
    # The package starts its own service with the default configuration; the tests do not use it.
    (command -v systemctl >/dev/null 2>&1 && systemctl disable --now haproxy >/dev/null 2>&1) || true
    echo "ensure_haproxy: installed $(/usr/sbin/haproxy -v | head -1)"
fi
