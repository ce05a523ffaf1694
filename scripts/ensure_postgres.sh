#!/usr/bin/env bash
# Makes sure Debian's PostgreSQL server binaries (initdb, pg_ctl, postgres) are present for the
# tests that start a throwaway cluster (tests/support/postgres.py). Idempotent: does nothing when
# some /usr/lib/postgresql/<version>/bin/initdb exists. No container, no service: the tests run
# their own cluster in a temporary directory; the package's own cluster is not used.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "ensure_postgres: PostgreSQL is missing and installing it needs root;" \
             "the PostgreSQL tests will be skipped" >&2
        exit 0
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
echo "ensure_postgres: installed $(ls -d /usr/lib/postgresql/*/bin | head -1)"
