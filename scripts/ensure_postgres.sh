#!/usr/bin/env bash
# Makes sure Debian's PostgreSQL server binaries (initdb, pg_ctl, postgres) are present for the
# tests that start a throwaway cluster (tests/support/postgres.py). Idempotent: does nothing when
# some /usr/lib/postgresql/<version>/bin/initdb exists. No container, no service: the tests run
# their own cluster in a temporary directory; the package's own cluster is not used.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    exit 0
fi

bash "$(dirname "$0")/apt_install.sh" ensure_postgres "the PostgreSQL tests" \
    --no-install-recommends postgresql
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo "ensure_postgres: installed $(ls -d /usr/lib/postgresql/*/bin | head -1)"
fi
