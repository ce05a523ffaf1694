#!/usr/bin/env bash
# Makes sure the official Parlant chat widget (npm parlant-chat-react) and esbuild are installed
# in tests/widget for the widget's browser test. Idempotent: does nothing when node_modules is
# there and matches the lock file. `npm ci` installs exactly the pinned versions of the lock file.
set -euo pipefail

WIDGET_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/widget" && pwd)"

if ! command -v npm >/dev/null 2>&1; then
    echo "ensure_widget: npm is missing; the widget's browser test will be skipped" >&2
    exit 0
fi

# One install at a time: `make test` starts one alongside the suite, and the widget's test runs
# this again, waiting here for that one to end (the lock is on this script, held until exit).
exec 9<"${BASH_SOURCE[0]}"
flock 9

# The stamp holds the lock file's hash, so a changed lock file reinstalls and nothing else does.
cd "$WIDGET_DIR"
STAMP=node_modules/.lock-sha256
WANT="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    exit 0
fi

# Installed once per lock file on this machine: each clone then takes hard links to the user's
# cached copy (a third of a second) instead of unpacking 215 packages again (10 s of CPU, on a
# clean clone alongside the suite). Nothing writes into an installed package, so the links stay
# as installed; `npm ci` starts by removing node_modules, which leaves the cached copy whole.
CACHED="${XDG_CACHE_HOME:-$HOME/.cache}/insurance-escalation/widget/$WANT"
if [ -f "$CACHED/node_modules/.lock-sha256" ]; then
    rm -rf node_modules
    cp -al "$CACHED/node_modules" node_modules 2>/dev/null || cp -a "$CACHED/node_modules" node_modules
    echo "ensure_widget: tests/widget/node_modules linked from $CACHED"
    exit 0
fi

npm ci --no-audit --no-fund --loglevel=error
echo "$WANT" > "$STAMP"
echo "ensure_widget: installed parlant-chat-react" \
     "$(node -p 'require("./node_modules/parlant-chat-react/package.json").version') in tests/widget"
# Kept for the next clone; renamed into place whole, so a half-made copy is never used.
mkdir -p "$(dirname "$CACHED")"
keep="$(mktemp -d "$(dirname "$CACHED")/.incoming.XXXXXX")"
if cp -al node_modules "$keep/node_modules" 2>/dev/null && mv -T "$keep" "$CACHED" 2>/dev/null; then
    echo "ensure_widget: kept in $CACHED for the next clone"
else
    rm -rf "$keep"
fi
